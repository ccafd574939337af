"""The sweep's training children (``sweep``): the child's side, one run trained in its own process from a
spec (``run_one``), and the sweep's, one child launched with its log and watched (``launch``), ended
by the sweep's stop (``STOP``), or submitted as a Slurm job (``submit_slurm``).

A child holds its log locked while it runs, so a second sweep that reaches the same run waits for it
instead of writing there; it ignores Ctrl-C (the sweep ends its children) and ends itself when its sweep is
gone (kill -9).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import study
from .config import ExperimentConfig
from .recipes import REPO_ROOT
from .results import ResultError, load_result, result_path
from .train import NonFiniteLossError


def run_one(spec: dict) -> dict:
    """Train one run in this process (the child's side): ``spec`` holds experiment, config, results_dir,
    data_dir; returns the stored result."""
    from .store import ExperimentRun
    config = ExperimentConfig(**spec["config"])
    try:
        stored = load_result(result_path(spec["results_dir"], spec["experiment"], config.key()), key=config.key())
    except ResultError:
        stored = None  # unusable: ExperimentRun.run warns and trains again
    # A schema 1 result is fine for a notebook but kept no predictions, which the study needs: replace it.
    exp = ExperimentRun(spec["experiment"], config, data_dir=spec["data_dir"], results_dir=spec["results_dir"],
                        retrain=stored is not None and "predictions" not in stored)
    diverged_path = result_path(spec["results_dir"], spec["experiment"], config.key()).with_suffix(".diverged")
    try:
        result = exp.run(log=lambda message: print(message, flush=True), progress=False)
    except NonFiniteLossError as exc:  # an outcome of this recipe, not a crash: recorded, and not retried
        study.record_divergence(diverged_path, spec["experiment"], config, str(exc))
        raise
    diverged_path.unlink(missing_ok=True)  # a stale record of an earlier try is void now
    return result


def spec_of(run: study.Run, data_dir: str) -> dict:
    return {"experiment": run.cell.recipe, "config": run.config.to_dict(), "results_dir": str(run.results_dir),
            "data_dir": data_dir}


class Stop:
    """A sweep's stop (``STOP``): SIGINT or SIGTERM while it ``handles`` them ends the children training now
    (SIGTERM) and starts none after it."""

    def __init__(self):
        self.signum: int | None = None
        self.children: set[subprocess.Popen] = set()

    def __call__(self, signum, frame) -> None:
        self.signum = signum
        for child in list(self.children):
            child.terminate()

    @contextlib.contextmanager
    def handles(self):
        self.signum = None
        previous = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            self.signum = None
            for s, handler in previous.items():
                signal.signal(s, handler)


STOP = Stop()


def follow_the_sweep() -> None:
    """In a child: Ctrl-C is the sweep's to handle (it ends its children), and the child ends when the sweep
    is gone (killed with SIGKILL, say) instead of training on, unseen."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sweep = os.getppid()

    def watch():
        while os.getppid() == sweep:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, daemon=True).start()


def launch(run: study.Run, data_dir: str, threads: int, log_dir: Path) -> tuple[str, str]:
    """Run one training in a child process with ``threads`` threads; its output goes to a log file that it
    holds locked (another sweep at that run waits for it: ``wait_for_other_sweep``); ``STOP`` ends it.
    Returns the outcome ("ok", "diverged" or "failed") and a detail for the progress line."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{run.cell.experiment}-{run.config.key()}.log"
    with open(log_path, "a") as log:
        if not locked_now(log):
            if not wait_for_other_sweep(run, log, log_path):
                return "failed", "stopped while waiting for another sweep"
            if run.path.exists() or study.divergence(run) is not None:  # the other sweep's run ended so
                return outcome_of(run, run.path.exists(), "")
        log.truncate(0)
        command = [sys.executable, "-m", "cifar_utils.sweep", "--one", json.dumps(spec_of(run, data_dir))]
        child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        STOP.children.add(child)
        try:
            if STOP.signum:  # it came while the child started
                child.terminate()
            code = child.wait()
        finally:
            STOP.children.discard(child)
    return outcome_of(run, code == 0, f"exit {code}; see {log_path}")


def locked_now(log) -> bool:
    try:
        fcntl.flock(log, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def wait_for_other_sweep(run: study.Run, log, log_path: Path) -> bool:
    """Another sweep's child is training ``run`` (it holds the log): say so, and wait until it ends (True: the
    log is locked now) or this sweep is stopped (False)."""
    print(f"{run.describe()}: another sweep is training it (log {log_path}); waiting for it.", flush=True)
    while not STOP.signum:
        if locked_now(log):
            return True
        time.sleep(0.5)
    return False


def outcome_of(run: study.Run, ok: bool, failure: str) -> tuple[str, str]:
    """A finished child's outcome: "ok"; "diverged" when it left a divergence record; else "failed"."""
    if ok:
        return "ok", ""
    error = study.divergence(run)
    return ("diverged", error) if error is not None else ("failed", failure)


def submit_slurm(runs: list[study.Run], data_dir: str, options: dict, folder: Path):
    """One submitit job per run (Slurm where srun exists, else submitit's local executor)."""
    import submitit
    executor = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=options.pop("cluster", None))
    executor.update_parameters(**options)
    return [(run, executor.submit(run_one, spec_of(run, data_dir))) for run in runs]
