"""What the study's stored runs say, as the notebooks and the README show it: tables and Markdown.

Thin renderers: the runs are read by ``study_results``, every number is computed by ``estimates`` (a cell's
mean and interval over its seeds: ``estimates.over_seeds``; an effect with its intervals over seeds and over
seeds and test images: ``estimates.effect``) and the original report's claims are stated and judged in
``claims``; a function here only lays them out, each number of a table written by ``formats`` (fixed decimals
per kind, no float left to pandas). None trains; only those given the study read its runs.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from . import formats, questions, stats, study, study_results
from .claims import Judged, judge
from .estimates import (EFFECT_COLUMNS, accuracies, against_original, by_seed, design_effects, direction,
                        effect_columns, effect_text, mcnemar_counts, original_accuracy, over_seeds, reached, seed_of)
from .evaluate import class_accuracy, overall_counts
from .models import count_parameters, shapes_only
from .recipes import original
from .results import accuracy, data_label, machine, markdown_text, plain_accuracy

Cells = dict[study.Cell, list[dict]]  # each cell's stored final results (``study_results.cell_results``)


def status(the_study: study.Study, cells: Cells) -> str:
    """One Markdown line: how many of the study's final runs are stored, per configuration, and how many
    diverged."""
    diverged = study_results.diverged_counts(the_study)
    counts = ", ".join(f"{cell.label} {len(results)}" + (f" (and {diverged[cell]} diverged)" if diverged.get(cell) else "")
                       for cell, results in cells.items())
    done = all(len(results) == len(cell.seeds) for cell, results in cells.items())
    if any(diverged.values()):
        tail = ("A final run diverged at the adopted learning rate, so that rate is left out: "
                "`.venv/bin/python -m cifar_utils.sweep -p data_dir FOLDER` adopts the next rate and trains its seeds; until then every "
                "mean, interval and verdict below is over the runs stored so far.")
    elif done:
        tail = "The study is complete."
    else:
        tail = ("The study is still running: every mean, interval and verdict below is over the runs stored so far "
                "and will change as the rest land (`.venv/bin/python -m cifar_utils.sweep -p data_dir FOLDER` trains them).")
    copies = Counter(data_label(r["environment"]) for results in cells.values() for r in results)
    if len(copies) > 1:
        tail += (f" **Mixed data:** the stored runs were trained on {len(copies)} copies of CIFAR-10 ("
                 + "; ".join(f"{markdown_text(label)}: {n} run{'s' * (n != 1)}" for label, n in copies.most_common())
                 + "), so every mean, interval and verdict below mixes them; train the whole study on one copy "
                   "(docs/reproducing.md).")
    seeds = sorted({len(cell.seeds) for cell in cells})
    return f"**Final runs stored** (of {' or '.join(map(str, seeds))} seeds each): {counts}. {tail}"


def seeds_table(results: list[dict]) -> pd.DataFrame:
    """One row per stored final run of a cell: its seed, test accuracy, correct images, training time."""
    rows = [{"seed": seed_of(r), "test accuracy (%)": formats.percent(accuracy(r)),
             "correct / test images": " / ".join(str(formats.count(n)) for n in overall_counts(r["confusion"])),
             "training (min)": formats.minutes(r["train_seconds"]),
             "trained on": f"{r['environment']['device']}, {r['environment']['autocast']}"} for r in results]
    return pd.DataFrame(rows).set_index("seed") if rows else pd.DataFrame()


REACHED_COLUMN = "mean against the original's number"  # reached, not reached, not supported


def seeds_vs_original(cell: study.Cell, results: list[dict]) -> pd.DataFrame:
    """One cell against the original report's single number: its mean test accuracy over the seeds, the mean
    minus that number with its 95% intervals (seeds and test images; seeds only), and whether the mean
    reached it (``estimates.reached``: descriptive, one original run is no distribution to reproduce)."""
    theirs = original(cell.recipe)["accuracy"]
    values = [accuracy(r) for r in results]
    row = {"original report (%)": formats.percent(theirs), "runs": len(values),
           "mean (%)": formats.percent(np.mean(values)) if values else "not run yet"}
    gap = against_original(cell, results)
    if gap is None:
        row.update({"mean minus original (points)": "needs 2 runs", "95% CI, seeds and test images": "",
                    "95% CI, seeds only": "", REACHED_COLUMN: "needs 2 runs"})
    else:
        columns = effect_columns(gap)
        row.update({"mean minus original (points)": formats.points(gap["estimate"]),
                    **{k: columns[k] for k in ("95% CI, seeds and test images", "95% CI, seeds only")},
                    REACHED_COLUMN: reached(gap)})
    return pd.DataFrame([row], index=[cell.label])


def tuning_table(the_study: study.Study, name: str) -> pd.DataFrame:
    """Every learning rate tried for the tuned cell ``name`` on the validation split, in the order of the
    grid: validation accuracy, training time and precision of each run, the rate the rule chose (once every
    tuning run of the cell is stored) and the rates it left out because a run of theirs diverged."""
    runs, chosen, left_out = study_results.tuning(the_study, name)
    rows = [{"configuration": r["label"], "tuning seed": r["seed"],
             "validation accuracy (%)": "diverged" if r["diverged"] else "not run yet"
             if r["validation accuracy (%)"] is None else formats.percent(r["validation accuracy (%)"]),
             "training (min)": "" if r["training seconds"] is None else formats.minutes(r["training seconds"]),
             "precision": r["precision"] or "",
             "the rule's choice": "chosen" if r["lr"] == chosen else "left out: diverged in a run"
             if r["lr"] in left_out else ""} for r in runs]
    return pd.DataFrame(rows, index=pd.Index([formats.setting(r["lr"]) for r in runs], name="peak learning rate"))


def unstable_finals(the_study: study.Study, name: str) -> pd.DataFrame:
    """The final runs of the cell ``name`` trained at a learning rate that diverged somewhere in the study
    (``study_results.unstable_final_runs``): one row per seed stored or diverged, kept as the record."""
    runs = study_results.unstable_final_runs(the_study, name)
    rows = [{"peak learning rate": formats.setting(r["lr"]),
             "test accuracy (%)": formats.percent(accuracy(r["result"])) if r["result"] else "diverged",
             "what happened": r["error"].split(";")[0] if r["error"] else "trained to the end"} for r in runs]
    return pd.DataFrame(rows, index=pd.Index([r["seed"] for r in runs], name="seed"))


DIFFERENCE_COLUMN = "accuracy, second minus first (points)"  # McNemar's tables: b minus a


def mcnemar_by_seed(a: list[dict], b: list[dict]) -> pd.DataFrame:
    """McNemar's exact test between a's and b's run of each common seed, on the same test images."""
    rows = {}
    for ra, rb in zip(*by_seed(a, b)):
        test = mcnemar_counts(ra, rb)
        row = _mcnemar_row(test)
        rows[seed_of(ra)] = {key: row[key] for key in ("only the first right", "only the second right",
                                                        DIFFERENCE_COLUMN, "exact p")}
        rows[seed_of(ra)]["significant at 5%"] = "yes" if test["p_value"] < 0.05 else "no"
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("seed")


