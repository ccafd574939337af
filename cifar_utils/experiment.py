"""What a report notebook calls: its validated configuration, the stored result or a training run, figures.

    exp = Experiment.from_parameters("alexnet_sgd", globals())   # checks every parameter first
    result = exp.run()                                          # stored result, or train + store
    exp.figure("confusion_matrix")                               # draw + save figures/fig07_...png

Relative paths (data_dir, results_dir, figures_dir) are taken from the repository root, so a
notebook behaves the same whether its kernel starts in notebooks/ or in the root. Tables and prose
about a result are in ``tables``, the figure registry in ``figures``.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import torch

from . import figures, hardware
from .config import ConfigError, ExperimentConfig
from .data import DataError, load_cifar10
from .io import ensure_writable_dir, locked
from .models import build_model, count_parameters
from .recipes import REPO_ROOT, experiment_info, output_dirs, profile_config, repo_path
from .results import ResultError, load_result, make_result, result_path, save_result
from .tables import data_label
from .train import train

RUN_OPTIONS = ("data_dir", "download", "retrain", "results_dir", "figures_dir")
# A checkpoint after an epoch once this long has passed since the last: a kill loses at most about this
# much work, and fast runs (a GPU's seconds-long epochs) do not spend their time writing checkpoints.
CHECKPOINT_EVERY_S = 30


def shown(path: Path) -> str:
    """``path`` relative to the repository root where it is inside it (what messages and tables show)."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


class Experiment:
    """One experiment of the report: its configuration, where its result and figures go, and the result."""

    def __init__(self, name: str, config: ExperimentConfig, *, data_dir: str = "", download: bool = False,
                 retrain: bool = False, results_dir: str = "auto", figures_dir: str = "auto"):
        self.info = experiment_info(name)
        for flag, value in (("download", download), ("retrain", retrain)):
            if not isinstance(value, bool):
                raise ConfigError(f"{flag} = {value!r} is not a boolean; use True or False.")
        for label, value in (("data_dir", data_dir), ("results_dir", results_dir), ("figures_dir", figures_dir)):
            if not isinstance(value, str):
                raise ConfigError(f"{label} = {value!r} is not a path string; pass a folder such as 'results'.")
        self.name, self.config, self.key = name, config, config.key()
        self.data_dir = repo_path(data_dir) if data_dir else None
        self.download, self.retrain = download, retrain
        self.results_dir, self.figures_dir = output_dirs(name, config, results_dir, figures_dir)
        self.path = result_path(self.results_dir, name, self.key)
        self.checkpoint = REPO_ROOT / "runs" / f"{name}-{self.key}" / "checkpoint.pt"
        self.result: dict | None = None

    @classmethod
    def from_parameters(cls, name: str, params: dict) -> "Experiment":
        """Build from a notebook's globals: every ExperimentConfig field plus the run options."""
        return cls(name, ExperimentConfig.from_parameters(params), **{k: params[k] for k in RUN_OPTIONS if k in params})

    @classmethod
    def stored(cls, name: str, profile: str, results_dir: str = "auto", required: bool = True) -> "Experiment":
        """The experiment trained with a profile's parameters, its stored result loaded (never trains).

        Without a stored result: ResultError saying how to make one, or, with required=False, the
        experiment with ``result`` None."""
        exp = cls(name, profile_config(profile, name), results_dir=results_dir)
        exp.result = load_result(exp.path)
        if exp.result is None and required:
            raise ResultError(f"there is no stored result {shown(exp.path)} for {name} with the {profile!r} "
                              f"profile; run python -m cifar_utils.report --profile {profile} --only "
                              f"{exp.info.notebook} first.")
        return exp

    def describe(self) -> pd.DataFrame:
        """What follows from the parameters (they themselves are in the parameters cell): the network's
        size, the result's key and file, the figures' folder."""
        model = build_model(self.config.model, self.config.dropout)
        rows = {"trainable parameters": f"{count_parameters(model):,}", "results key": self.key,
                "result file": shown(self.path), "figures folder": shown(self.figures_dir)}
        return pd.DataFrame({"value": list(rows.values())}, index=list(rows))

    def model_summary(self) -> str:
        """The network as PyTorch prints it, its trainable parameters and the share in fully connected layers."""
        model = build_model(self.config.model, self.config.dropout)
        total = count_parameters(model)
        dense = sum(count_parameters(m) for m in model.modules() if isinstance(m, torch.nn.Linear))
        return (f"{model}\ntrainable parameters: {total:,}, of which {dense:,} ({100 * dense / total:.1f}%) "
                f"in the fully connected layers")

    def run(self, log=print, progress: bool = True) -> dict:
        """Load the stored result for this configuration, or train (and store) when there is none.

        Training holds a lock per configuration (``runs/<experiment>-<key>.lock``): a second run of the
        same parameters waits, then loads the result the first one stored."""
        # A device named explicitly must exist even when the stored result is only loaded ("auto" always
        # resolves, so a stored GPU result still draws on a CPU machine); precision matters only for training.
        device = hardware.resolve_device(self.config.device)
        if not self.retrain and self._load(log):
            return self.result
        dtype = hardware.autocast_dtype(self.config.precision, device)
        ensure_writable_dir(self.results_dir)
        ensure_writable_dir(self.figures_dir)
        lock = self.checkpoint.parent.with_suffix(".lock")
        with locked(lock, on_wait=lambda: log(f"Waiting for another run of these parameters to finish ({shown(lock)}).")):
            if not self.retrain and self._load(lambda message: None):  # the run we waited for stored it
                log(f"Loaded stored result {shown(self.path)}, just stored by the other run.")
                return self.result
            if self.retrain:
                shutil.rmtree(self.checkpoint.parent, ignore_errors=True)  # retrain always starts clean
            save_result(self.path, self._train(device, dtype, log, progress))
            self.result = load_result(self.path)  # exactly what later runs load (JSON key order included)
            shutil.rmtree(self.checkpoint.parent, ignore_errors=True)
        log(f"Saved {shown(self.path)}.")
        return self.result

    def _load(self, log) -> bool:
        """Load the stored result into ``self.result``; False when there is none or it is unusable (warned)."""
        try:
            self.result = load_result(self.path, key=self.key)
        except ResultError as exc:
            log(f"Warning: {exc} Training again now.")
            return False
        if self.result is None:
            return False
        env = self.result["environment"]
        log(f"Loaded stored result {shown(self.path)} (trained on {env['device']}, "
            f"{self.result['train_seconds']:.0f} s; data: {data_label(env)}).")
        return True

    def _train(self, device, dtype, log, progress) -> dict:
        started = time.perf_counter()
        data = load_cifar10(self.data_dir, download=self.download)
        if self.config.evaluate_on == "validation":
            data = data.validation_split()
        self.config.check_dataset(len(data.y_train), len(data.y_test))
        data = data.subset(self.config.train_subset, self.config.test_subset, seed=self.config.seed)
        trained = train(self.config, data, device=device, dtype=dtype, checkpoint_path=self.checkpoint,
                        checkpoint_every_s=CHECKPOINT_EVERY_S, progress=progress, log=log)
        return make_result(self.name, self.config, trained.history, trained.test_logits.softmax(dim=1), data,
                           hardware.environment(device, dtype), time.perf_counter() - started)

    def figure(self, kind: str):
        """Draw one of figures.EXPERIMENT_KINDS from the result, save it under its registered name, return it."""
        if self.result is None:
            raise RuntimeError("no result yet; call run() first.")
        return figures.show(figures.experiment_figure(self.name, kind), self.result, self.figures_dir)


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
    return figures.show(figure, labelled, folder)


