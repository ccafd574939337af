"""Part 1's worked examples: each formula computed by hand (plain loops and ``math``) beside PyTorch.

The example's numbers have one home, the ``parameters`` cell of ``notebooks/00_theory.ipynb``; every
function here takes them as arguments. ``check_parameters`` checks them all before any work and raises
ConfigError (a ValueError) with one sentence naming the bad value and the fix.

- Convolution: ``cross_correlate`` is the original report's formula and what ``F.conv2d`` computes;
  ``convolve`` is the true convolution (the kernel flipped in both axes); ``conv2d_by_formula`` is the
  general formula with channels, bias, stride and padding; ``output_size`` is
  floor((H + 2P - D(K - 1) - 1) / S) + 1; ``layer_table`` applies it to a network's layers, with each
  layer's receptive field by the standard recurrence (``receptive_fields``), which ``receptive_field_check``
  checks with autograd.
- Cross-entropy: ``cross_entropy_by_hand`` (softmax, per-example loss, mean and sum), ``gradient_table``
  ((softmax - one-hot) / N against autograd), ``log_sum_exp_table`` (the shifted log-softmax against the naive
  one in float32), ``reduction_example`` (mean against sum, and what that does to the gradient),
  ``label_smoothing_example``.
"""
from __future__ import annotations

import itertools
import math

import pandas as pd
import scipy.signal
import torch
import torch.nn.functional as F
from torch import nn

from .config import ConfigError, _number
from .models import count_parameters
from .recipes import EXPERIMENTS, PUBLISHED_PROFILES, profile_parameters

TOLERANCE = 1e-9  # "agree": hand and library results differ by less than this (both in float64)
FLOAT32_TOLERANCE = 1e-5  # the same for float32 results of size about 1 (float32 keeps about 7 digits)
FLOAT32_EXP_LIMIT = math.log(torch.finfo(torch.float32).max)  # exp(x) overflows float32 above this, about 88.72


# --- checks ----------------------------------------------------------------------------------------

def _matrix(name: str, value) -> None:
    """A non-empty list of equal-length rows of finite numbers."""
    if (not isinstance(value, (list, tuple)) or not value
            or not all(isinstance(row, (list, tuple)) for row in value)):
        raise ConfigError(f"{name} = {value!r} is not a list of rows; write it as a list of lists of numbers, "
                          f"such as [[1, 2], [3, 4]].")
    width = len(value[0])
    for r, row in enumerate(value):
        if len(row) != width:
            raise ConfigError(f"{name} is ragged: row {r} has {len(row)} numbers but row 0 has {width}; "
                              f"give every row the same length.")
        for c, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"{name}[{r}][{c}] = {v!r} is not a finite number; write numbers only.")
    if width == 0:
        raise ConfigError(f"{name} has empty rows; give every row at least one number.")


def _integer(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} = {value!r} is not an integer; write a whole number such as {low + 1}.")
    if value < low:
        raise ConfigError(f"{name} = {value} is out of range; it must be >= {low}.")


def check_convolution(feature_map, kernel, position=(0, 0), stride=1, padding=0) -> None:
    """The convolution example's values; the kernel must fit inside the unpadded map (Sections 1 and 2)."""
    _matrix("feature_map", feature_map)
    _matrix("kernel", kernel)
    (h, w), (kh, kw) = shape(feature_map), shape(kernel)
    if kh > h or kw > w:
        raise ConfigError(f"kernel is {kh}x{kw} but feature_map is only {h}x{w}; "
                          f"use a kernel that fits inside the feature map.")
    _integer("stride", stride, 1)
    _integer("padding", padding, 0)
    rows, columns = h - kh + 1, w - kw + 1
    if (not isinstance(position, (list, tuple)) or len(position) != 2
            or any(isinstance(p, bool) or not isinstance(p, int) for p in position)
            or not (0 <= position[0] < rows and 0 <= position[1] < columns)):
        raise ConfigError(f"position = {position!r} is not a position of the {rows}x{columns} output; "
                          f"use [x, y] with x (row) from 0 to {rows - 1} and y (column) from 0 to {columns - 1}.")


def check_cross_entropy(logits, targets, label_smoothing=0.0) -> None:
    _matrix("logits", logits)
    classes = len(logits[0])
    if classes < 2:
        raise ConfigError("logits has one column; give at least two logits per row, one per class.")
    if not isinstance(targets, (list, tuple)) or len(targets) != len(logits):
        count = f"has {len(targets)} entries" if isinstance(targets, (list, tuple)) else f"= {targets!r}"
        raise ConfigError(f"targets {count} but logits has {len(logits)} rows; give one true class per row of logits.")
    for n, t in enumerate(targets):
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < classes:
            raise ConfigError(f"targets[{n}] = {t!r} is not a class of logits' {classes} columns; "
                              f"use an integer from 0 to {classes - 1}.")
    _number("label_smoothing", label_smoothing, float, low=0, high=1, high_open=True)


