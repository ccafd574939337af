"""cifar_utils.stats against answers worked out by hand (quantiles quoted from t tables)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from cifar_utils import stats

T_975_4 = 2.776445    # t_{0.975, 4}
T_975_16 = 2.119905   # t_{0.975, 16}


def approx(x):
    return pytest.approx(x, rel=1e-6, abs=1e-9)


def test_summary_of_one_to_five():
    s = stats.summary([1, 2, 3, 4, 5])
    assert s["n"] == 5 and s["mean"] == 3.0 and s["df"] == 4
    assert s["std"] == approx(math.sqrt(2.5))
    assert s["sem"] == approx(math.sqrt(0.5))
    half = T_975_4 * math.sqrt(0.5)                       # 1.963243
    assert half == pytest.approx(1.963243, abs=1e-6)
    assert (s["low"], s["high"]) == (approx(3 - half), approx(3 + half))
    assert all(type(s[k]) is float for k in ("mean", "std", "sem", "low", "high"))


def test_summary_wider_at_higher_confidence():
    s90, s99 = stats.summary([1, 2, 3, 4, 5], 0.90), stats.summary([1, 2, 3, 4, 5], 0.99)
    assert s99["low"] < s90["low"] < 3 < s90["high"] < s99["high"]


@pytest.mark.parametrize("values", [[], [0.7], [[1, 2], [3, 4]], [1.0, float("nan")]])
def test_summary_rejects_too_few_or_bad_values(values):
    with pytest.raises(ValueError, match="values"):
        stats.summary(values)


@pytest.mark.parametrize("confidence", [0, 1, 95])
def test_bad_confidence(confidence):
    with pytest.raises(ValueError, match="confidence"):
        stats.summary([1, 2, 3], confidence)


def test_welch_difference_by_hand():
    # a: mean 2.5, var 5/3; b: mean 6, var 10. se^2 = 5/12 + 2 = 29/12;
    # df = (29/12)^2 / ((5/12)^2 / 3 + 2^2 / 4) = 2523/457 = 5.520788.
    d = stats.difference([1, 2, 3, 4], [2, 4, 6, 8, 10])
    assert d["estimate"] == 3.5
    assert d["se"] == approx(math.sqrt(29 / 12))
    assert d["df"] == approx(2523 / 457)
    assert d["t"] == approx(3.5 / math.sqrt(29 / 12))
    half = 2.499331 * math.sqrt(29 / 12)    # t_{0.975, 5.5208}, between t_5 and t_6
    assert d["low"] == pytest.approx(3.5 - half, abs=1e-5)
    assert d["high"] == pytest.approx(3.5 + half, abs=1e-5)
    assert d["p_value"] == approx(sps.ttest_ind([2, 4, 6, 8, 10], [1, 2, 3, 4],
                                                equal_var=False).pvalue)
    assert d["n"] == {"a": 4, "b": 5}


def test_difference_equals_contrast_minus_one_plus_one():
    rng = np.random.default_rng(0)
    a, b = rng.normal(60, 1, 5), rng.normal(61, 2, 7)
    d = stats.difference(a, b)
    c = stats.contrast({"a": a, "b": b}, {"a": -1, "b": 1})
    for key in ("estimate", "se", "df", "low", "high", "t", "p_value"):
        assert d[key] == approx(c[key]), key


def test_contrast_validation():
    groups = {"sgd": [1, 2, 3], "adam": [2, 3, 5]}
    with pytest.raises(ValueError, match="'adamw'"):
        stats.contrast(groups, {"sgd": -1, "adamw": 1})
    with pytest.raises(ValueError, match="weights is empty"):
        stats.contrast(groups, {})
    with pytest.raises(ValueError, match="standard error 0"):
        stats.contrast({"x": [1, 1], "y": [2, 2]}, {"x": -1, "y": 1})


def test_two_by_two_effects_by_hand():
    spread = np.array([-2, -1, 0, 1, 2])                 # var 2.5, n 5 in every cell
    means = {("sgd", "0"): 60, ("sgd", "0.5"): 62, ("adam", "0"): 64, ("adam", "0.5"): 70}
    cells = {key: m + spread for key, m in means.items()}
    r = stats.two_by_two(cells, ("sgd", "adam"), ("0", "0.5"))
    assert r["main_a"]["estimate"] == approx(6.0)        # (64 + 70)/2 - (60 + 62)/2
    assert r["main_b"]["estimate"] == approx(4.0)        # (62 + 70)/2 - (60 + 64)/2
    assert r["interaction"]["estimate"] == approx(4.0)   # (70 - 64) - (62 - 60)
    # Equal variances: se(main) = sqrt(4 * 0.25 * 2.5 / 5), se(interaction) = sqrt(4 * 2.5 / 5);
    # Welch-Satterthwaite df = 4 * (5 - 1) = 16.
    assert r["main_a"]["se"] == approx(math.sqrt(0.5))
    assert r["interaction"]["se"] == approx(math.sqrt(2.0))
    assert r["main_a"]["df"] == approx(16.0) and r["interaction"]["df"] == approx(16.0)
    assert r["main_a"]["low"] == pytest.approx(6 - T_975_16 * math.sqrt(0.5), abs=1e-5)
    assert r["cells"][("adam", "0.5")]["mean"] == 70.0
    with pytest.raises(ValueError, match="'sgd', '0.5'"):
        stats.two_by_two({k: v for k, v in cells.items() if k != ("sgd", "0.5")},
                         ("sgd", "adam"), ("0", "0.5"))


def _pairs(b01: int, b10: int, both_right: int = 5, both_wrong: int = 3):
    """Two correctness arrays with the given cell counts."""
    a = [True] * b01 + [False] * b10 + [True] * both_right + [False] * both_wrong
    b = [False] * b01 + [True] * b10 + [True] * both_right + [False] * both_wrong
    return np.array(a), np.array(b)


@pytest.mark.parametrize("b01, b10, p", [
    (0, 10, 0.001953125),      # 2 * 0.5**10
    (1, 9, 0.021484375),       # 2 * (1 + 10) / 2**10
    (2, 8, 0.109375),          # 2 * (1 + 10 + 45) / 2**10
    (4, 4, 1.0),
    (0, 0, 1.0),               # no discordant pairs
])
def test_mcnemar_exact_p_values(b01, b10, p):
    r = stats.mcnemar_exact(*_pairs(b01, b10))
    assert (r["b01"], r["b10"], r["both_right"], r["both_wrong"]) == (b01, b10, 5, 3)
    assert r["p_value"] == approx(p)
    n = b01 + b10 + 8
    assert r["n"] == n and r["difference"] == approx((b10 - b01) / n)
    assert r["accuracy_b"] - r["accuracy_a"] == approx(r["difference"])


def test_mcnemar_validation():
    with pytest.raises(ValueError, match="correct_a has 2 images but correct_b has 3"):
        stats.mcnemar_exact([True, False], [True, False, True])
    with pytest.raises(ValueError, match="boolean"):
        stats.mcnemar_exact(np.array([1, 0, 1]), np.array([True, False, True]))
    with pytest.raises(ValueError, match="boolean"):
        stats.mcnemar_exact([], [])


@pytest.mark.parametrize("low, high, direction, expected", [
    (0.4, 2.1, "greater", "holds"),
    (0.4, 2.1, "less", "contradicted"),
    (-2.1, -0.4, "less", "holds"),
    (-2.1, -0.4, "greater", "contradicted"),
    (-0.3, 2.1, "greater", "not supported"),
    (-0.3, 2.1, "less", "not supported"),
    (0.0, 2.1, "greater", "not supported"),   # touching zero does not exclude it
])
def test_verdict(low, high, direction, expected):
    assert stats.verdict(low, high, direction) == expected


def test_verdict_validation():
    with pytest.raises(ValueError, match="'bigger'"):
        stats.verdict(0.1, 0.2, "bigger")
    with pytest.raises(ValueError, match="low <= high"):
        stats.verdict(0.3, 0.2, "greater")


def test_difference_validation():
    with pytest.raises(ValueError, match="a has 1 run"):
        stats.difference([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="standard error 0"):
        stats.difference([1.0, 1.0], [2.0, 2.0])


# --- intervals over seeds and test images ----------------------------------------------------------------

def synthetic_runs(n_runs: int, n_images: int, shift: float, seed: int) -> np.ndarray:
    """100 x correct of n_runs runs on one test set: image i is right with probability p_i (its difficulty,
    the same for every group: numpy seed 99) plus the run's own shift, so runs and images both vary."""
    difficulty = np.random.default_rng(99).beta(3, 1, n_images)
    rng = np.random.default_rng(seed)
    run_shift = rng.normal(shift, 0.003, (n_runs, 1))
    return 100.0 * (rng.random((n_runs, n_images)) < np.clip(difficulty + run_shift, 0, 1))


