"""The sweep (python -m cifar_utils.sweep) on a tiny study (tests/sweep_tiny.py: two 1-epoch baseline cells
on 200 synthetic images): what a dry run lists, stored runs skipped, a killed sweep started again losing
at most the run in progress, the adopt stage, submitit's local executor, bad arguments, progress lines."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import sweep_tiny
from cifar_utils import study, sweep
from cifar_utils.recipes import REPO_ROOT, notebook_parameters
from cifar_utils.results import ResultError, load_result, save_result
from helpers import confusion_with_diagonal, fake_result

TINY_SCRIPT = Path(__file__).resolve().parent / "sweep_tiny.py"


@pytest.fixture
def tiny(tmp_path, monkeypatch, synthetic_dir):
    """The tiny study installed in this process; its folder, runs and data folder."""
    root = tmp_path / "sweep"
    sweep_tiny.install(root, monkeypatch.setattr)
    runs = study.tuning_runs() + study.final_runs()
    yield SimpleNamespace(root=root, data_dir=str(synthetic_dir), tuning=study.tuning_runs(), final=study.final_runs())
    remove_child_leftovers(runs)


def remove_child_leftovers(runs):
    for path in sweep_tiny.child_leftovers(runs):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def store_fake(run, correct: int = 40) -> dict:
    """A stored result for ``run`` (not trained): ``correct`` of every 100 images of each class right."""
    result = fake_result(run.cell.experiment, run.config, confusion_with_diagonal([correct] * 10, row_total=100))
    save_result(run.path, result)
    return result


@pytest.fixture
def launches(monkeypatch):
    """Replace launching a child by storing a fake result at once; the calls are recorded. A run's
    accuracy: 60% at lr 0.1, else 40%."""
    calls = []

    def fake_launch(run, data_dir, threads, log_dir):
        calls.append(SimpleNamespace(run=run, data_dir=data_dir, threads=threads, log_dir=log_dir))
        store_fake(run, 60 if run.config.lr == 0.1 else 40)
        return "ok", ""

    monkeypatch.setattr(sweep, "launch", fake_launch)
    return calls


def no_launch(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a run was launched")

    monkeypatch.setattr(sweep, "launch", refuse)
    monkeypatch.setattr(sweep, "submit_slurm", refuse)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json"))


# --- the tiny study itself ---------------------------------------------------------------------------

def test_tiny_study_has_what_the_tests_expect(tiny):
    assert len(tiny.final) == 4 and len(tiny.tuning) == 4
    assert all(run.results_dir == tiny.root / "results" for run in tiny.final)
    assert all(run.results_dir == tiny.root / "results" / "tuning" for run in tiny.tuning)
    assert {run.config.lr for run in tiny.final} == {notebook_parameters("01_baseline")["lr"]}
    assert all(run.config.epochs == 1 and run.config.train_subset == 200 for run in tiny.tuning + tiny.final)


# --- dry run and arguments -----------------------------------------------------------------------------

def test_dry_run_lists_every_run_and_trains_nothing(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    notebook = (tiny.root / "notebooks" / "01_baseline.ipynb").read_bytes()
    assert sweep.main(["--dry-run", "-p", "data_dir", tiny.data_dir]) == 0
    out = capsys.readouterr().out
    assert out.count("0 of 4 runs stored; 4 to run.") == 2  # tuning, then final
    would = [line for line in out.splitlines() if line.startswith("  would run: ")]
    assert len(would) == 8
    for run in tiny.tuning + tiny.final:
        assert f"  would run: {run.describe()} -> {run.path.relative_to(tiny.root)}" in would
    assert "would write the chosen learning rates into the notebooks once tuning is done" in out
    assert stored_files(tiny.root) == []
    assert not (tiny.root / "build").exists()
    assert (tiny.root / "notebooks" / "01_baseline.ipynb").read_bytes() == notebook


def test_dry_run_shows_the_adopted_rate_without_writing_it(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    for run in tiny.tuning:
        store_fake(run, 60 if run.config.lr == 0.1 else 40)
    notebook = (tiny.root / "notebooks" / "01_baseline.ipynb").read_bytes()
    assert sweep.main(["--dry-run", "--stage", "adopt"]) == 0
    assert capsys.readouterr().out == "01_baseline: lr = 0.1 (highest mean validation accuracy of 0.05, 0.1)\n"
    assert (tiny.root / "notebooks" / "01_baseline.ipynb").read_bytes() == notebook


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_jobs_below_one_is_refused(tiny, monkeypatch, capsys, jobs):
    no_launch(monkeypatch)
    assert sweep.main(["--jobs", jobs, "-p", "data_dir", tiny.data_dir]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: --jobs {jobs} must be at least 1.\n" and captured.out == ""


def test_unknown_parameter_is_refused_by_name(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    assert sweep.main(["-p", "epochs", "3", "-p", "data_dir", tiny.data_dir]) == 2
    captured = capsys.readouterr()
    assert captured.err == "error: -p epochs is not a sweep parameter; use -p data_dir FOLDER.\n"
    assert captured.out == "" and stored_files(tiny.root) == []


def test_unknown_stage_is_an_argparse_error(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    with pytest.raises(SystemExit) as info:
        sweep.main(["--stage", "everything"])
    assert info.value.code == 2 and "invalid choice: 'everything'" in capsys.readouterr().err


def test_adopt_before_tuning_is_an_error_naming_the_stage_to_run(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    assert sweep.main(["--stage", "adopt"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 4 tuning runs are not stored yet") and "--stage tune first" in err


# --- running, skipping, adopting -------------------------------------------------------------------

def test_all_stages_run_each_missing_run_once_and_adopt_the_chosen_rate(tiny, launches, monkeypatch, capsys):
    assert notebook_parameters("01_baseline")["lr"] != 0.1
    assert sweep.main(["--jobs", "2", "-p", "data_dir", tiny.data_dir]) == 0
    out = capsys.readouterr().out
    launched = [call.run for call in launches]
    assert sorted(r.path for r in launched[:4]) == sorted(r.path for r in tiny.tuning)
    # adopt wrote the winner (lr 0.1: 60% against 40%) into the notebook, and the final runs took it
    assert notebook_parameters("01_baseline")["lr"] == 0.1
    assert "01_baseline: lr = 0.1 (highest mean validation accuracy of 0.05, 0.1)" in out
    finals = study.final_runs()
    assert {run.config.lr for run in finals} == {0.1}
    assert sorted(r.path for r in launched[4:]) == sorted(r.path for r in finals)
    assert len(launched) == 8 and len({r.path for r in launched}) == 8
    assert all(call.data_dir == tiny.data_dir for call in launches)
    assert all(call.threads == max(1, (os.cpu_count() or 1) // 2) for call in launches)
    assert all(call.log_dir == tiny.root / "build" / "sweep-logs" for call in launches)
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(lines) == 8 and lines[3].endswith("; done") and lines[7].endswith("; done")
    assert all(re.fullmatch(r"\[\d/4\] tiny [AB], seed \d+(, lr 0\.1?\d*, validation)?: (40|60)\.00% in \d+ s; "
                            r"(about \d+ min left|done)", line) for line in lines), lines

    # everything stored: a second sweep launches nothing
    no_launch(monkeypatch)
    mtimes = {p: p.stat().st_mtime_ns for p in stored_files(tiny.root)}
    assert sweep.main(["-p", "data_dir", tiny.data_dir]) == 0
    out = capsys.readouterr().out
    assert out.count("4 of 4 runs stored; 0 to run.") == 2
    assert {p: p.stat().st_mtime_ns for p in stored_files(tiny.root)} == mtimes


def test_stored_runs_are_skipped(tiny, launches, capsys):
    kept = {run.path: store_fake(run) for run in tiny.final[::2]}
    mtimes = {path: path.stat().st_mtime_ns for path in kept}
    assert sweep.main(["--stage", "final", "-p", "data_dir", tiny.data_dir]) == 0
    assert [call.run for call in launches] == tiny.final[1::2]
    assert capsys.readouterr().out.startswith("2 of 4 runs stored; 2 to run.\n[3/4] ")
    assert {path: path.stat().st_mtime_ns for path in kept} == mtimes
    assert all(load_result(path) == result for path, result in kept.items())


def test_unusable_and_schema_1_results_are_run_again(tiny, launches, capsys):
    broken, old, other, fine = tiny.final
    broken.path.parent.mkdir(parents=True)
    broken.path.write_text("{ truncated")
    schema_1 = fake_result(old.cell.experiment, old.config, confusion_with_diagonal([4] * 10, row_total=10))
    schema_1["schema_version"] = 1
    del schema_1["predictions"]
    old.path.write_text(json.dumps(schema_1))
    other.path.write_text(json.dumps(store_fake(fine)))  # another configuration's result under this name
    assert sweep.missing(tiny.final) == [broken, old, other]
    out = capsys.readouterr().out
    warnings = out.splitlines()
    assert len(warnings) == 2  # the schema 1 result is simply run again: it was valid when stored
    assert warnings[0].startswith(f"Warning: the stored result {broken.path} is not valid JSON")
    assert warnings[1].startswith(f"Warning: the stored result {other.path} holds the configuration {fine.config.key()}")
    assert all(w.endswith(" It is trained again.") for w in warnings)
    assert sweep.main(["--stage", "final", "-p", "data_dir", tiny.data_dir]) == 0
    assert [call.run for call in launches] == [broken, old, other]


def test_a_failed_run_is_reported_and_stops_before_adopting(tiny, monkeypatch, capsys):
    calls = []

    def failing(run, data_dir, threads, log_dir):
        calls.append(run)
        if run == tiny.tuning[1]:
            return "failed", "exit 1; see the log"
        store_fake(run)
        return "ok", ""

    monkeypatch.setattr(sweep, "launch", failing)
    notebook = (tiny.root / "notebooks" / "01_baseline.ipynb").read_bytes()
    assert sweep.main(["-p", "data_dir", tiny.data_dir]) == 1
    out = capsys.readouterr().out
    assert f"[2/4] {tiny.tuning[1].describe()}: FAILED (exit 1; see the log) in " in out
    assert calls == tiny.tuning  # the other tuning runs still ran; no final run, nothing adopted
    assert (tiny.root / "notebooks" / "01_baseline.ipynb").read_bytes() == notebook


# --- real child processes ------------------------------------------------------------------------------

def test_killed_sweep_started_again_loses_at_most_the_run_in_progress(tmp_path, synthetic_dir, monkeypatch):
    """The sweep's command line in a process group of its own, killed (with its child) once the first
    result is stored; started again, it trains only what is missing, and the first result is kept."""
    root = tmp_path / "sweep"
    sweep_tiny.install(root, monkeypatch.setattr, seeds=(0,))  # here only to name the runs and their leftovers
    runs = study.final_runs()
    assert len(runs) == 2
    command = [sys.executable, str(TINY_SCRIPT), str(root), "0", "--stage", "final", "-p", "data_dir",
               str(synthetic_dir)]
    results = root / "results"
    first_log = tmp_path / "first.log"
    with first_log.open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and not list(results.glob("*.json")):
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and the child training the next run
        proc.wait()
        first_output = first_log.read_text()
        stored = list(results.glob("*.json"))
        assert len(stored) == 1, first_output  # one run stored, the other one lost
        (first,) = stored
        assert first in {run.path for run in runs}
        stored_bytes, stored_mtime = first.read_bytes(), first.stat().st_mtime_ns
        assert first_output.startswith("0 of 2 runs stored; 2 to run.\n"), first_output

        again = subprocess.run(command, capture_output=True, text=True, timeout=240)
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.startswith("1 of 2 runs stored; 1 to run.\n"), again.stdout
        assert again.stdout.count("[2/2] ") == 1 and again.stdout.rstrip().endswith("; done"), again.stdout
        assert first.read_bytes() == stored_bytes and first.stat().st_mtime_ns == stored_mtime  # not retrained
        assert sorted(results.glob("*.json")) == sorted(run.path for run in runs)
        for run in runs:
            result = load_result(run.path, key=run.config.key())
            assert result["schema_version"] == 2 and result["environment"]["train_images"] == 200
        logs = sorted((root / "build" / "sweep-logs").glob("*.log"))
        assert logs == sorted(root / "build" / "sweep-logs" / f"{run.path.stem}.log" for run in runs)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        remove_child_leftovers(runs)


def test_submitit_local_executor_stores_a_result(tiny, capsys):
    """--executor slurm with --cluster local: one submitit job per run, on this machine."""
    run = tiny.final[0]
    args = SimpleNamespace(dry_run=False, executor="slurm", cluster="local", timeout_min=10, cpus_per_task=None,
                           gpus=None, slurm_partition=None, data_dir=tiny.data_dir, jobs=1)
    assert sweep.execute([run], args) is True
    out = capsys.readouterr().out
    assert out.startswith("0 of 1 runs stored; 1 to run.\n[1/1] tiny A, seed 0: ") and out.rstrip().endswith("; done")
    result = load_result(run.path, key=run.config.key())
    assert result["schema_version"] == 2 and result["environment"]["test_images"] == 50
    # submitit's folder for the job, named by its id, holds its log: the child's own lines
    (out_log,) = (tiny.root / "build" / "sweep-jobs").glob("*/*_0_log.out")
    assert out_log.parent.name.isdigit() and f"Saved {run.path}." in out_log.read_text()


# --- the sweep's child, progress lines -------------------------------------------------------------------

def test_run_one_trains_from_a_spec(tiny, capsys):
    run = tiny.final[0]
    spec = sweep.spec_of(run, tiny.data_dir)
    assert json.loads(json.dumps(spec)) == spec  # what goes on the child's command line
    assert spec == {"experiment": "baseline", "config": run.config.to_dict(), "results_dir": str(run.results_dir),
                    "data_dir": tiny.data_dir}
    result = sweep.run_one(spec)
    assert load_result(run.path, key=run.config.key()) == result
    assert "Saved " in capsys.readouterr().out


def test_run_one_replaces_a_schema_1_result(tiny):
    run = tiny.final[0]
    schema_1 = fake_result(run.cell.experiment, run.config, confusion_with_diagonal([4] * 10, row_total=5))
    schema_1["schema_version"] = 1
    del schema_1["predictions"]
    run.path.parent.mkdir(parents=True)
    run.path.write_text(json.dumps(schema_1))
    assert sweep.missing([run]) == [run]
    result = sweep.run_one(sweep.spec_of(run, tiny.data_dir))
    assert result["schema_version"] == 2 and "predictions" in result
    assert sweep.missing([run]) == []


def test_progress_lines_estimate_the_time_left(tiny, capsys):
    a, b, c = tiny.final[:3]
    b = study.Run(study.Cell("alexnet_sgd", (), "other recipe"), b.config, b.results_dir)
    c = study.Run(b.cell, c.config, c.results_dir)
    for run in (a, b, c):
        store_fake(run, 40)
    progress = sweep.Progress([a, b, c], stored=2)
    progress.finished(a, "ok", "", 120.4)  # no time of the other recipe yet: guessed from every run's mean
    progress.finished(b, "failed", "exit 1; see x.log", 600)  # a failed run's time is no guess for a whole run
    progress.finished(c, "ok", "", 30)
    assert capsys.readouterr().out.splitlines() == [
        "[3/5] tiny A, seed 0: 40.00% in 120 s; about 4 min left",
        "[4/5] other recipe, seed 0: FAILED (exit 1; see x.log) in 600 s; about 2 min left",
        "[5/5] other recipe, seed 1: 40.00% in 30 s; done",
    ]
    # before this sweep has timed a recipe, its stored runs' training time is the guess
    progress = sweep.Progress([a, b, c], stored=2, prior={"alexnet_sgd": [600.0, 720.0]})
    progress.finished(a, "ok", "", 120.4)
    assert capsys.readouterr().out.splitlines() == ["[3/5] tiny A, seed 0: 40.00% in 120 s; about 22 min left"]


@pytest.mark.parametrize("seconds,text", [(0, "1 min"), (89, "1 min"), (91, "2 min"), (59 * 60, "59 min"),
                                          (3600, "1 h 00 min"), (3600 + 61 * 60, "2 h 01 min")])
def test_duration(seconds, text):
    assert sweep.duration(seconds) == text


def test_missing_file_is_none_and_a_stored_one_is_not_missing(tiny):
    run = tiny.final[0]
    assert sweep.missing([run]) == [run]
    store_fake(run)
    assert sweep.missing([run]) == []
    with pytest.raises(ResultError):
        load_result(run.path, key=tiny.final[1].config.key())


# --- a run whose training diverges -----------------------------------------------------------------------

def test_a_diverging_run_is_recorded_not_retried_and_its_rate_left_out(tiny, launches, capsys):
    """A real child run at an absurd rate: its loss becomes NaN, the run leaves a divergence record, the
    sweep counts it as an outcome (not a failure, not to run again) and adopt never picks that rate."""
    import dataclasses
    run = tiny.final[0]
    bad = study.Run(run.cell, dataclasses.replace(run.config, lr=1e9), run.results_dir)
    with pytest.raises(sweep.NonFiniteLossError):
        sweep.run_one(sweep.spec_of(bad, tiny.data_dir))
    assert not bad.path.exists() and "the training loss became" in study.divergence(bad)
    assert sweep.missing([bad]) == [] and study.unstable_rates() == {("baseline", 1e9)}
    remove_child_leftovers([bad])


def test_execute_counts_a_divergence_as_an_outcome_and_skips_that_rate(tiny, capsys):
    """Real children at an absurd rate: the first diverges and is recorded; execute still succeeds, and
    the second run at that rate is skipped instead of trained."""
    import dataclasses
    bad = [study.Run(run.cell, dataclasses.replace(run.config, lr=1e9), run.results_dir) for run in tiny.final[:2]]
    args = SimpleNamespace(dry_run=False, executor="local", jobs=1, data_dir=tiny.data_dir)
    assert sweep.execute(bad, args) is True
    out = capsys.readouterr().out
    assert f"[1/2] {bad[0].describe()}: diverged (the training loss became" in out
    assert f"[2/2] {bad[1].describe()}: skipped (lr 1e+09 diverged in another run) in 0 s; done" in out
    assert study.divergence(bad[0]) and study.divergence(bad[1]) is None and not bad[1].path.exists()
    assert sweep.missing(bad) == [bad[1]]  # a skipped run is not an outcome: a later sweep may still run it
    remove_child_leftovers(bad)


def test_all_stages_adopt_the_next_rate_when_a_final_run_diverges(tiny, monkeypatch, capsys):
    """--stage all: lr 0.1 wins tuning, its first final run diverges, so adopt moves to 0.05 and the
    sweep trains 0.05's seeds; the other 0.1 run is skipped."""
    launched = []

    def launch(run, data_dir, threads, log_dir):
        launched.append(run)
        if run.config.evaluate_on == "test" and run.config.lr == 0.1:
            study.record_divergence(run, "the training loss became nan at epoch 1, step 1; lower lr ...")
            return sweep.outcome_of(run, False, "exit 1")
        store_fake(run, 60 if run.config.lr == 0.1 else 40)
        return "ok", ""

    monkeypatch.setattr(sweep, "launch", launch)
    assert sweep.main(["-p", "data_dir", tiny.data_dir]) == 0
    out = capsys.readouterr().out
    assert notebook_parameters("01_baseline")["lr"] == 0.05
    assert "left out, diverged: 0.1" in out and "skipped (lr 0.1 diverged in another run)" in out
    finals = [run for run in launched if run.config.evaluate_on == "test"]
    assert [run.config.lr for run in finals] == [0.1] + [0.05] * len(study.final_runs())
    assert all(run.path.exists() for run in study.final_runs())


