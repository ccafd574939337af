"""The study's numbers, computed from stored results already loaded (``study_results``): no files, no tables.

- ``over_seeds``: a cell's values over its seeds -> n, mean, std and the 95% interval of the mean, or why
  there is none (one run: a value without spread; none: not run). Every table and line of the conclusions
  reads a cell's numbers through it;
- ``effect``: a contrast of cells' means (b minus a, the 2 x 2's effects, a mean minus a published number)
  on a ``Measure`` of each run, with two 95% intervals: over seeds only (Welch-Satterthwaite t) and over
  seeds and test images (``stats.seeds_and_images``), and the reading of the interval (``direction``,
  ``reached``) and the text and table columns every effect is printed with (``effect_text``,
  ``effect_columns``);
- the 2 x 2 optimizer x dropout design (``design_effects``);
- per-result measures (``eval_loss_gap``, ``class_accuracy_of``, ``class_beyond_overall``), runs paired by seed
  (``by_seed``) and McNemar's test of two runs on the same test images
  (``mcnemar_counts``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import formats, stats, study
from .data import CLASSES
from .evaluate import class_accuracy, decode_predictions
from .recipes import original
from .results import accuracy, correctness, data_label


@dataclass(frozen=True)
class SeedSummary:
    """What a cell's values over its seeds say; std, low and high need 2 runs (None with fewer)."""
    n: int                        # runs
    mean: float | None = None     # None: not run
    std: float | None = None      # sample standard deviation (ddof = 1)
    low: float | None = None      # the Student t 95% interval of the mean
    high: float | None = None
    summary: dict | None = None   # ``stats.summary``'s whole dict, as ``stats.interval_text`` takes it

    @property
    def missing(self) -> str | None:
        """Why there is no interval: "needs 2 runs" (one run) or "not run" (none); None when there is one."""
        return None if self.summary is not None else "needs 2 runs" if self.n else "not run"


def over_seeds(values) -> SeedSummary:
    """n >= 2: mean, std and 95% interval (``stats.summary``); n = 1: the one value; n = 0: nothing."""
    if len(values) >= 2:
        s = stats.summary(values)
        return SeedSummary(s["n"], s["mean"], s["std"], s["low"], s["high"], s)
    return SeedSummary(1, float(values[0])) if len(values) else SeedSummary(0)


def original_accuracy(cell: study.Cell) -> float | None:
    """The original report's accuracy for a cell it ran (a notebook's own recipe), else None."""
    return original(cell.recipe)["accuracy"] if cell.own_recipe else None


def accuracies(cells: dict[study.Cell, list[dict]]) -> dict[study.Cell, list[float]]:
    return {cell: [accuracy(r) for r in results] for cell, results in cells.items()}


def _design(cells, model: str, epochs: int | None) -> dict:
    """``study.design`` at ``epochs``, or at the matched recipe (epochs and batch size) when None."""
    return study.design(cells, model, *study.matched_recipe()) if epochs is None else study.design(cells, model, epochs)


@dataclass(frozen=True)
class Measure:
    """What an effect measures on each run, and how the bootstrap of the test images finds it in them."""
    name: str
    value: Callable[[dict], float]   # of one stored run
    unit: str = "points"
    digits: int = formats.ACCURACY_DECIMALS  # decimals of the estimate and its intervals
    parts: Callable[[np.ndarray], tuple] | None = None  # test labels -> ``stats.seeds_and_images``' parts
    #                                                     over 100 x correct; None: no per-image values stored


ACCURACY = Measure("test accuracy", accuracy, parts=lambda labels: ((1.0, None),))


def class_beyond_overall(name: str) -> Measure:
    """The class's test accuracy minus the overall test accuracy of the same run, in points: a class's gain
    beyond the overall gain, when two cells are compared."""
    return Measure(f"{name} accuracy minus overall accuracy",
                   lambda r: class_accuracy_of(r, name) - accuracy(r),
                   parts=lambda labels: ((1.0, labels == CLASSES.index(name)), (-1.0, None)))