def test_seeds_and_images_adds_the_analytic_image_variance_to_the_seed_variance():
    """var = seed variance / n (Welch, ddof 1) + the variance of resampling the images, which for a mean over
    all images is the plug-in variance of the per-image contrast over the N images, divided by N."""
    a, b = synthetic_runs(5, 2000, 0.0, 1), synthetic_runs(5, 2000, 0.02, 2)
    found = stats.seeds_and_images({"a": a, "b": b}, {"a": -1, "b": 1})
    seeds = stats.contrast({"a": a.mean(1), "b": b.mean(1)}, {"a": -1, "b": 1})
    per_image = b.mean(0) - a.mean(0)
    images = per_image.var() / per_image.size
    assert found["estimate"] == approx(seeds["estimate"])
    assert found["seed_variance"] == approx(seeds["se"] ** 2)
    assert found["image_variance"] == pytest.approx(images, rel=0.05)   # Monte Carlo: about 1.4% at B = 10,000
    assert found["se"] ** 2 == pytest.approx(seeds["se"] ** 2 + images, rel=0.05)
    # Satterthwaite: each seed part with n - 1 degrees of freedom, the images' part as exact
    parts = [(a.mean(1).var(ddof=1) / 5), (b.mean(1).var(ddof=1) / 5)]
    df = found["se"] ** 4 / sum(v ** 2 / 4 for v in parts)
    assert found["df"] == approx(df) and df > seeds["df"]
    half = sps.t.ppf(0.975, df) * found["se"]
    assert (found["low"], found["high"]) == (approx(found["estimate"] - half), approx(found["estimate"] + half))
    assert found["low"] < seeds["low"] < seeds["high"] < found["high"]
    assert found["p_value"] == approx(2 * sps.t.sf(abs(found["estimate"]) / found["se"], df))
    assert found["p_value"] > seeds["p_value"]