def per_class_summary(results: list[dict], original_experiment: str | None = None) -> pd.DataFrame:
    """Per class, the mean test accuracy over the seeds with its 95% interval (Student t over the seeds;
    needs 2 runs), beside the original report's per-class accuracy (its counts of 1,000) when
    ``original_experiment`` has them; best class first."""
    if not results:
        return pd.DataFrame({"mean (%)": []})
    classes = results[0]["classes"]
    per_seed = np.array([class_accuracy(r["confusion"]) for r in results])
    summaries = {name: over_seeds(per_seed[:, i]) for i, name in enumerate(classes)}
    theirs = original(original_experiment).get("correct", {}) if original_experiment else {}
    rows = {}
    for name in sorted(classes, key=lambda name: -summaries[name].mean):
        s = summaries[name]
        row = {"mean (%)": formats.percent(s.mean)}
        if not s.missing:
            row.update({"std (points)": formats.spread(s.std),
                        "95% interval (%)": formats.percent_interval(s.low, s.high)})
        if name in theirs:
            row["original report (%)"] = formats.percent(100 * theirs[name] / 1000)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def summary_table(cells: Cells) -> pd.DataFrame:
    """Per cell: runs, mean test accuracy, its standard deviation and 95% interval, the mean last-epoch
    training accuracy (on the augmented batches as they were trained, dropout active), the original
    report's number, trainable parameters, mean training time."""
    rows = {}
    for cell, values in accuracies(cells).items():
        s, results, theirs = over_seeds(values), cells[cell], original_accuracy(cell)
        rows[cell.label] = {
            "runs": s.n, "mean (%)": "not run yet" if s.n == 0 else formats.percent(s.mean),
            "std (points)": "" if s.missing else formats.spread(s.std),
            "95% interval (%)": formats.percent_interval(s.low, s.high) if not s.missing
            else "needs 2 runs" if s.n else "",
            "training accuracy, last epoch (%)": formats.percent(
                100 * np.mean([r["history"][-1]["train_accuracy"] for r in results])) if results else "",
            "original report (%)": "" if theirs is None else formats.percent(theirs),
            "parameters": formats.count(count_parameters(shapes_only(cell.value("model")))),
            "training (min, mean)": formats.minutes(np.mean([r["train_seconds"] for r in results])) if results else ""}
    return pd.DataFrame.from_dict(rows, orient="index")


