"""Uncertainty for the report's numbers: runs over several seeds become intervals and verdicts.

Every experiment is trained with several seeds, so each number in the report is a mean with a
sample standard deviation and a Student t 95% confidence interval (``summary``). Comparisons are
``difference`` (two independent groups of runs, Welch), ``contrast`` and ``two_by_two`` (linear
contrasts of group means, e.g. the optimizer x dropout design), ``paired_difference`` (runs paired
by seed), ``mcnemar_exact`` (two classifiers on the same test images) and
``proportion_interval`` (one run's accuracy on n images). ``verdict`` says whether a claim
holds: only when the interval excludes zero in the claimed direction. All distributions come
from ``scipy.stats``.

Every interval needs at least two runs per group (n = 1 has no spread to estimate): fewer raise
ValueError rather than return NaN. Each result is a dict with ``estimate``, ``low``, ``high``,
``n`` and ``confidence``, so ``format_interval`` can print any of them.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from scipy import stats


def _check_confidence(confidence: float) -> None:
    """Raise ValueError unless 0 < confidence < 1."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} is not a probability; pass e.g. 0.95.")


def _runs(values: Sequence[float], name: str = "values") -> np.ndarray:
    """The values as a 1-D float array of at least two finite numbers, or ValueError."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{name} has shape {x.shape}; pass one flat sequence of per-run values.")
    if x.size < 2:
        raise ValueError(f"{name} has {x.size} run(s); an interval needs at least 2 seeds.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinity; drop or rerun the failed runs.")
    return x


def _check_spread(se: float, what: str) -> None:
    """Raise ValueError when a standard error is zero, which leaves t undefined."""
    if se == 0:
        raise ValueError(f"{what} has standard error 0 (every run gives the same value); "
                         "check that the seeds really differ.")


def summary(values: Sequence[float], confidence: float = 0.95) -> dict:
    """n, mean, sample std (ddof=1), sem and the Student t interval of the mean; n >= 2 required."""
    _check_confidence(confidence)
    x = _runs(values)
    n, mean, std = x.size, float(x.mean()), float(x.std(ddof=1))
    sem = std / float(np.sqrt(n))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sem
    return {"n": n, "mean": mean, "estimate": mean, "std": std, "sem": float(sem),
            "low": mean - half, "high": mean + half, "df": n - 1, "confidence": confidence}


def difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict:
    """mean(b) - mean(a) for independent groups: Welch's t-test, its df and its t interval."""
    _check_confidence(confidence)
    xa, xb = _runs(a, "a"), _runs(b, "b")
    se = float(np.sqrt(xa.var(ddof=1) / xa.size + xb.var(ddof=1) / xb.size))
    _check_spread(se, "the difference b - a")
    res = stats.ttest_ind(xb, xa, equal_var=False)
    ci = res.confidence_interval(confidence_level=confidence)
    return {"estimate": float(xb.mean() - xa.mean()), "se": se, "df": float(res.df),
            "low": float(ci.low), "high": float(ci.high), "t": float(res.statistic),
            "p_value": float(res.pvalue), "n": {"a": xa.size, "b": xb.size},
            "confidence": confidence}


def contrast(groups: Mapping[Hashable, Sequence[float]], weights: Mapping[Hashable, float],
             confidence: float = 0.95) -> dict:
    """sum w_g * mean_g over independent groups: se, Welch-Satterthwaite df, t interval, p-value.

    Groups without a weight are ignored; the weights need not sum to zero.
    """
    _check_confidence(confidence)
    if not weights:
        raise ValueError("weights is empty; give at least one group a weight.")
    for key in weights:
        if key not in groups:
            raise ValueError(f"weights names group {key!r}, which is not among the groups "
                             f"{list(groups)}; fix the name.")
    runs = {key: _runs(groups[key], f"group {key!r}") for key in weights}
    parts = {key: weights[key] ** 2 * x.var(ddof=1) / x.size for key, x in runs.items()}
    estimate = float(sum(weights[key] * x.mean() for key, x in runs.items()))
    se = float(np.sqrt(sum(parts.values())))
    _check_spread(se, "the contrast")
    df = se ** 4 / sum(v ** 2 / (runs[key].size - 1) for key, v in parts.items())
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    t = estimate / se
    return {"estimate": estimate, "se": se, "df": float(df), "low": estimate - half,
            "high": estimate + half, "t": t, "p_value": float(2 * stats.t.sf(abs(t), df)),
            "n": {key: x.size for key, x in runs.items()}, "weights": dict(weights),
            "confidence": confidence}


