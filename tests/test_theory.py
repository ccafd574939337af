"""Part 1's worked examples (cifar_utils.theory) against PyTorch and SciPy, and the theory notebook's parameters,
prose (word budget, table numbers, the numbers it states) and citations."""
from __future__ import annotations

import ast
import itertools
import math
import re

import nbformat
import papermill
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from cifar_utils import references, theory
from cifar_utils.config import ConfigError
from cifar_utils.data import CLASSES
from cifar_utils.models import build_model, count_parameters
from cifar_utils.recipes import EXPERIMENTS, NOTEBOOKS_DIR, REPO_ROOT, notebook_recipe, profile_parameters

NOTEBOOK = NOTEBOOKS_DIR / "00_theory.ipynb"
EXAMPLE = notebook_recipe("00_theory")  # the example: profiles/report/00_theory.yaml, shown in the parameters cell
FMAP, KERNEL = EXAMPLE["feature_map"], EXAMPLE["kernel"]
LOGITS, TARGETS = EXAMPLE["logits"], EXAMPLE["targets"]
EXTREME = EXAMPLE["extreme_logits"]
SYMMETRIC = [[1, 2], [2, 1]]  # equal to its own 180-degree rotation


def random_matrix(rows, columns, seed):
    return torch.randn(rows, columns, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).tolist()


# --- convolution -----------------------------------------------------------------------------------

def test_example_cross_correlation_by_hand():
    """F'(0,0) = 1*2 + 2*0 + 4*1 + 1*(-1) = 5 and the 3x3 output, checked by hand once."""
    assert FMAP == [[1, 2, 0, 3], [4, 1, 2, 1], [0, 3, 1, 2], [2, 1, 4, 0]] and KERNEL == [[2, 0], [1, -1]]
    assert theory.cross_correlate(FMAP, KERNEL) == [[5, 3, 1], [5, 4, 3], [1, 3, 6]]
    # The true convolution at (0,0) uses the flipped kernel: 1*(-1) + 2*1 + 4*0 + 1*2 = 3.
    assert theory.convolve(FMAP, KERNEL)[0][0] == 3


@pytest.mark.parametrize("h,w,kh,kw,seed", [(4, 4, 2, 2, 0), (5, 6, 3, 3, 1), (6, 5, 2, 3, 2), (3, 3, 3, 3, 3),
                                             (4, 7, 1, 4, 4)])
def test_cross_correlate_and_convolve_match_torch_and_scipy(h, w, kh, kw, seed):
    fmap, kernel = random_matrix(h, w, seed), random_matrix(kh, kw, seed + 100)
    corr, conv = theory.cross_correlate(fmap, kernel), theory.convolve(fmap, kernel)
    assert theory.agree(corr, theory.conv2d_torch(fmap, kernel))
    assert theory.agree(corr, scipy.signal.correlate2d(fmap, kernel, mode="valid"))
    assert theory.agree(conv, scipy.signal.convolve2d(fmap, kernel, mode="valid"))
    assert theory.agree(conv, theory.conv2d_torch(fmap, theory.flip(kernel)))
    flipped = torch.tensor(kernel, dtype=torch.float64).flip(-2, -1)
    assert theory.agree(conv, F.conv2d(torch.tensor(fmap, dtype=torch.float64)[None, None], flipped[None, None])[0, 0])


def test_flip_changes_the_example_but_not_a_symmetric_kernel():
    assert theory.flip(KERNEL) == [[-1, 1], [0, 2]]
    assert not theory.agree(theory.cross_correlate(FMAP, KERNEL), theory.convolve(FMAP, KERNEL))
    table, sentence = theory.flip_comparison(FMAP, KERNEL)
    assert sentence.startswith("Cross-correlation and convolution differ at 8 of the 9 output positions: (0,0), ")
    assert "(1,2)" not in sentence  # 3 both ways there
    assert table["difference"].abs().sum().sum() > 0

    assert theory.flip(SYMMETRIC) == SYMMETRIC
    assert theory.cross_correlate(FMAP, SYMMETRIC) == theory.convolve(FMAP, SYMMETRIC)
    table, sentence = theory.flip_comparison(FMAP, SYMMETRIC)
    assert sentence == ("Cross-correlation and convolution agree at all 9 output positions: "
                        "K equals its own 180-degree rotation, so flipping changes nothing.")
    assert table["difference"].abs().sum().sum() == 0