def two_by_two(cells: Cells) -> pd.DataFrame:
    """The Adam effect, the Dropout effect (each averaged over the other factor) and their interaction on
    test accuracy (``estimates.effect_columns``: estimate, 95% intervals over seeds and test images and over
    seeds only, runs, p-value) and the direction the intervals show; needs 2 runs in every AlexNet cell."""
    try:
        effects = design_effects(cells)
    except ValueError as exc:  # a cell with fewer than 2 runs, or no spread at all
        return pd.DataFrame({"estimate": [f"cannot be estimated yet: {exc}"]},
                            index=pd.Index(["all three effects"], name="effect on test accuracy"))
    return pd.DataFrame([{"effect on test accuracy": name, **effect_columns(d), "direction": direction(d)}
                         for name, d in effects.items()]).set_index("effect on test accuracy")


def claim_row(judged: Judged) -> dict:
    """A judged claim as the claims table prints it: estimate, both 95% intervals, runs, its p-value before and
    after Holm's correction and its verdict, or why the effect cannot be estimated yet."""
    row = {"claim": judged.claim.statement}
    if judged.effect is None:
        row.update({**dict.fromkeys(EFFECT_COLUMNS, ""), "estimate": f"cannot be estimated yet: {judged.why}"})
    else:
        row.update(effect_columns(judged.effect))
    row.update({"p, Holm-adjusted": "" if judged.effect is None else stats.format_p(judged.p_holm),
                "verdict": judged.verdict, "caveat": judged.claim.caveat})
    return row


def claims(cells: Cells) -> pd.DataFrame:
    """The family of the original report's claims (``claims.judge``): each with its effect, both 95% intervals,
    its p-value before and after Holm's correction over the family, and the verdict after it."""
    rows = [claim_row(judged) for judged in judge(cells)]
    return pd.DataFrame(rows).set_index("claim") if rows else pd.DataFrame(index=pd.Index([], name="claim"))


def _mcnemar_row(test: dict) -> dict:
    """McNemar's exact test of two results (``estimates.mcnemar_counts``) as the tables print it."""
    return {"images": formats.count(test["n"]), "both right": test["both_right"], "both wrong": test["both_wrong"],
            "only the first right": test["b01"], "only the second right": test["b10"],
            DIFFERENCE_COLUMN: formats.points(100 * test["difference"]), "exact p": stats.format_p(test["p_value"])}


