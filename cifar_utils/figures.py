"""The registry of the report's figures: each one's number, file name, title and drawing function.

Fig. 1-12 are the original report's (four per experiment: per-class accuracy, loss curves, confusion
matrix, first ten test images); Fig. 13 onwards are this report's additions. ``render`` draws a
figure from stored results, saves it as ``fig<NN>_<name>.png`` and returns it closed, so a notebook
shows it once, as the cell's value.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt

from . import plots
from .recipes import EXPERIMENTS, original

EXPERIMENT_KINDS = ("per_class_accuracy", "loss_curves", "confusion_matrix", "first_ten")


@dataclass(frozen=True)
class Figure:
    number: int
    name: str                              # the file is fig<NN>_<name>.png
    title: str                             # drawn above the plot
    draw: Callable[..., plt.Figure]        # draw(inputs, title) -> figure; inputs: a result or {label: result}

    @property
    def filename(self) -> str:
        return f"fig{self.number:02d}_{self.name}.png"


def _experiment_figures(first: int, experiment: str) -> list[Figure]:
    """The original report's four figures of one experiment, numbered from ``first``."""
    title = EXPERIMENTS[experiment].title
    return [
        Figure(first, f"{experiment}_per_class_accuracy", f"Per-class test accuracy: {title}",
               plots.per_class_accuracy),
        Figure(first + 1, f"{experiment}_loss_curves", f"Loss and accuracy per epoch: {title}",
               lambda result, t: plots.loss_curves({title: result}, t)),
        Figure(first + 2, f"{experiment}_confusion_matrix", f"Confusion matrix: {title}", plots.confusion_matrix),
        Figure(first + 3, f"{experiment}_first_ten", f"First ten test images, predicted class (confidence): {title}",
               plots.first_ten),
    ]


_SGD, _ADAM = EXPERIMENTS["alexnet_sgd"].title, EXPERIMENTS["alexnet_adam_dropout"].title
FIGURES: dict[int, Figure] = {f.number: f for f in [
    *_experiment_figures(1, "baseline"),
    *_experiment_figures(5, "alexnet_sgd"),
    *_experiment_figures(9, "alexnet_adam_dropout"),
    Figure(13, "sgd_vs_adam_loss_curves", f"{_SGD} vs {_ADAM}", plots.loss_curves),
    Figure(14, "sgd_vs_adam_per_class_accuracy", f"Per-class test accuracy: {_SGD} vs {_ADAM}",
           plots.per_class_comparison),
    Figure(15, "baseline_profiles_accuracy_over_time",
           f"Test accuracy over training time: {EXPERIMENTS['baseline'].title}",
           lambda results, t: plots.accuracy_over_time(results, original("baseline")["accuracy"], t)),
]}
BY_NAME = {f.name: f for f in FIGURES.values()}


def experiment_figure(experiment: str, kind: str) -> Figure:
    """The figure of ``kind`` (one of EXPERIMENT_KINDS) of an experiment."""
    if kind not in EXPERIMENT_KINDS:
        raise ValueError(f"figure kind {kind!r} is not known; use one of {', '.join(EXPERIMENT_KINDS)}.")
    return BY_NAME[f"{experiment}_{kind}"]


def render(figure: Figure, inputs, folder: str | os.PathLike) -> plt.Figure:
    """Draw ``figure`` from ``inputs``, save it into ``folder`` under its file name, close it, return it."""
    fig = figure.draw(inputs, figure.title)
    plots.save_figure(fig, Path(folder) / figure.filename)
    plt.close(fig)
    return fig