def test_expansions_evaluate_to_the_outputs():
    for flipped, expected in ((False, theory.cross_correlate), (True, theory.convolve)):
        for x, y in itertools.product(range(3), range(3)):
            names, numbers, total = theory.expansion(FMAP, KERNEL, (x, y), flipped).split("\n")
            assert float(total.removeprefix("= ")) == expected(FMAP, KERNEL)[x][y]
            products = [re.fullmatch(r"\(?(-?[\d.]+)\)?·\(?(-?[\d.]+)\)?", t) for t in numbers[2:].split(" + ")]
            assert all(products) and len(products) == 4
            assert sum(float(m[1]) * float(m[2]) for m in products) == float(total[2:])
            if (x, y) == (1, 1):  # the original report's F'(1,1), and its flipped counterpart
                assert names == ("F(1,1)K(1,1) + F(1,2)K(1,0) + F(2,1)K(0,1) + F(2,2)K(0,0)" if flipped else
                                 "F(1,1)K(0,0) + F(1,2)K(0,1) + F(2,1)K(1,0) + F(2,2)K(1,1)")


def test_output_size_formula_matches_conv2d_over_a_grid():
    for h, k, s, p in itertools.product((4, 5, 7), (1, 2, 3), (1, 2, 3), (0, 1, 2)):
        if k > h + 2 * p:
            continue
        out = F.conv2d(torch.zeros(1, 1, h, h + 1), torch.zeros(1, 1, k, k), stride=s, padding=p)
        assert out.shape[-2:] == (theory.output_size(h, k, s, p), theory.output_size(h + 1, k, s, p)), (h, k, s, p)
        assert theory.output_size(h, k, s, p) == math.floor((h + 2 * p - k) / s) + 1


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 0), (2, 1), (3, 2)])
def test_general_formula_matches_conv2d_with_channels_and_bias(stride, padding):
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(3, 7, 6, generator=gen, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 2, generator=gen, dtype=torch.float64)
    bias = torch.randn(4, generator=gen, dtype=torch.float64)
    by_hand = theory.conv2d_by_formula(x.tolist(), weight.tolist(), bias.tolist(), stride, padding)
    assert theory.agree(by_hand, F.conv2d(x[None], weight, bias, stride=stride, padding=padding)[0])
    assert theory.agree(theory.cross_correlate(FMAP, KERNEL, stride, padding),
                        theory.conv2d_torch(FMAP, KERNEL, stride, padding))


def test_stride_padding_table_puts_the_parameters_first_and_agrees():
    table = theory.stride_padding_table(FMAP, KERNEL, 3, 0)
    assert (table.loc[0, "stride S"], table.loc[0, "padding P"]) == (3, 0)
    assert len(table) == len(set(zip(table["stride S"], table["padding P"])))
    assert (table["H_out x W_out, formula"] == table["F.conv2d's output"]).all()
    assert table["values: formula = F.conv2d"].all()


def test_pad():
    assert theory.pad([[1, 2]], 1) == [[0, 0, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]]
    assert theory.pad([[1, 2]], 0) == [[1, 2]]


@pytest.mark.parametrize("name", ["alexnet", "baseline"])
def test_layer_table_matches_the_forward_pass_and_parameters(name):
    model = build_model(name, 0.0)
    table = theory.layer_table(model)
    layers, total = table.iloc[:-1], table.iloc[-1]
    assert layers["sizes agree"].all()
    assert (layers["output, formula"] == layers["output, forward pass"]).all()
    assert (layers["parameters, formula"] == layers["parameters, model"]).all()
    assert total["parameters, formula"] == total["parameters, model"] == count_parameters(model)
    assert layers.iloc[-1]["output, forward pass"] == "10"
    if name == "alexnet":  # the first layer is 5x5, stride 2, padding 2: 32 -> floor((32 + 4 - 5) / 2) + 1 = 16
        first = layers.iloc[0]
        assert first["kernel / stride / padding"] == "5 x 5 / 2 / 2" and first["output, formula"] == "96 x 16 x 16"
        assert (first["parameters, formula"]) == (3 * 5 * 5 + 1) * 96
        assert "1536" in set(layers["output, formula"])  # the original report's x.view(-1, 384 * 2 * 2)
        convs_and_pools = layers[layers["kernel / stride / padding"] != ""]
        assert list(convs_and_pools["receptive field"]) == [f"{r} x {r}" for r in ALEXNET_FIELDS]
        assert list(convs_and_pools["jump"]) == [str(j) for j in ALEXNET_JUMPS]
        assert (layers[layers["kernel / stride / padding"] == ""]["receptive field"] == "").all()


