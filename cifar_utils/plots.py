"""How each kind of figure is drawn, from stored results only (never from a live model); which figure
is which (number, file name, title, alt text) is ``figures``' registry.

Conventions, the same in every figure:

- colours from seaborn's colour-blind palette, and never colour alone: right/wrong also has a word and a
  frame style, lines also a marker and a dash;
- confusion matrices are row percentages (each row: what the images of one true class were predicted
  as) on one fixed 0-100% scale, with the counts written in; differences of two are percentage points on
  a fixed symmetric scale;
- a mean over seeds is drawn with its Student t 95% interval (``stats.summary``) and the seeds as dots;
  one run's accuracy on n test images with its Wilson 95% interval (``stats.proportion_interval``),
  which is test-set sampling only, not the spread over seeds;
- no legend or label is drawn over data: legends sit above the axes or below the figure.

The pure functions behind the figures (``row_percentages``, ``confusion_difference_values``, ``top_k``,
``confident_mistakes``, ``mean_intervals``) are tested on their own. ``save_figure`` writes PNGs at ``DPI``
without the matplotlib version stamp, atomically, and leaves a file untouched when the bytes are
unchanged, so redrawing the same results is a no-op.
"""
from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgb
from matplotlib.ticker import MaxNLocator
import numpy as np
import seaborn as sns

from . import stats
from .evaluate import class_accuracy, decode_images, decode_predictions, overall_counts
from .files import atomic_write_bytes
from .results import ResultError

DPI = 200  # print quality: a 8 x 4 inch figure is 1600 x 800 pixels
PNG_METADATA = {"Software": None}  # no matplotlib version in the file: same results -> same bytes
PALETTE = sns.color_palette("colorblind")
RIGHT, WRONG = PALETTE[0], PALETTE[1]  # blue and orange: apart for every colour vision and in grey
CONFUSION_RANGE = (0.0, 100.0)  # percent of a true class: the one colour scale of every confusion matrix
DIFFERENCE_RANGE = 10.0         # percentage points: a difference matrix's colours span -10..+10 (clipped)
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}


def save_figure(fig: plt.Figure, path: str | os.PathLike, source: str | None = None) -> Path:
    """Write ``fig`` as a PNG at ``DPI``; ``source`` (what it was drawn from) goes into the PNG's text."""
    buffer = io.BytesIO()
    metadata = {**PNG_METADATA, **({"Source": source} if source else {})}
    fig.savefig(buffer, format="png", dpi=DPI, metadata=metadata, bbox_inches="tight",
                pad_inches=0.1)
    return atomic_write_bytes(path, buffer.getvalue())


def _accuracies(result: dict) -> np.ndarray:
    return class_accuracy(result["confusion"])


def _overall(result: dict) -> float:
    correct, total = overall_counts(result["confusion"])
    return 100 * correct / max(total, 1)


def _split(result: dict) -> str:
    """What a result's "test" numbers were measured on: "test", or "validation" for a tuning run."""
    return result["config"].get("evaluate_on", "test")


# ---------------------------------------------------------------------------------------------
# Per-class accuracy (Fig. 1, 5, 9 and 14)

