"""What the study's stored runs say: means over seeds with intervals, the 2 x 2 effects, McNemar's test,
and a verdict on each claim of the original report.

A claim "holds" only when the 95% interval of its effect excludes zero in the claimed direction; it is
"not supported" when the interval contains zero and "contradicted" when it excludes zero the other
way (``stats.verdict``). Every function takes stored results and computes from them; none trains.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from . import stats, study
from .evaluate import class_accuracy, overall_counts
from .models import build_model, count_parameters
from .recipes import EXPERIMENTS, original
from .results import accuracy, correctness, load_result
from .tables import data_label, machine

CLASS_CLAIM = "cat"  # the class whose gain the original report names, with a number (+4%)
OTHER_CLASS_CLAIMS = ("bird", "deer")  # classes it says "show improved recognition" (its confusion-matrix insights)


def cell_results(runs: list[study.Run] | None = None) -> dict[study.Cell, list[dict]]:
    """Each cell's stored final results (seed order), missing runs left out, and so are results of schema 1
    (no per-image predictions): the sweep trains those again."""
    found: dict[study.Cell, list[dict]] = {cell: [] for cell in study.CELLS}
    for run, result in study.stored(study.final_runs() if runs is None else runs).items():
        if result is not None and "predictions" in result:
            found[run.cell].append(result)
    return found


def status(cells: dict[study.Cell, list[dict]], diverged: dict[study.Cell, int] | None = None) -> str:
    """One Markdown line: how many of the study's final runs are stored, per configuration, and how many
    diverged (default: the divergence records of ``study.final_runs()``)."""
    if diverged is None:
        diverged = Counter(run.cell for run in study.final_runs() if study.divergence(run) is not None)
    counts = ", ".join(f"{cell.label} {len(results)}" + (f" (and {diverged[cell]} diverged)" if diverged.get(cell) else "")
                       for cell, results in cells.items())
    done = all(len(results) == len(study.SEEDS) for results in cells.values())
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
                 + "; ".join(f"{label}: {n} run{'s' * (n != 1)}" for label, n in copies.most_common())
                 + "), so every mean, interval and verdict below mixes them; train the whole study on one copy "
                   "(README, *Reproducing the committed results*).")
    return f"**Final runs stored** (of {len(study.SEEDS)} seeds each): {counts}. {tail}"


def original_accuracy(cell: study.Cell) -> float | None:
    """The original report's accuracy for a cell it ran (a notebook's own recipe), else None."""
    return original(cell.experiment)["accuracy"] if cell.changes in ((), study.SHARED_ALEXNET) else None


def accuracies(cells: dict[study.Cell, list[dict]]) -> dict[study.Cell, list[float]]:
    return {cell: [accuracy(r) for r in results] for cell, results in cells.items()}


def design_accuracies(cells: dict[study.Cell, list[dict]]) -> dict[tuple[str, float], list[float]]:
    """The four AlexNet cells' test accuracies keyed (optimizer, dropout), as the 2 x 2 analysis takes them."""
    found = accuracies(cells)
    return {("sgd", 0.0): found[study.SGD], ("sgd", 0.5): found[study.SGD_DROPOUT],
            ("adam", 0.0): found[study.ADAM], ("adam", 0.5): found[study.ADAM_DROPOUT]}


def seed_of(result: dict) -> int:
    return result["config"]["seed"]


def seeds_table(results: list[dict]) -> pd.DataFrame:
    """One row per stored final run of a cell: its seed, test accuracy, correct images, training time."""
    rows = [{"seed": seed_of(r), "test accuracy (%)": round(accuracy(r), 2),
             "correct / test images": "{} / {}".format(*overall_counts(r["confusion"])),
             "training (min)": round(r["train_seconds"] / 60, 1),
             "trained on": f"{r['environment']['device']}, {r['environment']['autocast']}"} for r in results]
    return pd.DataFrame(rows).set_index("seed") if rows else pd.DataFrame()


def versus_original(cell: study.Cell, results: list[dict]) -> pd.DataFrame:
    """The bar of the study for one cell: its mean test accuracy over the seeds against the original
    report's number, with the 95% interval of the difference and its verdict."""
    theirs = original(cell.experiment)["accuracy"]
    values = [accuracy(r) for r in results]
    row = {"original report (%)": theirs, "runs": len(values)}
    if len(values) < 2:
        row.update({"mean (%)": round(values[0], 2) if values else "", "mean minus original": "needs 2 runs",
                    "mean >= original": "", "verdict": "not supported"})
    else:
        found = stats.summary([v - theirs for v in values])
        row.update({"mean (%)": round(found["mean"] + theirs, 2),
                    "mean minus original": stats.format_interval(found),
                    "mean >= original": "yes" if found["mean"] >= 0 else "no",
                    "verdict": stats.verdict(found["low"], found["high"], "greater")})
    return pd.DataFrame({cell.label: row}).T