# By hand from the appendix's layers (k, s): conv (5, 2), pool (2, 2), conv (5, 1), pool (2, 2), conv (3, 1) x 3,
# pool (2, 2): r += (k - 1) j, then j *= s; the first unit's field starts at -(sum of p j), so on 32 x 32 the
# corner unit of the third convolution sees pixels 0 to -18 + 43 - 1 = 24, 25 of them.
ALEXNET_FIELDS = [5, 7, 23, 27, 43, 59, 75, 83]
ALEXNET_JUMPS = [2, 4, 4, 8, 8, 8, 8, 16]
ALEXNET_PATCHES = [3, 5, 13, 17, 25, 32, 32, 32]


def test_receptive_fields_of_the_alexnet_variant_by_hand():
    fields = theory.receptive_fields(build_model("alexnet", 0.0), 32)
    assert [f["receptive field"] for f in fields] == [(r, r) for r in ALEXNET_FIELDS]
    assert [f["jump"] for f in fields] == [(j, j) for j in ALEXNET_JUMPS]
    assert [f["smallest patch"] for f in fields] == [(p, p) for p in ALEXNET_PATCHES]
    assert [f["whole image"] for f in fields] == [False] * 5 + [True] * 3
    assert [(f["kind"], f["ordinal"]) for f in fields][4:6] == [("convolution", 3), ("convolution", 4)]
    assert theory.receptive_field_summary(build_model("alexnet", 0.0), 32) == (
        "On a 32 x 32 image the receptive field is wider than the image from the third convolution (features.6, "
        "43 pixels), but some of its units see only 25 x 25 pixels of the image; every unit sees the whole image "
        "from the fourth convolution (features.8, 59 pixels).")


def test_receptive_fields_of_imagenet_alexnet_stay_inside_224_pixels():
    """torchvision's AlexNet (11x11 stride 4, 3x3 stride-2 pools): 11, 19, 51, 67, 99, 131, 163, 195."""
    fields = theory.receptive_fields(torchvision.models.alexnet(), 224)
    assert [f["receptive field"][0] for f in fields] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert not any(f["whole image"] for f in fields)
    assert theory.receptive_field_summary(torchvision.models.alexnet(), 224) == (
        "On a 224 x 224 image no layer's receptive field is as wide as the image; the widest is that of the third "
        "pooling (features.12, 195 pixels).")


@pytest.mark.parametrize("name", ["alexnet", "baseline"])
def test_receptive_fields_agree_with_autograd(name):
    line = theory.receptive_field_check(build_model(name, 0.0), 32)
    assert line.startswith("Receptive fields by the recurrence and by autograd agree at all ")
    assert "DISAGREE" not in line


def test_receptive_field_check_catches_a_wrong_recurrence(monkeypatch):
    true = theory.receptive_fields

    def off_by_one(model, image=32):
        fields = true(model, image)
        fields[2]["receptive field"] = (24, 24)  # 23 in truth
        return fields

    monkeypatch.setattr(theory, "receptive_fields", off_by_one)
    assert "features.3: the recurrence and autograd DISAGREE" in theory.receptive_field_check(
        build_model("alexnet", 0.0), 32)


