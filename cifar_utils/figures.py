"""The registry of the report's figures: each one's number, file name, title, alt text, caption and drawing.

The numbers run in reading order through the report (notebook 00 has none):

- 01 baseline: Fig. 1-4 per-class accuracy and loss curves (its seeds), confusion matrix and first ten
  test images (one run); Fig. 5 accuracy over training time, this report's recipe against the original
  report's; Fig. 6-7 the original report's recipe re-run: its curves and first ten;
- 02 AlexNet + SGD: Fig. 8-11, the same four as Fig. 1-4;
- 03 AlexNet + Adam + Dropout: Fig. 12-15 the same four; Fig. 16 its most confident mistakes; Fig. 17-19
  AlexNet + SGD against it over the seeds of each (curves, per-class accuracy, confusion difference);
  Fig. 20-21 the study (every configuration; the optimizer x dropout interaction); Fig. 22-23 the two
  questions it left open (depth at a matched recipe; Dropout at a longer budget).

``render`` draws a figure from stored results, saves it as ``fig<NN>_<name>.png`` (removing the same
figure saved under another number, so a renumbering leaves no stale file) and returns it closed;
``render_captioned`` does the same and returns a ``CaptionedFigure``, which a notebook displays as the
saved PNG (at half its pixel size, sharp on high-density screens, with the figure's alt text) followed by
its caption. A caption is generated from the figure's inputs, so it cannot go stale: "**Fig. N.** Title."
then which runs (recipe, n and seeds, the data copy), what the bars, bands and dots mean, and the one
thing to see.

What each figure's ``draw`` and ``caption`` take as inputs:

- Fig. 1, 2, 8, 9, 12, 13: the runs of one recipe, a list of results (its seeds; one run is n = 1);
- Fig. 3, 4, 10, 11, 14, 15 and 6, 7 (the original report's recipe): one result;
- Fig. 5: {label: result}, the baseline's runs under the report and faithful profiles;
- Fig. 16: (result, images), all evaluated images in order (``data.load_cifar10(...).x_test``): results
  keep only the first ten's pixels, so this one figure needs the dataset;
- Fig. 17-19: {label: [results]} of exactly two recipes, a then b (Fig. 19 shows b minus a);
- Fig. 20-23: the study's cells with their stored results, as ``study_results.cell_results`` returns them.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np

from . import plots, study
from .config import ExperimentConfig
from .data import SHARED_COPY_SHA256
from .recipes import EXPERIMENTS, original, profile_config
from .evaluate import decode_predictions
from .results import accuracy, data_label, markdown_text

EXPERIMENT_KINDS = ("per_class_accuracy", "loss_curves", "confusion_matrix", "first_ten")
SEED_KINDS = ("per_class_accuracy", "loss_curves", "confusion_matrix")  # from every stored seed; first_ten: one run


class MissingRuns(ValueError):
    """A figure of the study whose cells have no stored runs yet."""


@dataclass(frozen=True)
class Figure:
    number: int
    name: str                              # the file is fig<NN>_<name>.png
    title: str                             # drawn above the plot, and the caption's first sentence
    draw: Callable[..., plt.Figure]        # draw(inputs, title) -> figure; inputs: see the module docstring
    alt: str                               # alt text: what the figure shows, for readers who cannot see it
    describe: Callable[..., str]           # describe(inputs): the caption after its title

    @property
    def filename(self) -> str:
        return f"fig{self.number:02d}_{self.name}.png"

    def caption(self, inputs) -> str:
        """The self-contained caption: number, title, then what ``describe`` says of these inputs."""
        return f"**Fig. {self.number}.** {self.title}. {self.describe(inputs)}"


# ---------------------------------------------------------------------------------------------
# How captions name runs: recipe, n and seeds, data copy

def recipe_of(result: dict) -> str:
    """A result's recipe as a caption names it: its notebook's title (the report's recipe) or "the original
    report's recipe"; otherwise the study's label for it (network, optimizer, Dropout, what sets
    it apart) and every other field that differs from the report recipe. With its epochs."""
    config = ExperimentConfig(**result["config"])
    experiment = result["experiment"]
    title = EXPERIMENTS[experiment].title
    if replace(profile_config("report", experiment), seed=config.seed).key() == config.key():
        return f"{title}, {config.epochs} epochs"
    if replace(profile_config("faithful", experiment), seed=config.seed).key() == config.key():
        return f"{title}, the original report's recipe ({config.epochs} epochs, batch {config.batch_size})"
    recipe = profile_config("report", experiment)
    settings, base = config.to_dict(), recipe.to_dict()
    label = study.label_of({**settings, "epochs": recipe.epochs}, recipe)
    apart = ("model", "optimizer", "dropout", "epochs", "seed", "device", "evaluate_on")
    changed = [f"{k} = {settings[k]:g}" if isinstance(settings[k], float) else f"{k} = {settings[k]}"
               for k in settings if k not in apart and settings[k] != base[k]]
    return markdown_text(", ".join([label, *changed, f"{config.epochs} epochs"]))


def seed_list(seeds) -> str:
    """"0-4" for consecutive seeds, else "0, 2, 4"."""
    seeds = sorted(seeds)
    return (f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1))
            else ", ".join(map(str, seeds)))


def seeds_of(results: list[dict]) -> str:
    """"seed 0", "5 seeds (0-4)" or "3 seeds (0, 2, 4)"."""
    seeds = [r["config"]["seed"] for r in results]
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"{len(seeds)} seeds ({seed_list(seeds)})"


def data_of(results: list[dict]) -> str:
    """Which data the runs were trained on, and what they were evaluated on unless the test set."""
    copies = list(dict.fromkeys("JPEG-degraded CIFAR-10 copy"
                                if r["environment"]["data_sha256"] == SHARED_COPY_SHA256
                                else markdown_text(data_label(r["environment"])) for r in results))
    splits = sorted({plots.split_of(r) for r in results} - {"test"})
    return " and ".join(copies) + (f", evaluated on the {' and '.join(splits)} split" if splits else "")


def runs_text(groups: dict[str, list[dict]]) -> str:
    """What a caption says of the runs it shows: each group's recipe, n and seeds, then the data; groups of one
    length and seeds share them ("AlexNet + SGD and AlexNet + Adam, 8 epochs, 5 seeds (0-4) each")."""
    every = [r for results in groups.values() for r in results]
    shown = [(recipe_of(results[0]), seeds_of(results)) for results in groups.values() if results]
    tails = {recipe.rsplit(", ", 1)[-1] for recipe, _ in shown}
    if len(shown) > 1 and len(tails) == 1 and len({seeds for _, seeds in shown}) == 1 and all(
            recipe.count(", ") == 1 for recipe, _ in shown):
        names = [recipe.rsplit(", ", 1)[0] for recipe, _ in shown]
        parts = [f"{' and '.join(names)}, {tails.pop()}, {shown[0][1]} each"]
    else:
        parts = [f"{recipe}, {seeds}" for recipe, seeds in shown]
    return "; ".join([*parts, data_of(every) if every else "no run stored yet"])


def _one(result: dict) -> str:
    return runs_text({"": [result]})


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _smoothing(result: dict) -> str:
    """What label smoothing did to the probabilities shown, which readers compare with the original's."""
    epsilon = result["config"]["label_smoothing"]
    if not epsilon:
        return "No label smoothing, as in the original report."
    target = 100 * (1 - epsilon + epsilon / len(result["classes"]))
    return f"Label smoothing {epsilon:g} (target {target:.1f}%) makes these probabilities lower than the original's."


# ---------------------------------------------------------------------------------------------
# Captions, one function per kind of figure: which runs, what the marks mean, the one thing to see

def _per_class_caption(results) -> str:
    results = plots.runs_of(results)
    rows = plots.class_means(results)
    order = sorted(rows, key=lambda c: rows[c]["mean"])
    marks = ("Bars: mean with 95% interval over seeds; dots: runs; dashed: overall accuracy."
             if len(results) > 1 else "Bars: the run's accuracy (one run, no interval); dashed: overall accuracy.")
    return (f"{_upper(runs_text({'': results}))}. {marks} "
            f"Hardest: {order[0]}, then {order[1]}; easiest: {order[-1]}.")


def _lowest_test_loss(results: list[dict]) -> str:
    mean = plots.history_values(results, "test_loss").mean(axis=0)
    return f"epoch {1 + int(np.argmin(mean))} of {len(mean)}"


def _curves_marks(groups: dict[str, list]) -> str:
    """What the line styles and bands of ``plots.loss_curves`` mean for these runs, and what to read off."""
    every = [r for results in groups.values() for r in results]
    config = every[0]["config"]
    active = [word for word, on in (("augmentation", config["flip"] or config["crop_pad"]),
                                    ("dropout", config["dropout"])) if on]
    shown = {key for results in groups.values() for key, _, _ in plots.measures_of(results)}
    probe = "train_eval" in shown
    styles = {"train": "solid: training batches in training mode" + (f" ({' and '.join(active)} on)" if active else "")
                       + ("" if probe else ", so its gap to dashed is not the generalisation gap"),
              "train_eval": "dotted: evaluation-mode probe of 5,000 training images",
              "test": f"dashed: {plots.split_of(every[0])} set"}
    band = "bands: the seeds' range" if any(len(r) > 1 for r in groups.values()) else "one run"
    see = " Overfitting shows in the dotted-dashed gap." if probe else ""
    found = {label: _lowest_test_loss(results) for label, results in groups.items()}
    lowest = (next(iter(found.values())) + (" for each" if len(found) > 1 else "") if len(set(found.values())) == 1
              else "; ".join(f"{label}: {at}" for label, at in found.items()))
    return (f"{_upper('; '.join([*(styles[k] for k in ('train', 'train_eval', 'test') if k in shown), band]))}."
            f"{see} Lowest test loss: {lowest}.")


def _curves_caption(results) -> str:
    results = plots.runs_of(results)
    return f"{_upper(runs_text({'': results}))}. {_curves_marks({'': results})}"


def _confusion_caption(results) -> str:
    runs = plots.one_or_more(results)
    percent = plots.row_percentages(plots.pooled_confusion(runs))
    off = np.where(np.eye(len(percent), dtype=bool), -1, percent)
    i, j = np.unravel_index(np.argmax(off), off.shape)
    classes = runs[0]["classes"]
    shown = f"Pooled: {runs_text({'': runs})}" if len(runs) > 1 else _upper(runs_text({"": runs}))
    return (f"{shown}. Row: true class; cell: % of its {plots.split_of(runs[0])} images predicted as the column's "
            f"class, count below. Largest confusion: {classes[i]} taken for {classes[j]}.")


def _first_ten_caption(result: dict) -> str:
    first = result["first_ten"]
    right = sum(t == p for t, p in zip(first["true"], first["predicted"]))
    shown = ("the three most probable classes" if "probabilities" in first else "the predicted class and its "
             "probability")
    return (f"{_upper(_one(result))}. Title: true class; frame: right (solid blue) or wrong (dashed orange); "
            f"below: {shown}. {_smoothing(result)} Right: {right} of {len(first['true'])}.")


def _mistakes_caption(inputs) -> str:
    result, _ = _result_and_images(inputs)
    chosen = plots.confident_mistakes(result)
    _, _, probability = decode_predictions(result["predictions"])
    return (f"{_upper(_one(result))}; {len(chosen)} of its mistakes. Title: true class; below: predicted class, its "
            f"probability (each at least {100 * probability[chosen].min():.1f}%) and image index. "
            f"{_smoothing(result)}")


def _over_time_caption(results: dict) -> str:
    target = original("baseline")["accuracy"]
    reached = []
    for label, result in results.items():
        minutes = np.cumsum([h["seconds"] for h in result["history"]]) / 60
        at = [m for m, h in zip(minutes, result["history"]) if 100 * h["test_accuracy"] >= target]
        reached.append(f"{label} " + (f"after {at[0]:.1f} min" if at else "never"))
    return (f"Log time axis: {runs_text({label: [r] for label, r in results.items()})}. Dashed: the original "
            f"report's {target:g}%. "
            f"Reached first: {'; '.join(reached)}.")


def _two(groups: dict) -> tuple[dict, tuple[str, list], tuple[str, list]]:
    groups = {label: plots.runs_of(results, f"the runs of {label}") for label, results in groups.items()}
    if len(groups) != 2:
        raise ValueError(f"this figure compares exactly two recipes, not {len(groups)}; pass "
                         f"{{label_a: runs_a, label_b: runs_b}}.")
    return groups, *groups.items()


def _comparison_curves_caption(groups: dict) -> str:
    groups, _, _ = _two(groups)
    return f"{_upper(runs_text(groups))}. {_curves_marks(groups)}"


def _comparison_per_class_caption(groups: dict) -> str:
    groups, (label_a, a), (label_b, b) = _two(groups)
    means_a, means_b = plots.class_means(a), plots.class_means(b)
    higher = sum(means_b[c]["mean"] > means_a[c]["mean"] for c in means_a)
    return (f"{_upper(runs_text(groups))}. Bars: mean with 95% interval over seeds; dots: runs. "
            f"{label_b} is higher in {higher} of the {len(means_a)} classes.")


def _difference_caption(groups: dict) -> str:
    groups, (label_a, a), (label_b, b) = _two(groups)
    diagonal = np.diag(plots.confusion_difference_values(a, b))
    classes = a[0]["classes"]
    best, worst = int(np.argmax(diagonal)), int(np.argmin(diagonal))
    return (f"Mean row percentages, in points: {runs_text(groups)}. Purple: more images in that cell; orange: "
            f"fewer (scale stops at ±{plots.DIFFERENCE_RANGE:g}). Diagonal: per-class accuracy. "
            f"Largest gain: {classes[best]}; "
            f"{'largest loss' if diagonal[worst] < 0 else 'smallest gain'}: {classes[worst]}.")


def _n_per_cell(cells: dict) -> str:
    """"5 seeds each (0-4)", naming the cells with another number of runs, and the data."""
    counts = {cell.label: len(results) for cell, results in cells.items()}
    usual = max(sorted(set(counts.values())), key=list(counts.values()).count)
    seeds = {tuple(sorted(r["config"]["seed"] for r in results)) for results in cells.values()
             if len(results) == usual}
    others = [f"{n} for {label}" for label, n in counts.items() if n != usual]
    every = [r for results in cells.values() for r in results]
    head = (f"{usual} seeds each ({seed_list(seeds.pop())})" if len(seeds) == 1 and usual > 1
            else f"{usual} run{'s' * (usual != 1)} each")
    return head + (f", except {' and '.join(others)}" if others else "") + (f"; {data_of(every)}" if every else "")


def _study_caption(cells: dict) -> str:
    return (f"Runs as grey dots, mean with 95% interval over seeds, n at the right; hollow diamond: the original "
            f"report's single run, under its own recipe; {_n_per_cell(cells)}.")


def _design_cells(cells: dict, model: str, epochs: int | None = None) -> dict:
    """The cells of ``model``'s optimizer x dropout design at ``epochs`` (None: the matched recipe's)."""
    found = study.design(cells, model, *study.matched_recipe()) if epochs is None else study.design(cells, model, epochs)
    return {cell: cells[cell] for cell in found.values()}


def _interaction_caption(cells: dict) -> str:
    return (f"Test accuracy, {study.matched_recipe()[0]} epochs, SGD and Adam across; without dropout (solid) and "
            f"with Dropout 0.5 (dashed); means with 95% intervals over seeds, runs as dots; "
            f"{_n_per_cell(_design_cells(cells, 'alexnet'))}. Parallel lines: no interaction.")


def _setting(optimizer: str, dropout: float) -> str:
    return f"{study.OPTIMIZER_NAMES[optimizer]}, " + (f"Dropout {dropout:g}" if dropout else "no dropout")


def _depth_rows(cells: dict) -> dict:
    """Fig. 22's rows: each optimizer x dropout setting -> the baseline CNN's ("a") and AlexNet's ("b") test
    accuracies at the matched recipe and AlexNet minus the baseline CNN (``questions.depth_effects``: the interval
    the verdict reads). The study's statistics are loaded here, when Fig. 22 is drawn, so that a notebook that
    draws only its own run's figures does not load them."""
    from .questions import depth_effects
    effects = depth_effects(cells)
    if not effects or not any(_design_cells(cells, "baseline").values()):
        raise MissingRuns("this figure needs the baseline network's cells trained with the AlexNet recipe "
                         "(profiles/study.yaml); run python -m cifar_utils.sweep first.")
    small, large = (study.design(cells, model, *study.matched_recipe()) for model in ("baseline", "alexnet"))
    return {_setting(*factors): {"a": [accuracy(r) for r in cells[small[factors]]],
                                 "b": [accuracy(r) for r in cells[large[factors]]],
                                 "difference": None if isinstance(effect, str) else effect}
            for factors, effect in effects.items()}


def _depth_caption(cells: dict) -> str:
    design = {**_design_cells(cells, "baseline"), **_design_cells(cells, "alexnet")}
    return (f"{study.matched_recipe()[0]} epochs, per optimizer and dropout setting; {_n_per_cell(design)}. Left: "
            f"runs as dots, means with 95% intervals over seeds. Right: AlexNet minus baseline, 95% Welch interval. "
            f"The networks differ in width as well as depth.")


def _budget_groups(cells: dict) -> dict[str, list]:
    """Fig. 23's runs: AlexNet + Adam without and with Dropout 0.5 at the study's longest budget."""
    budgets, matched = study.budgets(cells), study.matched_recipe()[0]
    if not budgets or budgets[-1] <= matched or not all(
            cells[c] for c in _design_cells(cells, "alexnet", budgets[-1])):
        raise MissingRuns(f"this figure needs stored runs of AlexNet + Adam with and without Dropout 0.5 at a longer "
                         f"budget than {matched} epochs (profiles/study.yaml); run python -m "
                         f"cifar_utils.sweep first.")
    design = study.design(cells, "alexnet", budgets[-1])
    return {("no dropout" if p == 0 else f"Dropout {p:g}"): cells[design["adam", p]] for p in (0.0, 0.5)}


def _budget_caption(cells: dict) -> str:
    groups = _budget_groups(cells)
    gaps = []
    for label, results in groups.items():
        probe, test = (plots.history_values(results, f"{key}_loss") for key in ("train_eval", "test"))
        if probe is not None:
            gaps.append(f"{test[:, -1].mean() - probe[:, -1].mean():.2f}")
    return (f"Left: no dropout; right: Dropout 0.5; {runs_text(groups)}. Dashed: test loss; solid: evaluation-mode "
            f"loss of 5,000 training images; thin: runs; thick: mean. The space between is the generalisation gap"
            + (f": {' and '.join(gaps)} at the last epoch" if gaps else "") + ".")


# ---------------------------------------------------------------------------------------------
# The registry

def _experiment_figures(first: int, experiment: str) -> list[Figure]:
    """The four figures of one experiment, numbered from ``first``: per-class accuracy, loss curves and
    confusion matrix of its seeds, the first ten of one run."""
    title = EXPERIMENTS[experiment].title
    return [
        Figure(first, f"{experiment}_per_class_accuracy", f"Per-class test accuracy: {title}",
               plots.per_class_accuracy,
               f"Bar chart of {title}'s test accuracy on each of the ten classes: each bar the mean over the "
               f"stored seeds with a 95% interval, each seed a dot, and a dashed line at the overall accuracy.",
               _per_class_caption),
        Figure(first + 1, f"{experiment}_loss_curves", f"Loss and accuracy per epoch: {title}",
               lambda results, t: plots.loss_curves({title: results}, t),
               f"Two line charts of {title}'s training over its stored seeds: cross-entropy loss and accuracy "
               f"after each epoch on the training set (solid), the evaluation-mode training probe where stored "
               f"(dotted) and the test set (dashed), each a mean with a band from lowest to highest seed.",
               _curves_caption),
        Figure(first + 2, f"{experiment}_confusion_matrix", f"Confusion matrix: {title}", plots.confusion_matrix,
               f"Ten by ten grid, true class by predicted class, for {title}'s stored seeds pooled: each cell the "
               f"percentage of the true class's test images predicted as that class, with its count; darker is more.",
               _confusion_caption),
        Figure(first + 3, f"{experiment}_first_ten", f"First ten test images: {title}", plots.first_ten,
               f"The first ten test images, each titled with its true class, marked right or wrong, with "
               f"the three most probable classes and their probabilities from one run of {title}.",
               _first_ten_caption),
    ]


def _result_and_images(inputs) -> tuple[dict, object]:
    """Fig. 16's inputs: (result, images); a result alone has no images (a clear ValueError when drawn)."""
    return (inputs, None) if isinstance(inputs, dict) else tuple(inputs)


_BASELINE = EXPERIMENTS["baseline"].title
_SGD, _ADAM = EXPERIMENTS["alexnet_sgd"].title, EXPERIMENTS["alexnet_adam_dropout"].title
FIGURES: dict[int, Figure] = {f.number: f for f in [
    *_experiment_figures(1, "baseline"),
    Figure(5, "baseline_profiles_accuracy_over_time", f"Test accuracy over training time: {_BASELINE}",
           lambda results, t: plots.accuracy_over_time(results, original("baseline")["accuracy"], t),
           "Line chart of test accuracy against training time in minutes (log scale), one line per "
           "recipe, with a dashed line at the original report's accuracy.",
           _over_time_caption),
    Figure(6, "baseline_faithful_loss_curves",
           f"Loss and accuracy per epoch: {_BASELINE}, the original report's recipe",
           lambda result, t: plots.loss_curves({"faithful": [result]}, t),
           f"Two line charts of one run of {_BASELINE} trained with the original report's recipe: "
           f"cross-entropy loss and accuracy after each epoch on the training (solid) and test (dashed) sets.",
           lambda result: _curves_caption([result])),
    Figure(7, "baseline_faithful_first_ten", f"First ten test images: {_BASELINE}, the original report's recipe",
           plots.first_ten,
           f"The first ten test images, each titled with its true class, marked right or wrong, with the three "
           f"most probable classes of {_BASELINE} trained with the original report's recipe.",
           _first_ten_caption),
    *_experiment_figures(8, "alexnet_sgd"),
    *_experiment_figures(12, "alexnet_adam_dropout"),
    Figure(16, "alexnet_adam_dropout_confident_mistakes", f"Most confident mistakes: {_ADAM}",
           lambda inputs, t: plots.most_confident_mistakes(*_result_and_images(inputs), t),
           f"The ten test images that one run of {_ADAM} got wrong with the highest probability, each titled "
           f"with its true class, with the predicted class and its probability below.",
           _mistakes_caption),
    Figure(17, "sgd_vs_adam_loss_curves", "Loss and accuracy: SGD vs Adam + Dropout", plots.loss_curves,
           f"Two line charts, loss and accuracy per epoch, of {_SGD} and {_ADAM}, each the mean over its seeds "
           f"with a band from lowest to highest seed, on the training (solid) and test (dashed) sets.",
           _comparison_curves_caption),
    Figure(18, "sgd_vs_adam_per_class_accuracy", f"Per-class test accuracy: {_SGD} vs {_ADAM}",
           plots.per_class_comparison,
           f"Grouped bar chart: for each of the ten classes, the mean test accuracy over the seeds of {_SGD} "
           f"and of {_ADAM} side by side, each with a 95% interval and each seed as a dot.",
           _comparison_per_class_caption),
    Figure(19, "sgd_vs_adam_confusion_difference", f"Confusion difference: {_ADAM} minus {_SGD}",
           plots.confusion_difference,
           f"Ten by ten grid, true class by predicted class: {_ADAM}'s mean percentage over its seeds of each "
           f"true class's test images in that cell minus {_SGD}'s, in percentage points; purple is more, "
           f"orange less, white no change.",
           _difference_caption),
    Figure(20, "study_accuracy_by_configuration", "Test accuracy of each configuration",
           lambda cells, t: plots.accuracy_by_configuration(
               {c.label: [accuracy(r) for r in results] for c, results in cells.items()},
               {c.label: original(c.recipe)["accuracy"] if c.own_recipe else None for c in cells}, t),
           "One row per configuration of the study: each seed's test accuracy as a dot, their mean with a "
           "95% interval where two or more seeds are stored, and the original report's single number as a "
           "hollow diamond where it has one.",
           _study_caption),
    Figure(21, "study_optimizer_dropout_interaction", "AlexNet: optimizer x dropout",
           lambda cells, t: plots.interaction_plot(
               {factors: [accuracy(r) for r in cells[cell]]
                for factors, cell in study.design(cells, "alexnet", *study.matched_recipe()).items()}, t),
           "Interaction plot: mean test accuracy of AlexNet with SGD and with Adam on the horizontal axis, "
           "one line without dropout and one with Dropout 0.5, each mean with a 95% interval and the seeds "
           "as dots; parallel lines mean no interaction.",
           _interaction_caption),
    Figure(22, "study_depth_matched_recipe", "AlexNet vs the baseline CNN, same recipe",
           lambda cells, t: plots.paired_groups(_depth_rows(cells), (study.NETWORKS["baseline"], study.NETWORKS["alexnet"]), t),
           "Two panels, one row per optimizer and dropout setting: left, the test accuracy of the baseline CNN "
           "and of AlexNet trained with the same recipe, seeds as dots, means with 95% intervals; right, "
           "AlexNet minus the baseline CNN with its 95% interval and a line at zero.",
           _depth_caption),
    Figure(23, "study_dropout_longest_budget", "Dropout at the longest budget: losses",
           lambda cells, t: plots.loss_by_seed(_budget_groups(cells), t),
           "Two line charts, AlexNet + Adam trained at the study's longest budget without and with Dropout 0.5: "
           "the test loss and the evaluation-mode training loss after each epoch, each seed as a thin line and "
           "their mean as a thick one.",
           _budget_caption),
]}
BY_NAME = {f.name: f for f in FIGURES.values()}
_FILENAME = re.compile(r"fig\d\d_(.+)\.png")


def experiment_figure(experiment: str, kind: str) -> Figure:
    """The figure of ``kind`` (one of EXPERIMENT_KINDS) of an experiment."""
    if kind not in EXPERIMENT_KINDS:
        raise ValueError(f"figure kind {kind!r} is not known; use one of {', '.join(EXPERIMENT_KINDS)}.")
    return BY_NAME[f"{experiment}_{kind}"]


def render(figure: Figure, inputs, folder: str | os.PathLike, source: str | None = None) -> plt.Figure:
    """Draw ``figure`` from ``inputs``, save it into ``folder`` under its file name, close it, return it; the
    same figure saved there under another number (before a renumbering) is removed. ``source`` (e.g. the
    result's key) is written into the PNG's text, where ``drawn_from`` reads it."""
    fig = figure.draw(inputs, figure.title)
    plots.save_figure(fig, Path(folder) / figure.filename, source=source)
    plt.close(fig)
    for old in Path(folder).glob(f"fig[0-9][0-9]_{figure.name}.png"):
        if old.name != figure.filename:
            old.unlink()
    return fig


def unregistered(folder: str | os.PathLike) -> list[Path]:
    """The figure files (fig<NN>_<name>.png) in ``folder`` that are no registered figure's file: left from an
    earlier numbering or a figure since removed."""
    registered = {f.filename for f in FIGURES.values()}
    return sorted(p for p in Path(folder).glob("fig*.png") if _FILENAME.fullmatch(p.name) and p.name not in registered)


@dataclass(frozen=True)
class CaptionedFigure:
    """A rendered figure as a notebook displays it: the saved PNG with its alt text, then its caption."""
    figure: Figure
    fig: plt.Figure | None  # the closed matplotlib figure (None: an earlier saved PNG is shown)
    path: Path              # the saved PNG
    caption: str            # Markdown: ``Figure.caption`` of the inputs it was drawn from

    def _ipython_display_(self) -> None:
        from IPython.display import Image, Markdown, display
        display(Image(data=self.path.read_bytes(), format="png", retina=True, alt=self.figure.alt))
        display(Markdown(self.caption))


def render_captioned(figure: Figure, inputs, folder: str | os.PathLike, source: str | None = None) -> CaptionedFigure:
    """``render``, returned as a ``CaptionedFigure`` for a notebook cell to display."""
    fig = render(figure, inputs, folder, source)
    return CaptionedFigure(figure, fig, Path(folder) / figure.filename, figure.caption(inputs))


def drawn_from(path: str | os.PathLike) -> str | None:
    """The ``source`` a saved figure was rendered with (None: no such file, or none recorded)."""
    from PIL import Image
    try:
        with Image.open(path) as image:
            return image.text.get("Source")
    except OSError:
        return None
