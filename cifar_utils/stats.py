"""Uncertainty for the report's numbers: runs over several seeds become intervals and verdicts.

Every experiment is trained with several seeds, so each number in the report is a mean with a
sample standard deviation and a Student t 95% confidence interval (``summary``). Comparisons are
``difference`` (two independent groups of runs, Welch), ``contrast`` and ``two_by_two`` (linear
contrasts of group means, e.g. the optimizer x dropout design) and ``mcnemar_exact`` (two classifiers on the same test images). ``verdict`` says whether a claim
holds: only when the interval excludes zero in the claimed direction. All distributions come
from ``scipy.stats``.

Those intervals are over seeds only: they describe the mean on this one test set. A claim meant to
hold beyond it also needs the test images' variance: ``seeds_and_images`` adds it (a bootstrap of
the test images, the same draw for every group, to the seeds' t variance). A family of claims is
judged after Holm's correction (``holm``, ``verdict_from_p``); ``format_p`` prints a p-value.

Every interval needs at least two runs per group (n = 1 has no spread to estimate): fewer raise
ValueError rather than return NaN. Each result is a dict with ``estimate``, ``low``, ``high``,
``n`` and ``confidence``, so ``interval_text`` can print any of them.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

from functools import lru_cache

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests


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


def _check_weights(groups: Mapping, weights: Mapping) -> None:
    """Raise ValueError unless ``weights`` is non-empty and names only groups that exist."""
    if not weights:
        raise ValueError("weights is empty; give at least one group a weight.")
    for key in weights:
        if key not in groups:
            raise ValueError(f"weights names group {key!r}, which is not among the groups "
                             f"{list(groups)}; fix the name.")


def contrast(groups: Mapping[Hashable, Sequence[float]], weights: Mapping[Hashable, float],
             confidence: float = 0.95, offset: float = 0.0) -> dict:
    """sum w_g * mean_g + offset over independent groups: se, Welch-Satterthwaite df, t interval and
    the p-value of its being 0.

    Groups without a weight are ignored; the weights need not sum to zero. ``offset`` is a known
    constant (e.g. minus a published number, to compare a mean with it).
    """
    _check_confidence(confidence)
    _check_weights(groups, weights)
    runs = {key: _runs(groups[key], f"group {key!r}") for key in weights}
    parts = {key: weights[key] ** 2 * x.var(ddof=1) / x.size for key, x in runs.items()}
    estimate = float(sum(weights[key] * x.mean() for key, x in runs.items())) + offset
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
    weights = two_by_two_weights(factor_a, factor_b)
    keys = list(weights["interaction"])
    for key in keys:
        if key not in cells:
            raise ValueError(f"cell {key!r} is missing from cells; add its runs.")
    return {"cells": {key: summary(cells[key], confidence) for key in keys},
            **{name: contrast(cells, w, confidence) for name, w in weights.items()}}


def two_by_two_weights(factor_a: tuple, factor_b: tuple) -> dict[str, dict[tuple, float]]:
    """The contrast weights of a 2x2 design's "main_a", "main_b" and "interaction", over its cells
    keyed (level_a, level_b); each factor is (reference, treatment)."""
    (a0, a1), (b0, b1) = factor_a, factor_b
    return {"main_a": {(a0, b0): -0.5, (a0, b1): -0.5, (a1, b0): 0.5, (a1, b1): 0.5},
            "main_b": {(a0, b0): -0.5, (a0, b1): 0.5, (a1, b0): -0.5, (a1, b1): 0.5},
            "interaction": {(a0, b0): 1.0, (a0, b1): -1.0, (a1, b0): -1.0, (a1, b1): 1.0}}


RESAMPLES = 10_000      # B, the resamples of the test images (``seeds_and_images`` says why so many)
BOOTSTRAP_SEED = 0      # the seed of their random draws, fixed once for every interval of the report
_CHUNK = 100            # resamples drawn (and summed) at a time: part of the fixed random stream


def seeds_and_images(groups: Mapping[Hashable, np.ndarray], weights: Mapping[Hashable, float],
                     parts: Sequence[tuple[float, np.ndarray | None]] = ((1.0, None),),
                     confidence: float = 0.95, offset: float = 0.0, resamples: int | None = None,
                     seed: int = BOOTSTRAP_SEED) -> dict:
    """sum_g w_g * (mean of group g's run values) + offset, with an interval over seeds AND test images.

    ``groups``: key -> array (runs, images) of each run's per-image values (e.g. 100 * correct), the
    images in the same order in every group (one shared test set). A run's value is the sum over
    ``parts`` of coefficient x the mean of its values over that part's images (a boolean mask, None
    for all): ``((1.0, None),)`` is its accuracy; ``((1.0, cats), (-1.0, None))`` its accuracy on
    cats minus its overall accuracy.

    The variance of the estimate is the sum of two parts. The seeds' part is the seed-only one of
    ``contrast`` (sum w_g^2 s_g^2 / n_g over the runs' values, ddof 1). The test images' part is the
    variance of the statistic over B = ``resamples`` (None: RESAMPLES) bootstrap resamples of the test
    images: each draws N images with replacement, the same draw for every group (their runs were
    scored on the same images), every run kept. The interval is estimate +- t * se, se^2 the sum of the
    two parts, t at Satterthwaite's degrees of freedom (n_g - 1 for each group's seed part; the images'
    part, from thousands of images, as exact), and the p-value is that t-test's, two-sided. With very
    few seeds this interval can be narrower than the seed-only one (t_1 is wide, and the images' part
    is known well): ``estimates.effect`` judges by both. Resampling the seeds as well (a two-way
    percentile bootstrap) was tried and not used: with 5 seeds a resample carries 4/5 of their variance
    and normal tails, and its interval came out narrower than the seed-only t interval for the effects
    the seeds dominate.

    Conservative: the images' part, taken from seed-averaged outcomes, counts again each image's own
    seed-to-seed noise, which the seeds' part already holds (as a crossed two-way bootstrap does:
    Owen, "The pigeonhole bootstrap", Ann. Appl. Stat. 1(2):386-411, 2007).

    Deterministic: the draws come from ``seed`` (numpy's default_rng), and with whole-number per-image
    values every sum is exact in float64, so no machine changes a digit. B = 10,000 is more than the
    ends need: the images' variance has a Monte Carlo relative error of about sqrt(2 / B) = 1.4%, which
    moves an end by under 0.01 points for an effect with se up to 1.5 points (tests/test_stats.py
    checks that another seed moves the ends by less than 0.05).
    """
    _check_confidence(confidence)
    _check_weights(groups, weights)
    resamples = RESAMPLES if resamples is None else resamples
    if int(resamples) != resamples or resamples < 100:
        raise ValueError(f"resamples={resamples!r}; pass a whole number of at least 100 resamples.")
    runs = {key: _per_image(groups[key], f"group {key!r}") for key in weights}
    sizes = sorted({x.shape[1] for x in runs.values()})
    if len(sizes) > 1:
        raise ValueError(f"the groups have {sizes} images each; score every run on the same test images.")
    n_images = sizes[0]
    masks = [(float(c), _mask(m, n_images)) for c, m in parts]
    if not masks:
        raise ValueError("parts is empty; pass ((1.0, None),) for each run's mean over all images.")
    # Each group's per-image values summed over its runs, one column per part: the statistic is linear in
    # them for a given draw of images (the run values' denominators are the drawn counts of each part).
    totals = np.stack([x.sum(axis=0) for x in runs.values()], axis=1)                      # (N, G)
    columns = np.concatenate([totals * m[:, None] for _, m in masks], axis=1)               # (N, G x parts)
    indicators = np.stack([m for _, m in masks], axis=1).astype(float)                     # (N, parts)
    sizes_w = np.array([weights[key] / x.shape[0] for key, x in runs.items()])             # w_g / n_g

    def statistic(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        g = len(runs)
        value = sum(c * sums[..., i * g:(i + 1) * g] / counts[..., i:i + 1] for i, (c, _) in enumerate(masks))
        return value @ sizes_w + offset

    drawn = _image_counts(n_images, resamples, seed)
    replicates, block = np.empty(resamples), np.empty((_CHUNK, n_images))
    for start in range(0, resamples, _CHUNK):
        rows = min(_CHUNK, resamples - start)
        np.copyto(block[:rows], drawn[start:start + rows])  # into one buffer: no new memory per block
        replicates[start:start + rows] = statistic(block[:rows] @ columns, block[:rows] @ indicators)
    estimate = float(statistic(columns.sum(axis=0, dtype=float), indicators.sum(axis=0, dtype=float)))
    per_run = {key: x @ np.sum([c * m / m.sum() for c, m in masks], axis=0) for key, x in runs.items()}
    seed_parts = {key: weights[key] ** 2 * v.var(ddof=1) / v.size for key, v in per_run.items()}
    image_variance, seed_variance = float(replicates.var(ddof=1)), float(sum(seed_parts.values()))
    se = float(np.sqrt(seed_variance + image_variance))
    _check_spread(se, "the contrast")
    denominator = sum(v ** 2 / (per_run[key].size - 1) for key, v in seed_parts.items())
    df = se ** 4 / denominator if denominator > 0 else math.inf  # Satterthwaite: the images' part as exact
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return {"estimate": estimate, "low": estimate - half, "high": estimate + half, "se": se, "df": float(df),
            "p_value": float(2 * stats.t.sf(abs(estimate) / se, df)),
            "seed_variance": seed_variance, "image_variance": image_variance,
            "n": {key: x.shape[0] for key, x in runs.items()}, "images": n_images, "resamples": int(resamples),
            "seed": seed, "confidence": confidence, "weights": dict(weights)}


def _per_image(values, name: str) -> np.ndarray:
    """Per-image values of a group's runs as a (runs, images) float array of at least 2 runs, or ValueError."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"{name} has shape {x.shape}; pass one row of per-image values per run.")
    if x.shape[0] < 2:
        raise ValueError(f"{name} has {x.shape[0]} run(s); an interval needs at least 2 seeds.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinity; drop or rerun the failed runs.")
    return x


def _mask(mask, n_images: int) -> np.ndarray:
    """A part's images as a boolean array over the n_images (None: all), or ValueError."""
    if mask is None:
        return np.ones(n_images, dtype=bool)
    m = np.asarray(mask)
    if m.dtype != bool or m.shape != (n_images,) or not m.any():
        raise ValueError(f"a part's mask has dtype {m.dtype} and shape {m.shape}; pass a boolean array "
                         f"over the {n_images} images that selects at least one.")
    return m


@lru_cache(maxsize=1)
def _image_counts(n_images: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n_images) uint8: how often each resample draws each image (N draws with replacement,
    from ``default_rng(seed)``); computed once a process and shared by every call (every effect of the
    report is resampled on the same draws of images), read-only."""
    rng = np.random.default_rng(seed)
    counts = np.empty((resamples, n_images), dtype=np.uint8)
    for start in range(0, resamples, _CHUNK):
        rows = min(_CHUNK, resamples - start)
        drawn = rng.integers(0, n_images, size=(rows, n_images)) + n_images * np.arange(rows)[:, None]
        block = np.bincount(drawn.ravel(), minlength=rows * n_images).reshape(rows, n_images)
        if block.max() > np.iinfo(np.uint8).max:  # an image drawn 256 times: never at any plausible N
            raise ValueError(f"an image was drawn {block.max()} times in one replicate; use another seed.")
        counts[start:start + rows] = block
    counts.flags.writeable = False
    return counts


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values of one family of tests, in their order (statsmodels'
    ``multipletests``, method "holm"): the k-th smallest of m is multiplied by m - k + 1, kept at
    least the one before it and at most 1. Rejecting where the adjusted p < alpha keeps the chance
    of any false "holds" in the family at most alpha, whatever the tests' dependence."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or p.size == 0 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p_values is {p_values!r}; pass a non-empty list of probabilities.")
    return [float(x) for x in multipletests(p, method="holm")[1]]


def verdict_from_p(estimate: float, p_value: float, direction: str, alpha: float = 0.05) -> str:
    """Judge a claim that the effect is > 0 ("greater") or < 0 ("less") from its (adjusted) two-sided
    p-value: "holds" when p < alpha and the estimate is on the claimed side, "contradicted" when
    p < alpha on the other side, "not supported" otherwise."""
    if direction not in ("greater", "less"):
        raise ValueError(f"direction={direction!r} is unknown; pass 'greater' or 'less'.")
    if not 0 <= p_value <= 1 or not np.isfinite(estimate):
        raise ValueError(f"p_value={p_value!r}, estimate={estimate!r}; pass a probability and a number.")
    if p_value >= alpha or estimate == 0:
        return "not supported"
    return "holds" if (estimate > 0) == (direction == "greater") else "contradicted"


def p_text(p: float) -> str:
    """A p-value in a sentence: "p = 0.27" or "p < 0.001"."""
    text = format_p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def format_p(p: float) -> str:
    """A p-value as the tables print it: two significant digits, "<0.001" below 0.001 (no exponent,
    so no hyphen inside the number to break a line at)."""
    if not 0 <= p <= 1:
        raise ValueError(f"p={p!r} is not a probability.")
    return "<0.001" if p < 0.001 else f"{p:.2g}"


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


def format_n(n: int | Mapping) -> str:
    """A result's run counts: "5" (one group), "5 per group", or "2, 2, 5, 5" when the groups differ."""
    if not isinstance(n, Mapping):
        return str(n)
    if len(n) == 1:
        return str(next(iter(n.values())))
    sizes = set(n.values())
    return f"{sizes.pop()} per group" if len(sizes) == 1 else ", ".join(map(str, n.values()))


def interval_text(d: Mapping, digits: int = 2) -> str:
    """A result's interval alone, e.g. "+0.40 to +2.06"."""
    f = f"{{:+.{digits}f}}".format
    return f"{f(d['low'])} to {f(d['high'])}"