def check_extreme_logits(extreme_logits) -> None:
    _matrix("extreme_logits", extreme_logits)
    if len(extreme_logits[0]) < 2:
        raise ConfigError("extreme_logits has one column; give at least two logits per row, one per class.")


def check_parameters(feature_map, kernel, position, stride, padding, logits, targets, label_smoothing,
                     extreme_logits) -> None:
    """Every parameter of notebooks/00_theory.ipynb, before any work."""
    check_convolution(feature_map, kernel, position, stride, padding)
    check_cross_entropy(logits, targets, label_smoothing)
    check_extreme_logits(extreme_logits)


# --- convolution -----------------------------------------------------------------------------------

def shape(matrix) -> tuple[int, int]:
    return len(matrix), len(matrix[0])


def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1; with dilation 1,
    floor((H + 2P - K) / S) + 1 (Dumoulin and Visin 2016; torch.nn.Conv2d's documentation)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pad(matrix, padding: int) -> list[list[float]]:
    """``matrix`` with ``padding`` rows and columns of zeros added on every side."""
    edge = [0.0] * padding
    middle = [edge + [float(v) for v in row] + edge for row in matrix]
    width = len(middle[0])
    return [[0.0] * width for _ in range(padding)] + middle + [[0.0] * width for _ in range(padding)]


def flip(kernel) -> list[list[float]]:
    """The kernel flipped in both axes (rotated by 180 degrees): K'(i, j) = K(k_h - 1 - i, k_w - 1 - j)."""
    return [[float(v) for v in reversed(row)] for row in reversed(kernel)]


def conv2d_by_formula(x, weight, bias, stride: int = 1, padding: int = 0) -> list:
    """What a Conv2d layer computes, by loops over the general formula:

        out[o][r][c] = bias[o] + sum_{ci, i, j} weight[o][ci][i][j] * x_padded[ci][stride r + i][stride c + j]

    ``x``: [c_in][H][W], ``weight``: [c_out][c_in][k_h][k_w], ``bias``: [c_out]; returns [c_out][H_out][W_out]."""
    xp = [pad(channel, padding) for channel in x]
    kh, kw = shape(weight[0][0])
    rows, columns = output_size(len(x[0]), kh, stride, padding), output_size(len(x[0][0]), kw, stride, padding)
    return [[[float(b) + sum(wc[i][j] * xc[stride * r + i][stride * c + j]
                             for wc, xc in zip(w_o, xp) for i in range(kh) for j in range(kw))
              for c in range(columns)] for r in range(rows)]
            for w_o, b in zip(weight, bias)]


def cross_correlate(feature_map, kernel, stride: int = 1, padding: int = 0) -> list[list[float]]:
    """F'(x, y) = sum_{i, j} F(S x + i, S y + j) K(i, j) (F zero-padded by P): the original report's formula
    (S = 1, P = 0) and what F.conv2d computes; one input and one output channel, no bias."""
    return conv2d_by_formula([feature_map], [[kernel]], [0.0], stride, padding)[0]


def convolve(feature_map, kernel) -> list[list[float]]:
    """The true convolution, where the kernel fits (stride 1, no padding), by loops over its definition
    (F * K)(x', y') = sum_{i, j} F(x' - i, y' - j) K(i, j), with x' = x + k_h - 1 and y' = y + k_w - 1:
    the kernel runs backwards over the map."""
    (h, w), (kh, kw) = shape(feature_map), shape(kernel)
    return [[float(sum(feature_map[x + kh - 1 - i][y + kw - 1 - j] * kernel[i][j]
                       for i in range(kh) for j in range(kw)))
             for y in range(w - kw + 1)] for x in range(h - kh + 1)]


def _as_tensor(matrix) -> torch.Tensor:
    return torch.tensor(matrix, dtype=torch.float64)[None, None]  # batch 1, channel 1


def conv2d_torch(feature_map, kernel, stride: int = 1, padding: int = 0) -> list[list[float]]:
    """torch.nn.functional.conv2d in float64 on one map and one kernel."""
    return F.conv2d(_as_tensor(feature_map), _as_tensor(kernel), stride=stride, padding=padding)[0, 0].tolist()


def agree(a, b) -> bool:
    """Same shape and every entry within TOLERANCE."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and bool((a - b).abs().max() < TOLERANCE)


def _number_text(v) -> str:
    text = f"{v:g}"
    return f"({text})" if v < 0 else text


def expansion(feature_map, kernel, position, flipped: bool = False) -> str:
    """The sum at ``position`` written out, as the original report writes F'(1,1): names, then numbers."""
    (kh, kw), (x, y) = shape(kernel), position
    pairs = [((x + i, y + j), (kh - 1 - i, kw - 1 - j) if flipped else (i, j))
             for i in range(kh) for j in range(kw)]
    names = " + ".join(f"F({a},{b})K({c},{d})" for (a, b), (c, d) in pairs)
    numbers = " + ".join(f"{_number_text(feature_map[a][b])}·{_number_text(kernel[c][d])}" for (a, b), (c, d) in pairs)
    total = sum(feature_map[a][b] * kernel[c][d] for (a, b), (c, d) in pairs)
    return f"{names}\n= {numbers}\n= {total:g}"


def _frames(named: dict) -> pd.DataFrame:
    """Matrices side by side, each under its name."""
    return pd.concat({name: pd.DataFrame(m) for name, m in named.items()}, axis=1)


def cross_correlation_table(feature_map, kernel) -> pd.DataFrame:
    """The original report's formula by hand, F.conv2d, and scipy.signal.correlate2d."""
    check_convolution(feature_map, kernel)
    return _frames({"by hand": cross_correlate(feature_map, kernel), "F.conv2d": conv2d_torch(feature_map, kernel),
                    "scipy.signal.correlate2d": scipy.signal.correlate2d(feature_map, kernel, mode="valid").astype(float)})


def convolution_table(feature_map, kernel) -> pd.DataFrame:
    """The true convolution by hand, F.conv2d with the flipped kernel, scipy.signal.convolve2d."""
    check_convolution(feature_map, kernel)
    return _frames({"by hand": convolve(feature_map, kernel),
                    "F.conv2d, flipped kernel": conv2d_torch(feature_map, flip(kernel)),
                    "scipy.signal.convolve2d": scipy.signal.convolve2d(feature_map, kernel, mode="valid").astype(float)})


def flip_comparison(feature_map, kernel) -> tuple[pd.DataFrame, str]:
    """Cross-correlation and convolution of the same numbers side by side, and one sentence on where they differ."""
    check_convolution(feature_map, kernel)
    corr, conv = cross_correlate(feature_map, kernel), convolve(feature_map, kernel)
    diff = [[a - b for a, b in zip(r1, r2)] for r1, r2 in zip(corr, conv)]
    differ = [(x, y) for x, row in enumerate(diff) for y, d in enumerate(row) if abs(d) >= TOLERANCE]
    total = len(diff) * len(diff[0])
    if not differ:
        why = ("K equals its own 180-degree rotation, so flipping changes nothing"
               if agree(kernel, flip(kernel)) else "K differs from its flip, but not where this map can tell")
        sentence = f"Cross-correlation and convolution agree at all {total} output positions: {why}."
    else:
        where = ", ".join(f"({x},{y})" for x, y in differ)
        sentence = f"Cross-correlation and convolution differ at {len(differ)} of the {total} output positions: {where}."
    return _frames({"cross-correlation": corr, "convolution": conv, "difference": diff}), sentence


def stride_padding_table(feature_map, kernel, stride: int, padding: int) -> pd.DataFrame:
    """Output size by the formula against F.conv2d's, and the values by the general formula against
    F.conv2d's, for the parameters' stride and padding first, then a few other choices."""
    check_convolution(feature_map, kernel, stride=stride, padding=padding)
    (h, w), (kh, kw) = shape(feature_map), shape(kernel)
    choices = dict.fromkeys([(stride, padding), (1, 0), (1, 1), (2, 0), (2, 1), (3, 2)])
    rows = []
    for s, p in choices:
        by_hand, torch_out = cross_correlate(feature_map, kernel, s, p), conv2d_torch(feature_map, kernel, s, p)
        rows.append({"stride S": s, "padding P": p,
                     "H_out x W_out, formula": f"{output_size(h, kh, s, p)} x {output_size(w, kw, s, p)}",
                     "F.conv2d's output": f"{len(torch_out)} x {len(torch_out[0])}",
                     "values: formula = F.conv2d": agree(by_hand, torch_out)})
    return pd.DataFrame(rows)


def strided_example(feature_map, kernel, stride: int, padding: int) -> pd.DataFrame:
    """The output for a stride and padding, by the general formula (loops) and by F.conv2d."""
    check_convolution(feature_map, kernel, stride=stride, padding=padding)
    return _frames({"by hand": cross_correlate(feature_map, kernel, stride, padding),
                    "F.conv2d": conv2d_torch(feature_map, kernel, stride, padding)})


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _size_text(dims) -> str:
    return " x ".join(str(d) for d in dims)


def _forward_layers(model: nn.Module, input_shape) -> list[tuple[str, nn.Module, tuple, tuple]]:
    """(name, layer, input size, output size) of every Conv2d, MaxPool2d, Flatten and Linear layer, in the order
    a forward pass of zeros of ``input_shape`` calls them (sizes without the batch dimension)."""
    shown = (nn.Conv2d, nn.MaxPool2d, nn.Flatten, nn.Linear)
    seen: list[tuple[str, nn.Module, tuple, tuple]] = []
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: seen.append((name, m, tuple(i[0].shape[1:]),
                                                                              tuple(o.shape[1:]))))
             for name, m in model.named_modules() if isinstance(m, shown)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def _window(m: nn.Module) -> tuple[tuple[int, int], ...]:
    """(kernel, stride, padding, dilation) of a Conv2d or MaxPool2d, each as (rows, columns)."""
    if getattr(m, "ceil_mode", False):
        raise ValueError(f"{m} rounds its output size up (ceil_mode=True); the formulas here round down.")
    return tuple(map(_pair, (m.kernel_size, m.stride, m.padding, m.dilation)))


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth"}.get(n, f"{n}th")