def test_receptive_fields_with_odd_strides_padding_and_a_rectangular_kernel_agree_with_autograd():
    model = nn.Sequential(nn.Conv2d(3, 4, 4, stride=3, padding=2), nn.MaxPool2d(3, 2, 1),
                          nn.Conv2d(4, 4, (2, 3), stride=1, padding=0))
    fields = theory.receptive_fields(model, 20)
    assert [f["receptive field"] for f in fields] == [(4, 4), (10, 10), (16, 22)]
    assert [f["jump"][0] for f in fields] == [3, 6, 6]
    # first unit: pixels -5 to -5 + 16 - 1 = 10 (11 of them) and -5 to 16 (17); a 20 x 40 image
    assert theory.receptive_fields(model, (20, 40))[2]["smallest patch"] == (11, 17)
    assert theory.layer_table(model, (1, 3, 20, 40)).loc[2, "receptive field"] == "16 x 22"
    assert theory.receptive_field_check(model, 20).startswith("Receptive fields by the recurrence and by autograd "
                                                              "agree at all 3 convolution and pooling layers")


def test_a_dilated_kernels_field_spans_d_k_minus_1_plus_1_and_the_check_refuses_it():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=3, padding=2, dilation=2), nn.MaxPool2d(3, 2, 1))
    fields = theory.receptive_fields(model, 20)
    assert fields[0]["receptive field"] == (5, 5) and fields[0]["jump"] == (3, 3)  # D (K - 1) + 1 = 5
    assert fields[1]["receptive field"] == (11, 11)
    with pytest.raises(ValueError, match="0 is dilated; its field has holes"):
        theory.receptive_field_check(model, 20)


def test_general_formula_check_on_alexnets_first_layer():
    line = theory.general_formula_check(build_model("alexnet", 0.0).features[0])
    assert "agree at all 24,576 outputs (96 x 16 x 16" in line and "DISAGREE" not in line


# --- cross-entropy ---------------------------------------------------------------------------------

def test_cross_entropy_by_hand_agrees_with_pytorch():
    values = theory.pytorch_agreement(LOGITS, TARGETS)
    mean = values["by hand: mean of -log softmax(x)[t]"]
    x, t = torch.tensor(LOGITS, dtype=torch.float64), torch.tensor(TARGETS)
    assert mean == pytest.approx(nn.CrossEntropyLoss()(x, t).item(), abs=1e-12)
    assert all(v == pytest.approx(mean, abs=1e-12) for v in values.values())
    ce = theory.cross_entropy_by_hand(LOGITS, TARGETS)
    torch.testing.assert_close(torch.tensor(ce["probabilities"], dtype=torch.float64), F.softmax(x, dim=1),
                               rtol=0, atol=1e-12)
    assert ce["predicted"] == x.argmax(1).tolist()


def test_the_fourth_example_is_misclassified_and_costs_most():
    assert LOGITS[3] == [1.5, 1.4, 0.2] and TARGETS[3] == 1
    ce = theory.cross_entropy_by_hand(LOGITS, TARGETS)
    assert ce["predicted"][3] == 0
    assert max(range(4), key=ce["per_example"].__getitem__) == 3 and ce["per_example"][3] > math.log(2)
    summary = theory.misclassified_summary(LOGITS, TARGETS)
    assert summary.startswith("Example 4 (logits [1.5, 1.4, 0.2], true class 1) is misclassified: its largest logit "
                              "is class 0.\nThe largest per-example loss is example 4's, 0.8781")
    assert theory.misclassified_summary([[2.0, 0.0]], [0]).startswith("Every example is classified correctly.")
    table = theory.cross_entropy_table(LOGITS, TARGETS)
    assert table.loc[4, "predicted class"] == 0 and table["-log p(true)"].idxmax() == 4


def test_sum_reduction_is_n_times_the_mean_and_so_is_its_gradient():
    values = list(theory.reduction_example(LOGITS, TARGETS).values())
    torch_mean, mean, total, torch_sum, ratio = values
    assert torch_mean == pytest.approx(mean, abs=1e-12) and torch_sum == pytest.approx(total, abs=1e-12)
    assert total == pytest.approx(len(TARGETS) * mean, abs=1e-12)
    assert ratio == pytest.approx(len(TARGETS), abs=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3, 0.9])