def tuning_table(recipe: str) -> pd.DataFrame:
    """Every learning rate tried for a notebook recipe on the validation split, in the order of the grid:
    validation accuracy, training time and precision of each run, the rate the rule chose (once every
    tuning run of the study is stored) and the rates it left out because a run of theirs diverged."""
    log, unstable = study.tuning_log(), study.unstable_rates()
    try:
        chosen = study.choose(log, [recipe], unstable=unstable)[recipe]
    except ValueError:  # a tuning run of this recipe is not stored yet
        chosen = None
    rows = [{"configuration": r["cell"], "peak learning rate": r["lr"], "tuning seed": r["seed"],
             "validation accuracy (%)": "diverged" if r["diverged"] else "not run yet"
             if r["validation accuracy (%)"] is None else round(r["validation accuracy (%)"], 2),
             "training (min)": "" if r["training seconds"] is None else round(r["training seconds"] / 60, 1),
             "precision": r["precision"] or "",
             "chosen": "yes" if r["lr"] == chosen else "left out: diverged in a run" if (recipe, r["lr"]) in unstable
             else ""} for r in log if r["recipe"] == recipe]
    return pd.DataFrame(rows)


def by_seed(a: list[dict], b: list[dict]) -> tuple[list[dict], list[dict]]:
    """The runs of a and b that share a seed, in seed order (the pairs of a paired comparison)."""
    a_seeds, b_seeds = {seed_of(r): r for r in a}, {seed_of(r): r for r in b}
    common = sorted(a_seeds.keys() & b_seeds.keys())
    return [a_seeds[s] for s in common], [b_seeds[s] for s in common]


def paired(a: list[dict], b: list[dict], value=accuracy) -> dict:
    """b minus a over the seeds both have (same seed: same initialisation and batch order where the
    networks match), with the paired t interval (stats.paired_difference)."""
    pa, pb = by_seed(a, b)
    return stats.paired_difference([value(r) for r in pa], [value(r) for r in pb])


def mcnemar_by_seed(a: list[dict], b: list[dict]) -> pd.DataFrame:
    """McNemar's exact test between a's and b's run of each common seed, on the same test images."""
    rows = {}
    for ra, rb in zip(*by_seed(a, b)):
        row, p_value = _mcnemar_row(ra, rb)
        rows[seed_of(ra)] = {key: row[key] for key in ("only the first right", "only the second right",
                                                        "accuracy difference (points)", "exact p-value")}
        rows[seed_of(ra)]["significant at 5%"] = "yes" if p_value < 0.05 else "no"
    frame = pd.DataFrame(rows).T
    frame.index.name = "seed"
    return frame


def loss_gap(result: dict) -> float:
    """Test minus train loss at the last epoch (both plain cross-entropy): larger means more overfitting."""
    last = result["history"][-1]
    return last["test_loss"] - last["train_loss"]


def class_accuracy_of(result: dict, name: str) -> float:
    return float(class_accuracy(result["confusion"])[result["classes"].index(name)])


def per_class_summary(results: list[dict], original_experiment: str | None = None) -> pd.DataFrame:
    """Per class, the mean test accuracy over the seeds with its 95% interval (Student t over the seeds;
    needs 2 runs), beside the original report's per-class accuracy (its counts of 1,000) when
    ``original_experiment`` has them; best class first."""
    if not results:
        return pd.DataFrame({"mean (%)": []})
    classes = results[0]["classes"]
    per_seed = np.array([class_accuracy(r["confusion"]) for r in results])
    rows = {}
    theirs = original(original_experiment).get("correct", {}) if original_experiment else {}
    for i, name in enumerate(classes):
        values = per_seed[:, i]
        row = {"mean (%)": round(float(values.mean()), 2)}
        if len(values) >= 2:
            s = stats.summary(values)
            row.update({"std (points)": round(s["std"], 2), "95% interval (%)": f"{s['low']:.2f} to {s['high']:.2f}"})
        if name in theirs:
            row["original report (%)"] = round(100 * theirs[name] / 1000, 1)
        rows[name] = row
    return pd.DataFrame(rows).T.sort_values("mean (%)", ascending=False)