def receptive_fields(model: nn.Module, image=32) -> list[dict]:
    """Each Conv2d and MaxPool2d layer of ``model`` in forward order, on an ``image`` x ``image`` input (or
    ``image`` = (height, width)): its
    receptive field r (pixels per side), its jump j (input pixels between neighbouring units) and the first
    input pixel of its first unit's field, by the standard recurrence (Araujo et al. 2019), per axis:

        r_l = r_{l-1} + D_l (K_l - 1) j_{l-1},   j_l = S_l j_{l-1},   start_l = start_{l-1} - P_l j_{l-1}

    from r_0 = j_0 = 1, start_0 = 0. Unit u's field is start + u j to start + u j + r - 1; ``smallest patch``
    is the fewest image pixels (rows x columns) any unit's field holds (the rest is zero padding), and
    ``whole image`` says whether every unit sees every pixel."""
    size = _pair(image)
    rows, r, j, start, counts = [], [1, 1], [1, 1], [0, 0], {nn.Conv2d: 0, nn.MaxPool2d: 0}
    for name, m, _, size_out in _forward_layers(model, (1, 3, *size)):
        if not isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            continue
        k, s, p, d = _window(m)
        for a in (0, 1):
            r[a], start[a], j[a] = r[a] + d[a] * (k[a] - 1) * j[a], start[a] - p[a] * j[a], j[a] * s[a]
        counts[type(m)] += 1
        patch = tuple(min(min(start[a] + u * j[a] + r[a] - 1, size[a] - 1) - max(start[a] + u * j[a], 0) + 1
                          for u in range(size_out[a + 1])) for a in (0, 1))
        rows.append({"name": name, "layer": m, "kind": "convolution" if isinstance(m, nn.Conv2d) else "pooling",
                     "ordinal": counts[type(m)], "receptive field": tuple(r), "jump": tuple(j), "start": tuple(start),
                     "smallest patch": patch, "whole image": patch == size})
    return rows