def test_label_smoothing_by_hand_matches_pytorch(eps):
    logits = random_matrix(5, 4, 11)
    targets = [0, 3, 1, 1, 2]
    by_hand, by_torch, split, plain, minimum = theory.label_smoothing_example(logits, targets, eps).values()
    x, t = torch.tensor(logits, dtype=torch.float64), torch.tensor(targets)
    assert by_torch == pytest.approx(nn.CrossEntropyLoss(label_smoothing=eps)(x, t).item(), abs=1e-12)
    assert by_hand == pytest.approx(by_torch, abs=1e-12) and split == pytest.approx(by_torch, abs=1e-12)
    assert plain == pytest.approx(nn.CrossEntropyLoss()(x, t).item(), abs=1e-12)
    assert minimum <= by_hand and (eps > 0) == (minimum > 0)
    if eps == 0:
        assert by_hand == pytest.approx(plain, abs=1e-12)
    q = theory.smoothed_targets(targets, 4, eps)
    assert all(sum(row) == pytest.approx(1.0) for row in q)
    assert q[1] == pytest.approx([eps / 4] * 3 + [1 - eps + eps / 4])
    if eps > 0:  # at p = q (logits log q) the smoothed loss is its minimum, the entropy of q
        at_q = list(theory.label_smoothing_example(torch.log(torch.tensor(q)).tolist(), targets, eps).values())
        assert at_q[0] == pytest.approx(at_q[4], abs=1e-12) == minimum


def test_gradient_of_the_example_by_hand_and_by_autograd():
    by_hand = theory.cross_entropy_gradient(LOGITS, TARGETS)
    x = torch.tensor(LOGITS, dtype=torch.float64, requires_grad=True)
    F.cross_entropy(x, torch.tensor(TARGETS)).backward()
    torch.testing.assert_close(torch.tensor(by_hand, dtype=torch.float64), x.grad, rtol=0, atol=1e-12)
    p = F.softmax(x.detach(), dim=1)
    assert by_hand[3][1] == pytest.approx((p[3, 1].item() - 1) / 4, abs=1e-15)  # the true class of example 4
    assert by_hand[3][0] == pytest.approx(p[3, 0].item() / 4, abs=1e-15)
    assert all(abs(sum(row)) < 1e-15 for row in by_hand)
    table, line = theory.gradient_table(LOGITS, TARGETS)
    assert line == ("By hand and autograd agree at all 12 entries (largest difference below 1e-09); "
                    "each row sums to zero.")
    assert list(table.columns.get_level_values(0).unique()) == ["by hand, (p - y) / N", "autograd, x.grad"]


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_gradient_with_label_smoothing_is_p_minus_q_over_n(eps):
    logits, targets = random_matrix(6, 5, 21), [0, 4, 2, 2, 1, 3]
    by_hand, by_autograd = (f(logits, targets, eps) for f in (theory.cross_entropy_gradient, theory.autograd_gradient))
    assert theory.agree(by_hand, by_autograd)
    q = theory.smoothed_targets(targets, 5, eps)
    assert by_hand[1][4] == pytest.approx((F.softmax(torch.tensor(logits[1]), 0)[4].item() - q[1][4]) / 6, abs=1e-7)


def test_gradient_table_says_when_hand_and_autograd_disagree(monkeypatch):
    monkeypatch.setattr(theory, "cross_entropy_gradient", lambda logits, targets: [[0.0] * 3] * 4)
    assert theory.gradient_table(LOGITS, TARGETS)[1].startswith("By hand and autograd DISAGREE")


def test_log_sum_exp_of_the_extreme_example():
    assert EXTREME == [[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]]
    assert theory.FLOAT32_EXP_LIMIT == pytest.approx(88.7228, abs=1e-4)
    assert torch.isinf(torch.exp(torch.tensor(theory.FLOAT32_EXP_LIMIT * 1.0001, dtype=torch.float32)))
    assert torch.isfinite(torch.exp(torch.tensor(theory.FLOAT32_EXP_LIMIT * 0.9999, dtype=torch.float32)))
    table, lines = theory.log_sum_exp_table(EXTREME)
    expected = [-0.4076, -1.4076, -2.4076]  # -log(1 + e^-1 + e^-2) = -0.4076, minus 1, minus 2
    for n in (1, 2):
        assert list(table.loc[(n, "shifted: x - m - log sum exp(x - m), float32")]) == expected
        assert list(table.loc[(n, "torch.log_softmax, float32")]) == expected
        assert table.loc[(n, "naive softmax: exp(x) / sum exp(x), float32")].isna().all()
    assert list(table.loc[(1, "naive: x - log sum exp(x), float32")]) == [-math.inf] * 3
    assert list(table.loc[(2, "naive: x - log sum exp(x), float32")]) == [math.inf] * 3
    assert lines.split("\n") == [
        "Example 1: its largest logit, 1000, is above ln(largest float32) = 88.72, so exp overflows to inf; the "
        "naive form gives [-inf, -inf, -inf] (wrong); the shifted form agrees with torch.log_softmax and with float64.",
        "Example 2: every exp underflows to 0, so the sum is 0 and its log is -inf; the naive form gives "
        "[inf, inf, inf] (wrong); the shifted form agrees with torch.log_softmax and with float64."]