def class_intervals(result: dict, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) in percent: each class's Wilson interval over its test images (test-set sampling
    only; one run says nothing about the spread over seeds)."""
    confusion = np.asarray(result["confusion"])
    found = [stats.proportion_interval(int(confusion[i, i]), max(int(confusion[i].sum()), 1), confidence)
             for i in range(len(confusion))]
    return 100 * np.array([f["low"] for f in found]), 100 * np.array([f["high"] for f in found])


def _class_bars(ax: plt.Axes, x: np.ndarray, result: dict, width: float, colour, label: str | None,
                fontsize: float) -> float:
    """One result's per-class bars with Wilson 95% error bars and each value written above its error
    bar (on a white box, so a line behind never runs through it); returns the highest point drawn."""
    acc = _accuracies(result)
    low, high = class_intervals(result)
    ax.bar(x, acc, width, color=colour, label=label, zorder=2)
    ax.errorbar(x, acc, yerr=[acc - low, high - acc], fmt="none", ecolor="black", elinewidth=0.8,
                capsize=2, zorder=3)
    for xi, value, top in zip(x, acc, high):
        ax.annotate(f"{value:.1f}", (xi, top), xytext=(0, 3), textcoords="offset points", ha="center",
                    va="bottom", fontsize=fontsize, zorder=4,
                    bbox={"boxstyle": "square,pad=0.25", "facecolor": "white", "edgecolor": "none"})
    return float(high.max())


def _overall_line(ax: plt.Axes, value: float, text: str, colour="black", linestyle="--") -> None:
    """A horizontal line behind the bars, labelled in the right margin, outside the axes."""
    ax.axhline(value, color=colour, linestyle=linestyle, linewidth=1, zorder=1)
    ax.annotate(text, (1, value), xycoords=("axes fraction", "data"), xytext=(4, 0),
                textcoords="offset points", va="center", ha="left", fontsize=8, color=colour)


def _percent_axis(ax: plt.Axes, top: float, ylabel: str) -> None:
    ax.set_ylim(0, max(100.0, top + 7))  # room for the labels above the error bars
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3, zorder=0)


def per_class_accuracy(result: dict, title: str) -> plt.Figure:
    """Each class's accuracy with its Wilson 95% interval; the overall accuracy as a dashed line,
    labelled at the right."""
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(result["classes"]))
    top = _class_bars(ax, x, result, 0.7, PALETTE[0], None, fontsize=8)
    _overall_line(ax, _overall(result), f"overall\n{_overall(result):.2f}%")
    ax.set_xticks(x, result["classes"], rotation=30, ha="right", rotation_mode="anchor")
    _percent_axis(ax, top, f"{_split(result)} accuracy (%)")
    ax.set_title(title)
    ax.text(0, -0.3, f"error bars: Wilson 95% interval over each class's {_split(result)} images (one run)",
            transform=ax.transAxes, fontsize=7, color="0.3", va="top")
    fig.tight_layout()
    return fig


def per_class_comparison(results: dict[str, dict], title: str) -> plt.Figure:
    """Grouped per-class accuracy bars of several results, each with Wilson 95% intervals; the legend,
    with each result's overall accuracy, above the axes."""
    labels = list(results)
    classes = results[labels[0]]["classes"]
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(10, 4.6))
    x = np.arange(len(classes))
    top = 0.0
    for i, (colour, label) in enumerate(zip(PALETTE, labels)):
        result = results[label]
        top = max(top, _class_bars(ax, x + (i - (len(labels) - 1) / 2) * width, result, width, colour,
                                   f"{label} ({_overall(result):.2f}% overall, {result['config']['epochs']} epochs)",
                                   fontsize=6.5))
    ax.set_xticks(x, classes, rotation=30, ha="right", rotation_mode="anchor")
    _percent_axis(ax, top, "test accuracy (%)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(labels), 2), frameon=False, fontsize=9)
    ax.text(0, -0.27, "error bars: Wilson 95% interval over each class's test images (one run each)",
            transform=ax.transAxes, fontsize=7, color="0.3", va="top")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Loss curves (Fig. 2, 6, 10, 13) and accuracy over time (Fig. 15)

def loss_curves(results: dict[str, dict], title: str) -> plt.Figure:
    """Train and test loss (left) and accuracy (right) per epoch; one colour per labelled result (named
    with its number of epochs when there are several), one shared legend below the plots."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for colour, (label, result) in zip(PALETTE, results.items()):
        epochs = [h["epoch"] for h in result["history"]]
        prefix = f"{label} ({len(epochs)} epochs): " if len(results) > 1 else ""
        for split, key, style, marker in (("train", "train", "-", "o"), (_split(result), "test", "--", "s")):
            marker = marker if len(epochs) < 40 else None
            ax_loss.plot(epochs, [h[f"{key}_loss"] for h in result["history"]], style, color=colour,
                         marker=marker, markersize=3.5, label=f"{prefix}{split}")
            ax_acc.plot(epochs, [100 * h[f"{key}_accuracy"] for h in result["history"]], style, color=colour,
                        marker=marker, markersize=3.5)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    handles, labels = ax_loss.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 4),
               frameon=False, fontsize=9)
    return fig


def accuracy_over_time(results: dict[str, dict], original_accuracy: float, title: str) -> plt.Figure:
    """Test accuracy against cumulative training time (log scale), one line per labelled result, with the
    original report's accuracy as a dashed line: how long each recipe takes to reach it."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for colour, marker, (label, result) in zip(PALETTE, "os^D", results.items()):
        minutes = np.cumsum([h["seconds"] for h in result["history"]]) / 60
        accuracy = [100 * h["test_accuracy"] for h in result["history"]]
        ax.plot(minutes, accuracy, color=colour, marker=marker if len(minutes) < 40 else None, markersize=4,
                label=f"{label}: {accuracy[-1]:.2f}% after {minutes[-1]:.1f} min ({len(minutes)} epochs)")
    _overall_line(ax, original_accuracy, f"original\nreport\n{original_accuracy:g}%")
    ax.set_xscale("log")
    ax.set(xlabel="training time (minutes, log scale)", ylabel="test accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False, fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Confusion matrices (Fig. 3, 7, 11) and the difference of two (Fig. 16)

def row_percentages(confusion) -> np.ndarray:
    """confusion[i, j] as a percentage of row i (the images of true class i); an empty row stays 0."""
    confusion = np.asarray(confusion, dtype=float)
    return 100 * confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)


def confusion_difference_values(a: dict, b: dict) -> np.ndarray:
    """b's row percentages minus a's, in percentage points of each true class."""
    return row_percentages(b["confusion"]) - row_percentages(a["confusion"])


def _text_colour(rgba) -> str:
    """Black on light cells, white on dark ones (relative luminance of the cell's colour)."""
    r, g, b = to_rgb(rgba)
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def _matrix(fig: plt.Figure, ax: plt.Axes, values: np.ndarray, classes, cmap: str, vmin: float, vmax: float,
            texts: list[list[tuple[str, str]]], colorbar_label: str, ticks, extend: str = "neither") -> None:
    """A class x class heat map on a fixed colour scale, each cell with a large and a small line of text."""
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    n = len(classes)
    for i in range(n):
        for j in range(n):
            colour = _text_colour(image.cmap(image.norm(values[i, j])))
            big, small = texts[i][j]
            ax.text(j, i - 0.13 if small else i, big, ha="center", va="center", fontsize=7.5, color=colour)
            if small:
                ax.text(j, i + 0.24, small, ha="center", va="center", fontsize=5.5, color=colour)
    ax.set_xticks(range(n), classes, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), classes)
    ax.set(xlabel="predicted class", ylabel="true class")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for i in range(n):  # the diagonal (right predictions) framed
        ax.add_patch(plt.Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="0.25", linewidth=0.8))
    bar = fig.colorbar(image, ax=ax, ticks=ticks, extend=extend, fraction=0.046, pad=0.03)
    bar.set_label(colorbar_label)