def _square(dims) -> str:
    """'8' for (8, 8), '8 x 4' for (8, 4)."""
    return str(dims[0]) if len(set(dims)) == 1 else _size_text(dims)


def layer_table(model: nn.Module, input_shape=(1, 3, 32, 32)) -> pd.DataFrame:
    """Every Conv2d, MaxPool2d, Flatten and Linear layer of ``model`` in order: its output size by the formula
    (from the layer's own kernel, stride, padding, dilation) against a forward pass of zeros of
    ``input_shape``, its receptive field, jump and the smallest patch of the image a unit sees
    (``receptive_fields``), and its parameters by the formula, (C_in K_h K_w + 1) C_out or (in + 1) out, against
    the layer's own."""
    fields = {f["name"]: f for f in receptive_fields(model, tuple(input_shape[-2:]))}
    rows = []
    for name, m, size_in, size_out in _forward_layers(model, input_shape):
        row = {"layer": f"{name} {type(m).__name__}", "kernel / stride / padding": "", "input": _size_text(size_in)}
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            k, s, p, d = _window(m)
            channels = m.out_channels if isinstance(m, nn.Conv2d) else size_in[0]
            formula = (channels, *(output_size(size_in[a + 1], k[a], s[a], p[a], d[a]) for a in (0, 1)))
            row["kernel / stride / padding"] = f"{_size_text(k)} / {s[0]} / {p[0]}"
            params = (m.in_channels * k[0] * k[1] + 1) * m.out_channels if isinstance(m, nn.Conv2d) else 0
        elif isinstance(m, nn.Flatten):
            formula, params = (math.prod(size_in),), 0
        else:
            formula, params = (m.out_features,), (m.in_features + 1) * m.out_features
        row.update({"output, formula": _size_text(formula), "output, forward pass": _size_text(size_out),
                    "sizes agree": formula == size_out})
        if name in fields:
            field = fields[name]
            row.update({"receptive field": _size_text(field["receptive field"]), "jump": _square(field["jump"]),
                        "smallest patch seen": _size_text(field["smallest patch"])})
        row.update({"parameters, formula": params, "parameters, model": count_parameters(m)})
        rows.append(row)
    rows.append({"layer": "total (count_parameters)", "parameters, formula": sum(r["parameters, formula"] for r in rows),
                 "parameters, model": count_parameters(model)})
    return pd.DataFrame(rows).fillna("")