@pytest.mark.parametrize("scale", [1.0, 50.0, 1e4])
def test_shifted_log_softmax_matches_torch_at_any_scale_and_the_naive_one_overflows(scale):
    row = [v * scale for v in random_matrix(1, 7, 5)[0]]
    shifted = theory.log_softmax_float32(row)
    torch.testing.assert_close(torch.tensor(shifted), torch.log_softmax(torch.tensor(row, dtype=torch.float32), 0))
    overflows = max(row) > theory.FLOAT32_EXP_LIMIT
    assert overflows == (scale > 1)  # the seed's largest value is about 1.94
    assert all(map(math.isfinite, theory.log_softmax_float32(row, shifted=False))) == (not overflows)
    if not overflows:
        assert theory.agree_float32(shifted, theory._log_softmax(row))


def test_log_sum_exp_of_ordinary_logits_says_nothing_overflows():
    table, lines = theory.log_sum_exp_table([[1.0, 2.0, 3.0]])
    assert lines == ("Example 1: exp neither overflows nor underflows; the naive form gives [-2.408, -1.408, -0.4076]; "
                     "the shifted form agrees with torch.log_softmax and with float64.")


def test_smoothing_optimum_is_one_minus_eps_plus_eps_over_m():
    table = theory.training_label_smoothing()
    assert theory.smoothing_optimum(table, len(CLASSES)).split("\n") == [
        "label_smoothing 0.1 (report profile): the loss is smallest when the true class gets 0.91 and each of the "
        "other 9 classes 0.01.",
        "label_smoothing 0 (faithful profile): the loss is smallest when the true class gets 1 and each of the other "
        "9 classes 0."]
    logits = torch.log(torch.tensor(theory.smoothed_targets([0], 10, 0.1)))  # softmax(log q) = q
    x = logits.clone().requires_grad_(True)
    nn.CrossEntropyLoss(label_smoothing=0.1)(x, torch.tensor([0])).backward()
    assert x.grad.abs().max() < 1e-6  # the smoothed loss is stationary where p(true) = 0.91


def test_training_label_smoothing_is_what_the_recipes_say():
    table = theory.training_label_smoothing()
    for info in EXPERIMENTS.values():
        for profile in table.columns:
            assert table.loc[info.notebook, profile] == profile_parameters(profile, info.notebook)["label_smoothing"]
    assert (table["faithful"] == 0).all()


# --- checks ----------------------------------------------------------------------------------------

GOOD = dict(feature_map=FMAP, kernel=KERNEL, position=[1, 1], stride=2, padding=1, logits=LOGITS, targets=TARGETS,
            label_smoothing=0.1, extreme_logits=EXTREME)