def faithful_figures(name: str, folder: str | Path) -> list:
    """The faithful-profile run's loss curves and first ten (Fig. 20-21, the baseline's only): [] unless
    that run is stored."""
    result = Experiment.stored(name, "faithful", required=False).result
    numbered = [f for f in (figures.BY_NAME.get(f"{name}_faithful_{kind}") for kind in ("loss_curves", "first_ten")) if f]
    return [figures.show(f, result, folder) for f in numbered] if result else []


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
            return figures.Shown(figure, None, folder / figure.filename)
        return Markdown(f"*Fig. {figure.number} needs the CIFAR-10 test images, which stored results do not keep: "
                        f"set `data_dir` (or `CIFAR10_ROOT`) to a folder with CIFAR-10, or `download = True`.*")
    config = result["config"]
    if config["evaluate_on"] == "validation":
        data = data.validation_split()
    data = data.subset(config["train_subset"], config["test_subset"], seed=config["seed"])
    return figures.show(figure, (result, data.x_test), folder, source=result["key"])


def study_figures(cells: dict, folder: str | Path) -> list:
    """Fig. 18 (every configuration's seeds, mean and 95% interval beside the original report) and Fig. 19
    (the AlexNet optimizer x dropout interaction) from ``conclusions.cell_results()``."""
    from . import conclusions
    by_label = {cell.label: values for cell, values in conclusions.accuracies(cells).items()}
    theirs = {cell.label: conclusions.original_accuracy(cell) for cell in cells}
    return [figures.show(figures.FIGURES[18], (by_label, theirs), folder),
            figures.show(figures.FIGURES[19], conclusions.design_accuracies(cells), folder)]


def comparison_figures(a: dict, b: dict, folder: str | Path) -> list:
    """Fig. 13 (both results' loss curves on one plot), Fig. 14 (per-class accuracy side by side) and
    Fig. 16 (b's confusion matrix minus a's)."""
    results = {experiment_info(a["experiment"]).title: a, experiment_info(b["experiment"]).title: b}
    return [figures.show(figures.FIGURES[n], results, folder) for n in (13, 14, 16)]
