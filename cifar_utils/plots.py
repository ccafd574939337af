"""How each kind of figure is drawn, from stored results only (never from a live model); which figure
is which (number, file name, title, alt text, caption) is ``figures``' registry.

Conventions, the same in every figure:

- colours from seaborn's colour-blind palette, and never colour alone: right/wrong also has a word and a
  frame style, lines also a marker or a dash;
- a figure of several runs of one recipe (its seeds) draws every run: per-class bars are the mean over
  the runs with the Student t 95% interval of the mean (``stats.summary``) and each run as a dot; curves
  are the mean per epoch with a band from the lowest to the highest run, or each run as a thin line. One
  run draws as itself, without an interval or band;
- confusion matrices are row percentages (each row: what the images of one true class were predicted
  as) on one fixed 0-100% scale, with the counts written in; differences are percentage points on a
  fixed symmetric scale, the mean of each side's runs' matrices;
- no legend or label is drawn over data: legends sit above the axes or below the figure;
- legible where it is read: a PNG is shown at half its pixel size (sharp on high-density screens), and
  no wider than ``DISPLAY_WIDTH_PX``; ``displayed_points`` converts a font size to its size there, which
  must be at least ``MIN_DISPLAY_PT`` (tests/test_figures.py checks every figure's every text). Figures
  are at most about 8 inches wide and no text is smaller than ``SMALL`` points.

The pure functions behind the figures (``row_percentages``, ``mean_row_percentages``,
``confusion_difference_values``, ``top_k``, ``confident_mistakes``, ``mean_intervals``, ``history_values``)
are tested on their own. ``save_figure`` writes PNGs at ``DPI`` without the matplotlib version stamp,
atomically, and leaves a file untouched when the bytes are unchanged, so redrawing the same results is
a no-op.
"""
from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
import numpy as np
import seaborn as sns

from . import stats
from .evaluate import class_accuracy, decode_images, decode_predictions, overall_counts
from .files import atomic_write_bytes
from .results import ResultError

DPI = 200  # print quality: an 8 x 4 inch figure is 1600 x 800 pixels
DISPLAY_WIDTH_PX = 800  # the widest (CSS px) the report's pages show a figure: their content column
MIN_DISPLAY_PT = 8.0    # the smallest text a reader gets, in points at the width the page shows the figure
SMALL = 8.5             # the smallest font size drawn (points): >= MIN_DISPLAY_PT shown, up to 8.8 inches wide
PNG_METADATA = {"Software": None}  # no matplotlib version in the file: same results -> same bytes
PALETTE = sns.color_palette("colorblind")
RIGHT, WRONG = PALETTE[0], PALETTE[1]  # blue and orange: apart for every colour vision and in grey
CONFUSION_RANGE = (0.0, 100.0)  # percent of a true class: the one colour scale of every confusion matrix
DIFFERENCE_RANGE = 5.0          # percentage points: a difference matrix's colours span -5..+5 (clipped)
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}
MARKERS = "osD^v"
# What a history records per epoch, as (field prefix, legend name, line style): the training loss and
# accuracy as trained (running over the epoch's augmented batches, dropout active), the training probe in
# evaluation mode (runs stored since it exists), and the evaluation split (test, or validation for tuning).
MEASURES = (("train", "training, as trained", "-"), ("train_eval", "training probe, eval mode", ":"),
            ("test", "test", "--"))


def displayed_points(fontsize: float, png_width_px: float) -> float:
    """A font size (points) drawn at ``DPI`` into a PNG ``png_width_px`` wide, in points as the page shows it:
    at half the PNG's pixel size, scaled down to ``DISPLAY_WIDTH_PX`` when wider (CSS: 96 px per inch)."""
    shown = min(png_width_px / 2, DISPLAY_WIDTH_PX)
    return fontsize * DPI / 72 * (shown / png_width_px) * 72 / 96


def save_figure(fig: plt.Figure, path: str | os.PathLike, source: str | None = None) -> Path:
    """Write ``fig`` as a PNG at ``DPI``; ``source`` (what it was drawn from) goes into the PNG's text."""
    buffer = io.BytesIO()
    metadata = {**PNG_METADATA, **({"Source": source} if source else {})}
    fig.savefig(buffer, format="png", dpi=DPI, metadata=metadata, bbox_inches="tight",
                pad_inches=0.1)
    return atomic_write_bytes(path, buffer.getvalue())