def receptive_field_summary(model: nn.Module, image: int) -> str:
    """Where the receptive field first outgrows an ``image`` x ``image`` input and where every unit first sees all
    of it, in one sentence."""
    fields = receptive_fields(model, image)

    def named(f):
        return f"the {_ordinal(f['ordinal'])} {f['kind']} ({f['name']}, {_square(f['receptive field'])} pixels)"

    wider = next((f for f in fields if min(f["receptive field"]) > image), None)
    whole = next((f for f in fields if f["whole image"]), None)
    if wider is None:
        widest = max(fields, key=lambda f: min(f["receptive field"]))
        return (f"On a {image} x {image} image no layer's receptive field is as wide as the image; the widest is that "
                f"of {named(widest)}.")
    text = f"On a {image} x {image} image the receptive field is wider than the image from {named(wider)}"
    if not wider["whole image"]:
        text += f", but some of its units see only {_size_text(wider['smallest patch'])} pixels of the image"
    if whole is None:
        return text + "; no unit of any layer sees the whole image."
    return text + ("" if whole is wider else f"; every unit sees the whole image from {named(whole)}") + "."


def _field_probe(fields: list[dict]) -> nn.Sequential:
    """The layers of ``fields`` on one channel, every Conv2d's weights 1 and no bias, every MaxPool2d replaced by an
    AvgPool2d of the same window: a pixel inside a unit's receptive field then has a positive gradient, one outside
    none (max-pooling and ReLU would pass a gradient to only some pixels of the field)."""
    layers = []
    for f in fields:
        k, s, p, d = _window(f["layer"])
        if f["kind"] == "convolution":
            conv = nn.Conv2d(1, 1, k, s, p, d, bias=False, dtype=torch.float64)
            nn.init.ones_(conv.weight)
            layers.append(conv)
        else:
            layers.append(nn.AvgPool2d(k, s, p))
    return nn.Sequential(*layers)


def _span(gradient: torch.Tensor, axis: int) -> tuple[int, int]:
    """First and last row (axis 0) or column (axis 1) where ``gradient`` is not zero."""
    nonzero = (gradient != 0).any(dim=1 - axis).nonzero().flatten().tolist()
    return nonzero[0], nonzero[-1]


def receptive_field_check(model: nn.Module, image: int = 32) -> str:
    """``receptive_fields`` against autograd through ``_field_probe``, in one sentence: on a larger input (where
    no field is cut by the border), the field of a central unit and its shift to the next unit (r and j); on the
    ``image`` x ``image`` input, the pixels every unit of every layer sees. Layers without dilation only."""
    fields = receptive_fields(model, image)
    dilated = [f["name"] for f in fields if _window(f["layer"])[3] != (1, 1)]
    if dilated:
        raise ValueError(f"{', '.join(dilated)} is dilated; its field has holes that a border can end on, which this "
                         f"check does not model (the recurrence still gives the field's extent).")
    probe = _field_probe(fields)
    large = 2 * max(max(f["receptive field"]) for f in fields) + image
    units = 0
    for depth, f in enumerate(fields, start=1):
        layers = probe[:depth]
        x = torch.zeros(1, 1, large, large, dtype=torch.float64, requires_grad=True)
        out = layers(x)[0, 0]
        centre = out.shape[0] // 2
        spans = []
        for u in (centre, centre + 1):
            (gradient,) = torch.autograd.grad(out[u, u], x, retain_graph=True)
            spans.append(_span(gradient[0, 0], 0))
        (lo, hi), (next_lo, _) = spans
        if (hi - lo + 1, next_lo - lo) != (f["receptive field"][0], f["jump"][0]) or \
                lo != f["start"][0] + centre * f["jump"][0] or lo <= 0 or hi >= large - 1:
            return f"{f['name']}: the recurrence and autograd DISAGREE (field {hi - lo + 1}, jump {next_lo - lo})."
        x = torch.zeros(1, 1, image, image, dtype=torch.float64)
        jacobian = torch.autograd.functional.jacobian(lambda x: layers(x)[0, 0], x, vectorize=True)[:, :, 0, 0]
        for u, v in itertools.product(range(jacobian.shape[0]), range(jacobian.shape[1])):
            units += 1
            for a, w in ((0, u), (1, v)):
                first = f["start"][a] + w * f["jump"][a]
                expected = (max(first, 0), min(first + f["receptive field"][a] - 1, image - 1))
                if _span(jacobian[u, v], a) != expected:
                    return f"{f['name']} unit ({u}, {v}): the recurrence and autograd DISAGREE on the pixels it sees."
    return (f"Receptive fields by the recurrence and by autograd agree at all {len(fields)} convolution and pooling "
            f"layers: each layer's field and jump (a central unit on a {large} x {large} input), and the image "
            f"pixels each of the {units:,} units sees on the {image} x {image} input.")


