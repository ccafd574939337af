"""One experiment under one configuration: its stored result, or a training run that stores it. Headless.

    run = ExperimentRun("baseline", config, data_dir="../shared/cifar10")  # checks every run option first
    result = run.run()                                                   # stored result, or train + store

This is the whole path from parameters to a stored result, and nothing else: it never draws or tabulates
(importing it loads neither pandas nor matplotlib), so a sweep's training child imports only this. The
notebooks' ``experiment.Experiment`` adds what a reader sees (the figures).

Relative paths (data_dir, results_dir, figures_dir) are taken from the repository root, so a run behaves
the same whether it starts in notebooks/ or in the root.
"""
from __future__ import annotations

import contextlib
import shutil
import time

from . import hardware
from .config import ConfigError, ExperimentConfig
from .data import DataError, check_available, load_cifar10
from .files import check_writable_dir, locked, remove_unheld_locks
from .recipes import REPO_ROOT, experiment_info, output_dirs, profile_config, repo_path, repo_relative
from .results import NewerResult, ResultError, data_label, load_result, make_result, result_path, save_result
from .train import train

RUN_OPTIONS = ("data_dir", "download", "retrain", "results_dir", "figures_dir")
PATH_EXAMPLES = {"data_dir": "'' (CIFAR10_ROOT, else ~/.cache/cifar-report/cifar10) or a folder such as "
                             "'../shared/cifar10'",
                 "results_dir": "'auto' or a folder such as 'build/results'",
                 "figures_dir": "'auto' or a folder such as 'build/figures'"}
# A checkpoint after an epoch once this long has passed since the last: a kill loses at most about this
# much work, and fast runs (a GPU's seconds-long epochs) do not spend their time writing checkpoints.
CHECKPOINT_EVERY_S = 30


