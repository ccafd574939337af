"""The study's stored runs, read from disk: the one part of the conclusions that opens files.

Each cell's final results (``cell_results``), the final runs that diverged (``diverged_counts``), a tuned
cell's tuning runs and the rate the rule chose (``tuning``), the final runs trained at a rate that
diverged somewhere (``unstable_final_runs``), and the index of every stored run (``index_rows``, what
``sweep --list`` prints). ``estimates`` computes from what these return and
``conclusions`` renders it; neither reads a file.
"""
from __future__ import annotations

from collections import Counter

import pandas as pd

from . import formats, study
from .recipes import repo_relative
from .results import ResultError, accuracy, load_result, machine


def cell_results(the_study: study.Study) -> dict[study.Cell, list[dict]]:
    """Each cell's stored final results (seed order), missing runs left out, and so are results of schema 1
    (no per-image predictions) and unusable ones (named on stderr with their fix, ``study.stored_result``):
    the sweep trains those again."""
    found: dict[study.Cell, list[dict]] = {cell: [] for cell in the_study.cells}
    for run, result in study.stored(the_study.final_runs()).items():
        if result is not None and "predictions" in result:
            found[run.cell].append(result)
    return found


def diverged_counts(the_study: study.Study) -> Counter:
    """Per cell, how many of its final runs left a divergence record (``study.divergence``)."""
    return Counter(run.cell for run in the_study.final_runs() if study.divergence(run) is not None)


def tuning(the_study: study.Study, name: str) -> tuple[list[dict], float | None, set[float]]:
    """The tuned cell ``name``'s tuning runs (rows of ``Study.tuning_log``, in the order of its grid), the rate
    the rule chose (None while one of its tuning runs is not stored) and the rates the rule left out because a
    run of theirs diverged (``Study.unstable_rates``)."""
    log, unstable = the_study.tuning_log(), the_study.unstable_rates()
    try:
        chosen = the_study.choose(log, [name], unstable=unstable)[name]
    except ValueError:  # a tuning run of this cell is not stored yet
        chosen = None
    return [r for r in log if r["cell"] == name], chosen, {lr for cell, lr in unstable if cell == name}


def unstable_final_runs(the_study: study.Study, name: str) -> list[dict]:
    """The final runs of the cell ``name`` trained at a learning rate that diverged somewhere in the study (and
    is therefore no longer chosen, ``Study.choose``), each stored or diverged one as {"lr", "seed", "result"
    (None: diverged), "error" (the divergence record's, None: trained to the end)}."""
    cell = the_study.cell(name)
    found = []
    for tuned, lr in sorted(the_study.unstable_rates()):
        if tuned != (cell.lr_from or cell.name):
            continue
        for seed in cell.seeds:
            run = study.Run(cell, cell.config(seed, lr=lr), the_study.results_dir)
            result, error = study.stored_result(run), study.divergence(run)
            if result is not None or error is not None:
                found.append({"lr": lr, "seed": seed, "result": result, "error": error})
    return found


def index_rows(the_study: study.Study) -> list[dict]:
    """One row per stored run of the study, tuning and final (diverged runs too): what a reader needs to go
    from a table's row to its files."""
    rows = []
    for run in the_study.recorded_runs():
        try:
            result = load_result(run.path, key=run.config.key())
        except ResultError as exc:
            result, problem = None, str(exc)
        else:
            problem = ""
        error = study.divergence(run)
        if result is None and error is None and not problem:
            continue
        rows.append({"file": repo_relative(run.diverged_path if error else run.path), "cell": run.cell.name,
                     "split": run.config.evaluate_on, "seed": run.config.seed, "lr": f"{run.config.lr:g}",
                     "epochs": run.config.epochs,
                     "accuracy (%)": f"{accuracy(result):.2f}" if result else "diverged" if error else "unusable",
                     "training (s)": f"{result['train_seconds']:.0f}" if result else "",
                     "machine": machine(result["environment"]) if result else ""})
    return rows


def index_markdown(rows: list[dict]) -> str:
    if not rows:
        return "No run of the study is stored yet."
    return formats.markdown_table(pd.DataFrame(rows).astype(str), index=False)
