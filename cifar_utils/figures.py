"""The registry of the report's figures: each one's number, file name, title, alt text and drawing function.

Fig. 1-12 are the original report's (four per experiment: per-class accuracy, loss curves, confusion
matrix, first ten test images); Fig. 13 onwards are this report's additions. ``render`` draws a
figure from stored results, saves it as ``fig<NN>_<name>.png`` and returns it closed;
``render_captioned`` does the same and returns a ``CaptionedFigure``, which a notebook displays as the
saved PNG (at half its pixel size, sharp on high-density screens, with the figure's alt text) followed by
its numbered caption.

What each figure's ``draw`` takes as inputs:

- Fig. 1-12: one result;
- Fig. 13-16: {label: result} (Fig. 16: exactly two, a then b; it shows b minus a);
- Fig. 17: (result, images), all evaluated images in order (``data.load_cifar10(...).x_test``): results
  keep only the first ten's pixels, so this one figure needs the dataset;
- Fig. 18: (accuracies, original): {configuration label: [test accuracy (%) of each seed]} and
  {configuration label: the original report's accuracy (%), or None};
- Fig. 19: {(optimizer, dropout): [test accuracy (%) of each seed]}, e.g. ("sgd", 0.0);
- Fig. 20-21: the baseline's faithful-profile result (the original report's recipe).
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
    draw: Callable[..., plt.Figure]        # draw(inputs, title) -> figure; inputs: see the module docstring
    alt: str                               # alt text: what the figure shows, for readers who cannot see it

    @property
    def filename(self) -> str:
        return f"fig{self.number:02d}_{self.name}.png"


def _experiment_figures(first: int, experiment: str) -> list[Figure]:
    """The original report's four figures of one experiment, numbered from ``first``."""
    title = EXPERIMENTS[experiment].title
    return [
        Figure(first, f"{experiment}_per_class_accuracy", f"Per-class test accuracy: {title}",
               plots.per_class_accuracy,
               f"Bar chart of {title}'s test accuracy on each of the ten classes, each bar with its value and a "
               f"95% interval, and a dashed line at the overall accuracy."),
        Figure(first + 1, f"{experiment}_loss_curves", f"Loss and accuracy per epoch: {title}",
               lambda result, t: plots.loss_curves({title: result}, t),
               f"Two line charts of {title}'s training: cross-entropy loss and accuracy after each epoch, "
               f"on the training set (solid) and the test set (dashed)."),
        Figure(first + 2, f"{experiment}_confusion_matrix", f"Confusion matrix: {title}", plots.confusion_matrix,
               f"Ten by ten grid, true class by predicted class, for {title}: each cell the percentage of "
               f"the true class's test images predicted as that class, with its count; darker is more."),
        Figure(first + 3, f"{experiment}_first_ten", f"First ten test images: {title}", plots.first_ten,
               f"The first ten test images, each titled with its true class, marked right or wrong, with "
               f"{title}'s three most probable classes and their probabilities."),
    ]


def _result_and_images(inputs) -> tuple[dict, object]:
    """Fig. 17's inputs: (result, images); a result alone has no images (a clear ValueError when drawn)."""
    return (inputs, None) if isinstance(inputs, dict) else tuple(inputs)


