"""The quick profile (``profiles/quick/``): each notebook's recipe in at most half the study's epochs.

Its study is ``profiles/study_quick.yaml``: tries on the validation split (cells without seeds of their own)
and the profile's cells, five seeds each on the test set. This module reads that study's stored runs:

- ``tries``: every try, rate and evaluation of one notebook recipe, with its mean validation accuracy over
  the tuning seeds (one tuning run gives the accuracy of each evaluation it can give, ``train.EVALUATIONS``:
  with and without the moving average of the weights, with and without test-time flips);
- ``choice``: the rule of the study file, the highest mean validation accuracy among them, and the recipe
  settings it means (``chosen_settings``), which ``profiles/quick/<notebook>.yaml`` must hold (tested);
- ``tries_table`` and ``final_table``: the record of what was tried, and the profile's final runs against
  the original report's numbers (mean, 95% interval over seeds and test images, lowest seed).
"""
from __future__ import annotations

import statistics
import sys

import pandas as pd

from . import formats, stats, study, study_results
from .estimates import effect, reached
from .config import ConfigError, Parser
from .recipes import EXPERIMENTS, PROFILES_DIR, REPO_ROOT, original, repo_relative
from .results import accuracy, plain_accuracy
from .train import EVALUATIONS

STUDY_FILE = PROFILES_DIR / "study_quick.yaml"
README_FILE = REPO_ROOT / "README.md"  # its quick block: ``main --write-readme``
PROFILE = "quick"
# Fields a try's row names apart from its rate: the evaluation column says how it was evaluated instead.
_EVALUATION_FIELDS = ("ema", "test_flips")


def load() -> study.Study:
    """The quick study (``STUDY_FILE``); ConfigError naming that file, or the profile file, that holds a bad value."""
    the_study = study.load(STUDY_FILE)
    for cell in the_study.cells:  # each cell's configuration, built here so that a bad value is named now
        for rate in cell.grid or ([cell.lr] if cell.lr is not None else []):
            try:
                cell.config(the_study.figure_seed, lr=rate)
            except ConfigError as exc:
                if exc.problem:  # a value of the study file's own: the profiles' were checked, naming their files
                    raise exc.in_file(f"{repo_relative(STUDY_FILE)} (cell {cell.name})") from None
                raise
    return the_study


def tries(the_study: study.Study, recipe: str) -> list[dict]:
    """One row per try x rate x evaluation of ``recipe``'s tries (cells without seeds), in the study file's order:
    cell, changes (dict), lr, evaluation, mean validation accuracy (%) over the tuning seeds, runs stored and
    expected; a row whose runs are not all stored has accuracy None."""
    log = [r for r in the_study.tuning_log() if r["recipe"] == recipe and not the_study.cell(r["cell"]).seeds]
    rows = []
    for cell in dict.fromkeys(r["cell"] for r in log):
        for lr in the_study.cell(cell).grid:
            runs = [r for r in log if r["cell"] == cell and r["lr"] == lr]
            names = [n for n, (average, _) in EVALUATIONS.items() if not average or the_study.cell(cell).value("ema")]
            for name in names:
                values = [r["evaluations"].get(name) for r in runs if r["validation accuracy (%)"] is not None]
                done = len(values) == len(runs) and None not in values
                rows.append({"cell": cell, "changes": dict(runs[0]["changes"]), "lr": lr, "evaluation": name,
                             "validation accuracy (%)": statistics.fmean(values) if done else None,
                             "stored": len([v for v in values if v is not None]), "runs": len(runs),
                             "diverged": any(r["diverged"] for r in runs)})
    return rows


def choice(the_study: study.Study, recipe: str) -> dict | None:
    """The row of ``tries`` the rule picks for ``recipe`` (the highest mean validation accuracy; the first on a
    tie), None while a try's runs are missing or there are none."""
    rows = [r for r in tries(the_study, recipe) if not r["diverged"]]
    if not rows or any(r["validation accuracy (%)"] is None for r in rows):
        return None
    return max(rows, key=lambda r: r["validation accuracy (%)"])


def chosen_settings(the_study: study.Study, row: dict) -> dict:
    """The recipe settings a row of ``tries`` stands for: its try's changes and rate, with the moving average
    and test-time flips as its evaluation used them."""
    average, flips = EVALUATIONS[row["evaluation"]]
    cell = the_study.cell(row["cell"])
    settings = {k: v for k, v in row["changes"].items() if k not in _EVALUATION_FIELDS}
    return {**settings, "lr": row["lr"], "ema": cell.value("ema") if average else 0.0, "test_flips": flips}


def _changes_text(changes: dict) -> str:
    shown = {k: v for k, v in changes.items() if k not in _EVALUATION_FIELDS}
    return ", ".join(f"{k.replace('_', ' ')} {formats.setting(v)}" for k, v in shown.items())