def general_formula_check(layer: nn.Conv2d, seed: int = 0) -> str:
    """One Conv2d layer (channels, bias, stride, padding) on a seeded random 32x32 input: the general formula
    by loops against the layer itself, in float64, as one sentence."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(layer.in_channels, 32, 32, generator=gen, dtype=torch.float64)
    weight, bias = layer.weight.detach().double(), layer.bias.detach().double()
    by_hand = conv2d_by_formula(x.tolist(), weight.tolist(), bias.tolist(), layer.stride[0], layer.padding[0])
    by_layer = F.conv2d(x[None], weight, bias, stride=layer.stride, padding=layer.padding)[0]
    count = by_layer.numel()
    verdict = "agree" if agree(by_hand, by_layer) else "DISAGREE"
    return (f"{layer}: the formula by loops and the layer {verdict} at all {count:,} outputs "
            f"({_size_text(by_layer.shape)}; input {layer.in_channels} x 32 x 32, random, seed {seed}; "
            f"largest difference below {TOLERANCE:g}).")


# --- cross-entropy ---------------------------------------------------------------------------------

def _log_softmax(row) -> list[float]:
    top = max(row)  # subtract the maximum before exp, as PyTorch does, to avoid overflow
    log_z = top + math.log(sum(math.exp(v - top) for v in row))
    return [v - log_z for v in row]


def cross_entropy_by_hand(logits, targets) -> dict:
    """Softmax, predicted class, per-example loss -log p(true), their mean and sum, with plain math."""
    check_cross_entropy(logits, targets)
    log_p = [_log_softmax(row) for row in logits]
    nll = [-lp[t] for lp, t in zip(log_p, targets)]
    return {"probabilities": [[math.exp(v) for v in lp] for lp in log_p], "per_example": nll,
            "predicted": [row.index(max(row)) for row in logits], "mean": sum(nll) / len(nll), "sum": sum(nll)}


def cross_entropy_table(logits, targets) -> pd.DataFrame:
    """One row per example: logits, true class, probabilities, predicted class, loss."""
    ce = cross_entropy_by_hand(logits, targets)
    classes = range(len(logits[0]))
    table = pd.DataFrame(logits, columns=[f"logit {c}" for c in classes], index=range(1, len(logits) + 1))
    table.index.name = "example"
    table["true class"] = targets
    table[[f"p {c}" for c in classes]] = pd.DataFrame(ce["probabilities"], index=table.index).round(4)
    table["predicted class"] = ce["predicted"]
    table["-log p(true)"] = [round(v, 4) for v in ce["per_example"]]
    return table


def misclassified_summary(logits, targets) -> str:
    """Which examples the logits get wrong, and which has the largest loss, in sentences."""
    ce = cross_entropy_by_hand(logits, targets)
    wrong = [n for n, (p, t) in enumerate(zip(ce["predicted"], targets)) if p != t]
    worst = max(range(len(targets)), key=lambda n: ce["per_example"][n])
    lines = [f"Example {n + 1} (logits {logits[n]}, true class {targets[n]}) is misclassified: its largest logit "
             f"is class {ce['predicted'][n]}." for n in wrong] or ["Every example is classified correctly."]
    lines.append(f"The largest per-example loss is example {worst + 1}'s, {ce['per_example'][worst]:.4f} "
                 f"(p(true) = {ce['probabilities'][worst][targets[worst]]:.4f}); "
                 f"a misclassified example always has p(true) <= 1/2, so a loss of at least ln 2 = {math.log(2):.4f}.")
    return "\n".join(lines)


def pytorch_agreement(logits, targets) -> dict:
    """The mean loss by hand beside nn.CrossEntropyLoss, F.nll_loss(F.log_softmax) and the one-hot formula,
    named as the notebook prints them (``value_lines``)."""
    x, t = torch.tensor(logits, dtype=torch.float64), torch.tensor(targets)
    one_hot = F.one_hot(t, x.shape[1]).to(x.dtype)
    return {
        "by hand: mean of -log softmax(x)[t]": cross_entropy_by_hand(logits, targets)["mean"],
        "nn.CrossEntropyLoss()(x, t)": nn.CrossEntropyLoss()(x, t).item(),
        "F.nll_loss(F.log_softmax(x, dim=1), t)": F.nll_loss(F.log_softmax(x, dim=1), t).item(),
        "one-hot formula, averaged over the batch": (-(one_hot * F.log_softmax(x, dim=1)).sum(dim=1).mean()).item(),
    }


def cross_entropy_gradient(logits, targets, label_smoothing: float = 0.0) -> list[list[float]]:
    """dL/dx of the mean loss by hand: (softmax(x) - q) / N, q the one-hot targets (smoothed, with
    ``label_smoothing``)."""
    check_cross_entropy(logits, targets, label_smoothing)
    p = cross_entropy_by_hand(logits, targets)["probabilities"]
    q = smoothed_targets(targets, len(logits[0]), label_smoothing)
    return [[(pc - qc) / len(logits) for pc, qc in zip(pn, qn)] for pn, qn in zip(p, q)]


def autograd_gradient(logits, targets, label_smoothing: float = 0.0) -> list[list[float]]:
    """x.grad after nn.CrossEntropyLoss(label_smoothing=...)(x, t).backward(), in float64."""
    x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    nn.CrossEntropyLoss(label_smoothing=label_smoothing)(x, torch.tensor(targets)).backward()
    return x.grad.tolist()


def gradient_table(logits, targets) -> tuple[pd.DataFrame, str]:
    """The gradient of the mean cross-entropy with respect to the logits, by hand and by autograd, one row per
    example, and one sentence on whether they agree."""
    by_hand, by_autograd = cross_entropy_gradient(logits, targets), autograd_gradient(logits, targets)
    table = _frames({"by hand, (p - y) / N": by_hand, "autograd, x.grad": by_autograd}).round(4)
    table.index = pd.RangeIndex(1, len(logits) + 1, name="example")
    count = len(logits) * len(logits[0])
    verdict = "agree" if agree(by_hand, by_autograd) else "DISAGREE"
    sums = max(abs(sum(row)) for row in by_hand)
    return table, (f"By hand and autograd {verdict} at all {count} entries (largest difference below {TOLERANCE:g}); "
                   f"each row sums to zero{'' if sums < TOLERANCE else ' (NOT here)'}.")


def log_softmax_float32(row, shifted: bool = True) -> list[float]:
    """log softmax of one row written out in float32 tensors: x - m - log sum exp(x - m) with m = max(x), or the
    naive x - log sum exp(x)."""
    x = torch.tensor(row, dtype=torch.float32)
    m = x.max() if shifted else torch.zeros((), dtype=torch.float32)
    return (x - m - torch.log(torch.exp(x - m).sum())).tolist()


def log_sum_exp_table(extreme_logits) -> tuple[pd.DataFrame, str]:
    """For each row of ``extreme_logits``: exp(x), the naive log-softmax and softmax, the shifted log-softmax and
    torch.log_softmax, all in float32, and the shifted form in float64 by hand (``math``); then one sentence per
    row on what happened."""
    check_extreme_logits(extreme_logits)
    rows, lines = {}, []
    for n, row in enumerate(extreme_logits, start=1):
        x = torch.tensor(row, dtype=torch.float32)
        naive, shifted = log_softmax_float32(row, shifted=False), log_softmax_float32(row)
        library, exact = torch.log_softmax(x, dim=0).tolist(), _log_softmax(row)
        exp = torch.exp(x)
        rows.update({(n, "exp(x), float32"): exp.tolist(),
                     (n, "naive: x - log sum exp(x), float32"): naive,
                     (n, "naive softmax: exp(x) / sum exp(x), float32"): (exp / exp.sum()).tolist(),
                     (n, "shifted: x - m - log sum exp(x - m), float32"): shifted,
                     (n, "torch.log_softmax, float32"): library,
                     (n, "shifted, float64 (math)"): exact})
        if torch.isinf(exp).any():
            why = (f"its largest logit, {max(row):g}, is above ln(largest float32) = {FLOAT32_EXP_LIMIT:.2f}, so exp "
                   f"overflows to inf")
        elif (exp == 0).all():
            why = "every exp underflows to 0, so the sum is 0 and its log is -inf"
        else:
            why = "exp neither overflows nor underflows"
        naive_ok = all(math.isfinite(v) for v in naive) and agree_float32(naive, exact)
        shifted_ok = agree_float32(shifted, library) and agree_float32(shifted, exact)
        lines.append(f"Example {n}: {why}; the naive form gives {_values_text(naive)}"
                     f"{'' if naive_ok else ' (wrong)'}; the shifted form "
                     f"{'agrees' if shifted_ok else 'DISAGREES'} with torch.log_softmax and with float64.")
    table = pd.DataFrame(rows.values(), index=pd.MultiIndex.from_tuples(rows, names=["example", "computed as"]),
                         columns=[f"class {c}" for c in range(len(extreme_logits[0]))]).round(4)
    return table, "\n".join(lines)


def agree_float32(a, b) -> bool:
    """Same length, every entry finite and within FLOAT32_TOLERANCE."""
    return len(a) == len(b) and all(math.isfinite(u) and math.isfinite(v) and abs(u - v) < FLOAT32_TOLERANCE
                                    for u, v in zip(a, b))


def _values_text(values) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def reduction_example(logits, targets) -> dict:
    """PyTorch's default mean against the original report's sum: the loss, and the size of the gradient
    it sends back (its norm over all logits)."""
    ce = cross_entropy_by_hand(logits, targets)
    t, losses, gradients = torch.tensor(targets), {}, {}
    for reduction in ("mean", "sum"):
        x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        loss = nn.CrossEntropyLoss(reduction=reduction)(x, t)
        loss.backward()
        losses[reduction], gradients[reduction] = loss.item(), x.grad.norm().item()
    return {"PyTorch's default, reduction='mean'": losses["mean"],
            "by hand: (1/N) sum of -log p(true)": ce["mean"],
            f"the original report's formula: the sum over the N = {len(targets)} examples": ce["sum"],
            "reduction='sum'": losses["sum"],
            "gradient of the sum / gradient of the mean (= N)": gradients["sum"] / gradients["mean"]}


def value_lines(values: dict, decimals: int = 6) -> str:
    """``name  value`` lines, the values aligned."""
    width = max(map(len, values))
    return "\n".join(f"{name:<{width}}  {value:.{decimals}f}" for name, value in values.items())


def smoothed_targets(targets, classes: int, label_smoothing: float) -> list[list[float]]:
    """q_c = (1 - eps) [c = t] + eps / M: PyTorch's smoothing, uniform over all M classes, the true one included."""
    return [[(1 - label_smoothing) * (c == t) + label_smoothing / classes for c in range(classes)] for t in targets]


