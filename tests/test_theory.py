"""Part 1's worked examples (cifar_utils.theory) against PyTorch and SciPy, and the theory notebook's parameters."""
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
from torch import nn

from cifar_utils import theory
from cifar_utils.config import ConfigError
from cifar_utils.models import build_model, count_parameters
from cifar_utils.recipes import EXPERIMENTS, NOTEBOOKS_DIR, REPO_ROOT, notebook_recipe, profile_parameters

NOTEBOOK = NOTEBOOKS_DIR / "00_theory.ipynb"
EXAMPLE = notebook_recipe("00_theory")  # the example: profiles/report/00_theory.yaml, shown in the parameters cell
FMAP, KERNEL = EXAMPLE["feature_map"], EXAMPLE["kernel"]
LOGITS, TARGETS = EXAMPLE["logits"], EXAMPLE["targets"]
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


def test_training_label_smoothing_is_what_the_recipes_say():
    table = theory.training_label_smoothing()
    for info in EXPERIMENTS.values():
        for profile in table.columns:
            assert table.loc[info.notebook, profile] == profile_parameters(profile, info.notebook)["label_smoothing"]
    assert (table["faithful"] == 0).all()


# --- checks ----------------------------------------------------------------------------------------

GOOD = dict(feature_map=FMAP, kernel=KERNEL, position=[1, 1], stride=2, padding=1, logits=LOGITS, targets=TARGETS,
            label_smoothing=0.1)


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