def runs_of(results, what: str = "results") -> list[dict]:
    """``results`` as a non-empty list of results (one per seed): a ValueError names what to pass."""
    if isinstance(results, Mapping) or not isinstance(results, Sequence) or not results:
        raise ValueError(f"{what} must be a non-empty list of stored results (one per seed), not "
                         f"{type(results).__name__}{' (empty)' if isinstance(results, Sequence) else ''}; "
                         f"pass [result] for one run.")
    return list(results)


def _overall(result: dict) -> float:
    correct, total = overall_counts(result["confusion"])
    return 100 * correct / max(total, 1)


def split_of(result: dict) -> str:
    """What a result's "test" numbers were measured on: "test", or "validation" for a tuning run."""
    return result["config"].get("evaluate_on", "test")


def _legend_below(fig: plt.Figure, handles, ncol: int, y: float = 0.0) -> None:
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, y), ncol=ncol, frameon=False,
               fontsize=SMALL + 0.5)


# ---------------------------------------------------------------------------------------------
# Means over seeds

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


# ---------------------------------------------------------------------------------------------
# Per-class accuracy over seeds, of one recipe or several

def class_means(results: Sequence[dict]) -> dict:
    """Per class: ``mean_intervals`` of its accuracy (%) over the runs."""
    results = runs_of(results)
    per_run = np.array([class_accuracy(r["confusion"]) for r in results])  # runs x classes
    return mean_intervals({c: per_run[:, i] for i, c in enumerate(results[0]["classes"])})


def _seed_bars(ax: plt.Axes, x: np.ndarray, rows: dict, width: float, colour, label: str | None,
               values_above: bool) -> float:
    """Bars at each class's mean, its 95% t interval (n >= 2) and every run as a dark dot on the bar; with
    ``values_above`` the mean written above it (on a white box, so no line runs through it). Returns the
    highest point drawn."""
    rows = list(rows.values())
    means = np.array([r["mean"] for r in rows])
    ax.bar(x, means, width, color=colour, label=label, zorder=2)
    tops = []
    for xi, r in zip(x, rows):
        if r["low"] is not None:
            ax.errorbar(xi, r["mean"], yerr=[[r["mean"] - r["low"]], [r["high"] - r["mean"]]], fmt="none",
                        ecolor="black", elinewidth=1.0, capsize=2.5, zorder=3)
        if r["n"] > 1:
            ax.scatter(xi + _spread(r["n"], width * 0.55), r["values"], s=9, color="0.15", edgecolors="white",
                       linewidths=0.4, zorder=4)
        tops.append(max([r["mean"], *r["values"]] + ([r["high"]] if r["high"] is not None else [])))
    if values_above:
        for xi, r, top in zip(x, rows, tops):
            ax.annotate(f"{r['mean']:.1f}", (xi, top), xytext=(0, 2), textcoords="offset points", ha="center",
                        va="bottom", fontsize=SMALL, zorder=5,
                        bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"})
    return float(max(tops))


def _overall_line(ax: plt.Axes, value: float, text: str, colour="black", linestyle="--") -> None:
    """A horizontal line behind the bars, labelled in the right margin, outside the axes."""
    ax.axhline(value, color=colour, linestyle=linestyle, linewidth=1, zorder=1)
    ax.annotate(text, (1, value), xycoords=("axes fraction", "data"), xytext=(4, 0),
                textcoords="offset points", va="center", ha="left", fontsize=SMALL, color=colour)


def _percent_axis(ax: plt.Axes, top: float, ylabel: str) -> None:
    ax.set_ylim(0, max(100.0, top + 8))  # room for the labels above the error bars
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3, zorder=0)


def _class_ticks(ax: plt.Axes, x: np.ndarray, classes) -> None:
    ax.set_xticks(x, classes, rotation=30, ha="right", rotation_mode="anchor")


