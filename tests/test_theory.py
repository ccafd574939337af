"""What cifar_utils.theory keeps (the parameters' check, a network's layer table and receptive fields, the training
notebooks' label smoothing), and the theory notebook: its parameters, its printed checks against PyTorch, its prose
(word budget, table numbers, no number that a cell prints) and citations."""
from __future__ import annotations

import ast
import itertools
import math
import re

import nbformat
import papermill
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from cifar_utils import references, theory
from cifar_utils.config import ConfigError
from cifar_utils.models import build_model, count_parameters
from cifar_utils.recipes import EXPERIMENTS, NOTEBOOKS_DIR, REPO_ROOT, notebook_recipe, profile_parameters

NOTEBOOK = NOTEBOOKS_DIR / "00_theory.ipynb"
EXAMPLE = notebook_recipe("00_theory")  # the example: profiles/report/00_theory.yaml, shown in the parameters cell
FMAP, KERNEL = EXAMPLE["feature_map"], EXAMPLE["kernel"]
LOGITS, TARGETS = EXAMPLE["logits"], EXAMPLE["targets"]
EXTREME = EXAMPLE["extreme_logits"]
SYMMETRIC = [[1, 2], [2, 1]]  # equal to its own 180-degree rotation


# --- a network's layers and receptive fields -------------------------------------------------------

def test_output_size_formula_matches_conv2d_over_a_grid():
    for h, k, s, p in itertools.product((4, 5, 7), (1, 2, 3), (1, 2, 3), (0, 1, 2)):
        if k > h + 2 * p:
            continue
        out = F.conv2d(torch.zeros(1, 1, h, h + 1), torch.zeros(1, 1, k, k), stride=s, padding=p)
        assert out.shape[-2:] == (theory.output_size(h, k, s, p), theory.output_size(h + 1, k, s, p)), (h, k, s, p)
        assert theory.output_size(h, k, s, p) == math.floor((h + 2 * p - k) / s) + 1


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

# --- label smoothing in the training notebooks -----------------------------------------------------

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


# --- the notebook ----------------------------------------------------------------------------------

def test_parameters_cell_holds_the_example_with_a_comment_each():
    declared = papermill.inspect_notebook(str(NOTEBOOK))
    assert set(declared) == set(GOOD)
    assert {name: ast.literal_eval(p["default"]) for name, p in declared.items()} == EXAMPLE
    assert all(p["help"] for p in declared.values()), "every parameter needs a # comment"
    theory.check_parameters(**EXAMPLE)


def printed_text(nb) -> str:
    """Everything the code cells of ``nb`` print or display as text."""
    return "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


CHECK = re.compile(r"([^:;|\n]+): (True|False)\b")  # a printed check: "by hand = F.conv2d: True"


def checks(text: str) -> list[tuple[str, str]]:
    return [(claim.strip(), verdict) for claim, verdict in CHECK.findall(text)]


def test_every_hand_computation_agrees_with_pytorch_in_the_committed_notebook():
    """Each worked example prints its comparison with PyTorch; all agree but the naive log-sum-exp, which the
    extreme logits break, and the example kernel, which is not its own flip."""
    text = printed_text(nbformat.read(NOTEBOOK, as_version=4))
    printed = checks(text)
    assert len(printed) >= 12
    failed = [claim for claim, verdict in printed if verdict == "False"]
    assert len(failed) == 3 and sum("naive = float64" in claim for claim in failed) == 2, failed
    assert "K equals its 180° rotation" in failed
    for claim in ("by hand = F.conv2d = SciPy", "by hand = F.conv2d with K flipped = SciPy", "by hand = PyTorch",
                  "by hand = autograd", "by hand = split = PyTorch"):
        assert (claim, "True") in printed, claim
    assert "F(1,1)K(0,0) + F(1,2)K(0,1) + F(2,1)K(1,0) + F(2,2)K(1,1)\n= 1·2 + 2·0 + 3·1 + 1·(-1)\n= 4" in text
    assert "reduction='sum': by hand 1.719043, F.cross_entropy 1.719043" in text  # the original report's sum


NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*%?(?!\w)")
KNOWN = {"1,1", "10", "32", "180", "384"}  # the original's F'(1,1), CIFAR-10, its 32 x 32 images, a half turn, and the
# original's x.view(-1, 384 * 2 * 2)


def test_the_prose_types_no_number_that_a_cell_prints():
    """Typed sentences explain, cells report: the Markdown states no number of two or more digits (or a decimal, or
    a percentage) that an output shows, table numbers and citations aside."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    prose = re.sub(r"\*\*Table 1\.\d+\.\*\*|\[\d+(?:, §[\d.]+|, \d+)?\]", " ",
                   "\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))
    stated = {n for n in NUMBER.findall(prose) if len(n) > 1} - KNOWN
    assert not stated & set(NUMBER.findall(printed_text(nb)))
    for number in ("0.4297", "0.6931", "0.8781", "43", "91%", "88.72", "27,279,882"):
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
    return printed_text(nb)

@pytest.mark.slow
def test_papermill_override_recomputes_the_notebook(tmp_path, monkeypatch):
    """With a symmetric kernel (and stride 1), papermill's injected values reach every section."""
    text = run_theory_notebook(tmp_path, monkeypatch, kernel=SYMMETRIC, stride=1)
    assert "They differ at 0 of the 9 output positions []; K equals its 180° rotation: True." in text
    assert "= 1·1 + 2·2 + 3·2 + 1·1\n= 12" in text  # F'(1,1) with the new kernel
    assert "stride 1, padding 1:" in text
    verdicts = [verdict for claim, verdict in checks(text) if not claim.startswith("naive")]
    assert len(verdicts) >= 12 and set(verdicts) == {"True"}


@pytest.mark.slow
def test_papermill_bad_parameter_stops_with_the_sentence(tmp_path, monkeypatch):
    with pytest.raises(papermill.PapermillExecutionError) as info:
        run_theory_notebook(tmp_path, monkeypatch, stride=0)
    assert info.value.ename == "ConfigError" and info.value.evalue == "stride = 0 is out of range; it must be >= 1."