def test_seeds_and_images_of_a_class_beyond_the_overall_matches_the_delta_method():
    """A ratio per part (the class's images drawn vary in number): its image variance is N times the plug-in
    variance of the linearised per-image contributions z_i = sum_parts c * m_i (a_i - mean_m(a)) / N_m."""
    a, b = synthetic_runs(5, 2000, 0.0, 3), synthetic_runs(5, 2000, 0.02, 4)
    labels = np.arange(2000) % 10
    parts = ((1.0, labels == 2), (-1.0, None))
    found = stats.seeds_and_images({"a": a, "b": b}, {"a": -1, "b": 1}, parts)
    per_image = b.mean(0) - a.mean(0)
    z = np.zeros(2000)
    for c, m in ((1.0, labels == 2), (-1.0, np.ones(2000, bool))):
        z += c * m * (per_image - per_image[m].mean()) / m.sum()
    assert found["image_variance"] == pytest.approx(2000 * z.var(), rel=0.05)
    by_run = {k: x[:, labels == 2].mean(1) - x.mean(1) for k, x in (("a", a), ("b", b))}
    assert found["estimate"] == approx(by_run["b"].mean() - by_run["a"].mean())
    assert found["seed_variance"] == approx(stats.contrast(by_run, {"a": -1, "b": 1})["se"] ** 2)


def test_seeds_and_images_is_deterministic_and_its_ends_stable_to_five_hundredths_of_a_point():
    """The same call gives the same digits; another random seed moves the ends by less than 0.05 points (on
    10,000 images, a 75%-accurate classifier, 5 runs a group: the report's sizes)."""
    a, b = synthetic_runs(5, 10_000, 0.0, 5), synthetic_runs(5, 10_000, 0.02, 6)
    first = stats.seeds_and_images({"a": a, "b": b}, {"a": -1, "b": 1})
    assert stats.seeds_and_images({"a": a, "b": b}, {"a": -1, "b": 1}) == first
    other = stats.seeds_and_images({"a": a, "b": b}, {"a": -1, "b": 1}, seed=1)
    assert other["estimate"] == first["estimate"] and first["resamples"] == 10_000
    assert abs(other["low"] - first["low"]) < 0.05 and abs(other["high"] - first["high"]) < 0.05
    assert first["image_variance"] > 0.1 * first["seed_variance"]  # the images' part is not negligible here