def summary_table(cells: dict[study.Cell, list[dict]]) -> pd.DataFrame:
    """Per cell: runs, mean test accuracy, its standard deviation and 95% interval, the mean last-epoch
    training accuracy (on the augmented batches as they were trained, dropout active), the original
    report's number, trainable parameters, mean training time."""
    rows, found = {}, accuracies(cells)
    for cell, results in cells.items():
        values = found[cell]
        row = {"runs": len(values)}
        if len(values) >= 2:
            s = stats.summary(values)
            row.update({"mean (%)": round(s["mean"], 2), "std (points)": round(s["std"], 2),
                        "95% interval (%)": f"{s['low']:.2f} to {s['high']:.2f}"})
        elif values:
            row.update({"mean (%)": round(values[0], 2), "std (points)": "", "95% interval (%)": "needs 2 runs"})
        else:
            row.update({"mean (%)": "not run yet", "std (points)": "", "95% interval (%)": ""})
        config = cell.config(study.FIGURE_SEED)
        theirs = original_accuracy(cell)
        row.update({"training accuracy, last epoch (%)":
                    round(100 * float(np.mean([r["history"][-1]["train_accuracy"] for r in results])), 2)
                    if results else "",
                    "original report (%)": "" if theirs is None else theirs,
                    "parameters": f"{count_parameters(build_model(config.model, config.dropout)):,}",
                    "training (s, mean)": round(float(np.mean([r["train_seconds"] for r in results])))
                    if results else ""})
        rows[cell.label] = row
    return pd.DataFrame(rows).T