def per_class_accuracy(results: Sequence[dict], title: str) -> plt.Figure:
    """Each class's mean accuracy over the runs (seeds): a bar with its 95% t interval and each run as a dot,
    the mean written above; the mean overall accuracy as a dashed line, labelled at the right. One run:
    its bars, no interval."""
    results = runs_of(results)
    rows = class_means(results)
    fig, ax = plt.subplots(figsize=(7.2, 3.5))
    x = np.arange(len(rows))
    top = _seed_bars(ax, x, rows, 0.7, PALETTE[0], None, values_above=True)
    overall = float(np.mean([_overall(r) for r in results]))
    _overall_line(ax, overall, f"overall\n{overall:.2f}%")
    _class_ticks(ax, x, list(rows))
    _percent_axis(ax, top, f"{split_of(results[0])} accuracy (%)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def per_class_comparison(groups: Mapping[str, Sequence[dict]], title: str) -> plt.Figure:
    """Grouped per-class bars of several recipes, each the mean over its runs with its 95% t interval and
    each run as a dot; the legend, with each recipe's mean overall accuracy and n, above the axes."""
    groups = {label: runs_of(results, f"the runs of {label}") for label, results in groups.items()}
    labels = list(groups)
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    top = 0.0
    x = np.arange(len(groups[labels[0]][0]["classes"]))
    for i, (colour, label) in enumerate(zip(PALETTE, labels)):
        results = groups[label]
        overall = np.mean([_overall(r) for r in results])
        top = max(top, _seed_bars(ax, x + (i - (len(labels) - 1) / 2) * width, class_means(results), width,
                                  colour, f"{label}: {overall:.2f}% overall, n = {len(results)}",
                                  values_above=False))
    _class_ticks(ax, x, groups[labels[0]][0]["classes"])
    _percent_axis(ax, top, "test accuracy (%)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=1, frameon=False, fontsize=SMALL + 0.5)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Curves over epochs, and accuracy over training time

def history_values(results: Sequence[dict], field: str) -> np.ndarray | None:
    """runs x epochs of one history field (e.g. "test_loss"); None unless every run has it at every epoch
    and all have the same number of epochs."""
    rows = [[h.get(field) for h in r["history"]] for r in results]
    if any(v is None for row in rows for v in row) or len({len(row) for row in rows}) != 1:
        return None
    return np.array(rows, dtype=float)


def measures_of(results: Sequence[dict]) -> list[tuple[str, str, str]]:
    """The ``MEASURES`` every one of ``results`` recorded (the training probe only in runs stored since it
    exists), each named for the split a tuning run evaluates on."""
    split = split_of(results[0])
    return [(key, split if key == "test" else name, style) for key, name, style in MEASURES
            if history_values(results, f"{key}_loss") is not None]


def loss_curves(groups: Mapping[str, Sequence[dict]], title: str) -> plt.Figure:
    """Loss (left) and accuracy (right) per epoch of each labelled recipe's runs: the mean over its runs as a
    line (style: the measure; colour and marker: the recipe) with a band from the lowest to the highest
    run (n >= 2). Measures: training as trained, the training probe in evaluation mode where every run has
    it, and the test set. The legend of the measures sits below, the recipes' above."""
    groups = {label: runs_of(results, f"the runs of {label}") for label, results in groups.items()}
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(8, 3.4))
    shown_measures: dict[str, tuple[str, str]] = {}
    for colour, marker, (label, results) in zip(PALETTE, MARKERS, groups.items()):
        epochs = np.arange(1, len(results[0]["history"]) + 1)
        marker = marker if len(epochs) < 40 else None
        for key, name, style in measures_of(results):
            shown_measures[key] = (name, style)
            for ax, field, scale in ((ax_loss, f"{key}_loss", 1), (ax_acc, f"{key}_accuracy", 100)):
                values = scale * history_values(results, field)
                ax.plot(epochs, values.mean(axis=0), style, color=colour, marker=marker, markersize=3,
                        linewidth=1.5, zorder=3)
                if len(results) > 1:
                    ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), color=colour, alpha=0.2,
                                    linewidth=0, zorder=2)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    handles = [Line2D([], [], color="0.2", linestyle=style, label=name) for name, style in shown_measures.values()]
    if any(len(results) > 1 for results in groups.values()):
        handles.append(Patch(color="0.2", alpha=0.2, label="lowest to highest seed"))
    y = 0.0
    if len(groups) > 1:
        _legend_below(fig, [Line2D([], [], color=c, marker=m, markersize=4, label=f"{label} (n = {len(results)})")
                            for c, m, (label, results) in zip(PALETTE, MARKERS, groups.items())], ncol=len(groups))
        y = -0.075
    _legend_below(fig, handles, ncol=len(handles), y=y)
    return fig