def confusion_matrix(result: dict, title: str) -> plt.Figure:
    """Row percentages on the fixed 0-100% scale; each cell: the percentage, and below it the count."""
    confusion = np.asarray(result["confusion"])
    percent = row_percentages(confusion)
    texts = [[(f"{percent[i, j]:.1f}", f"{confusion[i, j]}") for j in range(len(confusion))]
             for i in range(len(confusion))]
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    _matrix(fig, ax, percent, result["classes"], "Blues", *CONFUSION_RANGE, texts,
            "% of the true class's test images (count below)", ticks=range(0, 101, 20))
    ax.set_title(title)
    fig.tight_layout()
    return fig


def confusion_difference(results: dict[str, dict], title: str) -> plt.Figure:
    """Of two labelled results a, b (in that order): b's row percentages minus a's, in percentage points,
    on the fixed symmetric scale +-DIFFERENCE_RANGE (clipped beyond). Purple is more in b, orange less: on
    the diagonal, purple means b is right more often; off it, that b makes that mistake more often."""
    if len(results) != 2:
        raise ValueError(f"a difference matrix compares exactly two results, not {len(results)}; pass "
                         f"{{label_a: a, label_b: b}}.")
    (label_a, a), (label_b, b) = results.items()
    difference = confusion_difference_values(a, b)
    texts = [[(f"{d:+.1f}" if round(d, 1) else "0", "") for d in row] for row in difference]
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    _matrix(fig, ax, difference, a["classes"], "PuOr", -DIFFERENCE_RANGE, DIFFERENCE_RANGE, texts,
            "difference, percentage points of the true class",
            ticks=np.linspace(-DIFFERENCE_RANGE, DIFFERENCE_RANGE, 5), extend="both")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Test images: the first ten (Fig. 4, 8, 12) and the most confident mistakes (Fig. 17)