def study_markdown(cells: dict[study.Cell, list[dict]]) -> str:
    """The README's results table: per cell, the original report's number beside mean +- std (n) and the
    95% interval over the stored seeds, with the recipe's epochs and batch and where the runs trained."""
    lines = ["| configuration | original report | mean +- std (n) | 95% interval | epochs | batch | "
             "training time (mean) | trained on |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for cell, results in cells.items():
        theirs = original_accuracy(cell)
        config = cell.config(study.FIGURE_SEED)
        values = [accuracy(r) for r in results]
        if len(values) >= 2:
            s = stats.summary(values)
            mean, interval = f"{s['mean']:.2f}% +- {s['std']:.2f} ({s['n']})", f"{s['low']:.2f} to {s['high']:.2f}%"
        else:
            mean, interval = (f"{values[0]:.2f}% (1)" if values else "not run (0)"), "needs 2 runs"
        machines = sorted({machine(r["environment"]) for r in results})
        seconds = f"{np.mean([r['train_seconds'] for r in results]) / 60:.1f} min" if results else ""
        lines.append(f"| {cell.label} | {f'{theirs:.2f}%' if theirs is not None else 'not in it'} | {mean} | "
                     f"{interval} | {config.epochs} | {config.batch_size} | {seconds} | {'; '.join(machines)} |")
    return "\n".join(lines)


def _effect(name: str, estimate, direction: str, unit: str = "points", caveat: str = "") -> dict:
    """A claim's row; ``estimate`` is called here, so that too few or identical runs give a row that says so."""
    try:
        found = estimate()
    except ValueError as exc:  # fewer than 2 runs in a group, or no spread at all
        return {"claim": name, "effect": f"cannot be estimated yet: {exc}", "p-value": "",
                "verdict": "not supported", "caveat": caveat}
    return {"claim": name, "effect": stats.format_interval(found, unit=unit), "p-value": f"{found['p_value']:.3g}",
            "verdict": stats.verdict(found["low"], found["high"], direction), "caveat": caveat}


LOSS_GAP_CAVEAT = ("biased towards 'holds': the training loss is recorded with dropout active, which raises it "
                   "towards the test loss whatever the network learns")
_RECIPES = "compares the two recipes as tuned, which differ in {}epochs, batch, initialisation and dropout, not depth alone"
RECIPES_CAVEAT = _RECIPES.format("")
ADAM_RECIPES_CAVEAT = _RECIPES.format("optimizer, ")
CLASS_CAVEAT = "one of three classes the original report named after seeing its results, out of ten"


TWO_BY_TWO_EFFECTS = ("Adam instead of SGD (mean over both dropout levels)",
                      "Dropout 0.5 instead of none (mean over both optimizers)",
                      "interaction: Dropout's effect with Adam minus with SGD")


def design_effects(cells: dict[study.Cell, list[dict]]) -> dict[str, dict]:
    """The 2 x 2 design's three effects on test accuracy (``TWO_BY_TWO_EFFECTS``), each a
    ``stats.contrast`` result with its 95% interval; ValueError while a cell has fewer than 2 runs."""
    design = stats.two_by_two(design_accuracies(cells), factor_a=("sgd", "adam"), factor_b=(0.0, 0.5))
    return dict(zip(TWO_BY_TWO_EFFECTS, (design["main_a"], design["main_b"], design["interaction"])))


_DIRECTIONS = {"holds": "positive", "contradicted": "negative", "not supported": "indistinguishable from zero"}


def direction(d: dict) -> str:
    """What an effect's 95% interval says: "positive", "negative", or "indistinguishable from zero" (read as
    ``stats.verdict`` reads a claim that the effect is positive)."""
    return _DIRECTIONS[stats.verdict(d["low"], d["high"], "greater")]


def two_by_two(cells: dict[study.Cell, list[dict]]) -> pd.DataFrame:
    """The Adam effect, the Dropout effect (each averaged over the other factor) and their interaction on
    test accuracy, with 95% intervals (needs 2 runs in every AlexNet cell)."""
    try:
        effects = design_effects(cells)
    except ValueError as exc:  # a cell with fewer than 2 runs, or no spread at all
        return pd.DataFrame({"estimate": [f"cannot be estimated yet: {exc}"]},
                            index=pd.Index(["all three effects"], name="effect on test accuracy"))
    return pd.DataFrame([{"effect on test accuracy": name, "estimate": stats.format_interval(d),
                          "p-value": f"{d['p_value']:.3g}", "interval": direction(d)}
                         for name, d in effects.items()]).set_index("effect on test accuracy")


def _claims(cells: dict[study.Cell, list[dict]]) -> list[tuple[dict, tuple[study.Cell, study.Cell]]]:
    """Each claim's row (``_effect``) with the two configurations it compares."""
    def compare(name, a, b, value, direction, **extra):
        rows.append((_effect(name, lambda: stats.difference([value(r) for r in cells[a]],
                                                            [value(r) for r in cells[b]]), direction, **extra), (a, b)))

    rows: list[tuple[dict, tuple[study.Cell, study.Cell]]] = []
    sgd, adam, base = study.SGD, study.ADAM_DROPOUT, study.BASELINE
    compare("AlexNet + Adam + Dropout beats AlexNet + SGD (test accuracy)", sgd, adam, accuracy, "greater")
    compare("with Adam + Dropout the train and test losses stay closer (test minus train loss)",
            sgd, adam, loss_gap, "less", unit="", caveat=LOSS_GAP_CAVEAT)
    for name in (CLASS_CLAIM, *OTHER_CLASS_CLAIMS):
        compare(f"the {name} class improves with Adam + Dropout (its test accuracy)",
                sgd, adam, lambda r, name=name: class_accuracy_of(r, name), "greater", caveat=CLASS_CAVEAT)
    compare("AlexNet + SGD beats the baseline CNN (test accuracy)", base, sgd, accuracy, "greater",
            caveat=RECIPES_CAVEAT)
    compare("AlexNet + Adam + Dropout beats the baseline CNN (test accuracy)", base, adam, accuracy, "greater",
            caveat=ADAM_RECIPES_CAVEAT)
    return rows


def claims(cells: dict[study.Cell, list[dict]]) -> pd.DataFrame:
    """Each claim of the original report, its effect with a 95% interval (over seeds), and the verdict."""
    return pd.DataFrame([row for row, _ in _claims(cells)]).set_index("claim")


def paired_table(a: list[dict], b: list[dict]) -> pd.DataFrame:
    """b minus a, paired by seed, on the measures of the claims: test accuracy, the test-minus-train loss
    gap and the claimed class's accuracy, each with its paired t interval, p-value and the correlation of
    a's and b's values over the seeds (pairing narrows the interval only when it is positive)."""
    measures = [("test accuracy", accuracy, "points"), ("test minus train loss", loss_gap, ""),
                (f"{CLASS_CLAIM} accuracy", lambda r: class_accuracy_of(r, CLASS_CLAIM), "points")]
    pa, pb = by_seed(a, b)
    rows = []
    for name, value, unit in measures:
        xa, xb = [value(r) for r in pa], [value(r) for r in pb]
        try:
            found = stats.paired_difference(xa, xb)  # as ``paired`` does, on the values already paired here
            both_vary = np.std(xa) > 0 and np.std(xb) > 0
            rows.append({"measure": name, "b minus a, paired by seed": stats.format_interval(found, unit=unit),
                         "p-value": f"{found['p_value']:.3g}",
                         "correlation over seeds": round(float(np.corrcoef(xa, xb)[0, 1]), 2) if both_vary else ""})
        except ValueError as exc:
            rows.append({"measure": name, "b minus a, paired by seed": f"cannot be estimated yet: {exc}",
                         "p-value": "", "correlation over seeds": ""})
    return pd.DataFrame(rows).set_index("measure")


def mcnemar(a: dict, b: dict) -> pd.Series:
    """McNemar's exact test between two trained models on the same test images (schema 2 results)."""
    return pd.Series(_mcnemar_row(a, b)[0], dtype=object)


def _mcnemar_row(a: dict, b: dict) -> tuple[dict, float]:
    """McNemar's exact test of two results as the tables print it, and its p-value as a number."""
    test = stats.mcnemar_exact(correctness(a), correctness(b))
    return {"images": test["n"], "both right": test["both_right"], "both wrong": test["both_wrong"],
            "only the first right": test["b01"], "only the second right": test["b10"],
            "accuracy difference (points)": round(100 * test["difference"], 2),
            "exact p-value": f"{test['p_value']:.3g}"}, test["p_value"]


def ranking(cells: dict[study.Cell, list[dict]]) -> str:
    """One sentence: the configurations by mean test accuracy over their stored seeds, highest first."""
    found = {cell: values for cell, values in accuracies(cells).items() if values}
    if not found:
        return "No final run of the study is stored yet."
    order = sorted(found, key=lambda cell: -float(np.mean(found[cell])))
    parts = [f"{cell.label} {np.mean(found[cell]):.2f}% ({len(found[cell])} run{'s' * (len(found[cell]) != 1)})"
             for cell in order]
    return "Mean test accuracy over the stored seeds, highest first: " + "; ".join(parts) + "."


def findings(cells: dict[study.Cell, list[dict]], upto: str | None = None) -> str:
    """What the stored runs say now, as Markdown for a discussion to argue from: the ranking, each
    configuration the original report ran against its number, and each claim with its verdict.

    ``upto`` (an experiment name) keeps the configurations and claims of that notebook and the notebooks
    before it, so that a notebook does not judge networks the reader has not met yet; None keeps all.
    """
    order = list(EXPERIMENTS)
    if upto is not None and upto not in order:
        raise ValueError(f"upto is {upto!r}; use None or one of {', '.join(order)}.")

    def met(cell: study.Cell) -> bool:
        return upto is None or order.index(cell.experiment) <= order.index(upto)

    lines = [ranking(cells), ""]
    for cell, results in cells.items():
        if original_accuracy(cell) is None or not results or not met(cell):
            continue
        row = versus_original(cell, results).iloc[0]
        lowest = min(accuracy(r) for r in results)
        lines.append(f"- {cell.label} against the original report's {row['original report (%)']:.2f}%: mean "
                     f"{row['mean (%)']:.2f}% over {row['runs']} run{'s' * (row['runs'] != 1)} (lowest seed "
                     f"{lowest:.2f}%); mean minus original: {row['mean minus original']}; **{row['verdict']}**.")
    for row, pair in _claims(cells):
        if all(met(cell) for cell in pair):
            caveat = f" ({row['caveat']})" if row["caveat"] else ""
            lines.append(f"- *{row['claim']}*: {row['effect'].rstrip('.')}; **{row['verdict']}**{caveat}.")
    if all(met(cell) for cell in study.CELLS):  # the 2 x 2 design, once the reader has met all four networks
        try:
            for name, d in design_effects(cells).items():
                lines.append(f"- 2 x 2 design, *{name}*: {stats.format_interval(d)}; **{direction(d)}**.")
        except ValueError as exc:
            lines.append(f"- 2 x 2 design: cannot be estimated yet: {str(exc).rstrip('.')}.")
    return "\n".join(lines)


def unstable_finals(cell: study.Cell) -> pd.DataFrame:
    """The final runs of ``cell`` trained at a learning rate that diverged somewhere in the study (and is
    therefore no longer chosen, ``study.choose``): one row per seed stored or diverged, kept as the record."""
    folder = study.final_runs()[0].results_dir
    rows = []
    for experiment, lr in sorted(study.unstable_rates()):
        if experiment != cell.experiment:
            continue
        for seed in study.SEEDS:
            run = study.Run(cell, cell.config(seed, lr=lr), folder)
            result, error = load_result(run.path, key=run.config.key()), study.divergence(run)
            if result is not None or error is not None:
                rows.append({"peak learning rate": lr, "seed": seed,
                             "test accuracy (%)": round(accuracy(result), 2) if result else "diverged",
                             "what happened": error.split(";")[0] if error else "trained to the end"})
    return pd.DataFrame(rows)
