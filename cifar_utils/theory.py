"""What Part 1 (``notebooks/00_theory.ipynb``) needs beyond its worked examples, which its cells compute in
plain sight: the check of its parameters, the layer table and receptive fields of a network, and the
``label_smoothing`` of the training notebooks.

- ``check_parameters`` checks every parameter of the notebook before any work and raises ConfigError (a
  ValueError) with one sentence naming the bad value and the fix.
- ``layer_table`` lists a network's layers with each output size by floor((H + 2P - D(K - 1) - 1) / S) + 1
  (``output_size``) against a forward pass, its parameters, and each layer's receptive field by the standard
  recurrence (``receptive_fields``), which ``receptive_field_check`` checks with autograd.
- ``training_label_smoothing``: the label_smoothing of each training notebook, per published profile.
"""
from __future__ import annotations

import itertools
import math

import pandas as pd
import torch
from torch import nn

from .config import ConfigError, _number
from .models import count_parameters
from .recipes import EXPERIMENTS, PUBLISHED_PROFILES, profile_parameters


# --- the notebook's parameters ---------------------------------------------------------------------

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


def _logits(name: str, value) -> None:
    _matrix(name, value)
    if len(value[0]) < 2:
        raise ConfigError(f"{name} has one column; give at least two logits per row, one per class.")


def check_parameters(feature_map, kernel, position, stride, padding, logits, targets, label_smoothing,
                     extreme_logits) -> None:
    """Every parameter of notebooks/00_theory.ipynb, before any work; the kernel must fit inside the unpadded
    map (Sections 1 and 2)."""
    _matrix("feature_map", feature_map)
    _matrix("kernel", kernel)
    (h, w), (kh, kw) = (len(feature_map), len(feature_map[0])), (len(kernel), len(kernel[0]))
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
    _logits("logits", logits)
    classes = len(logits[0])
    if not isinstance(targets, (list, tuple)) or len(targets) != len(logits):
        count = f"has {len(targets)} entries" if isinstance(targets, (list, tuple)) else f"= {targets!r}"
        raise ConfigError(f"targets {count} but logits has {len(logits)} rows; give one true class per row of logits.")
    for n, t in enumerate(targets):
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < classes:
            raise ConfigError(f"targets[{n}] = {t!r} is not a class of logits' {classes} columns; "
                              f"use an integer from 0 to {classes - 1}.")
    _number("label_smoothing", label_smoothing, float, low=0, high=1, high_open=True)
    _logits("extreme_logits", extreme_logits)


# --- a network's layers and receptive fields -------------------------------------------------------

def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1; with dilation 1,
    floor((H + 2P - K) / S) + 1 (Dumoulin and Visin 2016; torch.nn.Conv2d's documentation)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


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


# --- label smoothing in the training notebooks -----------------------------------------------------

def training_label_smoothing() -> pd.DataFrame:
    """The label_smoothing each training notebook uses, per published profile (parameters cell + profile file)."""
    return pd.DataFrame({profile: {info.notebook: profile_parameters(profile, info.notebook)["label_smoothing"]
                                   for info in EXPERIMENTS.values()} for profile in PUBLISHED_PROFILES})