def two_by_two(cells: Mapping[tuple[str, str], Sequence[float]], factor_a: tuple[str, str],
               factor_b: tuple[str, str], confidence: float = 0.95) -> dict:
    """Main effects and interaction of a 2x2 design whose cells are keyed (level_a, level_b).

    Each factor is (reference, treatment); an effect is treatment minus reference, averaged over
    the other factor's levels. interaction = (a1b1 - a1b0) - (a0b1 - a0b0).
    """
    (a0, a1), (b0, b1) = factor_a, factor_b
    keys = [(a, b) for a in (a0, a1) for b in (b0, b1)]
    for key in keys:
        if key not in cells:
            raise ValueError(f"cell {key!r} is missing from cells; add its runs.")
    main_a = {(a0, b0): -0.5, (a0, b1): -0.5, (a1, b0): 0.5, (a1, b1): 0.5}
    main_b = {(a0, b0): -0.5, (a0, b1): 0.5, (a1, b0): -0.5, (a1, b1): 0.5}
    inter = {(a0, b0): 1.0, (a0, b1): -1.0, (a1, b0): -1.0, (a1, b1): 1.0}
    return {"cells": {key: summary(cells[key], confidence) for key in keys},
            "main_a": contrast(cells, main_a, confidence),
            "main_b": contrast(cells, main_b, confidence),
            "interaction": contrast(cells, inter, confidence)}


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict:
    """Mean of b_i - a_i over pairs (same seed), its t interval and the paired t-test p-value."""
    _check_confidence(confidence)
    xa, xb = _runs(a, "a"), _runs(b, "b")
    if xa.size != xb.size:
        raise ValueError(f"a has {xa.size} runs but b has {xb.size}; "
                         "pair each run of a with one run of b.")
    result = summary(xb - xa, confidence)
    _check_spread(result["sem"], "the paired difference b - a")
    result["p_value"] = float(stats.ttest_rel(xb, xa).pvalue)
    return result


def _correctness(values: Sequence[bool], name: str) -> np.ndarray:
    """A 1-D, non-empty boolean array, or ValueError."""
    x = np.asarray(values)
    if x.dtype != bool or x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} has dtype {x.dtype} and shape {x.shape}; pass a non-empty 1-D "
                         "boolean array such as predictions == labels.")
    return x


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict:
    """McNemar's exact test of two classifiers scored on the same test images."""
    ca, cb = _correctness(correct_a, "correct_a"), _correctness(correct_b, "correct_b")
    if ca.size != cb.size:
        raise ValueError(f"correct_a has {ca.size} images but correct_b has {cb.size}; "
                         "score both classifiers on the same test set.")
    b01, b10 = int(np.sum(ca & ~cb)), int(np.sum(~ca & cb))
    p = 1.0 if b01 + b10 == 0 else float(stats.binomtest(b10, b01 + b10, 0.5).pvalue)
    return {"n": int(ca.size), "both_right": int(np.sum(ca & cb)),
            "both_wrong": int(np.sum(~ca & ~cb)), "b01": b01, "b10": b10, "p_value": p,
            "accuracy_a": float(ca.mean()), "accuracy_b": float(cb.mean()),
            "difference": (b10 - b01) / ca.size}


def proportion_interval(correct: int, total: int, confidence: float = 0.95,
                        method: str = "wilson") -> dict:
    """One run's accuracy correct/total with scipy's binomial interval ("wilson", "exact", ...)."""
    _check_confidence(confidence)
    if int(total) != total or total < 1:
        raise ValueError(f"total={total!r} is not a positive whole number of test images.")
    if int(correct) != correct or not 0 <= correct <= total:
        raise ValueError(f"correct={correct!r} must be a whole number between 0 and total={total}.")
    ci = stats.binomtest(int(correct), int(total)).proportion_ci(confidence, method=method)
    return {"estimate": correct / total, "low": float(ci.low), "high": float(ci.high),
            "n": int(total), "correct": int(correct), "method": method, "confidence": confidence}


def verdict(low: float, high: float, direction: str) -> str:
    """Judge a claim that the effect is > 0 ("greater") or < 0 ("less") from its interval.

    "holds": the interval excludes 0 on the claimed side; "contradicted": on the other side;
    "not supported": it contains 0.
    """
    if direction not in ("greater", "less"):
        raise ValueError(f"direction={direction!r} is unknown; pass 'greater' or 'less'.")
    if not (np.isfinite(low) and np.isfinite(high)) or low > high:
        raise ValueError(f"interval ({low!r}, {high!r}) is not finite with low <= high; pass a CI.")
    if low > 0:
        return "holds" if direction == "greater" else "contradicted"
    if high < 0:
        return "holds" if direction == "less" else "contradicted"
    return "not supported"


def format_interval(d: Mapping, unit: str = "points", digits: int = 2) -> str:
    """One result dict as text, e.g. "+1.23 points (95% CI +0.40 to +2.06, n = 5)"."""
    n = d["n"]
    if isinstance(n, Mapping):
        sizes = set(n.values())
        n = f"{sizes.pop()} per group" if len(sizes) == 1 else ", ".join(map(str, n.values()))
    unit = f" {unit}" if unit else ""
    f = f"{{:+.{digits}f}}".format
    return (f"{f(d['estimate'])}{unit} ({100 * d['confidence']:g}% CI {f(d['low'])} to "
            f"{f(d['high'])}, n = {n})")
