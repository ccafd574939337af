"""What a report notebook calls: its experiment as a reader sees it, and the figures beyond one result's four.

    exp = Experiment.from_parameters("alexnet_sgd", globals())   # checks every parameter first
    result = exp.run()                                          # stored result, or train + store
    exp.seed_runs()                                             # its stored runs at every seed
    exp.figure("per_class_accuracy")                             # draw + save figures/fig08_...png, captioned

Loading, training and storing are ``store.ExperimentRun``'s (headless: what a sweep's training child
uses); this module adds what a notebook shows: the figures, and whether the run is the report's recipe.
A result beside the original report's is in ``tables``, the figure registry (numbers, captions) in ``figures``.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from . import figures, plots, study
from .config import KEY_SINCE, ConfigError, ExperimentConfig
from .data import DataError, load_cifar10
from .recipes import experiment_info, known_profiles, profile_config, repo_path
from .recipes import repo_relative
from .results import ResultError, load_result
from .store import ExperimentRun


class Experiment(ExperimentRun):
    """One experiment of the report as its notebook shows it: an ``ExperimentRun`` that also draws its result's
    figures and says when it is not the report's recipe."""

    @classmethod
    def from_parameters(cls, name: str, params: dict) -> "Experiment":
        """As ``ExperimentRun.from_parameters``; a run that will train checks its data here too, so that a
        notebook without CIFAR-10 stops in its first cell, not after the cells before training. So does a
        ``compare_with`` (notebook 03's) that names no profile with a recipe for 02_alexnet_sgd."""
        if "compare_with" in params:
            check_compare_with(params["compare_with"])
        exp = super().from_parameters(name, params)
        exp.check_data()
        return exp

    def run(self, log=print, progress: bool = True) -> dict:
        """``ExperimentRun.run``, first saying so when this is not the report's recipe (a variant or another
        profile's run): which of the notebook's figures are this run's and which of its parts are the study's."""
        if self.key != profile_config("report", self.name).key():
            log(f"This run is not the report's recipe: the experiment's four figures (per-class accuracy, loss "
                f"curves, confusion matrix, first ten images) are drawn from this configuration's runs into "
                f"{repo_relative(self.figures_dir)}/; the tables, sentences and study figures below read the "
                f"study's stored runs, unchanged.")
        return super().run(log, progress)

    def seed_runs(self) -> list[dict]:
        """The stored results of this configuration at every seed stored in ``results_dir`` (the same
        parameters apart from the seed), in seed order, the result ``run`` trained or loaded among them: the
        runs the seed figures draw. A reader who changes a parameter gets just the runs of that change."""
        found = {}
        for path in sorted(self.results_dir.glob(f"{self.name}-*.json")):
            try:
                config = ExperimentConfig(**{**KEY_SINCE, **json.loads(path.read_text())["config"]})
            except (OSError, ValueError, TypeError, KeyError):  # not a result of this schema: load_result says why
                config = None
            if config is None or replace(config, seed=self.config.seed).key() != self.key:
                continue
            try:
                result = load_result(path, key=config.key())
            except ResultError as exc:
                study.warn(f"{exc} It is left out of the figures over the seeds.")
                continue
            found[config.seed] = result
        if self.result is not None:
            found[self.config.seed] = self.result
        return [found[seed] for seed in sorted(found)]

    def figure(self, kind: str) -> figures.CaptionedFigure:
        """Draw one of figures.EXPERIMENT_KINDS, save it under its registered name and return it captioned:
        per-class accuracy, loss curves and confusion matrix from every stored seed (``seed_runs``), the first
        ten from the result ``run`` returned."""
        if self.result is None:
            raise RuntimeError("no result yet; call run() first.")
        figure = figures.experiment_figure(self.name, kind)
        inputs = self.seed_runs() if kind in figures.SEED_KINDS else self.result
        return figures.render_captioned(figure, inputs, self.figures_dir)