class ExperimentRun:
    """One experiment of the report under one configuration: where its result, figures and checkpoint go,
    and the result, loaded or trained (``run``)."""

    def __init__(self, name: str, config: ExperimentConfig, *, data_dir: str = "", download: bool = False,
                 retrain: bool = False, results_dir: str = "auto", figures_dir: str = "auto"):
        self.info = experiment_info(name)
        for flag, value in (("download", download), ("retrain", retrain)):
            if not isinstance(value, bool):
                raise ConfigError(f"{flag} = {value!r} is not a boolean; use True or False.")
        for label, value in (("data_dir", data_dir), ("results_dir", results_dir), ("figures_dir", figures_dir)):
            if not isinstance(value, str):
                raise ConfigError(f"{label} = {value!r} is not a path string; pass {PATH_EXAMPLES[label]}.")
        self.name, self.config, self.key = name, config, config.key()
        self.data_dir = repo_path(data_dir) if data_dir else None
        self.download, self.retrain = download, retrain
        self.results_dir, self.figures_dir = output_dirs(name, config, results_dir, figures_dir)
        self.path = result_path(self.results_dir, name, self.key)
        self.checkpoint = REPO_ROOT / "runs" / f"{name}-{self.key}" / "checkpoint.pt"
        self.result: dict | None = None
        self.damaged = False  # its stored result was there but unusable (``_load`` warned)

    @classmethod
    def from_parameters(cls, name: str, params: dict):
        """Build from a notebook's globals: every ExperimentConfig field plus the run options."""
        return cls(name, ExperimentConfig.from_parameters(params), **{k: params[k] for k in RUN_OPTIONS if k in params})

    def check_data(self) -> None:
        """A run that will train (no stored result, an unusable one, or retrain) has data: DataError naming
        data_dir and CIFAR10_ROOT otherwise (and the unusable result, with its fix), before any work (a notebook's
        first cell, the runner before its first notebook)."""
        try:
            usable = self.path.exists() and load_result(self.path, key=self.key) is not None
        except NewerResult:
            raise  # said now, before any work: upgrade to read it (never trained over)
        except ResultError:
            usable = False
        if self.retrain or not usable:
            try:
                check_available(self.data_dir, self.download)
            except DataError as exc:
                if self.retrain or not self.path.exists():
                    raise
                raise self._damaged_needs_data(exc) from None

    def _damaged_needs_data(self, exc: DataError) -> DataError:
        return DataError(f"the stored result {repo_relative(self.path)} is damaged and training it again needs "
                         f"CIFAR-10 ({exc}); restore the file, or delete it and train again with -p data_dir "
                         f"FOLDER (python -m cifar_utils.sweep -p data_dir FOLDER for a study run).")

    @classmethod
    def stored(cls, name: str, profile: str, results_dir: str = "auto", required: bool = True):
        """The experiment trained with a profile's parameters, its stored result loaded (never trains).

        Without a stored result: ResultError saying how to make one, or, with required=False, the
        experiment with ``result`` None."""
        exp = cls(name, profile_config(profile, name), results_dir=results_dir)
        exp.result = load_result(exp.path)
        if exp.result is None and required:
            raise ResultError(f"there is no stored result {repo_relative(exp.path)} for {name} with the {profile!r} "
                              f"profile; run python -m cifar_utils.report --profile {profile} --only "
                              f"{exp.info.notebook} first.")
        return exp

    def run(self, log=print, progress: bool = True) -> dict:
        """Load the stored result for this configuration, or train (and store) when there is none.

        Training holds a lock per configuration (``runs/<experiment>-<key>.lock``): a second run of the
        same parameters waits, then loads the result the first one stored. A run that fails leaves neither its
        lock nor an empty checkpoint folder (a checkpoint stays, to resume from)."""
        # A device named explicitly must exist even when the stored result is only loaded ("auto" always
        # resolves, so a stored GPU result still draws on a CPU machine); precision matters only for training.
        device = hardware.resolve_device(self.config.device)
        if not self.retrain and self._load(log):
            return self.result
        dtype = hardware.autocast_dtype(self.config.precision, device)
        check_writable_dir(self.results_dir)  # created when written: a failed run leaves no empty folder
        check_writable_dir(self.figures_dir)
        lock = self.checkpoint.parent.with_suffix(".lock")
        remove_unheld_locks(lock.parent)  # those of runs killed before (their holders gone)
        waiting = f"Waiting for another run of these parameters to finish ({repo_relative(lock)})."
        with locked(lock, on_wait=lambda: log(waiting)):  # removed when this run ends, failed or not
            if not self.retrain and self._load(lambda message: None):  # the run we waited for stored it
                log(f"Loaded stored result {repo_relative(self.path)}, just stored by the other run.")
                return self.result
            if self.retrain:
                shutil.rmtree(self.checkpoint.parent, ignore_errors=True)  # retrain always starts clean
            try:
                trained = self._train(device, dtype, log, progress)
            except BaseException as exc:
                with contextlib.suppress(OSError):  # a checkpoint folder left empty goes; one with a checkpoint stays
                    self.checkpoint.parent.rmdir()
                if not (isinstance(exc, DataError) and self.damaged):
                    raise
                raise self._damaged_needs_data(exc) from exc
            save_result(self.path, trained)
            self.result = load_result(self.path)  # exactly what later runs load (JSON key order included)
            shutil.rmtree(self.checkpoint.parent, ignore_errors=True)
        log(f"Saved {repo_relative(self.path)}.")
        return self.result

    def _load(self, log) -> bool:
        """Load the stored result into ``self.result``; False when there is none or it is unusable (warned)."""
        try:
            self.result = load_result(self.path, key=self.key)
        except NewerResult:
            raise  # training again would overwrite a result this copy cannot read: upgrade instead
        except ResultError as exc:
            log(f"Warning: {exc} Training again now.")
            self.damaged = True
            return False
        if self.result is None:
            return False
        env = self.result["environment"]
        log(f"Loaded stored result {repo_relative(self.path)} (trained on {env['device']}, "
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
                           hardware.environment(device, dtype), time.perf_counter() - started, trained.evaluations)