def study_markdown(cells: Cells) -> str:
    """The README's results table: per cell, the original report's number beside mean +- std (n) and the
    95% interval over the stored seeds, with the recipe's epochs and batch and where the runs trained: what
    every run shares in one line under the table, and a column for what differs (the precision, when only
    that differs; else the whole machine)."""
    def host(r: dict) -> str:
        env = r["environment"]
        return markdown_text(f"{env['cpu']}, {env['threads']} threads, {env['device']}")

    runs = [r for results in cells.values() for r in results]
    hosts = {host(r) for r in runs}
    column = None if len({markdown_text(machine(r["environment"])) for r in runs}) <= 1 \
        else "precision" if len(hosts) == 1 else "trained on"

    def where(r: dict) -> str:
        return markdown_text(r["environment"]["autocast"] if column == "precision" else machine(r["environment"]))

    rows = []
    for cell, values in accuracies(cells).items():
        s, results, theirs = over_seeds(values), cells[cell], original_accuracy(cell)
        row = {"configuration": cell.label, "original report": f"{theirs:.2f}%" if theirs is not None else "not in it",
               "mean +- std (n)": (f"{s.mean:.2f}% +- {s.std:.2f} ({s.n})" if not s.missing
                                   else f"{s.mean:.2f}% (1)" if s.n else "not run (0)"),
               "95% interval": f"{s.low:.2f} to {s.high:.2f}%" if not s.missing else "needs 2 runs",
               "epochs": str(cell.value("epochs")), "batch": str(cell.value("batch_size")),
               "training time (mean)": f"{np.mean([r['train_seconds'] for r in results]) / 60:.1f} min" if results else ""}
        if column:
            row[column] = "; ".join(sorted({where(r) for r in results}))
        rows.append(row)
    names = ["configuration", "original report", "mean +- std (n)", "95% interval", "epochs", "batch",
             "training time (mean)", *([column] if column else [])]
    lines = [formats.markdown_table(pd.DataFrame(rows, columns=names), index=False, align="lrrrrrr" + "l" * bool(column))]
    if column is None and runs:
        lines.append(f"\nEvery run trained on: {markdown_text(machine(runs[0]['environment']))}.")
    elif column == "precision":
        lines.append(f"\nEvery run trained on: {hosts.pop()}; the precision column says in which arithmetic.")
    return "\n".join(lines)


def ranking(cells: Cells) -> str:
    """One sentence: the configurations by mean test accuracy over their stored seeds, highest first."""
    found = {cell: over_seeds(values) for cell, values in accuracies(cells).items() if values}
    if not found:
        return "No final run of the study is stored yet."
    order = sorted(found, key=lambda cell: -found[cell].mean)
    parts = [f"{cell.label} {found[cell].mean:.2f}% ({found[cell].n} run{'s' * (found[cell].n != 1)})" for cell in order]
    return "Mean test accuracy over the stored seeds, highest first: " + "; ".join(parts) + "."


def findings(cells: Cells) -> str:
    """What the stored runs say now, as Markdown for ``sweep --summary``: the ranking, each configuration the
    original report ran against its number (reached or not), each claim of the family with its verdict after
    Holm's correction, and the 2 x 2 design's effects."""
    lines = [ranking(cells), ""]
    for cell, results in cells.items():
        if original_accuracy(cell) is None or not results:
            continue
        theirs, gap = original_accuracy(cell), against_original(cell, results)
        runs = f"{len(results)} run{'s' * (len(results) != 1)}"
        lowest = min(accuracy(r) for r in results)
        lines.append(f"- {cell.label} against the original report's single run, {theirs:.2f}%: mean "
                     f"{np.mean([accuracy(r) for r in results]):.2f}% over {runs} (lowest seed {lowest:.2f}%); "
                     + ("mean minus original: needs 2 runs." if gap is None else
                        f"mean minus original: {effect_text(gap)}; **{reached(gap)}**."))
    for judged in judge(cells):
        claim = judged.claim
        caveat = f" ({claim.caveat})" if claim.caveat else ""
        found = (f"cannot be estimated yet: {judged.why}" if judged.effect is None else
                 f"{effect_text(judged.effect)}, {stats.p_text(judged.p)}, Holm-adjusted {stats.p_text(judged.p_holm)}")
        lines.append(f"- *{claim.statement}*: {found}; **{judged.verdict}**{caveat}.")
    try:
        for name, d in design_effects(cells).items():
            lines.append(f"- 2 x 2 design, *{name}*: {effect_text(d)}; **{direction(d)}**.")
    except ValueError as exc:
        lines.append(f"- 2 x 2 design: cannot be estimated yet: {str(exc).rstrip('.')}.")
    return "\n".join(lines)