def check_compare_with(profile) -> None:
    """``profile`` names a profile whose 02_alexnet_sgd recipe makes a configuration (what notebook 03 compares its
    run with, after training): ConfigError naming the value and the profiles there are otherwise."""
    if not isinstance(profile, str) or profile not in known_profiles():
        raise ConfigError(f"compare_with = {profile!r} is not a profile; use one of "
                          f"{', '.join(map(repr, known_profiles()))}.")
    profile_config(profile, "alexnet_sgd")


def stored_profiles(name: str, profiles=("report", "faithful")) -> dict[str, dict | None]:
    """An experiment's stored results under each profile (None where it has not been run)."""
    return {profile: Experiment.stored(name, profile, required=False).result for profile in profiles}


def profiles_figure(name: str, folder: str | Path):
    """Test accuracy over training time of the baseline's stored report and faithful results;
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
    """The faithful-profile run's loss curves and first ten (the baseline's only): [] unless
    that run is stored."""
    result = Experiment.stored(name, "faithful", required=False).result
    numbered = [f for f in (figures.BY_NAME.get(f"{name}_faithful_{kind}") for kind in ("loss_curves", "first_ten")) if f]
    return [figures.render_captioned(f, result, folder) for f in numbered] if result else []


def mistakes_figure(result: dict, data_dir: str | Path | None, folder: str | Path):
    """The most confident mistakes of ``result`` (a schema 2 result of its experiment): drawn from
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
            return figures.CaptionedFigure(figure, None, folder / figure.filename, figure.caption(result))
        return Markdown(f"*Fig. {figure.number} needs the CIFAR-10 test images, which stored results do not keep: "
                        f"set `data_dir` (or `CIFAR10_ROOT`) to a folder with CIFAR-10, or `download = True`.*")
    config = result["config"]
    if config["evaluate_on"] == "validation":
        data = data.validation_split()
    data = data.subset(config["train_subset"], config["test_subset"], seed=config["seed"])
    return figures.render_captioned(figure, (result, data.x_test), folder, source=result["key"])


def study_figures(cells: dict, folder: str | Path) -> list:
    """Every configuration's seeds, mean and 95% interval beside the original report, and the AlexNet
    optimizer x dropout interaction, from ``study_results.cell_results()``."""
    return [figures.render_captioned(figures.BY_NAME[name], cells, folder)
            for name in ("study_accuracy_by_configuration", "study_optimizer_dropout_interaction")]


def depth_figure(cells: dict, folder: str | Path):
    """AlexNet against the baseline CNN at the matched recipe, from ``study_results.cell_results()``;
    None while none of the baseline network's cells is stored."""
    try:
        return figures.render_captioned(figures.BY_NAME["study_depth_matched_recipe"], cells, folder)
    except figures.MissingRuns:
        return None


def dropout_budget_figure(cells: dict, folder: str | Path):
    """AlexNet + Adam's losses with and without Dropout at the longest budget, every seed, from
    ``study_results.cell_results()``; None while those runs are not stored."""
    try:
        return figures.render_captioned(figures.BY_NAME["study_dropout_longest_budget"], cells, folder)
    except figures.MissingRuns:
        return None


def comparison_figures(a: list[dict], b: list[dict], folder: str | Path) -> list:
    """Both recipes' loss curves, their per-class accuracy side by side and b's mean confusion matrix minus
    a's, each recipe over its runs (``Experiment.seed_runs``)."""
    a, b = plots.runs_of(a, "a"), plots.runs_of(b, "b")
    runs = {experiment_info(r[0]["experiment"]).title: r for r in (a, b)}
    if len(runs) != 2:
        raise ValueError(f"a and b are both runs of {a[0]['experiment']}; pass the runs of two experiments.")
    return [figures.render_captioned(figures.BY_NAME[f"sgd_vs_adam_{kind}"], runs, folder)
            for kind in ("loss_curves", "per_class_accuracy", "confusion_difference")]
