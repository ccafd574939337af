"""How each kind of figure is drawn, from stored results only (never from a live model); which figure
is which (number, file name, title) is ``figures``' registry.

``save_figure`` writes PNGs at a fixed dpi without the matplotlib version stamp, atomically, and
leaves a file untouched when the bytes are unchanged, so redrawing the same results is a no-op.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import seaborn as sns

from .evaluate import class_accuracy, decode_images, overall_counts
from .io import atomic_write_bytes

DPI = 100
PNG_METADATA = {"Software": None}  # no matplotlib version in the file: same results -> same bytes


def save_figure(fig: plt.Figure, path: str | os.PathLike) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata=PNG_METADATA, bbox_inches="tight",
                pad_inches=0.1)
    return atomic_write_bytes(path, buffer.getvalue())


def _accuracies(result: dict) -> np.ndarray:
    return class_accuracy(result["confusion"])


def _overall(result: dict) -> float:
    correct, total = overall_counts(result["confusion"])
    return 100 * correct / max(total, 1)


def per_class_accuracy(result: dict, title: str) -> plt.Figure:
    acc = _accuracies(result)
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.bar(result["classes"], acc, color=sns.color_palette("deep")[0])
    ax.bar_label(bars, labels=[f"{a:.1f}" for a in acc], fontsize=8)
    ax.axhline(_overall(result), color="black", linestyle="--", linewidth=1,
               label=f"overall {_overall(result):.2f}%")
    ax.set(ylim=(0, 105), ylabel="test accuracy (%)", title=title)
    ax.tick_params(axis="x", rotation=30)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def loss_curves(results: dict[str, dict], title: str) -> plt.Figure:
    """Train and test loss (left) and accuracy (right) per epoch; one colour per labelled result."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for colour, (label, result) in zip(sns.color_palette("deep"), results.items()):
        epochs = [h["epoch"] for h in result["history"]]
        prefix = f"{label}: " if len(results) > 1 else ""
        for split, style in (("train", "-"), ("test", "--")):
            ax_loss.plot(epochs, [h[f"{split}_loss"] for h in result["history"]], style, color=colour,
                         marker="." if len(epochs) < 40 else None, label=f"{prefix}{split}")
            ax_acc.plot(epochs, [100 * h[f"{split}_accuracy"] for h in result["history"]], style, color=colour,
                        marker="." if len(epochs) < 40 else None, label=f"{prefix}{split}")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(result: dict, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7.5, 6))
    sns.heatmap(np.asarray(result["confusion"]), annot=True, fmt="d", cmap="Blues", cbar=True,
                xticklabels=result["classes"], yticklabels=result["classes"], ax=ax, annot_kws={"size": 8})
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.tight_layout()
    return fig


def first_ten(result: dict, title: str) -> plt.Figure:
    first = result["first_ten"]
    images, classes = decode_images(first), result["classes"]
    fig, axes = plt.subplots(2, 5, figsize=(10, 5.6))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        ok = first["predicted"][i] == first["true"][i]
        ax.imshow(images[i], interpolation="nearest")
        ax.set_title(f"{classes[first['predicted'][i]]} ({100 * first['confidence'][i]:.1f}%)\n"
                     f"true: {classes[first['true'][i]]}", color="green" if ok else "red", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def per_class_comparison(results: dict[str, dict], title: str) -> plt.Figure:
    """Grouped per-class accuracy bars of several results."""
    labels = list(results)
    classes = results[labels[0]]["classes"]
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(classes))
    for i, (colour, label) in enumerate(zip(sns.color_palette("deep"), labels)):
        ax.bar(x + (i - (len(labels) - 1) / 2) * width, _accuracies(results[label]), width,
               color=colour, label=f"{label} ({_overall(results[label]):.2f}%)")
    ax.set_xticks(x, classes, rotation=30)
    ax.set(ylim=(0, 100), ylabel="test accuracy (%)", title=title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def accuracy_over_time(results: dict[str, dict], original_accuracy: float, title: str) -> plt.Figure:
    """Test accuracy against cumulative training time (log scale), one line per labelled result, with the
    original report's accuracy as a dashed line: how long each recipe takes to reach it."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for colour, (label, result) in zip(sns.color_palette("deep"), results.items()):
        minutes = np.cumsum([h["seconds"] for h in result["history"]]) / 60
        accuracy = [100 * h["test_accuracy"] for h in result["history"]]
        ax.plot(minutes, accuracy, color=colour, marker="." if len(minutes) < 40 else None,
                label=f"{label}: {accuracy[-1]:.2f}% after {minutes[-1]:.1f} min")
    ax.axhline(original_accuracy, color="black", linestyle="--", linewidth=1,
               label=f"original report: {original_accuracy}%")
    ax.set_xscale("log")
    ax.set(xlabel="training time (minutes, log scale)", ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