@pytest.mark.parametrize("change,message", [
    ({"feature_map": [[1, 2, 3], [4, 5]]}, "feature_map is ragged: row 1 has 2 numbers but row 0 has 3; "
                                           "give every row the same length."),
    ({"feature_map": [[1, "a"], [3, 4]]}, "feature_map[0][1] = 'a' is not a finite number; write numbers only."),
    ({"feature_map": [1, 2, 3]}, "feature_map = [1, 2, 3] is not a list of rows; write it as a list of lists"),
    ({"kernel": [[1] * 5] * 5}, "kernel is 5x5 but feature_map is only 4x4; use a kernel that fits inside the "
                                "feature map."),
    ({"kernel": [[1, True]]}, "kernel[0][1] = True is not a finite number"),
    ({"stride": 0}, "stride = 0 is out of range; it must be >= 1."),
    ({"stride": 1.5}, "stride = 1.5 is not an integer; write a whole number such as 2."),
    ({"padding": -1}, "padding = -1 is out of range; it must be >= 0."),
    ({"position": [3, 0]}, "position = [3, 0] is not a position of the 3x3 output; use [x, y] with x (row) from 0 "
                           "to 2 and y (column) from 0 to 2."),
    ({"logits": [[1.0], [2.0], [3.0], [4.0]]}, "logits has one column; give at least two logits per row, one per "
                                               "class."),
    ({"logits": [[], [], [], []]}, "logits has empty rows; give every row at least one number."),
    ({"logits": [[1.0, 2.0, 3.0], [1.0, 2.0]] * 2}, "logits is ragged: row 1 has 2 numbers but row 0 has 3"),
    ({"targets": [0, 1, 2]}, "targets has 3 entries but logits has 4 rows; give one true class per row of logits."),
    ({"targets": [0, 1, 3, 1]}, "targets[2] = 3 is not a class of logits' 3 columns; use an integer from 0 to 2."),
    ({"targets": [0, -1, 2, 1]}, "targets[1] = -1 is not a class of logits' 3 columns"),
    ({"targets": [0, 1.0, 2, 1]}, "targets[1] = 1.0 is not a class"),
    ({"label_smoothing": 1.0}, "label_smoothing = 1.0 is out of range; it must be >= 0 and < 1."),
    ({"label_smoothing": -0.1}, "label_smoothing = -0.1 is out of range"),
    ({"extreme_logits": [[1000.0], [2.0]]}, "extreme_logits has one column; give at least two logits per row"),
    ({"extreme_logits": [[1000.0, math.inf]]}, "extreme_logits[0][1] = inf is not a finite number"),
    ({"extreme_logits": [1000.0, 999.0]}, "extreme_logits = [1000.0, 999.0] is not a list of rows"),
])
def test_a_bad_parameter_is_one_sentence_naming_it(change, message):
    with pytest.raises(ConfigError) as info:
        theory.check_parameters(**{**GOOD, **change})
    text = str(info.value)
    assert isinstance(info.value, ValueError)
    assert text.startswith(message) and text.endswith(".") and "\n" not in text
    assert next(iter(change)) in text


def test_the_functions_check_their_own_inputs():
    with pytest.raises(ConfigError, match="kernel is 3x3 but feature_map is only 2x2"):
        theory.cross_correlation_table([[1, 2], [3, 4]], [[1] * 3] * 3)
    with pytest.raises(ConfigError, match=r"targets\[0\] = 5"):
        theory.cross_entropy_table([[1.0, 2.0]], [5])


# --- the notebook ----------------------------------------------------------------------------------

def test_parameters_cell_holds_the_example_with_a_comment_each():
    declared = papermill.inspect_notebook(str(NOTEBOOK))
    assert set(declared) == set(GOOD)
    assert {name: ast.literal_eval(p["default"]) for name, p in declared.items()} == EXAMPLE
    assert all(p["help"] for p in declared.values()), "every parameter needs a # comment"
    theory.check_parameters(**EXAMPLE)


def test_no_number_is_computed_in_the_notebooks_markdown():
    """The corrections and sections are prose; the numbers of the example are printed by code cells."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for number in ("0.4297", "1.7190", "0.8781", "0.5364", "27,279,882", "27279882"):
        assert number not in prose
    assert "NBVAL" not in prose


def markdown_cells():
    return [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "markdown"]


WORD_BUDGET = 1400  # issue 20: notebook 00's Markdown, every cell (formulas included, split at white space)


def sentences(text: str) -> list[str]:
    """The prose's sentences: display formulas, code and headings out, split after . ? ! : or ; before a space."""
    text = re.sub(r"\$\$.*?\$\$", " FORMULA ", text, flags=re.S)
    text = re.sub(r"^#+ .*$", "", text, flags=re.M)
    text = re.sub(r"`[^`]*`", "CODE", text)
    return [s for s in re.split(r"(?<=[.?!])\s+|\n\s*\n|\n\d+\. ", text) if s.strip()]