def smoothed_targets_table(logits, targets, label_smoothing: float) -> pd.DataFrame:
    check_cross_entropy(logits, targets, label_smoothing)
    classes = len(logits[0])
    table = pd.DataFrame(smoothed_targets(targets, classes, label_smoothing), columns=[f"q {c}" for c in range(classes)],
                         index=range(1, len(targets) + 1)).round(4)
    table.index.name = "example"
    table.insert(0, "true class", targets)
    return table


def label_smoothing_example(logits, targets, label_smoothing: float) -> dict:
    """The smoothed loss -sum_c q_c log p_c, averaged over the batch, by hand and by nn.CrossEntropyLoss,
    its split (1 - eps) L + eps mean_c(-log p_c), plain L, and its smallest possible value (p = q),
    named as the notebook prints them (``value_lines``)."""
    check_cross_entropy(logits, targets, label_smoothing)
    eps, classes = label_smoothing, len(logits[0])
    q = smoothed_targets(targets, classes, eps)
    log_p = [_log_softmax(row) for row in logits]
    per_example = [-sum(qc * lc for qc, lc in zip(qn, ln)) for qn, ln in zip(q, log_p)]
    plain = cross_entropy_by_hand(logits, targets)["mean"]
    uniform = sum(-sum(ln) / classes for ln in log_p) / len(log_p)
    x, t = torch.tensor(logits, dtype=torch.float64), torch.tensor(targets)
    return {"by hand: (1/N) sum_n sum_c -q_nc log p_nc": sum(per_example) / len(per_example),
            f"nn.CrossEntropyLoss(label_smoothing={eps:g})(x, t)": nn.CrossEntropyLoss(label_smoothing=eps)(x, t).item(),
            "(1 - eps) L + eps (1/N) sum_n (1/M) sum_c -log p_nc": (1 - eps) * plain + eps * uniform,
            "plain cross-entropy L, for comparison": plain,
            "smallest possible smoothed loss, the entropy of q": -sum(qc * math.log(qc) for qc in q[0] if qc > 0)}


def training_label_smoothing() -> pd.DataFrame:
    """The label_smoothing each training notebook uses, per published profile (parameters cell + profile file)."""
    return pd.DataFrame({profile: {info.notebook: profile_parameters(profile, info.notebook)["label_smoothing"]
                                   for info in EXPERIMENTS.values()} for profile in PUBLISHED_PROFILES})


def smoothing_optimum(smoothing: pd.DataFrame, classes: int) -> str:
    """For each label_smoothing eps of ``training_label_smoothing``'s table: the probability of the true class
    at which the smoothed loss of an example is smallest (p = q), 1 - eps + eps / M with M = ``classes``."""
    lines = []
    for eps in sorted(set(smoothing.to_numpy().flatten().tolist()), reverse=True):
        profiles = ", ".join(p for p in smoothing.columns if (smoothing[p] == eps).any())
        top, other = smoothed_targets([0], classes, eps)[0][:2]
        lines.append(f"label_smoothing {eps:g} ({profiles} profile): the loss is smallest when the true class gets "
                     f"{top:.4g} and each of the other {classes - 1} classes {other:.4g}.")
    return "\n".join(lines)