def eval_loss_gap(result: dict) -> float:
    """Test loss minus the loss in evaluation mode (dropout off, no augmentation) on the training probe's
    5,000 images, at the last epoch: the generalisation gap without the bias of a training loss recorded with
    dropout active. ValueError for a run trained before the probe existed."""
    last = result["history"][-1]
    if "train_eval_loss" not in last:
        raise ValueError(f"the run {result['experiment']}-{result['key']} did not measure the training probe "
                         f"(trained before it existed)")
    return last["test_loss"] - last["train_eval_loss"]


EVAL_LOSS_GAP = Measure("test loss minus eval-mode training loss", eval_loss_gap, unit="",
                        digits=formats.LOSS_DECIMALS)


def labels_of(results: list[dict]) -> np.ndarray:
    """The true classes of the test images the runs were scored on (ValueError unless all share them)."""
    labels = [decode_predictions(r["predictions"])[0] for r in results]
    if any(len(x) != len(labels[0]) or np.any(x != labels[0]) for x in labels):
        raise ValueError("the runs were scored on different test images; compare runs of one test set.")
    return labels[0]


def effect(cells: dict[study.Cell, list[dict]], weights: dict[study.Cell, float], measure: Measure = ACCURACY,
           offset: float = 0.0) -> dict:
    """sum over cells of weight x (mean of ``measure`` over the cell's stored seeds) + offset, e.g. b minus a
    with weights {a: -1, b: 1}, or a mean minus a published number with {cell: 1} and offset -number.

    Returns "seed_only" (``stats.contrast``: Welch-Satterthwaite t over the runs' values), "combined"
    (``stats.seeds_and_images``: the seeds' variance plus the test images') or None where the measure has no
    per-image values ("combined_missing" says so), and at the top the estimate with the interval and p-value
    every verdict reads: where both intervals exist, their union and the larger of their p-values, so an effect
    counts only when it is beyond zero both on this test set (over seeds) and beyond it (over seeds and test
    images), an intersection-union test (Berger, Technometrics 24(4):295-300, 1982). The union is the
    combined interval but where very few seeds (2 or 3 a cell) make the seed-only one wider. ValueError when there is no
    interval (a cell with fewer than 2 runs, runs without spread, a run without the measure).
    """
    results = {cell: cells[cell] for cell in weights}
    seed_only = stats.contrast({cell: [measure.value(r) for r in runs] for cell, runs in results.items()},
                               weights, offset=offset)
    combined, missing = None, None
    if measure.parts is None:
        missing = "per-image values not stored"
    else:
        labels = labels_of([r for runs in results.values() for r in runs])
        groups = {cell: 100.0 * np.array([correctness(r) for r in runs]) for cell, runs in results.items()}
        combined = stats.seeds_and_images(groups, weights, measure.parts(labels), offset=offset)
    both = [d for d in (seed_only, combined) if d is not None]
    return {"estimate": seed_only["estimate"], "low": min(d["low"] for d in both),
            "high": max(d["high"] for d in both), "p_value": max(d["p_value"] for d in both),
            "n": seed_only["n"], "confidence": seed_only["confidence"], "unit": measure.unit,
            "digits": measure.digits, "seed_only": seed_only, "combined": combined, "combined_missing": missing}


def effect_text(d: dict) -> str:
    """An effect in words, e.g. "+1.92 points (95% CI +1.31 to +2.54 over seeds and test images; +1.39 to
    +2.45 over seeds only; n = 5 per group)", or with the seed-only interval alone where it is the only one."""
    unit, digits = f" {d['unit']}" if d["unit"] else "", d["digits"]
    seeds = stats.interval_text(d["seed_only"], digits)
    ci = f"{100 * d['confidence']:g}% CI"
    if d["combined"] is None:
        return f"{d['estimate']:+.{digits}f}{unit} ({ci} {seeds} over seeds only, n = {stats.format_n(d['n'])})"
    return (f"{d['estimate']:+.{digits}f}{unit} ({ci} {stats.interval_text(d['combined'], digits)} over seeds and "
            f"test images; {seeds} over seeds only; n = {stats.format_n(d['n'])})")


EFFECT_COLUMNS = ("estimate", "95% CI, seeds and test images", "95% CI, seeds only", "runs", "p")


