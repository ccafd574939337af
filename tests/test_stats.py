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


def test_paired_difference_is_summary_of_differences():
    a, b = [70.1, 71.0, 69.5, 70.4, 70.9], [71.0, 71.5, 70.9, 70.8, 71.6]
    p = stats.paired_difference(a, b)
    s = stats.summary(np.subtract(b, a))
    for key in ("n", "estimate", "std", "sem", "low", "high", "df"):
        assert p[key] == approx(s[key]), key
    assert p["p_value"] == approx(sps.ttest_rel(b, a).pvalue)
    with pytest.raises(ValueError, match="a has 2 runs but b has 3"):
        stats.paired_difference([1, 2], [1, 2, 3])


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


def test_proportion_intervals():
    exact = stats.proportion_interval(0, 10, method="exact")
    assert exact["low"] == 0.0 and exact["high"] == approx(1 - 0.025 ** (1 / 10))   # 0.308497
    # Wilson, z = 1.959964: (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n).
    w = stats.proportion_interval(950, 1000)
    assert w["estimate"] == 0.95 and w["method"] == "wilson"
    assert w["low"] == pytest.approx(0.934686, abs=1e-6)
    assert w["high"] == pytest.approx(0.961870, abs=1e-6)
    with pytest.raises(ValueError, match="correct=11"):
        stats.proportion_interval(11, 10)
    with pytest.raises(ValueError, match="total=0"):
        stats.proportion_interval(0, 0)


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


def test_format_interval():
    assert (stats.format_interval(stats.summary([1, 2, 3, 4, 5]))
            == "+3.00 points (95% CI +1.04 to +4.96, n = 5)")
    d = stats.difference([1, 2, 3, 4], [2, 4, 6, 8, 10])
    assert stats.format_interval(d, digits=1) == "+3.5 points (95% CI -0.4 to +7.4, n = 4, 5)"
    c = stats.contrast({"a": [1, 2, 3], "b": [2, 3, 5]}, {"a": -1, "b": 1}, confidence=0.9)
    assert stats.format_interval(c, unit="").startswith("+1.33 (90% CI ")
    assert stats.format_interval(c).endswith("n = 3 per group)")


def test_difference_and_paired_validation():
    with pytest.raises(ValueError, match="a has 1 run"):
        stats.difference([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="standard error 0"):
        stats.difference([1.0, 1.0], [2.0, 2.0])
    with pytest.raises(ValueError, match="standard error 0"):
        stats.paired_difference([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