def summary_text(the_study: study.Study) -> str:
    """The README's results block: the study's table, its status line, the verdicts and the answers to the
    questions the first study left open, where it has their cells (``sweep --summary``)."""
    if the_study.recipes:
        return recipe_text(the_study)
    cells = {cell: results for cell, results in study_results.cell_results(the_study).items() if cell.seeds}  # no tries
    answers = questions.findings(cells)
    return (f"{study_markdown(cells)}\n\n{status(the_study, cells)}\n\n{findings(cells)}"
            + ("\n" + "\n".join(answers) if answers else ""))


def verdicts_markdown(cells: Cells) -> str:
    """The README's verdict table: each configuration the original report ran against its number, then each claim
    of the family (``claims.judge``), with the estimate and its unit, its 95% interval over seeds and test images
    (seeds only where that is the only one), the Holm-adjusted p-value of a claim, and the verdict."""
    rows = []
    for cell, results in cells.items():
        gap = against_original(cell, results) if original_accuracy(cell) is not None else None
        if gap is not None:
            rows.append((f"{cell.label} reaches {original_accuracy(cell):.2f}% (mean over seeds)",
                         *_estimate_and_interval(gap), "", reached(gap)))
    for judged in judge(cells):
        statement = markdown_text(judged.claim.statement)
        rows.append((statement, "cannot be estimated yet", "", "", judged.verdict) if judged.effect is None else
                    (statement, *_estimate_and_interval(judged.effect), stats.format_p(judged.p_holm), judged.verdict))
    table = pd.DataFrame(rows, columns=["the original report's number or claim, as tested here", "estimate", "95% CI",
                                        "p, Holm", "verdict"])
    return formats.markdown_table(table, index=False, align="lrrrl")


def _estimate_and_interval(d: dict) -> tuple[str, str]:
    """An effect's estimate and its 95% interval as two cells of the verdict table (``effect_columns``): over seeds
    and test images, or over seeds only, so marked, where that is the only one."""
    columns = effect_columns(d)
    interval = (columns["95% CI, seeds and test images"] if d["combined"]
                else f"{columns['95% CI, seeds only']} (seeds only)")
    return columns["estimate"], interval


def readme_text(the_study: study.Study) -> str:
    """README.md's results block (``sweep --summary --write-readme``): the study's table, a line naming the cells
    whose runs are still missing, and the verdict table (``verdicts_markdown``); ``summary_text`` prints everything."""
    cells = {cell: results for cell, results in study_results.cell_results(the_study).items() if cell.seeds}  # no tries
    missing = [f"{cell.label} {len(results)} of {len(cell.seeds)}" for cell, results in cells.items()
               if len(results) < len(cell.seeds)]
    waiting = (f"**Runs still missing**: {'; '.join(missing)}. The verdicts below may change as they land."
               if missing else None)
    parts = [study_markdown(cells), *([waiting] if waiting else []), verdicts_markdown(cells)]
    return "\n\n".join(parts)


README_START = "<!-- results: written by `python -m cifar_utils.sweep --summary --write-readme` from results/; do not edit by hand -->"
README_END = "<!-- end of results -->"


def readme_block(readme: str, markers: tuple[str, str] = (README_START, README_END)) -> str:
    """The block of README.md's text between its two ``markers`` (ValueError when they are missing, or when one
    stands more than once: writing between the wrong two would delete what lies between them)."""
    for marker in markers:
        lines = [n for n, line in enumerate(readme.splitlines(), start=1) if marker in line]
        if len(lines) > 1:
            raise ValueError(f"README.md has the marker {marker!r} on lines {', '.join(map(str, lines))}; keep one of "
                             f"them, then write the block again.")
    start, end = readme.find(markers[0]), readme.find(markers[1])
    if start < 0 or end < start:
        raise ValueError(f"README.md lacks the block's markers; put {markers[0]!r} and {markers[1]!r} around "
                         f"the block.")
    return readme[start + len(markers[0]):end].strip("\n")