def loss_by_seed(groups: Mapping[str, Sequence[dict]], title: str) -> plt.Figure:
    """One panel per labelled recipe, on one loss scale: the test loss (dashed) and the training probe's loss
    in evaluation mode (solid) per epoch, each run as a thin line and their mean as a thick one. A run
    without the probe draws its test loss only."""
    groups = {label: runs_of(results, f"the runs of {label}") for label, results in groups.items()}
    fig, axes = plt.subplots(1, len(groups), figsize=(8, 3.4), sharey=True, squeeze=False)
    colours = {"train_eval": PALETTE[0], "test": PALETTE[1]}
    for ax, (label, results) in zip(axes.flat, groups.items()):
        for key, style, marker in (("train_eval", "-", "o"), ("test", "--", "s")):
            runs = [r for r in results if history_values([r], f"{key}_loss") is not None]
            if not runs:
                continue
            for r in runs:
                ax.plot(np.arange(1, len(r["history"]) + 1), history_values([r], f"{key}_loss")[0], style,
                        color=colours[key], linewidth=0.8, alpha=0.55, zorder=2)
            values = history_values(runs, f"{key}_loss")
            if values is not None:
                ax.plot(np.arange(1, values.shape[1] + 1), values.mean(axis=0), style, color=colours[key],
                        marker=marker, markersize=3.5, linewidth=2.2, zorder=3)
        ax.set(xlabel="epoch", title=f"{label} (n = {len(results)})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes.flat[0].set_ylabel("cross-entropy loss")
    fig.suptitle(title)
    fig.tight_layout()
    _legend_below(fig, [Line2D([], [], color=colours["train_eval"], marker="o", markersize=3.5,
                               label="training probe, eval mode"),
                        Line2D([], [], color=colours["test"], linestyle="--", marker="s", markersize=3.5,
                               label="test"),
                        Line2D([], [], color="0.3", linewidth=0.8, label="each seed"),
                        Line2D([], [], color="0.3", linewidth=2.2, label="mean")], ncol=4)
    return fig


def accuracy_over_time(results: dict[str, dict], original_accuracy: float, title: str) -> plt.Figure:
    """Test accuracy against cumulative training time (log scale), one line per labelled result, with the
    original report's accuracy as a dashed line: how long each recipe takes to reach it."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for colour, marker, (label, result) in zip(PALETTE, MARKERS, results.items()):
        minutes = np.cumsum([h["seconds"] for h in result["history"]]) / 60
        accuracy = [100 * h["test_accuracy"] for h in result["history"]]
        ax.plot(minutes, accuracy, color=colour, marker=marker if len(minutes) < 40 else None, markersize=4,
                label=f"{label}: {accuracy[-1]:.2f}% after {minutes[-1]:.1f} min ({len(minutes)} epochs)")
    _overall_line(ax, original_accuracy, f"original\nreport\n{original_accuracy:g}%")
    ax.set_xscale("log")
    ax.set(xlabel="training time (minutes, log scale)", ylabel="test accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, fontsize=SMALL + 0.5)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Confusion matrices, and the difference of two recipes

def row_percentages(confusion) -> np.ndarray:
    """confusion[i, j] as a percentage of row i (the images of true class i); an empty row stays 0."""
    confusion = np.asarray(confusion, dtype=float)
    return 100 * confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)


def mean_row_percentages(results: Sequence[dict]) -> np.ndarray:
    """The mean over the runs of their row-percentage matrices."""
    return np.mean([row_percentages(r["confusion"]) for r in runs_of(results)], axis=0)


def confusion_difference_values(a: Sequence[dict], b: Sequence[dict]) -> np.ndarray:
    """b's mean row percentages minus a's (each over its runs), in percentage points of each true class."""
    return mean_row_percentages(b) - mean_row_percentages(a)


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
            ax.text(j, i - 0.16 if small else i, big, ha="center", va="center", fontsize=SMALL + 0.5, color=colour)
            if small:
                ax.text(j, i + 0.23, small, ha="center", va="center", fontsize=SMALL, color=colour)
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


def one_or_more(results) -> list[dict]:
    """One result, or a non-empty list of them (one per seed), as a list (``runs_of`` says what is wrong)."""
    return [results] if isinstance(results, Mapping) else runs_of(results)


def pooled_confusion(results) -> np.ndarray:
    """The confusion matrices of the runs (``one_or_more``) added up: its row percentages are the mean of the
    runs' when every run saw the same images."""
    return np.sum([np.asarray(r["confusion"]) for r in one_or_more(results)], axis=0)


def confusion_matrix(results, title: str) -> plt.Figure:
    """The runs' pooled confusion (``pooled_confusion``) as row percentages on the fixed 0-100% scale; each
    cell: the percentage, and below it the count over the runs."""
    first = one_or_more(results)[0]
    confusion = pooled_confusion(results)
    percent = row_percentages(confusion)
    texts = [[(f"{percent[i, j]:.1f}", f"{confusion[i, j]}") for j in range(len(confusion))]
             for i in range(len(confusion))]
    fig, ax = plt.subplots(figsize=(7.6, 6.9))
    _matrix(fig, ax, percent, first["classes"], "Blues", *CONFUSION_RANGE, texts,
            f"% of the true class's {split_of(first)} images (count below)", ticks=range(0, 101, 20))
    ax.set_title(title)
    fig.tight_layout()
    return fig


def confusion_difference(groups: Mapping[str, Sequence[dict]], title: str) -> plt.Figure:
    """Of two labelled recipes a, b (in that order), each a list of runs: b's mean row percentages minus
    a's, in percentage points, on the fixed symmetric scale +-DIFFERENCE_RANGE (clipped beyond). Purple is
    more in b, orange less: on the diagonal, purple means b is right more often; off it, that b makes that
    mistake more often."""
    if len(groups) != 2:
        raise ValueError(f"a difference matrix compares exactly two recipes, not {len(groups)}; pass "
                         f"{{label_a: runs_a, label_b: runs_b}}.")
    (label_a, a), (label_b, b) = groups.items()
    a, b = runs_of(a, f"the runs of {label_a}"), runs_of(b, f"the runs of {label_b}")
    difference = confusion_difference_values(a, b)
    texts = [[(f"{d:+.1f}" if round(d, 1) else "0", "") for d in row] for row in difference]
    fig, ax = plt.subplots(figsize=(7.6, 6.9))
    _matrix(fig, ax, difference, a[0]["classes"], "PuOr", -DIFFERENCE_RANGE, DIFFERENCE_RANGE, texts,
            f"{label_b} minus {label_a}, points", ticks=np.arange(-DIFFERENCE_RANGE, DIFFERENCE_RANGE + 1),
            extend="both")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Test images: the first ten and the most confident mistakes

def top_k(probabilities: Sequence[float], k: int = 3) -> list[tuple[int, float]]:
    """The ``k`` most probable classes as (class index, probability), most probable first (ties: lower
    index first)."""
    p = np.asarray(probabilities, dtype=float)
    order = np.argsort(-p, kind="stable")[:k]
    return [(int(i), float(p[i])) for i in order]


# Rows of images with text below each: fixed spacing (tight_layout does not see text outside the axes).
_IMAGE_GRID = {"left": 0.01, "right": 0.99, "top": 0.86, "bottom": 0.12, "wspace": 0.12, "hspace": 0.72}


def _titled(fig: plt.Figure, title: str, subtitle: str) -> None:
    """The title, and below it in smaller type what the panels show."""
    fig.suptitle(title, y=0.985, fontsize=12)
    fig.text(0.5, 0.985 - 0.42 / fig.get_figheight(), subtitle, ha="center", va="top", fontsize=SMALL + 1,
             color="0.25")


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
    fig, axes = plt.subplots(2, 5, figsize=(8, 6.2), gridspec_kw=_IMAGE_GRID)
    for i, ax in enumerate(axes.flat):
        if i >= len(images):
            ax.axis("off")
            continue
        true, predicted = first["true"][i], first["predicted"][i]
        right = predicted == true
        _framed(ax, images[i], right)
        ax.set_title(f"{i + 1}. {classes[true]}", fontsize=SMALL + 1)
        word, colour = _verdict(right)
        ax.text(0.5, -0.05, word, transform=ax.transAxes, ha="center", va="top", fontsize=SMALL + 0.5,
                fontweight="bold", color=colour)
        ranked = top_k(probabilities[i]) if probabilities is not None else [(predicted, first["confidence"][i])]
        for rank, (c, p) in enumerate(ranked, 1):
            ax.text(0.5, -0.07 - 0.125 * rank, f"{rank}. {classes[c]} {100 * p:.1f}%", transform=ax.transAxes,
                    ha="center", va="top", fontsize=SMALL, fontweight="bold" if c == true else "normal")
    shown = "top three predicted classes" if probabilities is not None else "predicted class"
    _titled(fig, title, f"titled with the true class; {shown} with softmax probability, the true class in bold")
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
    fig, axes = plt.subplots(rows, 5, figsize=(8, 2.35 * rows + 0.8), squeeze=False,
                             gridspec_kw={**_IMAGE_GRID, "hspace": 0.4})
    for ax, index in zip(axes.flat, chosen):
        _framed(ax, pixels[index], right=False)
        ax.set_title(f"true: {classes[true[index]]}", fontsize=SMALL + 1)
        ax.text(0.5, -0.05, f"\u2717 {classes[predicted[index]]}", transform=ax.transAxes, ha="center",
                va="top", fontsize=SMALL + 0.5, fontweight="bold", color=WRONG)
        ax.text(0.5, -0.19, f"{100 * probability[index]:.1f}%, image {index}", transform=ax.transAxes,
                ha="center", va="top", fontsize=SMALL)
    for ax in axes.flat[len(chosen):]:
        ax.axis("off")
    wrong = int((true != predicted).sum())
    _titled(fig, title, f"the {len(chosen)} most confident of {wrong:,} mistakes on {len(true):,} "
                        f"{split_of(result)} images; below: predicted class, its probability")
    return fig


# ---------------------------------------------------------------------------------------------
# The study: means over seeds with intervals

def accuracy_by_configuration(accuracies: Mapping[str, Sequence[float]], original: Mapping[str, float | None],
                              title: str) -> plt.Figure:
    """One row per configuration (in the given order, top to bottom): each seed's test accuracy as a dot,
    the mean with its 95% t interval, and the original report's number as a hollow diamond where it has
    one; n at the right. A configuration with one run shows no interval; one with none says so."""
    rows = mean_intervals(accuracies)
    labels = list(rows)
    fig, ax = plt.subplots(figsize=(7.4, 0.42 * len(labels) + 1.3))
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
            ax.scatter(row["values"], yi + 0.2 + _spread(row["n"], 0.1), s=12, color="0.45", zorder=2,
                       label=legend_once("each seed"))
        if row["low"] is not None:
            ax.errorbar(row["mean"], yi, xerr=[[row["mean"] - row["low"]], [row["high"] - row["mean"]]],
                        fmt="o", color=PALETTE[0], ecolor=PALETTE[0], elinewidth=2, capsize=3, markersize=5,
                        zorder=3, label=legend_once("mean, 95% t interval"))
            text = f"n = {row['n']}"
        elif row["n"]:
            ax.plot(row["mean"], yi, "o", color=PALETTE[0], markersize=5, zorder=3)
            text = "n = 1"
        else:
            text = "not run yet"
        theirs = original.get(label)
        if theirs is not None:
            ax.plot(theirs, yi, "D", markerfacecolor="none", markeredgecolor=PALETTE[3], markeredgewidth=1.5,
                    markersize=6, zorder=4, label=legend_once("original report (one run)"))
        ax.annotate(text, (1, yi), xycoords=("axes fraction", "data"), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=SMALL + 0.5)
    ax.set_yticks(y, labels, fontsize=SMALL + 1)
    ax.set_ylim(y[-1] - 0.6, 0.6)
    ax.set_xlabel("test accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    if drawn:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=SMALL + 0.5)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


MIN_SPAN = 10.0  # points: the least an axis of mean accuracies spans, so that a one-point difference looks like one


def _min_span(ax: plt.Axes, values: Sequence[float], span: float = MIN_SPAN) -> None:
    """Widen the y axis to at least ``span`` points around ``values``, at whole points (matplotlib's own
    limits when they are wider)."""
    low, high = ax.get_ylim()
    if high - low < span and len(values):
        bottom = np.floor((min(values) + max(values)) / 2 - span / 2)
        ax.set_ylim(bottom, bottom + span)


def interaction_plot(cells: Mapping[tuple, Sequence[float]], title: str) -> plt.Figure:
    """A 2 x 2 (or larger) design keyed (optimizer, dropout): the optimizer on the x axis, one line per
    dropout level through the cell means, with 95% t intervals and each seed as a faint dot. Parallel
    lines: no interaction. A cell with one run has no error bar; one with none is left out. The axis spans
    at least ``MIN_SPAN`` points."""
    rows = mean_intervals(cells)
    x_levels = list(dict.fromkeys(a for a, _ in rows))
    line_levels = list(dict.fromkeys(b for _, b in rows))
    fig, ax = plt.subplots(figsize=(5.6, 4))
    offsets = _spread(len(line_levels), 0.14)
    for offset, colour, marker, style, level in zip(offsets, PALETTE, MARKERS, ("-", "--", ":", "-."), line_levels):
        x = np.arange(len(x_levels)) + offset
        found = [rows.get((a, level), {"n": 0, "values": [], "mean": None, "low": None, "high": None})
                 for a in x_levels]
        means = np.array([np.nan if f["mean"] is None else f["mean"] for f in found])
        low = np.array([np.nan if f["low"] is None else f["low"] for f in found])
        high = np.array([np.nan if f["high"] is None else f["high"] for f in found])
        name = ("no dropout" if level == 0 else f"Dropout {level:g}") if isinstance(level, (int, float)) else str(level)
        ax.errorbar(x, means, yerr=[means - low, high - means], color=colour, marker=marker, linestyle=style,
                    capsize=4, markersize=6, linewidth=1.8, label=name, zorder=3)
        for xi, f in zip(x, found):
            ax.scatter(np.full(f["n"], xi + 0.06 * np.sign(offset or 1)), f["values"], s=12, color=colour,
                       alpha=0.5, zorder=2)
    ax.set_xticks(range(len(x_levels)), [OPTIMIZER_NAMES.get(a, str(a)) for a in x_levels])
    ax.set_xlim(-0.5, len(x_levels) - 0.5)
    ax.set(xlabel="optimizer", ylabel="test accuracy (%)")
    _min_span(ax, [v for r in rows.values() for v in r["values"]])
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(line_levels), frameon=False,
              fontsize=SMALL + 1)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def paired_groups(rows: Mapping[str, Mapping], names: tuple[str, str], title: str) -> plt.Figure:
    """Two recipes compared at several settings (one row each, top to bottom). ``rows``: setting ->
    {"a": values, "b": values, "difference": a ``stats.difference`` dict of b minus a, or None}. Left: each
    side's runs as dots and their mean with its 95% t interval; right: b minus a with its interval (None:
    no interval, the difference of the means alone), and a line at zero."""
    labels = list(rows)
    fig, (ax_values, ax_diff) = plt.subplots(1, 2, figsize=(8, 0.55 * len(labels) + 1.6), sharey=True,
                                             gridspec_kw={"width_ratios": (1.25, 1)})
    y = -np.arange(len(labels), dtype=float)
    handles = []
    for side, name, colour, marker, offset in (("a", names[0], PALETTE[2], "s", 0.15), ("b", names[1], PALETTE[0], "o", -0.15)):
        summary = mean_intervals({label: rows[label][side] for label in labels})
        for yi, label in zip(y, labels):
            s = summary[label]
            if not s["n"]:
                continue
            dots = yi + offset + np.sign(offset) * 0.1  # the runs beside their mean, away from the other side
            ax_values.scatter(s["values"], np.full(s["n"], dots), s=12, color=colour, alpha=0.55, zorder=2)
            xerr = None if s["low"] is None else [[s["mean"] - s["low"]], [s["high"] - s["mean"]]]
            ax_values.errorbar(s["mean"], yi + offset, xerr=xerr, fmt=marker, color=colour, capsize=3,
                               markersize=5, elinewidth=1.8, zorder=3)
        handles.append(Line2D([], [], color=colour, marker=marker, markersize=5, linewidth=1.8, label=name))
    for yi, label in zip(y, labels):
        a, b, d = rows[label]["a"], rows[label]["b"], rows[label]["difference"]
        if d is not None:
            ax_diff.errorbar(d["estimate"], yi, xerr=[[d["estimate"] - d["low"]], [d["high"] - d["estimate"]]],
                             fmt="D", color="0.2", capsize=3, markersize=5, elinewidth=1.8, zorder=3)
        elif len(a) and len(b):
            ax_diff.plot(np.mean(b) - np.mean(a), yi, "D", markerfacecolor="none", markeredgecolor="0.2",
                         markersize=5, zorder=3)
    ax_diff.axvline(0, color="black", linewidth=1, zorder=1)
    ax_values.set_yticks(y, labels)
    ax_values.set_ylim(y[-1] - 0.6, 0.6)
    ax_values.set_xlabel("test accuracy (%)")
    ax_diff.set_xlabel(f"{names[1]} minus {names[0]} (points)")
    for ax in (ax_values, ax_diff):
        ax.grid(axis="x", alpha=0.3)
    ax_values.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False,
                     fontsize=SMALL + 0.5)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