def test_the_prose_is_within_its_word_budget_and_has_no_long_sentence():
    prose = "\n".join(markdown_cells())
    assert len(prose.split()) <= WORD_BUDGET
    long = [s for s in sentences(prose) if len(s.split()) >= 50]
    assert not long, long


def test_tables_are_numbered_1_1_onwards_in_order():
    numbers = re.findall(r"\*\*Table 1\.(\d+)\.\*\*", "\n".join(markdown_cells()))
    assert [int(n) for n in numbers] == list(range(1, 13))


def stated_numbers() -> list[str]:
    """What the prose states of computed numbers, recomputed: each string must appear in the Markdown."""
    fields = theory.receptive_fields(build_model("alexnet", 0.0), 32)
    wider = next(f for f in fields if min(f["receptive field"]) > 32)
    whole = next(f for f in fields if f["whole image"])
    imagenet = theory.receptive_fields(torchvision.models.alexnet(), 224)
    last_pool = [f for f in imagenet if f["kind"] == "pooling"][-1]
    assert not any(f["whole image"] for f in imagenet) and last_pool is imagenet[-1]
    smoothing = {profile_parameters("report", info.notebook)["label_smoothing"] for info in EXPERIMENTS.values()}
    (eps,) = smoothing
    top = theory.smoothed_targets([0], len(CLASSES), eps)[0][0]
    return [f"at the {theory._ordinal(wider['ordinal'])} {wider['kind']} ({wider['receptive field'][0]} pixels)",
            f"see only {wider['smallest patch'][0]} × {wider['smallest patch'][1]} image pixels",
            f"from the {theory._ordinal(whole['ordinal'])} {whole['kind']} on, every unit sees the whole image",
            f"last pooling's field ({last_pool['receptive field'][0]} pixels) is narrower than the image",
            f"$x > {theory.FLOAT32_EXP_LIMIT:.2f}$",
            f"trained with $\\varepsilon = {eps:g}$, are pulled towards {top:.0%} confidence"]


def test_the_numbers_the_prose_states_are_the_computed_ones():
    prose = " ".join(" ".join(markdown_cells()).split())  # lines joined: a statement may break across them
    for statement in stated_numbers():
        assert statement in prose, statement


def test_citations_run_from_1_in_order_and_the_references_cell_lists_them():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    heading = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## References" in c.source)
    body = "\n".join(c.source for c in nb.cells[:heading + 1] if c.cell_type == "markdown")
    numbers = references.cited(body)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) == 9  # first cited, first numbered
    cell = nb.cells[heading + 1]
    assert cell.cell_type == "code" and cell.source == f"Markdown(references.markdown(range(1, {len(numbers) + 1})))"
    (output,) = cell.outputs
    assert output["data"]["text/markdown"] == references.markdown(numbers)
    assert [references.number(key) for key in ("goodfellow2016", "araujo2019", "blanchard2021")] == [1, 5, 7]


def run_theory_notebook(tmp_path, monkeypatch, **parameters):
    monkeypatch.chdir(REPO_ROOT)  # papermill's cwd switching is undone even if it is not
    out = tmp_path / "00_theory.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters=parameters, kernel_name="python3",
                               progress_bar=False, cwd=str(NOTEBOOKS_DIR))
    nb = nbformat.read(out, as_version=4)
    return "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.slow
def test_papermill_override_recomputes_the_notebook(tmp_path, monkeypatch):
    """With a symmetric kernel (and stride 1), papermill's injected values reach every section."""
    text = run_theory_notebook(tmp_path, monkeypatch, kernel=SYMMETRIC, stride=1)
    assert "Cross-correlation and convolution agree at all 9 output positions: K equals its own" in text
    assert "= 1·1 + 2·2 + 3·2 + 1·1\n= 12" in text  # F'(1,1) with the new kernel
    assert "stride 1, padding 1:" in text
    assert "differ at" not in text


@pytest.mark.slow
def test_papermill_bad_parameter_stops_with_the_sentence(tmp_path, monkeypatch):
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run_theory_notebook(tmp_path, monkeypatch, stride=0)
    assert info.value.ename == "ConfigError" and info.value.evalue == "stride = 0 is out of range; it must be >= 1."