def test_seeds_and_images_against_a_number_and_in_a_two_by_two():
    a = synthetic_runs(5, 1000, 0.0, 7)
    found = stats.seeds_and_images({"a": a}, {"a": 1.0}, offset=-70.0)
    assert found["estimate"] == approx(a.mean() - 70.0)
    df = found["se"] ** 4 / (a.mean(1).var(ddof=1) / 5) ** 2 * 4   # one group: its seed part has n - 1 = 4
    assert found["df"] == approx(df)
    assert found["p_value"] == approx(2 * sps.t.sf(abs(a.mean() - 70) / found["se"], df))
    # the interaction of a 2 x 2 on one test set: weights from two_by_two_weights
    cells = {key: synthetic_runs(5, 1000, shift, i) for i, (key, shift) in
             enumerate({("sgd", 0): 0.0, ("sgd", 1): 0.01, ("adam", 0): 0.03, ("adam", 1): 0.04}.items())}
    weights = stats.two_by_two_weights(("sgd", "adam"), (0, 1))["interaction"]
    found = stats.seeds_and_images(cells, weights)
    seeds = stats.two_by_two({k: v.mean(1) for k, v in cells.items()}, ("sgd", "adam"), (0, 1))["interaction"]
    assert found["estimate"] == approx(seeds["estimate"]) and found["seed_variance"] == approx(seeds["se"] ** 2)
    assert found["df"] > seeds["df"]


def test_seeds_and_images_validation():
    a, b = synthetic_runs(5, 100, 0, 1), synthetic_runs(5, 120, 0, 2)
    with pytest.raises(ValueError, match=r"the groups have \[100, 120\] images each"):
        stats.seeds_and_images({"a": a, "b": b}, {"a": -1, "b": 1})
    with pytest.raises(ValueError, match="group 'a' has 1 run"):
        stats.seeds_and_images({"a": a[:1]}, {"a": 1})
    with pytest.raises(ValueError, match="group 'a' has shape"):
        stats.seeds_and_images({"a": a[0]}, {"a": 1})
    with pytest.raises(ValueError, match="a part's mask"):
        stats.seeds_and_images({"a": a}, {"a": 1}, parts=((1.0, np.zeros(100, bool)),))
    with pytest.raises(ValueError, match="resamples=10"):
        stats.seeds_and_images({"a": a}, {"a": 1}, resamples=10)
    with pytest.raises(ValueError, match="'c'"):
        stats.seeds_and_images({"a": a}, {"c": 1})
    with pytest.raises(ValueError, match="standard error 0"):
        stats.seeds_and_images({"a": np.full((3, 10), 100.0)}, {"a": 1})


def test_contrast_with_an_offset_is_the_mean_minus_a_number():
    c = stats.contrast({"a": [70.0, 71.0, 72.0]}, {"a": 1.0}, offset=-67.0)
    s = stats.summary([3.0, 4.0, 5.0])
    for key in ("estimate", "low", "high"):
        assert c[key] == approx(s[key]), key
    assert c["p_value"] == approx(sps.ttest_1samp([70.0, 71.0, 72.0], 67.0).pvalue)


# --- a family of claims -----------------------------------------------------------------------------------

def test_holm_by_hand():
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04, raised to the 0.06 before it
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == [approx(0.03), approx(0.06), approx(0.06), approx(0.02)]
    assert stats.holm([0.5, 0.9]) == [approx(1.0), approx(1.0)]   # 0.5 x 2 = 1.0; 0.9 x 1, raised to the 1.0 before it
    assert stats.holm([0.02]) == [approx(0.02)]                   # a family of one: unchanged
    for bad in ([], [1.2], [[0.1, 0.2]]):
        with pytest.raises(ValueError, match="p_values"):
            stats.holm(bad)


@pytest.mark.parametrize("estimate, p, direction, expected", [
    (1.2, 0.01, "greater", "holds"),
    (1.2, 0.01, "less", "contradicted"),
    (-1.2, 0.01, "less", "holds"),
    (-1.2, 0.01, "greater", "contradicted"),
    (1.2, 0.05, "greater", "not supported"),   # p must be below alpha
    (1.2, 0.30, "less", "not supported"),
])
def test_verdict_from_p(estimate, p, direction, expected):
    assert stats.verdict_from_p(estimate, p, direction) == expected


def test_verdict_from_p_validation():
    with pytest.raises(ValueError, match="'bigger'"):
        stats.verdict_from_p(1.0, 0.01, "bigger")
    with pytest.raises(ValueError, match="p_value=1.5"):
        stats.verdict_from_p(1.0, 1.5, "greater")


@pytest.mark.parametrize("p, text", [(1.0, "1"), (0.3449, "0.34"), (0.05, "0.05"), (0.0014, "0.0014"),
                                     (0.001, "0.001"), (0.00099, "<0.001"), (3.51e-05, "<0.001"), (0.0, "<0.001")])
def test_format_p_never_writes_an_exponent(p, text):
    assert stats.format_p(p) == text
    assert "e" not in text and "-" not in text
    assert stats.p_text(p) == (f"p < {text[1:]}" if text.startswith("<") else f"p = {text}")
