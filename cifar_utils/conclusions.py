"""What the study's stored runs say: means over seeds with intervals, the 2 x 2 effects, McNemar's test,
and a verdict on each claim of the original report.

A claim "holds" only when the 95% interval of its effect excludes zero in the claimed direction; it is
"not supported" when the interval contains zero and "contradicted" when it excludes zero the other
way (``stats.verdict``). Every function takes stored results and computes from them; none trains.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import stats, study
from .evaluate import class_accuracy
from .models import build_model, count_parameters
from .recipes import original
from .results import accuracy, correctness

CLASS_CLAIM = "cat"  # the class whose gain the original report names


def cell_results(runs: list[study.Run] | None = None) -> dict[study.Cell, list[dict]]:
    """Each cell's stored final results (seed order), missing runs left out."""
    found: dict[study.Cell, list[dict]] = {cell: [] for cell in study.CELLS}
    for run, result in study.stored(study.final_runs() if runs is None else runs).items():
        if result is not None:
            found[run.cell].append(result)
    return found


def loss_gap(result: dict) -> float:
    """Test minus train loss at the last epoch (both plain cross-entropy): larger means more overfitting."""
    last = result["history"][-1]
    return last["test_loss"] - last["train_loss"]


def class_accuracy_of(result: dict, name: str) -> float:
    return float(class_accuracy(result["confusion"])[result["classes"].index(name)])


def summary_table(cells: dict[study.Cell, list[dict]]) -> pd.DataFrame:
    """Per cell: runs, mean test accuracy, its standard deviation and 95% interval, the original report's
    number, trainable parameters, mean training time."""
    rows = {}
    for cell, results in cells.items():
        values = [accuracy(r) for r in results]
        row = {"runs": len(values)}
        if len(values) >= 2:
            s = stats.summary(values)
            row.update({"mean (%)": round(s["mean"], 2), "std (points)": round(s["std"], 2),
                        "95% interval (%)": f"{s['low']:.2f} to {s['high']:.2f}"})
        elif values:
            row.update({"mean (%)": round(values[0], 2), "std (points)": "", "95% interval (%)": "needs 2 runs"})
        config = cell.config(study.FIGURE_SEED)
        theirs = original(cell.experiment)["accuracy"] if cell.changes in ((), study.SHARED_ALEXNET) else ""
        row.update({"original report (%)": theirs,
                    "parameters": f"{count_parameters(build_model(config.model, config.dropout)):,}",
                    "training (s, mean)": round(float(np.mean([r["train_seconds"] for r in results])))
                    if results else ""})
        rows[cell.label] = row
    return pd.DataFrame(rows).T


def _effect(name: str, estimate, direction: str, unit: str = "points") -> dict:
    """A claim's row; ``estimate`` is called here, so that too few or identical runs give a row that says so."""
    try:
        found = estimate()
    except ValueError as exc:  # fewer than 2 runs in a group, or no spread at all
        return {"claim": name, "effect": f"cannot be estimated yet: {exc}", "verdict": "not supported"}
    return {"claim": name, "effect": stats.format_interval(found, unit=unit),
            "verdict": stats.verdict(found["low"], found["high"], direction)}


def two_by_two(cells: dict[study.Cell, list[dict]]) -> pd.DataFrame:
    """The Adam effect, the Dropout effect (each averaged over the other factor) and their interaction on
    test accuracy, with 95% intervals (needs 2 runs in every AlexNet cell)."""
    groups = {("sgd", 0.0): cells[study.SGD], ("sgd", 0.5): cells[study.SGD_DROPOUT],
              ("adam", 0.0): cells[study.ADAM], ("adam", 0.5): cells[study.ADAM_DROPOUT]}
    design = stats.two_by_two({k: [accuracy(r) for r in v] for k, v in groups.items()},
                              factor_a=("sgd", "adam"), factor_b=(0.0, 0.5))
    rows = [("Adam instead of SGD (mean over both dropout levels)", design["main_a"]),
            ("Dropout 0.5 instead of none (mean over both optimizers)", design["main_b"]),
            ("interaction: Dropout's effect with Adam minus with SGD", design["interaction"])]
    return pd.DataFrame([{"effect on test accuracy": name, "estimate": stats.format_interval(d),
                          "p-value": round(d["p_value"], 4), "interval excludes 0": d["low"] > 0 or d["high"] < 0}
                         for name, d in rows]).set_index("effect on test accuracy")


def claims(cells: dict[study.Cell, list[dict]]) -> pd.DataFrame:
    """Each claim of the original report, its effect with a 95% interval (over seeds), and the verdict."""
    sgd, adam, base = cells[study.SGD], cells[study.ADAM_DROPOUT], cells[study.BASELINE]

    def diff(a, b, value):
        return lambda: stats.difference([value(r) for r in a], [value(r) for r in b])

    rows = [
        _effect("AlexNet + Adam + Dropout beats AlexNet + SGD (test accuracy)", diff(sgd, adam, accuracy), "greater"),
        _effect("with Adam + Dropout the train and test losses stay closer (test minus train loss)",
                diff(sgd, adam, loss_gap), "less", unit=""),
        _effect(f"the {CLASS_CLAIM} class improves with Adam + Dropout (its test accuracy)",
                diff(sgd, adam, lambda r: class_accuracy_of(r, CLASS_CLAIM)), "greater"),
        _effect("AlexNet + SGD beats the baseline CNN (test accuracy)", diff(base, sgd, accuracy), "greater"),
        _effect("AlexNet + Adam + Dropout beats the baseline CNN (test accuracy)", diff(base, adam, accuracy), "greater"),
    ]
    return pd.DataFrame(rows).set_index("claim")


def mcnemar(a: dict, b: dict) -> pd.Series:
    """McNemar's exact test between two trained models on the same test images (schema 2 results)."""
    test = stats.mcnemar_exact(correctness(a), correctness(b))
    return pd.Series({"images": test["n"], "both right": test["both_right"], "both wrong": test["both_wrong"],
                      "only the first right": test["b01"], "only the second right": test["b10"],
                      "accuracy difference (points)": round(100 * test["difference"], 2),
                      "exact p-value": test["p_value"]}, dtype=object)
