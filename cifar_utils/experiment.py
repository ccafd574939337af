"""What a report notebook calls: its experiment as a reader sees it, and the figures beyond one result's four.

    exp = Experiment.from_parameters("alexnet_sgd", globals())   # checks every parameter first
    result = exp.run()                                          # stored result, or train + store
    exp.figure("confusion_matrix")                               # draw + save figures/fig07_...png

Loading, training and storing are ``store.ExperimentRun``'s (headless: what a sweep's training child
uses); this module adds what a notebook shows: what the parameters imply, the network, the figures.
Tables and prose about a result are in ``tables``, the figure registry in ``figures``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from . import estimates, figures
from .data import DataError, load_cifar10
from .models import count_parameters, shapes_only
from .recipes import experiment_info, repo_path
from .recipes import repo_relative
from .store import ExperimentRun


class Experiment(ExperimentRun):
    """One experiment of the report as its notebook shows it: an ``ExperimentRun`` that also describes its
    parameters and network and draws its result's figures."""

    @classmethod
    def from_parameters(cls, name: str, params: dict) -> "Experiment":
        """As ``ExperimentRun.from_parameters``; a run that will train checks its data here too, so that a
        notebook without CIFAR-10 stops in its first cell, not after the cells before training."""
        exp = super().from_parameters(name, params)
        exp.check_data()
        return exp

    def describe(self) -> pd.DataFrame:
        """What follows from the parameters (they themselves are in the parameters cell): the network's
        size, the result's key and file, the figures' folder."""
        model = shapes_only(self.config.model, self.config.dropout)
        rows = {"trainable parameters": f"{count_parameters(model):,}", "results key": self.key,
                "result file": repo_relative(self.path), "figures folder": repo_relative(self.figures_dir)}
        return pd.DataFrame({"value": list(rows.values())}, index=list(rows))

    def model_summary(self) -> str:
        """The network as PyTorch prints it, its trainable parameters and the share in fully connected layers."""
        model = shapes_only(self.config.model, self.config.dropout)
        total = count_parameters(model)
        dense = sum(count_parameters(m) for m in model.modules() if isinstance(m, torch.nn.Linear))
        return (f"{model}\ntrainable parameters: {total:,}, of which {dense:,} ({100 * dense / total:.1f}%) "
                f"in the fully connected layers")

    def figure(self, kind: str) -> figures.CaptionedFigure:
        """Draw one of figures.EXPERIMENT_KINDS from the result, save it under its registered name, return it."""
        if self.result is None:
            raise RuntimeError("no result yet; call run() first.")
        return figures.render_captioned(figures.experiment_figure(self.name, kind), self.result, self.figures_dir)


def stored_profiles(name: str, profiles=("report", "faithful")) -> dict[str, dict | None]:
    """An experiment's stored results under each profile (None where it has not been run)."""
    return {profile: Experiment.stored(name, profile, required=False).result for profile in profiles}


def profiles_figure(name: str, folder: str | Path):
    """Fig. 15: test accuracy over training time of the baseline's stored report and faithful results;
    None unless the experiment has such a figure and both are stored."""
    figure = figures.BY_NAME.get(f"{name}_profiles_accuracy_over_time")
    if figure is None:
        return None
    labelled = {f"{profile} (batch {r['config']['batch_size']}, {r['environment']['device']}, "
                f"{r['environment']['autocast']})": r
                for profile, r in stored_profiles(name).items() if r is not None}
    if len(labelled) < 2:
        return None
    return figures.render_captioned(figure, labelled, folder)


def faithful_figures(name: str, folder: str | Path) -> list:
    """The faithful-profile run's loss curves and first ten (Fig. 20-21, the baseline's only): [] unless
    that run is stored."""
    result = Experiment.stored(name, "faithful", required=False).result
    numbered = [f for f in (figures.BY_NAME.get(f"{name}_faithful_{kind}") for kind in ("loss_curves", "first_ten")) if f]
    return [figures.render_captioned(f, result, folder) for f in numbered] if result else []


def mistakes_figure(result: dict, data_dir: str | Path | None, folder: str | Path):
    """Fig. 17, the most confident mistakes of ``result`` (a schema 2 result of its experiment): drawn from
    the dataset's images, which results do not keep; without the dataset, the saved figure is shown when
    it was drawn from this very result (its PNG records the result's key), else a note says what is
    missing."""
    from IPython.display import Markdown
    figure = figures.BY_NAME.get(f"{result['experiment']}_confident_mistakes")
    if figure is None or "predictions" not in result:
        return None
    folder = Path(folder)
    try:
        data = load_cifar10(repo_path(str(data_dir)) if data_dir else None)
    except DataError:
        if figures.drawn_from(folder / figure.filename) == result["key"]:
            return figures.CaptionedFigure(figure, None, folder / figure.filename)
        return Markdown(f"*Fig. {figure.number} needs the CIFAR-10 test images, which stored results do not keep: "
                        f"set `data_dir` (or `CIFAR10_ROOT`) to a folder with CIFAR-10, or `download = True`.*")
    config = result["config"]
    if config["evaluate_on"] == "validation":
        data = data.validation_split()
    data = data.subset(config["train_subset"], config["test_subset"], seed=config["seed"])
    return figures.render_captioned(figure, (result, data.x_test), folder, source=result["key"])


def study_figures(cells: dict, folder: str | Path) -> list:
    """Fig. 18 (every configuration's seeds, mean and 95% interval beside the original report) and Fig. 19
    (the AlexNet optimizer x dropout interaction) from ``study_results.cell_results()``."""
    by_label = {cell.label: values for cell, values in estimates.accuracies(cells).items()}
    theirs = {cell.label: estimates.original_accuracy(cell) for cell in cells}
    return [figures.render_captioned(figures.FIGURES[18], (by_label, theirs), folder),
            figures.render_captioned(figures.FIGURES[19], estimates.design_accuracies(cells), folder)]


def comparison_figures(a: dict, b: dict, folder: str | Path) -> list:
    """Fig. 13 (both results' loss curves on one plot), Fig. 14 (per-class accuracy side by side) and
    Fig. 16 (b's confusion matrix minus a's)."""
    results = {experiment_info(a["experiment"]).title: a, experiment_info(b["experiment"]).title: b}
    return [figures.render_captioned(figures.FIGURES[n], results, folder) for n in (13, 14, 16)]
