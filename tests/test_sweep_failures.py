"""The sweep when something goes wrong (issue 19): a signal stops the sweep and its training child, nothing
launched after it; a damaged stored result or divergence record is named with its fix and skipped, never a
traceback; --set-aside checks everything before it moves anything; two sweeps never write one log."""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cifar_utils import conclusions, study, study_results, sweep
from cifar_utils.recipes import REPO_ROOT
from helpers import write_study
from test_sweep import (TINY_CELLS, args_of, diverge, no_launch, remove_child_leftovers, store_fake,  # noqa: F401
                        stored_files, three_notebooks, tiny)


def damage(path: Path, kind: str) -> None:
    """Replace the valid stored result at ``path`` by a damaged one of ``kind``."""
    text = path.read_text()
    result = json.loads(text)
    if kind == "bad base64":
        result["predictions"]["true_base64"] = "not base64!"
    elif kind == "9 classes":
        result["classes"] = result["classes"][:9]
    elif kind == "predictions of the wrong length":
        result["predictions"]["n"] += 1
    damaged = {"Infinity": text.replace('"train_seconds": ', '"train_seconds": Infinity, "was": '),
               "NaN": text.replace('"train_seconds": ', '"train_seconds": NaN, "was": '),
               "truncated": text[:len(text) // 2], "empty": "", "[]": "[]"}.get(kind, json.dumps(result))
    path.write_text(damaged)


DAMAGE = ["bad base64", "Infinity", "NaN", "9 classes", "predictions of the wrong length", "truncated", "empty", "[]"]


def warnings_of(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("Warning: ")]


# --- 4. damaged stored files -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", DAMAGE)
def test_summary_names_a_damaged_result_and_leaves_it_out(three_notebooks, kind, monkeypatch, capsys):
    no_launch(monkeypatch)
    run = next(r for r in three_notebooks.final_runs() if r.cell.name == "sgd" and r.config.seed == 1)
    text = run.path.read_text()
    run.path.unlink()
    without = conclusions.summary_text(three_notebooks)  # the summary as if the run were not stored
    run.path.write_text(text)
    damage(run.path, kind)
    assert sweep.main(["--study", str(three_notebooks.file), "--summary"]) == 0
    out, err = capsys.readouterr()
    assert out == without + "\n"
    (warning,) = warnings_of(err)
    assert str(run.path) in warning and warning.endswith("the sweep (python -m cifar_utils.sweep) trains it again.")
    assert "Traceback" not in err and [len(r) for r in study_results.cell_results(three_notebooks).values()] == [2, 1, 2]


@pytest.mark.parametrize("kind", DAMAGE)
def test_dry_run_and_adopt_with_a_damaged_tuning_result(tiny, kind, monkeypatch, capsys):
    no_launch(monkeypatch)
    for run in tiny.tuning:
        store_fake(run, 60 if run.config.lr == 0.1 else 40)
    broken = tiny.tuning[0]
    damage(broken.path, kind)
    assert sweep.main(args_of(tiny, "--dry-run")) == 0
    out, err = capsys.readouterr()
    assert f"  would run: {broken.describe()} -> {broken.path}" in out
    assert "would write the chosen learning rates once tuning is done" in out
    (warning,) = warnings_of(err)
    assert str(broken.path) in warning and "Traceback" not in err
    assert sweep.main(args_of(tiny, "--stage", "adopt")) == 2
    assert capsys.readouterr().err.startswith("error: 1 tuning runs are not stored yet")


DAMAGED_RECORDS = {"truncated": '{"config": {"lr": 0.2, "mo', "{}": "{}", "[]": "[]", "a bad config": None,
                   "another run's key": None}


@pytest.mark.parametrize("kind", DAMAGED_RECORDS)
def test_a_damaged_divergence_record_is_named_and_the_run_trained_again(tiny, kind, monkeypatch, capsys):
    no_launch(monkeypatch)
    run = tiny.final[0]
    diverge(run)
    record = json.loads(run.diverged_path.read_text())
    if kind == "a bad config":
        record["config"]["lr"] = "fast"
    elif kind == "another run's key":
        record["key"] = tiny.final[1].config.key()
    run.diverged_path.write_text(DAMAGED_RECORDS[kind] or json.dumps(record))
    assert study.divergence(run) is None and tiny.study.unstable_rates() == set()
    assert sweep.main(args_of(tiny, "--dry-run", "--stage", "final")) == 0
    assert sweep.main(args_of(tiny, "--list")) == 0
    out, err = capsys.readouterr()
    assert f"  would run: {run.describe()} -> {run.path}" in out
    assert warnings_of(err) == [f"Warning: the divergence record {run.diverged_path} is damaged; delete it, or the "
                                f"sweep (python -m cifar_utils.sweep) trains the run again."]


def test_summary_with_a_damaged_divergence_record(three_notebooks, monkeypatch, capsys):
    no_launch(monkeypatch)
    run = three_notebooks.final_runs()[0]
    run.path.unlink()
    diverge(run)
    run.diverged_path.write_text("{}")
    assert sweep.main(["--study", str(three_notebooks.file), "--summary"]) == 0
    out, err = capsys.readouterr()
    assert "diverged" not in out.split("\n\n")[1]  # the status line counts no divergence
    assert [str(run.diverged_path) in w for w in warnings_of(err)] == [True]


# --- 7. setting runs aside -------------------------------------------------------------------------------

def store_some(tiny) -> list[Path]:
    for run in tiny.tuning + tiny.final[:2]:
        store_fake(run)
    diverge(tiny.final[2])
    return stored_files(tiny.study.results_dir)


def test_set_aside_into_a_folder_holding_a_file_named_tuning_moves_nothing(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    before = store_some(tiny)
    aside = tiny.root / "aside"
    aside.mkdir()
    (aside / "tuning").write_text("a file where the tuning runs' folder would go")
    assert sweep.main(args_of(tiny, "--set-aside", str(aside))) == 2
    assert capsys.readouterr().err == (f"error: {aside / 'tuning'} is a file, not a folder; set the runs aside into "
                                       f"a new or empty folder.\n")
    assert stored_files(tiny.study.results_dir) == before and sorted(aside.iterdir()) == [aside / "tuning"]


def test_set_aside_into_a_file_moves_nothing(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    before = store_some(tiny)
    readme = tiny.root / "README.md"
    readme.write_text("# a file\n")
    assert sweep.main(args_of(tiny, "--set-aside", str(readme))) == 2
    assert capsys.readouterr().err == (f"error: {readme} is a file, not a folder; set the runs aside into a new or "
                                       f"empty folder.\n")
    assert stored_files(tiny.study.results_dir) == before and readme.read_text() == "# a file\n"


def test_set_aside_onto_another_filesystem(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tiny.root).st_dev:
        pytest.skip("no second filesystem (/dev/shm) here")
    before = store_some(tiny)
    contents = {path.relative_to(tiny.study.results_dir): path.read_bytes() for path in before}
    other = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        aside = other / "aside"
        assert sweep.main(args_of(tiny, "--set-aside", str(aside))) == 0
        assert capsys.readouterr().out == f"moved {len(before)} stored runs of the study into {aside}\n"
        assert stored_files(tiny.study.results_dir) == []
        assert {path.relative_to(aside): path.read_bytes() for path in stored_files(aside)} == contents
    finally:
        shutil.rmtree(other)


def test_set_aside_onto_a_full_disk_leaves_no_truncated_file_and_the_same_command_finishes_it(tiny, monkeypatch,
                                                                                             capsys):
    """The third file finds the disk full half-way: no part of it is left in the folder, and once space is
    freed the same command moves the rest (the folder holds only what this set-aside moved)."""
    no_launch(monkeypatch)
    before = store_some(tiny)
    contents = {path.relative_to(tiny.study.results_dir): path.read_bytes() for path in before}
    aside = tiny.root / "aside"
    real_copy, copied, full = shutil.copyfile, [], [True]

    def another_filesystem(src, dst, *args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def filling_up(src, dst, *args, **kwargs):
        copied.append(src)
        if len(copied) == 3 and full[0]:
            Path(dst).write_bytes(Path(src).read_bytes()[:10])  # what fitted
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", another_filesystem)
    monkeypatch.setattr(shutil, "copyfile", filling_up)
    assert sweep.main(args_of(tiny, "--set-aside", str(aside))) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "No space left on device" in err
    left = {path.relative_to(aside): path.read_bytes() for path in aside.rglob("*") if path.is_file()}
    assert len(left) == 2 and all(contents[name] == data for name, data in left.items())  # only whole files
    assert "run the same command again" in err
    full[0] = False  # space freed
    assert sweep.main(args_of(tiny, "--set-aside", str(aside))) == 0
    assert capsys.readouterr().out == f"moved {len(before) - 2} stored runs of the study into {aside}\n"
    assert stored_files(tiny.study.results_dir) == []
    assert {path.relative_to(aside): path.read_bytes() for path in aside.rglob("*") if path.is_file()} == contents


# --- a full disk under a training child (issue 31) -------------------------------------------------------

def test_a_full_disk_under_a_training_child_is_one_sentence(synthetic_dir, tmp_path, monkeypatch, capsys):
    from cifar_utils import store, train
    from helpers import make_config
    monkeypatch.setattr(store, "REPO_ROOT", tmp_path)  # its checkpoint folder: runs/ under tmp_path
    monkeypatch.setattr(store, "CHECKPOINT_EVERY_S", 0)
    monkeypatch.setattr(sweep, "follow_the_sweep", lambda: None)  # this test's process is no sweep's child
    real = train.torch.save

    def full(obj, f, *args, **kwargs):
        if "checkpoint" in str(f):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(train.torch, "save", full)
    spec = {"experiment": "baseline", "config": make_config(epochs=2).to_dict(),
            "results_dir": str(tmp_path / "results"), "data_dir": str(synthetic_dir)}
    assert sweep.main(["--one", json.dumps(spec)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(tmp_path / "runs") in err


# --- 8. two sweeps, one run ----------------------------------------------------------------------------

def test_a_run_another_sweep_is_training_is_waited_for_and_its_log_left_alone(tiny, monkeypatch, capsys):
    """Another sweep's child holds the run's log (a lock on it): this sweep says so, waits, then takes the
    run's outcome without launching a child or writing into that log."""
    def refuse(*args, **kwargs):
        raise AssertionError("a child was launched")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    run = tiny.final[0]
    log_path = tiny.study.logs_dir / f"{run.path.stem}.log"
    log_path.parent.mkdir(parents=True)
    with open(log_path, "a") as other:
        other.write("epoch   1/1  the other sweep's child at work\n")
        other.flush()
        fcntl.flock(other, fcntl.LOCK_EX)

        def finish():  # the other sweep's child stores its result and ends
            time.sleep(1)
            store_fake(run)
            fcntl.flock(other, fcntl.LOCK_UN)

        other_child = threading.Thread(target=finish)
        other_child.start()
        try:
            assert sweep.launch(run, tiny.data_dir, 1, tiny.study.logs_dir) == ("ok", "")
        finally:
            other_child.join()
    assert log_path.read_text() == "epoch   1/1  the other sweep's child at work\n"
    assert capsys.readouterr().out == (f"{run.describe()}: another sweep is training it (log {log_path}); "
                                       f"waiting for it.\n")


# --- 1. stopping a sweep -------------------------------------------------------------------------------

def test_a_signal_stops_the_sweep_launching_nothing_more(tiny, monkeypatch, capsys):
    """Ctrl-C while the first of two tuning runs trains: its child ends, no other run starts, no stage after
    it runs, and the sweep exits 130 with one line saying so."""
    calls = []

    def interrupted(run, data_dir, threads, log_dir):
        calls.append(run)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends the sweep
            time.sleep(0.5)
        return "failed", "exit -15; see the log"

    monkeypatch.setattr(sweep, "launch", interrupted)
    study_text = tiny.file.read_bytes()
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        code = sweep.main(args_of(tiny, "-p", "data_dir", tiny.data_dir))
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped the sweep")
    out, err = capsys.readouterr()
    assert code == 130 and calls == tiny.tuning[:1]
    assert out == "0 of 2 runs stored; 2 to run.\n"  # no progress line for the run cut short, no adopt
    assert err == ("sweep stopped by SIGINT: no run starts after it; run the same command again to go on (a run cut "
                   "short resumes from its last checkpoint).\n")
    assert tiny.file.read_bytes() == study_text
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers  # restored,
    assert sweep.STOP.signum is None  # and the stop ends with the sweep


def training_children(root: Path) -> list[int]:
    """The live sweep children (``--one``) training a run whose results go under ``root``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"--one" in cmdline and str(root).encode() in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the child through /proc")
@pytest.mark.parametrize("signum,to_group", [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGKILL, False)],
                         ids=["ctrl-c", "kill", "kill-9"])
def test_a_signal_stops_a_real_sweep_and_its_child(tmp_path, synthetic_dir, signum, to_group):
    """A real sweep of two long tiny runs (300 epochs, about 20 s each): Ctrl-C (SIGINT to the sweep's process
    group), kill (SIGTERM to the sweep) or kill -9 while the first run trains ends its child within seconds and
    launches nothing more; the first two exit 128 + the signal with one line saying so."""
    root = tmp_path / "sweep"
    root.mkdir()
    the_study = write_study(root, {name: {**cell, "epochs": 300} for name, cell in TINY_CELLS.items()}, seeds=(0,))
    first, second = the_study.final_runs()
    command = [sys.executable, "-m", "cifar_utils.sweep", "--study", str(the_study.file), "--stage", "final",
               "-p", "data_dir", str(synthetic_dir)]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        log = the_study.logs_dir / f"{first.path.stem}.log"
        deadline = time.time() + 120
        while time.time() < deadline and not (log.exists() and "epoch" in log.read_text()):
            time.sleep(0.1)
        assert len(training_children(root)) == 1, log.read_text() if log.exists() else "no log"
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=15)
        deadline = time.time() + 5
        while time.time() < deadline and training_children(root):
            time.sleep(0.1)
        assert training_children(root) == []
        assert not first.path.exists() and not second.path.exists()
        assert not (the_study.logs_dir / f"{second.path.stem}.log").exists()  # never launched
        if signum != signal.SIGKILL:
            assert proc.returncode == 128 + signum and out == "0 of 2 runs stored; 2 to run.\n", out + err
            assert err == (f"sweep stopped by {signal.Signals(signum).name}: no run starts after it; run the same "
                           f"command again to go on (a run cut short resumes from its last checkpoint).\n")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in training_children(root):
            os.kill(pid, signal.SIGKILL)
        remove_child_leftovers(the_study)