def top_k(probabilities: Sequence[float], k: int = 3) -> list[tuple[int, float]]:
    """The ``k`` most probable classes as (class index, probability), most probable first (ties: lower
    index first)."""
    p = np.asarray(probabilities, dtype=float)
    order = np.argsort(-p, kind="stable")[:k]
    return [(int(i), float(p[i])) for i in order]


# Rows of images with text below each: fixed spacing (tight_layout does not see text outside the axes).
_IMAGE_GRID = {"left": 0.02, "right": 0.98, "top": 0.85, "bottom": 0.12, "wspace": 0.15, "hspace": 0.6}


def _titled(fig: plt.Figure, title: str, subtitle: str) -> None:
    """The title, and below it in smaller type what the panels show."""
    fig.suptitle(title, y=0.985, fontsize=12)
    fig.text(0.5, 0.985 - 0.45 / fig.get_figheight(), subtitle, ha="center", va="top", fontsize=9.5, color="0.25")


def _framed(ax: plt.Axes, image: np.ndarray, right: bool) -> None:
    """The image with a frame that says right (solid blue) or wrong (thick dashed orange) without colour."""
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color(RIGHT if right else WRONG)
        spine.set_linewidth(2.5 if right else 3.5)
        spine.set_linestyle("-" if right else (0, (3, 1)))
        spine.set_capstyle("butt")


def _verdict(right: bool) -> tuple[str, tuple]:
    return ("\u2713 right", RIGHT) if right else ("\u2717 wrong", WRONG)


def first_ten(result: dict, title: str) -> plt.Figure:
    """Each image titled with its number (1-10) and true class, framed and marked right or wrong, with the network's three
    most probable classes below it (the true class in bold). Results without the first ten's full
    probabilities show the predicted class and its probability only."""
    first = result["first_ten"]
    images, classes = decode_images(first), result["classes"]
    probabilities = first.get("probabilities")
    fig, axes = plt.subplots(2, 5, figsize=(10.5, 7), gridspec_kw=_IMAGE_GRID)
    for i, ax in enumerate(axes.flat):
        if i >= len(images):
            ax.axis("off")
            continue
        true, predicted = first["true"][i], first["predicted"][i]
        right = predicted == true
        _framed(ax, images[i], right)
        ax.set_title(f"image {i + 1}, true: {classes[true]}", fontsize=9.5)
        word, colour = _verdict(right)
        ax.text(0.5, -0.05, word, transform=ax.transAxes, ha="center", va="top", fontsize=9,
                fontweight="bold", color=colour)
        ranked = top_k(probabilities[i]) if probabilities is not None else [(predicted, first["confidence"][i])]
        for rank, (c, p) in enumerate(ranked, 1):
            ax.text(0.5, -0.06 - 0.11 * rank, f"{rank}. {classes[c]} {100 * p:.1f}%", transform=ax.transAxes,
                    ha="center", va="top", fontsize=8.5, fontweight="bold" if c == true else "normal")
    shown = "top three predicted classes" if probabilities is not None else "predicted class"
    _titled(fig, title, f"{shown} with softmax probability; the true class in bold")
    return fig


def confident_mistakes(result: dict, n: int = 10) -> np.ndarray:
    """Indices (into the evaluated images) of the ``n`` wrong predictions with the highest top probability,
    most confident first (ties: lower index first). Needs a schema 2 result (every prediction stored)."""
    if "predictions" not in result:
        raise ResultError(f"the result {result['experiment']}-{result['key']} was stored before every test "
                          f"prediction was kept (schema 1), so its mistakes cannot be ranked; train it again.")
    true, predicted, probability = decode_predictions(result["predictions"])
    wrong = np.flatnonzero(true != predicted)
    order = np.lexsort((wrong, -probability[wrong]))  # last key first: probability down, then index up
    return wrong[order][:n]