def effect_columns(d: dict) -> dict[str, str]:
    """An effect as a row of a table (``EFFECT_COLUMNS``): estimate with its unit, both 95% intervals, the runs
    and the p-value the verdict reads (the larger of the two intervals' t-tests), at the measure's decimals."""
    digits = d["digits"]
    return dict(zip(EFFECT_COLUMNS, (
        f"{d['estimate']:+.{digits}f}" + (f" {d['unit']}" if d["unit"] else ""),
        d["combined_missing"] if d["combined"] is None else stats.interval_text(d["combined"], digits),
        stats.interval_text(d["seed_only"], digits), stats.format_n(d["n"]), stats.format_p(d["p_value"]))))


TWO_BY_TWO_EFFECTS = ("Adam instead of SGD (mean over both dropout levels)",
                      "Dropout 0.5 instead of none (mean over both optimizers)",
                      "interaction: Dropout's effect with Adam minus with SGD")


def design_effects(cells: dict[study.Cell, list[dict]], model: str = "alexnet",
                   epochs: int | None = None) -> dict[str, dict]:
    """The 2 x 2 design's three effects on test accuracy (``TWO_BY_TWO_EFFECTS``; at the matched recipe unless
    ``epochs`` is given), each an ``effect`` with both 95% intervals; ValueError while a cell is missing or has fewer
    than 2 runs."""
    design = _design(cells, model, epochs)
    weights = stats.two_by_two_weights(("sgd", "adam"), (0.0, 0.5))
    missing = [factors for factors in weights["interaction"] if factors not in design]
    if missing:
        raise ValueError(f"the {model} design at {epochs or study.matched_recipe()[0]} epochs lacks the cells {missing}; "
                         f"add them to the study.")
    return {name: effect(cells, {design[factors]: w for factors, w in weights[key].items()})
            for name, key in zip(TWO_BY_TWO_EFFECTS, ("main_a", "main_b", "interaction"))}


_DIRECTIONS = {"holds": "positive", "contradicted": "negative", "not supported": "indistinguishable from zero"}


def direction(d: dict) -> str:
    """What an effect's 95% interval says: "positive", "negative", or "indistinguishable from zero" (read as
    ``stats.verdict`` reads a claim that the effect is positive)."""
    return _DIRECTIONS[stats.verdict(d["low"], d["high"], "greater")]


_REACHED = {"holds": "reached", "contradicted": "not reached", "not supported": "not supported"}


def reached(d: dict) -> str:
    """A mean against a published single number, from the interval of mean minus number: "reached" (above it),
    "not reached" (below it) or "not supported" (the interval contains it: neither shown). Descriptive: a mean above one
    run of the original report is not a reproduction of it."""
    return _REACHED[stats.verdict(d["low"], d["high"], "greater")]


def data_of(results: list[dict]) -> str:
    """Which copy of CIFAR-10 the runs trained on (``results.data_label``), "mixed copies" when several, "" for none."""
    copies = sorted({data_label(r["environment"]) for r in results})
    return copies[0] if len(copies) == 1 else "mixed copies of CIFAR-10" if copies else ""


def seed_of(result: dict) -> int:
    return result["config"]["seed"]


def against_original(cell: study.Cell, results: list[dict]) -> dict | None:
    """The cell's mean test accuracy minus the original report's single number (``estimates.effect`` with
    both intervals); None with fewer than 2 runs."""
    if len(results) < 2:
        return None
    return effect({cell: results}, {cell: 1.0}, offset=-original(cell.recipe)["accuracy"])


def class_accuracy_of(result: dict, name: str) -> float:
    return float(class_accuracy(result["confusion"])[result["classes"].index(name)])


def by_seed(a: list[dict], b: list[dict]) -> tuple[list[dict], list[dict]]:
    """The runs of a and b that share a seed, in seed order (the pairs of a paired comparison)."""
    a_seeds, b_seeds = {seed_of(r): r for r in a}, {seed_of(r): r for r in b}
    common = sorted(a_seeds.keys() & b_seeds.keys())
    return [a_seeds[s] for s in common], [b_seeds[s] for s in common]


def mcnemar_counts(a: dict, b: dict) -> dict:
    """McNemar's exact test between two trained models on the same test images (schema 2 results):
    ``stats.mcnemar_exact``'s counts and p-value."""
    return stats.mcnemar_exact(correctness(a), correctness(b))
