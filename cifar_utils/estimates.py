"""The study's numbers, computed from stored results already loaded (``study_results``): no files, no tables.

- ``over_seeds``: a cell's values over its seeds -> n, mean, std and the 95% interval of the mean, or why
  there is none (one run: a value without spread; none: not run). Every table and line of the conclusions
  reads a cell's numbers through it;
- the 2 x 2 optimizer x dropout design (``design_accuracies``, ``design_effects``) and what an effect's
  interval says (``direction``);
- per-result measures (``loss_gap``, ``class_accuracy_of``), runs paired by seed (``by_seed``, ``paired_measure``)
  and McNemar's test of two runs on the same test images (``mcnemar_counts``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import stats, study
from .evaluate import class_accuracy
from .recipes import original
from .results import accuracy, correctness


@dataclass(frozen=True)
class SeedSummary:
    """What a cell's values over its seeds say; std, low and high need 2 runs (None with fewer)."""
    n: int                        # runs
    mean: float | None = None     # None: not run
    std: float | None = None      # sample standard deviation (ddof = 1)
    low: float | None = None      # the Student t 95% interval of the mean
    high: float | None = None
    summary: dict | None = None   # ``stats.summary``'s whole dict, as ``stats.format_interval`` takes it

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


def design_accuracies(cells: dict[study.Cell, list[dict]], model: str = "alexnet",
                      epochs: int = 8) -> dict[tuple[str, float], list[float]]:
    """The test accuracies of one optimizer x dropout design's cells (``study.design``), keyed (optimizer,
    dropout), as the 2 x 2 analysis takes them."""
    return {factors: [accuracy(r) for r in cells[cell]] for factors, cell in study.design(cells, model, epochs).items()}


TWO_BY_TWO_EFFECTS = ("Adam instead of SGD (mean over both dropout levels)",
                      "Dropout 0.5 instead of none (mean over both optimizers)",
                      "interaction: Dropout's effect with Adam minus with SGD")


def design_effects(cells: dict[study.Cell, list[dict]], model: str = "alexnet", epochs: int = 8) -> dict[str, dict]:
    """The 2 x 2 design's three effects on test accuracy (``TWO_BY_TWO_EFFECTS``), each a
    ``stats.contrast`` result with its 95% interval; ValueError while a cell has fewer than 2 runs."""
    design = stats.two_by_two(design_accuracies(cells, model, epochs), factor_a=("sgd", "adam"), factor_b=(0.0, 0.5))
    return dict(zip(TWO_BY_TWO_EFFECTS, (design["main_a"], design["main_b"], design["interaction"])))


_DIRECTIONS = {"holds": "positive", "contradicted": "negative", "not supported": "indistinguishable from zero"}


def direction(d: dict) -> str:
    """What an effect's 95% interval says: "positive", "negative", or "indistinguishable from zero" (read as
    ``stats.verdict`` reads a claim that the effect is positive)."""
    return _DIRECTIONS[stats.verdict(d["low"], d["high"], "greater")]


def seed_of(result: dict) -> int:
    return result["config"]["seed"]


def loss_gap(result: dict) -> float:
    """Test minus train loss at the last epoch (both plain cross-entropy): larger means more overfitting."""
    last = result["history"][-1]
    return last["test_loss"] - last["train_loss"]


def class_accuracy_of(result: dict, name: str) -> float:
    return float(class_accuracy(result["confusion"])[result["classes"].index(name)])


def by_seed(a: list[dict], b: list[dict]) -> tuple[list[dict], list[dict]]:
    """The runs of a and b that share a seed, in seed order (the pairs of a paired comparison)."""
    a_seeds, b_seeds = {seed_of(r): r for r in a}, {seed_of(r): r for r in b}
    common = sorted(a_seeds.keys() & b_seeds.keys())
    return [a_seeds[s] for s in common], [b_seeds[s] for s in common]


def paired_measure(pa: list[dict], pb: list[dict], value: Callable[[dict], float]) -> tuple[dict, float | None]:
    """``value`` of b minus a over runs already paired (``by_seed``): the paired t interval
    (``stats.paired_difference``) and the correlation of a's and b's values over the seeds (None when one
    side does not vary); ValueError with fewer than 2 pairs or no spread."""
    xa, xb = [value(r) for r in pa], [value(r) for r in pb]
    found = stats.paired_difference(xa, xb)
    both_vary = np.std(xa) > 0 and np.std(xb) > 0
    return found, float(np.corrcoef(xa, xb)[0, 1]) if both_vary else None


def mcnemar_counts(a: dict, b: dict) -> dict:
    """McNemar's exact test between two trained models on the same test images (schema 2 results):
    ``stats.mcnemar_exact``'s counts and p-value."""
    return stats.mcnemar_exact(correctness(a), correctness(b))