def _hwc_images(images, count: int) -> np.ndarray:
    """``images`` as uint8 (N, 32, 32, 3): numpy or torch, HWC or CHW (as data.load_cifar10 holds them)."""
    if images is None:
        raise ValueError("this figure needs the evaluated test images, which results do not store beyond the "
                         "first ten: pass data.load_cifar10(data_dir).x_test as images.")
    array = np.asarray(images)
    if array.ndim == 4 and array.shape[1] == 3 and array.shape[-1] != 3:
        array = array.transpose(0, 2, 3, 1)
    if array.dtype != np.uint8 or array.shape[1:] != (32, 32, 3) or len(array) != count:
        raise ValueError(f"images has shape {array.shape} and dtype {array.dtype}, but the result's predictions "
                         f"are for {count} uint8 32 x 32 RGB images; pass the images it was evaluated on "
                         f"(data.x_test, or data.validation_split().x_test for a validation run).")
    return array


def most_confident_mistakes(result: dict, images, title: str, n: int = 10) -> plt.Figure:
    """The ``n`` test images the network got wrong with the highest top probability (``confident_mistakes``),
    each titled with its true class, with the predicted class and its probability below. ``images`` are
    all evaluated images in order (uint8, numpy or torch, HWC or CHW); results keep only the first ten's
    pixels, so the caller loads the dataset. None is a ValueError."""
    chosen = confident_mistakes(result, n)
    true, predicted, probability = decode_predictions(result["predictions"])
    pixels = _hwc_images(images, len(predicted))
    classes = result["classes"]
    rows = max(1, -(-len(chosen) // 5))
    fig, axes = plt.subplots(rows, 5, figsize=(10.5, 3 * rows + 0.9), squeeze=False,
                             gridspec_kw={**_IMAGE_GRID, "hspace": 0.45})
    for ax, index in zip(axes.flat, chosen):
        _framed(ax, pixels[index], right=False)
        ax.set_title(f"true: {classes[true[index]]}", fontsize=9.5)
        ax.text(0.5, -0.05, f"\u2717 predicted {classes[predicted[index]]}", transform=ax.transAxes, ha="center",
                va="top", fontsize=8.5, fontweight="bold", color=WRONG)
        ax.text(0.5, -0.15, f"{100 * probability[index]:.1f}%, {_split(result)} image {index}", transform=ax.transAxes,
                ha="center", va="top", fontsize=8)
    for ax in axes.flat[len(chosen):]:
        ax.axis("off")
    wrong = int((true != predicted).sum())
    _titled(fig, title, f"the {len(chosen)} most confident of {wrong:,} mistakes on {len(true):,} "
                        f"{_split(result)} images; top softmax probability")
    return fig


# ---------------------------------------------------------------------------------------------
# The study: means over seeds with intervals (Fig. 18, 19)

def mean_intervals(accuracies: Mapping, confidence: float = 0.95) -> dict:
    """Per label: its values, n, mean and the Student t interval of ``stats.summary`` (low and high are None
    with fewer than 2 runs, mean too with none)."""
    found = {}
    for label, values in accuracies.items():
        values = [float(v) for v in values]
        row = {"values": values, "n": len(values), "mean": float(np.mean(values)) if values else None,
               "low": None, "high": None}
        if len(values) >= 2:
            s = stats.summary(values, confidence)
            row.update(mean=s["mean"], low=s["low"], high=s["high"])
        found[label] = row
    return found


def _spread(n: int, width: float) -> np.ndarray:
    """Deterministic offsets that spread n seed dots across ``width`` (no random jitter: same bytes)."""
    return np.linspace(-width / 2, width / 2, n) if n > 1 else np.zeros(n)


def accuracy_by_configuration(accuracies: Mapping[str, Sequence[float]], original: Mapping[str, float | None],
                              title: str) -> plt.Figure:
    """One row per configuration (in the given order, top to bottom): each seed's test accuracy as a dot,
    the mean with its 95% t interval, and the original report's number as a hollow diamond where it has
    one. A configuration with one run shows no interval; one with none says so."""
    rows = mean_intervals(accuracies)
    labels = list(rows)
    fig, ax = plt.subplots(figsize=(9, 0.75 * len(labels) + 1.6))
    y = -np.arange(len(labels), dtype=float)
    drawn = set()

    def legend_once(name: str) -> str | None:
        if name in drawn:
            return None
        drawn.add(name)
        return name
    for yi, label in zip(y, labels):
        row = rows[label]
        if row["n"]:
            ax.scatter(row["values"], yi + 0.22 + _spread(row["n"], 0.12), s=14, color="0.45", zorder=2,
                       label=legend_once("each seed"))
        if row["low"] is not None:
            ax.errorbar(row["mean"], yi, xerr=[[row["mean"] - row["low"]], [row["high"] - row["mean"]]],
                        fmt="o", color=PALETTE[0], ecolor=PALETTE[0], elinewidth=2, capsize=4, markersize=6,
                        zorder=3, label=legend_once("mean, 95% t interval over seeds"))
            text = f"{row['mean']:.2f}% ({row['low']:.2f} to {row['high']:.2f}), n = {row['n']}"
        elif row["n"]:
            ax.plot(row["mean"], yi, "o", color=PALETTE[0], markersize=6, zorder=3)
            text = f"{row['mean']:.2f}%, n = 1: no interval"
        else:
            text = "no runs stored yet"
        theirs = original.get(label)
        if theirs is not None:
            ax.plot(theirs, yi, "D", markerfacecolor="none", markeredgecolor=PALETTE[3], markeredgewidth=1.5,
                    markersize=7, zorder=4, label=legend_once("original report (one run)"))
            text += f"; original {theirs:g}%"
        ax.annotate(text, (1, yi), xycoords=("axes fraction", "data"), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_ylim(y[-1] - 0.6, 0.6)
    ax.set_xlabel("test accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    if drawn:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=8.5)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def interaction_plot(cells: Mapping[tuple, Sequence[float]], title: str) -> plt.Figure:
    """A 2 x 2 (or larger) design keyed (optimizer, dropout): the optimizer on the x axis, one line per
    dropout level through the cell means, with 95% t intervals and each seed as a faint dot. Parallel
    lines: no interaction. A cell with one run has no error bar; one with none is left out."""
    rows = mean_intervals(cells)
    x_levels = list(dict.fromkeys(a for a, _ in rows))
    line_levels = list(dict.fromkeys(b for _, b in rows))
    fig, ax = plt.subplots(figsize=(6, 4.4))
    offsets = _spread(len(line_levels), 0.12)
    for offset, colour, marker, style, level in zip(offsets, PALETTE, "osD^", ("-", "--", ":", "-."), line_levels):
        x = np.arange(len(x_levels)) + offset
        found = [rows.get((a, level), {"n": 0, "values": [], "mean": None, "low": None, "high": None})
                 for a in x_levels]
        means = np.array([np.nan if f["mean"] is None else f["mean"] for f in found])
        low = np.array([np.nan if f["low"] is None else f["low"] for f in found])
        high = np.array([np.nan if f["high"] is None else f["high"] for f in found])
        name = f"dropout {level:g}" if isinstance(level, (int, float)) else str(level)
        ax.errorbar(x, means, yerr=[means - low, high - means], color=colour, marker=marker, linestyle=style,
                    capsize=4, markersize=6, linewidth=1.8, label=name, zorder=3)
        for xi, f in zip(x, found):
            ax.scatter(np.full(f["n"], xi + 0.05 * np.sign(offset or 1)), f["values"], s=10, color=colour,
                       alpha=0.45, zorder=2)
    ax.set_xticks(range(len(x_levels)), [OPTIMIZER_NAMES.get(a, str(a)) for a in x_levels])
    ax.set_xlim(-0.4, len(x_levels) - 0.6)
    ax.set(xlabel="optimizer", ylabel="test accuracy (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(line_levels), frameon=False, fontsize=9)
    ax.text(0, -0.2, "mean of the seeds (dots) with its 95% t interval where n >= 2; parallel lines: no interaction",
            transform=ax.transAxes, fontsize=7, color="0.3", va="top")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