def test_adopt_moves_off_a_rate_whose_final_run_diverged(tiny, launches, capsys):
    args = ["--stage", "tune", "-p", "data_dir", tiny.data_dir]
    assert sweep.main(args) == 0
    assert sweep.adopt(False) is True and notebook_parameters("01_baseline")["lr"] == 0.1  # 60% beats 40%
    assert sweep.adopt(False) is False  # nothing changed
    study.record_divergence(study.final_runs()[1], "the training loss became nan at epoch 1, step 2; ...")
    assert sweep.adopt(False) is True and notebook_parameters("01_baseline")["lr"] == 0.05
    assert "left out, diverged: 0.1" in capsys.readouterr().out
    table = study.tuning_log()
    assert not any(row["diverged"] for row in table)  # the tuning runs themselves trained fine


def test_summary_prints_the_table_the_status_and_the_verdicts(monkeypatch, capsys):
    from cifar_utils import conclusions
    no_launch(monkeypatch)
    assert sweep.main(["--summary"]) == 0
    cells = conclusions.cell_results()
    assert capsys.readouterr().out == (f"{conclusions.study_markdown(cells)}\n\n{conclusions.status(cells)}\n\n"
                                       f"{conclusions.findings(cells)}\n")


def test_set_aside_moves_the_study_runs_and_keeps_the_faithful_results(tmp_path, capsys):
    from cifar_utils.recipes import profile_config
    results, tuning = tmp_path / "results", tmp_path / "results" / "tuning"
    tuning.mkdir(parents=True)
    (results / "earlier-single-runs").mkdir()
    faithful = results / f"baseline-{profile_config('faithful', 'baseline').key()}.json"
    study_files = [results / "alexnet_sgd-0123456789ab.json", results / "baseline-0123456789ab.diverged",
                   tuning / "baseline-ba9876543210.json"]
    for path in [faithful, *study_files, results / "earlier-single-runs" / "baseline-x.json", results / "README.md"]:
        path.write_text("{}")
    aside = tmp_path / "aside"
    moved = study.set_aside(aside, results, tuning)
    assert sorted(moved) == sorted(aside / p.relative_to(results) for p in study_files)
    assert all(p.exists() for p in moved) and not any(p.exists() for p in study_files)
    assert faithful.exists() and (results / "earlier-single-runs" / "baseline-x.json").exists()
    assert (results / "README.md").exists()
    # nothing is overwritten: a second set-aside into the same folder stops before moving anything
    study_files[0].write_text("{}")
    with pytest.raises(ValueError, match="alexnet_sgd-0123456789ab.json already exists; set the runs aside into an "
                                         "empty folder"):
        study.set_aside(aside, results, tuning)
    assert study_files[0].exists()


def test_set_aside_from_the_command_line(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(study, "set_aside", lambda folder: calls.append(folder) or [tmp_path / "a", tmp_path / "b"])
    assert sweep.main(["--set-aside", "build/old"]) == 0
    assert calls == ["build/old"] and capsys.readouterr().out == "moved 2 stored runs of the study into build/old\n"
    monkeypatch.setattr(study, "set_aside", lambda folder: (_ for _ in ()).throw(ValueError("x already exists; y.")))
    assert sweep.main(["--set-aside", "build/old"]) == 2
    assert capsys.readouterr().err == "error: x already exists; y.\n"