def with_readme_block(readme: str, block: str, markers: tuple[str, str] = (README_START, README_END)) -> str:
    """README.md's text with the block between ``markers`` replaced by ``block``."""
    readme_block(readme, markers)  # the markers are there
    start, end = readme.find(markers[0]) + len(markers[0]), readme.find(markers[1])
    return f"{readme[:start]}\n{block}\n{readme[end:]}"


# --- Does the verdict survive the recipe? (profiles/study_recipe.yaml, docs/recipe_plan.md) -------------------

def _recipe_of(cell: study.Cell, recipes) -> str:
    return next((name for name, epochs, batch in recipes
                 if cell.value("epochs") == epochs and cell.value("batch_size") == batch), "")


def recipe_cells_table(cells: Cells, recipes) -> pd.DataFrame:
    """Per cell of either recipe: runs, the primary measure (plain weights) as mean +- std and its 95% interval
    over seeds, the mean with test-time flips where stored and what they add (the same runs), the precision its
    runs trained in, its rate."""
    rows = {}
    for cell, results in cells.items():
        recipe = _recipe_of(cell, recipes)
        if not recipe or cell.value("model") not in ("alexnet", "baseline") or cell.recipe == "baseline":
            continue
        plain = over_seeds([plain_accuracy(r) for r in results])
        flips = [100 * r["evaluations"]["weights + test flips"] for r in results
                 if "weights + test flips" in r.get("evaluations", {})]
        rows[cell.label] = {
            "recipe": recipe, "runs": f"{len(results)} of {len(cell.seeds)}",
            "plain weights (%)": (f"{plain.mean:.2f} +- {plain.std:.2f}" if not plain.missing
                                  else f"{plain.mean:.2f}" if plain.n else "not run"),
            "95% interval (seeds)": f"{plain.low:.2f} to {plain.high:.2f}" if not plain.missing else "",
            "with test-time flips (%)": f"{np.mean(flips):.2f}" if flips else "",
            "flips minus plain (points)": f"{np.mean(flips) - plain.mean:+.2f}" if flips else "",
            "precision": "; ".join(sorted({r["environment"]["autocast"] for r in results})),
            "lr": f"{cell.lr:g}" if cell.lr is not None else "not tuned yet"}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("cell")


def _effects_table(found: dict, row_name, axis: str) -> pd.DataFrame:
    """Effects as rows, with the precisions their runs trained in: a contrast that crosses precisions is read
    beside the precision effect."""
    rows = {}
    for (what, recipe), d in found.items():
        precisions = d.get("precisions", []) if isinstance(d, dict) else []
        rows[f"{row_name(what)}, {'last minus first recipe' if recipe == 'change' else recipe}"] = {
            **questions._row(d), "precision": " and ".join(precisions)
            + (" (crosses precisions: see the precision effect)" if len(precisions) > 1 else "")}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(axis)