def tries_table(the_study: study.Study, recipe: str) -> pd.DataFrame:
    """The record of ``recipe``'s tries: what each changed in the study's recipe, its rate, each evaluation's mean
    validation accuracy, and the rule's choice."""
    rows, chosen = tries(the_study, recipe), choice(the_study, recipe)
    table = [{"changes from the study's recipe": _changes_text(r["changes"]),
              "peak learning rate": formats.setting(r["lr"]), "evaluation": r["evaluation"],
              "validation accuracy (%)": "diverged" if r["diverged"] else "not run yet"
              if r["validation accuracy (%)"] is None else formats.percent(r["validation accuracy (%)"]),
              "the rule's choice": "chosen" if r == chosen else ""} for r in rows]
    return pd.DataFrame(table, index=pd.RangeIndex(1, len(table) + 1, name="row"))


def profile_cells(the_study: study.Study) -> list[study.Cell]:
    return [cell for cell in the_study.cells if cell.profile == PROFILE]


def final_table(the_study: study.Study, recipe: str | None = None) -> pd.DataFrame:
    """The quick profile's final runs per notebook (``recipe``'s alone, when given): epochs, runs, mean, the mean
    of the plain weights (without test-time flips: the primary measure's evaluation), lowest seed, and the mean
    minus the original report's number with its 95% interval over seeds and test images (``estimates.effect``)."""
    found = study_results.cell_results(the_study)
    rows = {}
    for cell in profile_cells(the_study):
        if recipe is not None and cell.recipe != recipe:
            continue
        results, target = found[cell], original(cell.recipe)["accuracy"]
        values = [accuracy(r) for r in results]
        row = {"epochs": cell.value("epochs"), "test-time flips": "yes" if cell.value("test_flips") else "no",
               "original report (%)": formats.percent(target), "runs": len(values), "mean (%)": "",
               "mean without flips (%)": "", "lowest seed (%)": "", "mean minus original (points)": "", "95% CI": "",
               "verdict": "one seed: no interval" if values else "not run yet"}  # no interval from under 2 seeds
        if values:
            try:
                plain = formats.percent(statistics.fmean(map(plain_accuracy, results)))
            except ValueError:  # a run with test-time flips that stored no plain-weights evaluation
                plain = "not stored"
            row.update({"mean (%)": formats.percent(statistics.fmean(values)), "mean without flips (%)": plain,
                        "lowest seed (%)": formats.percent(min(values))})
        if len(values) >= 2:
            gap = effect({cell: results}, {cell: 1.0}, offset=-target)
            row.update({"mean minus original (points)": formats.points(gap["estimate"]),
                        "95% CI": stats.interval_text(gap, 2), "verdict": reached(gap)})
        rows[EXPERIMENTS[cell.recipe].title] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("quick recipe")


README_MARKERS = ("<!-- quick results: written by `python -m cifar_utils.quick --write-readme` from results/; do not "
                  "edit by hand -->", "<!-- end of quick results -->")


def readme_text(the_study: study.Study) -> str:
    """README.md's quick-profile block: the final table, then, while a notebook's tries are not all stored (or it
    has none yet), how many of them are."""
    table = final_table(the_study)
    counts = []
    for recipe, info in EXPERIMENTS.items():
        runs = {(r["cell"], r["lr"]): r["stored"] == r["runs"] or r["diverged"] for r in tries(the_study, recipe)}
        if not runs or not all(runs.values()):
            counts.append(f"{info.title} {sum(runs.values())} of {len(runs)}")
    head = formats.markdown_table(table) if len(table) else "No quick recipe is chosen yet."
    return f"{head}\n\nTries stored on the validation split: {'; '.join(counts)}." if counts else head


def main(argv: list[str] | None = None) -> int:

    from .conclusions import with_readme_block
    from .files import OutputError, atomic_write_bytes
    parser = Parser(prog="python -m cifar_utils.quick",
                                     description="The quick profile's tries and final runs, from results/.")
    parser.add_argument("--write-readme", action="store_true",
                        help="write the quick block of README.md between its markers instead of printing it")
    args = parser.parse_args(argv)
    try:  # every check before anything is written or printed; each error is one sentence naming its file
        the_study = load()
        if args.write_readme:
            readme = README_FILE
            try:
                text = readme.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read {repo_relative(readme)} ({type(exc).__name__}); restore it from "
                                  f"git.") from None
            updated = with_readme_block(text, readme_text(the_study), README_MARKERS)
        else:
            tables = [f"{info.title}: tries on the validation split\n"
                      f"{formats.markdown_table(tries_table(the_study, recipe))}\n" for recipe, info in EXPERIMENTS.items()]
            tables.append(readme_text(the_study))
    except (ConfigError, ValueError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if args.write_readme:
        try:
            atomic_write_bytes(readme, updated.encode())
        except OutputError as exc:  # a read-only README.md or a full disk: README is left as it was
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote the quick block of {repo_relative(readme)}")
        return 0
    print("\n".join(tables))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