_BASELINE = EXPERIMENTS["baseline"].title
_SGD, _ADAM = EXPERIMENTS["alexnet_sgd"].title, EXPERIMENTS["alexnet_adam_dropout"].title
FIGURES: dict[int, Figure] = {f.number: f for f in [
    *_experiment_figures(1, "baseline"),
    *_experiment_figures(5, "alexnet_sgd"),
    *_experiment_figures(9, "alexnet_adam_dropout"),
    Figure(13, "sgd_vs_adam_loss_curves", f"{_SGD} vs {_ADAM}", plots.loss_curves,
           f"Two line charts, loss and accuracy per epoch, of {_SGD} and {_ADAM} on the training (solid) and "
           f"test (dashed) sets, each run named with its number of epochs."),
    Figure(14, "sgd_vs_adam_per_class_accuracy", f"Per-class test accuracy: {_SGD} vs {_ADAM}",
           plots.per_class_comparison,
           f"Grouped bar chart: for each of the ten classes, the test accuracy of {_SGD} and of {_ADAM} side "
           f"by side, each with its value and a 95% interval."),
    Figure(15, "baseline_profiles_accuracy_over_time",
           f"Test accuracy over training time: {EXPERIMENTS['baseline'].title}",
           lambda results, t: plots.accuracy_over_time(results, original("baseline")["accuracy"], t),
           "Line chart of test accuracy against training time in minutes (log scale), one line per "
           "recipe, with a dashed line at the original report's accuracy."),
    Figure(16, "sgd_vs_adam_confusion_difference",
           f"Confusion difference: {_ADAM} minus {_SGD}", plots.confusion_difference,
           f"Ten by ten grid, true class by predicted class: {_ADAM}'s percentage of each true class's test "
           f"images in that cell minus {_SGD}'s, in percentage points; purple is more, orange less, white "
           f"no change; on the diagonal, more means more often right."),
    Figure(17, "alexnet_adam_dropout_confident_mistakes", f"Most confident mistakes: {_ADAM}",
           lambda inputs, t: plots.most_confident_mistakes(*_result_and_images(inputs), t),
           f"The ten test images that {_ADAM} got wrong with the highest probability, each titled with its "
           f"true class, with the predicted class and its probability below."),
    Figure(18, "study_accuracy_by_configuration", "Test accuracy of each configuration over its stored seeds",
           lambda inputs, t: plots.accuracy_by_configuration(*inputs, t),
           "One row per configuration of the study: each seed's test accuracy as a dot, their mean with a "
           "95% interval where two or more seeds are stored, and the original report's single number as a hollow diamond where it has one."),
    Figure(19, "study_optimizer_dropout_interaction", "AlexNet: optimizer x dropout (means over the stored seeds)",
           plots.interaction_plot,
           "Interaction plot: mean test accuracy of AlexNet with SGD and with Adam on the horizontal axis, "
           "one line without dropout and one with Dropout 0.5, each mean with a 95% interval (two or more seeds) and the seeds "
           "as dots; parallel lines mean no interaction."),
    Figure(20, "baseline_faithful_loss_curves",
           f"Loss and accuracy per epoch: {_BASELINE}, the original report's recipe "
           f"({original('baseline')['recipe']['epochs']} epochs)",
           lambda result, t: plots.loss_curves({"faithful": result}, t),
           f"Two line charts of {_BASELINE} trained with the original report's recipe: "
           f"cross-entropy loss and accuracy after each epoch on the training (solid) and test (dashed) sets."),
    Figure(21, "baseline_faithful_first_ten", f"First ten test images: {_BASELINE}, the original report's recipe",
           plots.first_ten,
           f"The first ten test images, each titled with its true class, marked right or wrong, with the three "
           f"most probable classes of {_BASELINE} trained with the original report's recipe."),
]}
BY_NAME = {f.name: f for f in FIGURES.values()}


def experiment_figure(experiment: str, kind: str) -> Figure:
    """The figure of ``kind`` (one of EXPERIMENT_KINDS) of an experiment."""
    if kind not in EXPERIMENT_KINDS:
        raise ValueError(f"figure kind {kind!r} is not known; use one of {', '.join(EXPERIMENT_KINDS)}.")
    return BY_NAME[f"{experiment}_{kind}"]


def render(figure: Figure, inputs, folder: str | os.PathLike, source: str | None = None) -> plt.Figure:
    """Draw ``figure`` from ``inputs``, save it into ``folder`` under its file name, close it, return it.
    ``source`` (e.g. the result's key) is written into the PNG's text, where ``drawn_from`` reads it."""
    fig = figure.draw(inputs, figure.title)
    plots.save_figure(fig, Path(folder) / figure.filename, source=source)
    plt.close(fig)
    return fig


@dataclass(frozen=True)
class CaptionedFigure:
    """A rendered figure as a notebook displays it: the saved PNG with its alt text, then its caption."""
    figure: Figure
    fig: plt.Figure | None  # the closed matplotlib figure (None: an earlier saved PNG is shown)
    path: Path         # the saved PNG

    @property
    def caption(self) -> str:
        return f"**Fig. {self.figure.number}.** {self.figure.title}."

    def _ipython_display_(self) -> None:
        from IPython.display import Image, Markdown, display
        display(Image(data=self.path.read_bytes(), format="png", retina=True, alt=self.figure.alt))
        display(Markdown(self.caption))


def render_captioned(figure: Figure, inputs, folder: str | os.PathLike, source: str | None = None) -> CaptionedFigure:
    """``render``, returned as a ``CaptionedFigure`` for a notebook cell to display."""
    fig = render(figure, inputs, folder, source)
    return CaptionedFigure(figure, fig, Path(folder) / figure.filename)


def drawn_from(path: str | os.PathLike) -> str | None:
    """The ``source`` a saved figure was rendered with (None: no such file, or none recorded)."""
    from PIL import Image
    try:
        with Image.open(path) as image:
            return image.text.get("Source")
    except OSError:
        return None