def batch_size_tries(the_study: study.Study, compared: study.Study) -> pd.DataFrame:
    """Each try of ``the_study`` (a tuned cell without final seeds) against the tuned cell of ``compared`` that
    has the same network, optimizer, dropout and epochs: the best mean validation accuracy of each (the rule's
    choice, the evaluation its recipe names), and whether the try beats it by more than the plan's margin."""
    rows = {}
    for cell in the_study.cells:
        if cell.seeds or not cell.tuned:
            continue
        same = [c for c in compared.cells if c.tuned and all(
            c.value(k) == cell.value(k) for k in ("model", "optimizer", "dropout", "epochs"))]
        if not same:
            continue
        theirs = same[0]
        found = []
        for owner, c in ((the_study, cell), (compared, theirs)):
            log, lr, _ = study_results.tuning(owner, c.name)
            accuracies_at = [r["validation accuracy (%)"] for r in log if r["lr"] == lr]
            found.append((lr, float(np.mean(accuracies_at)) if lr is not None and accuracies_at else None,
                          {r["precision"] for r in log if r["precision"]}))
        (lr, mine, p_mine), (lr_theirs, ref, p_ref) = found
        gap = None if mine is None or ref is None else mine - ref
        rows[cell.label] = {
            f"batch {theirs.value('batch_size')}: lr, validation (%)":
                f"{lr_theirs:g}, {ref:.2f}" if ref is not None else "",
            f"batch {cell.value('batch_size')}: lr, validation (%)": f"{lr:g}, {mine:.2f}" if mine is not None else "tuning",
            "difference (points)": f"{gap:+.2f}" if gap is not None else "",
            "precision": " vs ".join("; ".join(sorted(p)) for p in (p_ref, p_mine)),
            "beyond the margin": "" if gap is None else "yes" if gap > BATCH_MARGIN else "no"}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("configuration")


BATCH_MARGIN = 0.6  # points on 5,000 validation images: the plan's margin (one binomial standard error near 75%)


def recipe_text(the_study: study.Study) -> str:
    """What ``sweep --study profiles/study_recipe.yaml --summary`` prints: the cells of both recipes, AlexNet's
    2 x 2 at each and its change, depth at each, the precision effect, the plan's five contrasts judged with the
    report's claims under Holm's correction, and the batch-size tries at 8 epochs."""
    compared = study.load(the_study.compare_with)
    cells = {cell: results for cell, results in study_results.cell_results(compared).items() if cell.seeds}
    report_p = [j.p for j in judge(cells)]
    cells.update({cell: results for cell, results in study_results.cell_results(the_study).items() if cell.seeds})
    recipes = the_study.recipes
    factors_name = {f: questions._factors(*f) for f in (("sgd", 0.0), ("sgd", 0.5), ("adam", 0.0), ("adam", 0.5))}
    parts = ["Primary measure: test accuracy of the plain weights (no test-time flips); 95% intervals over seeds "
             "only wherever a run's stored predictions are flipped ones (docs/recipe_plan.md).",
             formats.markdown_table(recipe_cells_table(cells, recipes)),
             formats.markdown_table(_effects_table(questions.design_by_recipe(cells, recipes), str,
                                                   "AlexNet, optimizer x dropout")),
             formats.markdown_table(_effects_table(questions.depth_by_recipe(cells, recipes),
                                                   lambda f: f"AlexNet minus baseline CNN, {factors_name[f]}",
                                                   "depth"))]
    precision = questions.precision_effects(cells)
    parts.append("\n".join(f"- precision, *{label} minus its fp32 runs*: "
                           + (effect_text(d) + f"; **{direction(d)}**" if isinstance(d, dict) else d) + "."
                           for label, d in precision.items())
                 or "- precision: no two cells of the study differ in their precision alone.")
    family = questions.judge_recipe_family(cells, recipes, report_p)
    rows = {}
    for j in family:
        row = questions._row(j["effect"])
        rows[j["statement"]] = {"estimate": row["estimate"], "95% CI, seeds only": row["95% CI, seeds only"],
                                "p": stats.format_p(j["p"]), "p, Holm": stats.format_p(j["p_holm"]),
                                "verdict": j["verdict"]}
    size = family[0]["family size"] if family else 0
    parts.append(formats.markdown_table(pd.DataFrame.from_dict(rows, orient="index").rename_axis(
        f"the plan's contrasts, Holm over the report's family and these ({size} in all)")))
    missing = [f"{cell.label} {len(results)} of {len(cell.seeds)}" for cell, results in cells.items()
               if len(results) < len(cell.seeds)]
    verdict = questions.recipe_verdict(cells, recipes, family)
    parts.append(f"Interim, not the plan's answer (runs still missing, below): {verdict}" if missing else verdict)
    tries = batch_size_tries(the_study, compared)
    if not tries.empty:
        parts.append(formats.markdown_table(tries))
    if missing:
        parts.append(f"Runs still missing: {'; '.join(missing)}.")
    return "\n\n".join(parts)
