"""Part 1's worked examples: the hand computations agree with PyTorch."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cifar_utils import theory


def test_convolution_example_manual_equals_conv2d():
    ex = theory.convolution_example()
    f = torch.tensor(theory.FEATURE_MAP, dtype=torch.float64).view(1, 1, 4, 4)
    k = torch.tensor(theory.KERNEL, dtype=torch.float64).view(1, 1, 2, 2)
    expected = F.conv2d(f, k).squeeze().tolist()
    assert len(ex["manual"]) == 3 and all(len(row) == 3 for row in ex["manual"])
    assert ex["manual"] == expected
    assert ex["torch"] == expected
    assert ex["equal"] is True
    # One hand-checked value: F'(0,0) = 1*2 + 2*0 + 4*1 + 1*(-1) = 5.
    assert ex["manual"][0][0] == 5


def test_convolution_expansion_string_evaluates_to_manual_value():
    ex = theory.convolution_example()
    x, y = ex["at"]
    value = ex["manual"][x][y]
    head, _, rest = ex["expansion"].partition(" = ")
    assert head == f"F'{ex['at']}"
    sum_text, _, result_text = rest.rpartition(" = ")
    assert float(result_text) == value
    products = [re.fullmatch(r"(-?\d+)·\(?(-?\d+)\)?", term.strip()) for term in sum_text.split(" + ")]
    assert all(products), sum_text
    assert len(products) == 4
    assert sum(int(m.group(1)) * int(m.group(2)) for m in products) == value
    # The listed terms are the feature-map and kernel entries the formula names.
    assert [(a, b) for _, a, b in ex["terms"]] == [(int(m.group(1)), int(m.group(2))) for m in products]


def test_convolution_example_at_other_position():
    ex = theory.convolution_example(at=(2, 0))
    assert ex["expansion"].endswith(f"= {ex['manual'][2][0]}")


def test_conv2d_manual_matches_torch_on_random_map():
    gen = torch.Generator().manual_seed(1234)
    fmap = torch.randn(5, 5, generator=gen, dtype=torch.float64)
    kernel = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    manual = torch.tensor(theory.conv2d_manual(fmap.tolist(), kernel.tolist()), dtype=torch.float64)
    expected = F.conv2d(fmap.view(1, 1, 5, 5), kernel.view(1, 1, 3, 3)).squeeze()
    assert manual.shape == (3, 3)
    torch.testing.assert_close(manual, expected, rtol=0, atol=1e-12)


def test_cross_entropy_example_agrees_everywhere():
    ex = theory.cross_entropy_example()
    mean = ex["mean"]
    for key in ("cross_entropy_loss", "nll_of_log_softmax", "one_hot_formula"):
        assert ex[key] == pytest.approx(mean, abs=1e-12), key
    x = torch.tensor(theory.LOGITS, dtype=torch.float64)
    t = torch.tensor(theory.TARGETS)
    assert nn.CrossEntropyLoss()(x, t).item() == pytest.approx(mean, abs=1e-12)
    assert ex["sum"] == pytest.approx(4 * mean, abs=1e-12)
    assert ex["sum_reduction"] == pytest.approx(ex["sum"], abs=1e-12)
    assert nn.CrossEntropyLoss(reduction="sum")(x, t).item() == pytest.approx(ex["sum"], abs=1e-12)


def test_cross_entropy_manual_probabilities_and_per_example():
    ex = theory.cross_entropy_example()
    probs = torch.tensor(ex["probabilities"], dtype=torch.float64)
    expected = F.softmax(torch.tensor(theory.LOGITS, dtype=torch.float64), dim=1)
    torch.testing.assert_close(probs, expected, rtol=0, atol=1e-12)
    assert len(ex["per_example"]) == 4
    for row, t, nll in zip(ex["probabilities"], theory.TARGETS, ex["per_example"]):
        assert sum(row) == pytest.approx(1.0, abs=1e-12)
        assert nll == pytest.approx(-torch.log(torch.tensor(row[t], dtype=torch.float64)).item(), abs=1e-12)
    # The near miss (example 4) costs more than a confident correct one (example 3).
    assert ex["per_example"][3] > ex["per_example"][2]
