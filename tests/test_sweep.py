"""The sweep (python -m cifar_utils.sweep) on a tiny study of its own (``tiny_study``: a study file in a
temporary folder with two 1-epoch baseline cells on 200 synthetic training images, evaluated on 50): what
a dry run lists, stored runs skipped, a killed sweep started again losing at most the run in progress, the
adopt stage (which writes the chosen rate into the tiny study file), submitit's local executor, bad
arguments, progress lines and their estimates, the list of stored runs, the summary, setting runs aside."""
from __future__ import annotations

import dataclasses
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

from cifar_utils import conclusions, study, sweep, sweep_children
from cifar_utils.train import NonFiniteLossError
from cifar_utils.recipes import EXPERIMENTS, REPO_ROOT, profile_config
from cifar_utils.results import ResultError, load_result, save_result
from helpers import confusion_with_diagonal, fake_result, squeezed, write_study, write_synthetic_npz

# Everything a tiny cell changes in the baseline notebook's recipe: 1 epoch on 200 training images, 50
# evaluated, on the CPU in fp32 (the same on any machine).
TINY = {"recipe": "baseline", "train_subset": 200, "test_subset": 50, "epochs": 1, "batch_size": 50,
        "device": "cpu", "precision": "fp32"}
# Cell a is tuned, its rate 0.2 outside its grid so that adopting the grid's choice always changes it;
# cell b (dropout 0.5) takes a's rate.
TINY_CELLS = {"a": {**TINY, "grid": [0.05, 0.1], "lr": 0.2},
              "b": {**TINY, "dropout": 0.5, "lr_from": "a"}}
LABEL_A, LABEL_B = "baseline CNN + SGD (1 epoch, batch 50, fp32)", "baseline CNN + SGD + Dropout 0.5 (1 epoch, batch 50, fp32)"
DIVERGING_LR = 1e9  # a rate at which the tiny recipe's training loss becomes NaN


def tiny_study(folder: Path, seeds=(0, 1)) -> study.Study:
    folder.mkdir(parents=True, exist_ok=True)
    return write_study(folder, TINY_CELLS, seeds=seeds)


def child_leftovers(the_study: study.Study) -> list[Path]:
    """What the children of the study's runs (at any rate the tests use) leave in the repository's runs/: a
    lock file, and a checkpoint folder if killed (``Experiment.run``)."""
    runs = []
    for cell in the_study.cells:
        rates = {*the_study.cell(cell.lr_from or cell.name).grid, TINY_CELLS["a"]["lr"], DIVERGING_LR}
        splits = [(s, "test") for s in cell.seeds] + [(s, "validation") for s in the_study.tuning_seeds]
        runs += [(cell.recipe, cell.config(seed, lr=lr, evaluate_on=split).key())
                 for lr in rates for seed, split in splits]
    return [REPO_ROOT / "runs" / f"{recipe}-{key}{suffix}" for recipe, key in runs for suffix in (".lock", "")]


def remove_child_leftovers(the_study: study.Study) -> None:
    for path in child_leftovers(the_study):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


@pytest.fixture
def tiny(tmp_path, synthetic_dir):
    """The tiny study: its folder, study file, the study as loaded, its runs and the data folder."""
    root = tmp_path / "sweep"
    the_study = tiny_study(root)
    yield SimpleNamespace(root=root, file=the_study.file, study=the_study, data_dir=str(synthetic_dir),
                          tuning=the_study.tuning_runs(), final=the_study.final_runs())
    remove_child_leftovers(the_study)


def reloaded(tiny) -> study.Study:
    """The tiny study as its file says now (after an adopt stage wrote into it)."""
    return study.load(tiny.file)


def store_fake(run, correct: int = 40, seconds: float | None = None) -> dict:
    """A stored result for ``run`` (not trained): ``correct`` of every 100 images of each class right, and
    ``seconds`` of training when given."""
    result = fake_result(run.cell.recipe, run.config, confusion_with_diagonal([correct] * 10, row_total=100))
    if seconds is not None:
        result["train_seconds"] = seconds
    save_result(run.path, result)
    return result


def diverge(run, error: str = "the training loss became nan at epoch 1, step 1; lower lr ...") -> None:
    study.record_divergence(run.diverged_path, run.cell.recipe, run.config, error)


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
    return sorted(p for p in root.rglob("*") if p.suffix in (".json", ".diverged"))


def args_of(tiny, *more: str) -> list[str]:
    return ["--study", str(tiny.file), *more]


# --- the tiny study itself ---------------------------------------------------------------------------

def test_tiny_study_has_what_the_tests_expect(tiny):
    assert len(tiny.final) == 4 and len(tiny.tuning) == 2
    assert [cell.label for cell in tiny.study.cells] == [LABEL_A, LABEL_B]
    assert all(run.results_dir == tiny.root / "results" for run in tiny.final)
    assert all(run.results_dir == tiny.root / "results" / "tuning" for run in tiny.tuning)
    assert tiny.study.logs_dir == tiny.root / "build" / "sweep-logs"
    assert {run.config.lr for run in tiny.final} == {0.2} and tiny.study.cell("b").lr_from == "a"
    assert {run.config.lr for run in tiny.tuning} == {0.05, 0.1}
    assert {run.config.dropout for run in tiny.final} == {0.25, 0.5}
    assert all(run.config.epochs == 1 and run.config.train_subset == 200 and run.config.test_subset == 50
               for run in tiny.tuning + tiny.final)


# --- dry run and arguments -----------------------------------------------------------------------------

def test_dry_run_lists_every_run_and_trains_nothing(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    study_text = tiny.file.read_bytes()
    assert sweep.main(args_of(tiny, "--dry-run", "-p", "data_dir", tiny.data_dir)) == 0
    out = capsys.readouterr().out
    assert "0 of 2 runs stored; 2 to run." in out and "0 of 4 runs stored; 4 to run." in out  # tuning, then final
    would = [line for line in out.splitlines() if line.startswith("  would run: ")]
    assert len(would) == 6
    for run in tiny.tuning + tiny.final:
        assert f"  would run: {run.describe()} -> {run.path}" in would  # outside the repository: the whole path
    assert "would write the chosen learning rates once tuning is done" in out
    nothing_known = [line for line in out.splitlines() if line.startswith("  expected training time: ")]
    assert nothing_known == ["  expected training time: unknown (no stored run to go by)"] * 2
    assert stored_files(tiny.root) == []
    assert not (tiny.root / "build").exists()
    assert tiny.file.read_bytes() == study_text


def test_dry_run_expects_the_training_time_from_the_stored_runs(tiny, monkeypatch, capsys):
    """The tuning runs took 600 and 900 s an epoch, cell a's seed 0 300 s: its seed 1 is guessed from it
    (300 s), cell b's runs from every stored baseline run of that batch size per epoch (600 s each)."""
    no_launch(monkeypatch)
    store_fake(tiny.tuning[0], seconds=600.0)
    store_fake(tiny.tuning[1], seconds=900.0)
    store_fake(tiny.final[0], seconds=300.0)
    assert sweep.main(args_of(tiny, "--dry-run", "--stage", "final")) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1 of 4 runs stored; 3 to run.",
        *[f"  would run: {run.describe()} -> {run.path}" for run in tiny.final[1:]],
        "  expected training time: about 25 min (from the stored runs' times), one run at a time",
    ]


def test_dry_run_expects_the_final_runs_of_cells_still_tuning(tmp_path, monkeypatch, capsys):
    """A cell without a rate yet has no final runs to list, but their time is guessed all the same: here from its
    own tuning run's seconds per epoch (2 epochs x 300 s, two seeds)."""
    no_launch(monkeypatch)
    the_study = write_study(tmp_path, {"a": {"recipe": "baseline", "epochs": 2, "grid": [0.1], "lr": None},
                                       "t": {"recipe": "baseline", "epochs": 2, "grid": [0.05], "lr": None, "seeds": []}})
    tuning = [run for run in the_study.tuning_runs() if run.cell.name == "a"][0]
    store_fake(tuning, seconds=600.0)
    assert sweep.main(["--study", str(the_study.file), "--dry-run", "--stage", "final"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("2 cells have no chosen learning rate yet (a, t)")
    assert out[1] == "  their 2 final runs: about 20 min more (from the stored runs' times)"


@pytest.mark.parametrize("native", [True, False])
def test_dry_run_does_not_guess_bf16_runs_from_runs_where_bf16_was_native(tmp_path, monkeypatch, capsys, native):
    """A bf16 run on a CPU without native bf16 is many times slower than any stored time says: it is named, not
    guessed; where bf16 is native it is guessed like any other run."""
    no_launch(monkeypatch)
    monkeypatch.setattr(sweep, "cpu_has_fast_bf16", lambda: native)
    monkeypatch.setattr(sweep.torch.cuda, "is_available", lambda: False)
    the_study = write_study(tmp_path, {"a": {"recipe": "baseline", "profile": "report", "precision": "bf16"}})
    store_fake(the_study.final_runs()[0], seconds=60.0)
    assert sweep.main(["--study", str(the_study.file), "--dry-run", "--stage", "final"]) == 0
    out = capsys.readouterr().out
    assert ("1 bf16 run not estimated: this CPU has no native bfloat16" in out) is not native
    assert ("expected training time: about 1 min" in out) is native


def test_dry_run_shows_the_adopted_rate_without_writing_it(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    for run in tiny.tuning:
        store_fake(run, 60 if run.config.lr == 0.1 else 40)
    study_text = tiny.file.read_bytes()
    assert sweep.main(args_of(tiny, "--dry-run", "--stage", "adopt")) == 0
    assert capsys.readouterr().out == f"{LABEL_A}: lr = 0.1 (highest mean validation accuracy of 0.05, 0.1)\n"
    assert tiny.file.read_bytes() == study_text and reloaded(tiny).cell("a").lr == 0.2


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_jobs_below_one_is_refused(tiny, monkeypatch, capsys, jobs):
    no_launch(monkeypatch)
    assert sweep.main(args_of(tiny, "--jobs", jobs, "-p", "data_dir", tiny.data_dir)) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: --jobs {jobs} must be at least 1.\n" and captured.out == ""


def test_unknown_parameter_is_refused_by_name(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    assert sweep.main(args_of(tiny, "-p", "epochs", "3", "-p", "data_dir", tiny.data_dir)) == 2
    captured = capsys.readouterr()
    assert captured.err == "error: -p epochs is not a sweep parameter; use -p data_dir FOLDER.\n"
    assert captured.out == "" and stored_files(tiny.root) == []


def test_unknown_stage_is_an_argparse_error(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    with pytest.raises(SystemExit) as info:
        sweep.main(args_of(tiny, "--stage", "everything"))
    assert info.value.code == 2 and "invalid choice: 'everything'" in capsys.readouterr().err


def test_a_study_file_that_cannot_be_read_is_one_error(tmp_path, monkeypatch, capsys):
    no_launch(monkeypatch)
    assert sweep.main(["--study", str(tmp_path / "nope.yaml"), "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"error: cannot read the study file {tmp_path / 'nope.yaml'}")
    (tmp_path / "bad.yaml").write_text("seeds: [0]\nfigure_seed: 0\ntuning_seeds: [1]\n"
                                       "cells:\n  a: {recipe: baseline}\n")
    assert sweep.main(["--study", str(tmp_path / "bad.yaml"), "--list"]) == 2
    assert "the cell a in" in capsys.readouterr().err


def test_adopt_before_tuning_is_an_error_naming_the_stage_to_run(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    assert sweep.main(args_of(tiny, "--stage", "adopt")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 2 tuning runs are not stored yet") and "--stage tune first" in err


# --- running, skipping, adopting -------------------------------------------------------------------

def test_all_stages_run_each_missing_run_once_and_adopt_the_chosen_rate(tiny, launches, monkeypatch, capsys):
    assert sweep.main(args_of(tiny, "--jobs", "2", "-p", "data_dir", tiny.data_dir)) == 0
    out = capsys.readouterr().out
    launched = [call.run for call in launches]
    assert sorted(r.path for r in launched[:2]) == sorted(r.path for r in tiny.tuning)
    # adopt wrote the winner (lr 0.1: 60% against 40%) into the study file, and the final runs took it
    now = reloaded(tiny)
    assert now.cell("a").lr == 0.1 and now.cell("b").lr == 0.1
    assert f"{LABEL_A}: lr = 0.1 (highest mean validation accuracy of 0.05, 0.1)" in out
    finals = now.final_runs()
    assert {run.config.lr for run in finals} == {0.1}
    assert sorted(r.path for r in launched[2:]) == sorted(r.path for r in finals)
    assert len(launched) == 6 and len({r.path for r in launched}) == 6
    assert all(call.data_dir == tiny.data_dir for call in launches)
    assert all(call.threads == max(1, (os.cpu_count() or 1) // 2) for call in launches)
    assert all(call.log_dir == tiny.root / "build" / "sweep-logs" for call in launches)
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(lines) == 6 and lines[1].endswith("; done") and lines[5].endswith("; done")
    labels = "|".join(map(re.escape, (LABEL_A, LABEL_B)))
    assert all(re.fullmatch(rf"\[\d/[24]\] ({labels}), seed \d+(, lr 0\.1?\d*, validation)?: (40|60)\.00% in \d+ s; "
                            r"(about 1 min left|done)", line) for line in lines), lines

    # everything stored: a second sweep launches nothing
    no_launch(monkeypatch)
    mtimes = {p: p.stat().st_mtime_ns for p in stored_files(tiny.root)}
    study_text = tiny.file.read_bytes()
    assert sweep.main(args_of(tiny, "-p", "data_dir", tiny.data_dir)) == 0
    out = capsys.readouterr().out
    assert "2 of 2 runs stored; 0 to run." in out and "4 of 4 runs stored; 0 to run." in out
    assert {p: p.stat().st_mtime_ns for p in stored_files(tiny.root)} == mtimes
    assert tiny.file.read_bytes() == study_text


def test_a_cell_without_a_rate_has_its_final_runs_after_adopt(tmp_path, launches, capsys):
    """A tuned cell that changes its recipe and has no ``lr`` yet: --stage final has nothing of it (or of the
    cell that takes its rate) to run and says why; --stage all tunes, adopts, then runs its seeds."""
    root = tmp_path / "sweep"
    root.mkdir()
    the_study = write_study(root, {**TINY_CELLS, "a": {**TINY_CELLS["a"], "lr": None}})
    assert the_study.cell("a").lr is None and the_study.final_runs() == []
    assert sweep.main(["--study", str(the_study.file), "--stage", "final"]) == 0
    assert capsys.readouterr().out == ("2 cells have no chosen learning rate yet (a, b): their final runs follow "
                                       "--stage tune and --stage adopt.\n0 of 0 runs stored; 0 to run.\n")
    assert launches == []
    write_synthetic_npz(root / "cifar10.npz")
    assert sweep.main(["--study", str(the_study.file), "-p", "data_dir", str(root)]) == 0
    assert study.load(the_study.file).cell("b").lr == 0.1
    assert [call.run.config.lr for call in launches] == [0.05, 0.1] + [0.1] * 4


def test_stored_runs_are_skipped(tiny, launches, capsys):
    kept = {run.path: store_fake(run) for run in tiny.final[::2]}
    mtimes = {path: path.stat().st_mtime_ns for path in kept}
    assert sweep.main(args_of(tiny, "--stage", "final", "-p", "data_dir", tiny.data_dir)) == 0
    assert [call.run for call in launches] == tiny.final[1::2]
    assert capsys.readouterr().out.startswith("2 of 4 runs stored; 2 to run.\n[3/4] ")
    assert {path: path.stat().st_mtime_ns for path in kept} == mtimes
    assert all(load_result(path) == result for path, result in kept.items())


def test_unusable_and_schema_1_results_are_run_again(tiny, launches, capsys):
    broken, old, other, fine = tiny.final
    broken.path.parent.mkdir(parents=True)
    broken.path.write_text("{ truncated")
    schema_1 = fake_result(old.cell.recipe, old.config, confusion_with_diagonal([4] * 10, row_total=10))
    schema_1["schema_version"] = 1
    del schema_1["predictions"]
    old.path.write_text(json.dumps(schema_1))
    other.path.write_text(json.dumps(store_fake(fine)))  # another configuration's result under this name
    assert sweep.missing(tiny.final) == [broken, old, other]
    assert sweep.missing(tiny.final) == [broken, old, other]  # said once
    out, err = capsys.readouterr()
    warnings = err.splitlines()
    assert out == "" and len(warnings) == 2  # the schema 1 result is simply run again: it was valid when stored
    assert warnings[0].startswith(f"Warning: the stored result {broken.path} is not valid JSON")
    assert warnings[1].startswith(f"Warning: the stored result {other.path} holds the configuration {fine.config.key()}")
    assert all(w.endswith(" It is left out; the sweep (python -m cifar_utils.sweep) trains it again.") for w in warnings)
    assert sweep.main(args_of(tiny, "--stage", "final", "-p", "data_dir", tiny.data_dir)) == 0
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
    study_text = tiny.file.read_bytes()
    assert sweep.main(args_of(tiny, "-p", "data_dir", tiny.data_dir)) == 1
    out = capsys.readouterr().out
    assert f"[2/2] {tiny.tuning[1].describe()}: FAILED (exit 1; see the log) in " in out
    assert calls == tiny.tuning  # the other tuning run still ran; no final run, nothing adopted
    assert tiny.file.read_bytes() == study_text and "lr = " not in out


# --- real child processes ------------------------------------------------------------------------------

@pytest.mark.slow
def test_killed_sweep_started_again_loses_at_most_the_run_in_progress(tmp_path, synthetic_dir):
    """The sweep's command line on the tiny study file, in a process group of its own, killed (with its child)
    once the first result is stored; started again, it trains only what is missing, and the first result is
    kept. The children need nothing but their spec: it holds the whole configuration and the results folder."""
    root = tmp_path / "sweep"
    the_study = tiny_study(root, seeds=(0,))
    runs = the_study.final_runs()
    assert len(runs) == 2
    command = [sys.executable, "-m", "cifar_utils.sweep", "--study", str(the_study.file), "--stage", "final",
               "-p", "data_dir", str(synthetic_dir)]
    results = root / "results"
    first_log = tmp_path / "first.log"
    with first_log.open("w") as log:
        proc = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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

        again = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.startswith("1 of 2 runs stored; 1 to run.\n"), again.stdout
        assert again.stdout.count("[2/2] ") == 1 and again.stdout.rstrip().endswith("; done"), again.stdout
        assert first.read_bytes() == stored_bytes and first.stat().st_mtime_ns == stored_mtime  # not retrained
        assert sorted(results.glob("*.json")) == sorted(run.path for run in runs)
        for run in runs:
            result = load_result(run.path, key=run.config.key())
            assert result["schema_version"] == 2 and result["environment"]["train_images"] == 200
        logs = sorted(the_study.logs_dir.glob("*.log"))
        assert logs == sorted(the_study.logs_dir / f"{run.path.stem}.log" for run in runs)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        remove_child_leftovers(the_study)


@pytest.mark.slow
def test_submitit_local_executor_stores_a_result(tiny, capsys):
    """--executor slurm with --cluster local: one submitit job per run, on this machine."""
    run = tiny.final[0]
    args = SimpleNamespace(dry_run=False, executor="slurm", cluster="local", timeout_min=10, cpus_per_task=None,
                           gpus=None, slurm_partition=None, data_dir=tiny.data_dir, jobs=1)
    assert sweep.execute([run], args, tiny.study) is True
    out = capsys.readouterr().out
    assert out.startswith(f"0 of 1 runs stored; 1 to run.\n[1/1] {run.describe()}: ") and out.rstrip().endswith("; done")
    result = load_result(run.path, key=run.config.key())
    assert result["schema_version"] == 2 and result["environment"]["test_images"] == 50
    # submitit's folder for the job, beside the study's logs and named by its id, holds its log: the child's lines
    (out_log,) = (tiny.root / "build" / "sweep-jobs").glob("*/*_0_log.out")
    assert out_log.parent.name.isdigit() and f"Saved {run.path}." in out_log.read_text()


# --- the sweep's child, progress lines -------------------------------------------------------------------

def test_run_one_trains_from_a_spec(tiny, capsys):
    run = tiny.final[0]
    spec = sweep_children.spec_of(run, tiny.data_dir)
    assert json.loads(json.dumps(spec)) == spec  # what goes on the child's command line
    assert spec == {"experiment": "baseline", "config": run.config.to_dict(), "results_dir": str(run.results_dir),
                    "data_dir": tiny.data_dir}
    result = sweep.run_one(spec)
    assert load_result(run.path, key=run.config.key()) == result
    assert f"Saved {run.path}." in capsys.readouterr().out


def test_run_one_replaces_a_schema_1_result(tiny):
    run = tiny.final[0]
    schema_1 = fake_result(run.cell.recipe, run.config, confusion_with_diagonal([4] * 10, row_total=5))
    schema_1["schema_version"] = 1
    del schema_1["predictions"]
    run.path.parent.mkdir(parents=True)
    run.path.write_text(json.dumps(schema_1))
    assert sweep.missing([run]) == [run]
    result = sweep.run_one(sweep_children.spec_of(run, tiny.data_dir))
    assert result["schema_version"] == 2 and "predictions" in result
    assert sweep.missing([run]) == []


@pytest.fixture
def mixed(tmp_path):
    """A study of three networks' recipes, for the estimates: cell a (baseline, 1 epoch, batch 50), b (a with
    dropout 0.5), c (baseline, 2 epochs, batch 100), d (AlexNet, 1 epoch)."""
    return write_study(tmp_path, {
        "a": TINY_CELLS["a"], "b": TINY_CELLS["b"],
        "c": {**TINY, "epochs": 2, "batch_size": 100, "grid": [0.05, 0.1], "lr": 0.1},
        "d": {**TINY, "recipe": "alexnet_sgd", "grid": [0.01, 0.02], "lr": 0.02}})


def final_run(the_study, name: str, seed: int = 0) -> study.Run:
    return next(run for run in the_study.final_runs() if run.cell.name == name and run.config.seed == seed)


def tuning_run(the_study, name: str, index: int = 0) -> study.Run:
    return [run for run in the_study.tuning_runs() if run.cell.name == name][index]


def test_estimate_falls_back_from_the_cell_to_the_network_to_every_run(mixed):
    a0, a1, b0 = final_run(mixed, "a"), final_run(mixed, "a", 1), final_run(mixed, "b")
    c0, d0 = final_run(mixed, "c"), final_run(mixed, "d")
    assert sweep.estimate(a0, []) == 0.0  # nothing known
    # the same cell on the same split: the mean of its runs, whatever their rate or seed
    known = [(a0, 10.0), (tuning_run(mixed, "a", 0), 30.0), (tuning_run(mixed, "a", 1), 50.0)]
    assert sweep.estimate(a1, known) == 10.0
    assert sweep.estimate(tuning_run(mixed, "a", 1), known[:2]) == 30.0
    # else the seconds per epoch of the same network and batch size, times the run's epochs
    assert sweep.estimate(b0, known) == 30.0
    a_longer = study.Run(a0.cell, dataclasses.replace(a0.config, epochs=3), a0.results_dir)
    assert sweep.estimate(a_longer, known) == 90.0  # the cell's runs of other epochs count per epoch only
    # else of the same network at any batch size
    assert sweep.estimate(c0, known) == 60.0
    c_tuned = (tuning_run(mixed, "c"), 200.0)  # 2 epochs at batch 100: 100 s an epoch
    assert sweep.estimate(c0, known + [c_tuned]) == 200.0
    assert sweep.estimate(b0, known + [c_tuned]) == 30.0  # batch 100 is no guess for batch 50
    # else the mean of every known run
    assert sweep.estimate(d0, known) == 30.0
    assert sweep.estimate(d0, known + [(c0, 120.0)]) == 52.5
    assert sweep.estimate(a0, [(d0, 70.0)]) == 70.0


def test_progress_lines_estimate_the_time_left(mixed, capsys):
    a, b, c = final_run(mixed, "a"), final_run(mixed, "d"), final_run(mixed, "d", 1)
    for run in (a, b, c):
        store_fake(run, 40)
    progress = sweep.Progress([a, b, c], stored=2)
    progress.finished(a, "ok", "", 120.4)  # no time of AlexNet yet: guessed from every run's mean
    progress.finished(b, "failed", "exit 1; see x.log", 600)  # a failed run's time is no guess for a whole run
    progress.finished(c, "ok", "", 30)
    assert capsys.readouterr().out.splitlines() == [
        f"[3/5] {a.describe()}: 40.00% in 120 s; about 4 min left",
        f"[4/5] {b.describe()}: FAILED (exit 1; see x.log) in 600 s; about 2 min left",
        f"[5/5] {c.describe()}: 40.00% in 30 s; done",
    ]
    assert b.describe() == "AlexNet + SGD (1 epoch, batch 50, fp32), seed 0"
    # before this sweep has timed a network, its stored runs' training time is the guess
    prior = [(tuning_run(mixed, "d", 0), 600.0), (tuning_run(mixed, "d", 1), 720.0)]
    progress = sweep.Progress([a, b, c], stored=2, prior=prior)
    progress.finished(a, "ok", "", 120.4)
    assert capsys.readouterr().out.splitlines() == [f"[3/5] {a.describe()}: 40.00% in 120 s; about 22 min left"]
    # nothing to go by: no guess at all
    progress = sweep.Progress([a, b], stored=0)
    progress.finished(a, "diverged", "the training loss became nan", 5)
    assert capsys.readouterr().out == (f"[1/2] {a.describe()}: diverged (the training loss became nan) in 5 s; "
                                       "time left unknown\n")


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

def at_rate(run, lr: float) -> study.Run:
    return study.Run(run.cell, dataclasses.replace(run.config, lr=lr), run.results_dir)


def test_a_diverging_run_is_recorded_not_retried_and_its_rate_left_out(tiny):
    """A real run at an absurd rate: its loss becomes NaN, the run leaves a divergence record, the sweep
    counts it as an outcome (not to run again) and the rate is unstable for the tuned cell."""
    bad = at_rate(tiny.final[0], DIVERGING_LR)
    with pytest.raises(NonFiniteLossError):
        sweep.run_one(sweep_children.spec_of(bad, tiny.data_dir))
    assert not bad.path.exists() and "the training loss became" in study.divergence(bad)
    assert sweep.missing([bad]) == [] and tiny.study.unstable_rates() == {("a", DIVERGING_LR)}


@pytest.mark.slow
def test_execute_counts_a_divergence_as_an_outcome_and_skips_that_rate(tiny, capsys):
    """Real children at an absurd rate: the first diverges and is recorded; execute still succeeds, and
    the second run at that rate (cell b, which takes a's rate) is skipped instead of trained."""
    bad = [at_rate(run, DIVERGING_LR) for run in tiny.final[:2]]
    assert [run.cell.name for run in bad] == ["a", "b"]
    args = SimpleNamespace(dry_run=False, executor="local", jobs=1, data_dir=tiny.data_dir)
    assert sweep.execute(bad, args, tiny.study) is True
    out = capsys.readouterr().out
    assert f"[1/2] {bad[0].describe()}: diverged (the training loss became" in out
    assert f"[2/2] {bad[1].describe()}: skipped (lr 1e+09 diverged in another run) in 0 s; done" in out
    assert study.divergence(bad[0]) and study.divergence(bad[1]) is None and not bad[1].path.exists()
    assert sweep.missing(bad) == [bad[1]]  # a skipped run is not an outcome: a later sweep may still run it
    assert (tiny.study.logs_dir / f"{bad[0].path.stem}.log").exists()


def test_all_stages_adopt_the_next_rate_when_a_final_run_diverges(tiny, monkeypatch, capsys):
    """--stage all: lr 0.1 wins tuning, its first final run diverges, so adopt moves to 0.05 and the
    sweep trains 0.05's seeds; the other 0.1 runs are skipped."""
    launched = []

    def launch(run, data_dir, threads, log_dir):
        launched.append(run)
        if run.config.evaluate_on == "test" and run.config.lr == 0.1:
            diverge(run)
            return sweep.outcome_of(run, False, "exit 1")
        store_fake(run, 60 if run.config.lr == 0.1 else 40)
        return "ok", ""

    monkeypatch.setattr(sweep, "launch", launch)
    assert sweep.main(args_of(tiny, "-p", "data_dir", tiny.data_dir)) == 0
    out = capsys.readouterr().out
    now = reloaded(tiny)
    assert now.cell("a").lr == now.cell("b").lr == 0.05
    assert f"{LABEL_A}: lr = 0.05 (highest mean validation accuracy of 0.05, 0.1; left out, diverged: 0.1)" in out
    assert out.count("skipped (lr 0.1 diverged in another run)") == 3
    finals = [run for run in launched if run.config.evaluate_on == "test"]
    assert [run.config.lr for run in finals] == [0.1] + [0.05] * len(now.final_runs())
    assert all(run.path.exists() for run in now.final_runs())
    assert now.unstable_rates() == {("a", 0.1)}


def test_adopt_moves_off_a_rate_whose_final_run_diverged(tiny, launches, capsys):
    assert sweep.main(args_of(tiny, "--stage", "tune", "-p", "data_dir", tiny.data_dir)) == 0
    assert sweep.adopt(tiny.study, False) is True and reloaded(tiny).cell("a").lr == 0.1  # 60% beats 40%
    assert sweep.adopt(reloaded(tiny), False) is False  # nothing changed
    diverge(reloaded(tiny).final_runs()[1], "the training loss became nan at epoch 1, step 2; ...")  # cell b's
    assert sweep.adopt(reloaded(tiny), False) is True and reloaded(tiny).cell("a").lr == 0.05
    assert "left out, diverged: 0.1" in capsys.readouterr().out
    assert not any(row["diverged"] for row in reloaded(tiny).tuning_log())  # the tuning runs trained fine


# --- what is stored: the list, the summary, setting runs aside -------------------------------------------

def test_list_prints_a_row_per_stored_run(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    assert sweep.main(args_of(tiny, "--list")) == 0
    assert capsys.readouterr().out == "No run of the study is stored yet.\n"
    tune_ok, tune_diverged = tiny.tuning
    store_fake(tune_ok, 40, seconds=95.4)
    diverge(tune_diverged)
    a0, b0, a1, b1 = tiny.final
    store_fake(b1, 60, seconds=300.0)
    b0.path.write_text("{ truncated")
    machine = "test CPU, 1 threads, cpu, fp32"
    assert sweep.main(args_of(tiny, "--list")) == 0
    assert squeezed(capsys.readouterr().out) == [
        "| file | cell | split | seed | lr | epochs | accuracy (%) | training (s) | machine |",
        "|:---|:---|:---|:---|:---|:---|:---|:---|:---|",
        f"| {tune_ok.path} | a | validation | 7 | 0.05 | 1 | 40.00 | 95 | {machine} |",
        f"| {tune_diverged.diverged_path} | a | validation | 7 | 0.1 | 1 | diverged | | |",
        f"| {b0.path} | b | test | 0 | 0.2 | 1 | unusable | | |",
        f"| {b1.path} | b | test | 1 | 0.2 | 1 | 60.00 | 300 | {machine} |",
    ]


def test_list_keeps_the_final_runs_of_a_rate_adopt_moved_off(tiny, monkeypatch, capsys):
    """As in the README's baseline: final runs at an adopted rate, one diverged and one trained to the end,
    then adopt moves to the next rate; both files stay in results/ as the record, and --list names them."""
    no_launch(monkeypatch)
    for run in tiny.tuning:
        store_fake(run, 60 if run.config.lr == 0.1 else 40)
    assert sweep.adopt(tiny.study, False) is True
    a0, b0, a1, b1 = reloaded(tiny).final_runs()
    assert a0.config.lr == 0.1
    diverge(a0)
    store_fake(a1, 50)
    assert sweep.adopt(reloaded(tiny), False) is True and reloaded(tiny).cell("a").lr == 0.05
    capsys.readouterr()
    assert sweep.main(args_of(tiny, "--list")) == 0
    out = capsys.readouterr().out
    assert f"| {a0.diverged_path} | a | test | 0 | 0.1 | 1 | diverged | | |" in squeezed(out)
    assert f"| {a1.path} | a | test | 1 | 0.1 | 1 | 50.00 | 2 | test CPU, 1 threads, cpu, fp32 |" in squeezed(out)


def test_dry_run_with_an_unusable_tuning_result_lists_it_instead_of_crashing(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    broken = tiny.tuning[0]
    broken.path.parent.mkdir(parents=True)
    broken.path.write_text("{ truncated")
    assert sweep.main(args_of(tiny, "--dry-run")) == 0
    out = capsys.readouterr().out
    assert f"  would run: {broken.describe()} -> {broken.path}" in out
    assert "would write the chosen learning rates once tuning is done" in out


@pytest.fixture
def three_notebooks(tmp_path):
    """A study of the three notebooks' own recipes (the cells the original report's claims are about), each
    with final seeds 0 and 1 stored (not trained): AlexNet + Adam + Dropout clearly ahead of AlexNet + SGD."""
    root = tmp_path / "three"
    root.mkdir()
    the_study = write_study(root, {"baseline": {"recipe": "baseline", "grid": [0.05, 0.1]},
                                   "sgd": {"recipe": "alexnet_sgd", "grid": [0.02, 0.04]},
                                   "adam_dropout": {"recipe": "alexnet_adam_dropout", "grid": [0.0016, 0.0032]}})
    correct = {"baseline": 50, "sgd": 40, "adam_dropout": 60}
    for run in the_study.final_runs():
        store_fake(run, correct[run.cell.name] + 2 * run.config.seed)
    return the_study


def test_summary_prints_the_table_the_status_and_the_verdicts(three_notebooks, monkeypatch, capsys):
    no_launch(monkeypatch)
    assert sweep.main(["--study", str(three_notebooks.file), "--summary"]) == 0
    out = capsys.readouterr().out
    assert out == conclusions.summary_text(three_notebooks) + "\n"
    table, machine, status, verdicts = out.rstrip("\n").split("\n\n", 3)
    assert machine == "Every run trained on: test CPU, 1 threads, cpu, fp32."  # one machine: said once, not a column
    rows = squeezed(table)
    assert rows[0].startswith("| configuration | ") and len(rows) == 2 + len(three_notebooks.cells)
    for row, cell in zip(rows[2:], three_notebooks.cells):
        assert row.startswith(f"| {cell.label} | ")
    assert "(2)" in rows[2] and "The study is complete." in status and status.startswith("**Final runs stored**")
    assert verdicts.startswith("Mean test accuracy over the stored seeds, highest first: AlexNet + Adam + Dropout 0.5 "
                               "61.00% (2 runs); baseline CNN + SGD 51.00% (2 runs); AlexNet + SGD 41.00% (2 runs).")
    assert any(line.startswith("- *AlexNet + Adam + Dropout 0.5 beats AlexNet + SGD in test accuracy (this study's "
                               "recipe, 8 epochs; ") and line.endswith("**holds**.") for line in verdicts.splitlines()), verdicts


def test_summary_written_into_the_readme(three_notebooks, tmp_path, monkeypatch, capsys):
    """--summary --write-readme: the block between the README's results markers, the rest kept."""
    no_launch(monkeypatch)
    from cifar_utils import recipes
    monkeypatch.setattr(sweep, "REPO_ROOT", tmp_path)  # the README written is tmp_path/README.md
    monkeypatch.setattr(recipes, "REPO_ROOT", tmp_path)  # and named relative to it
    readme = tmp_path / "README.md"
    before = f"# Report\n\n{conclusions.README_START}\nold numbers\n{conclusions.README_END}\n\nThe rest.\n"
    readme.write_text(before)
    assert sweep.main(["--study", str(three_notebooks.file), "--summary", "--write-readme"]) == 0
    assert capsys.readouterr().out == "wrote the results block of README.md\n"
    assert readme.read_text() == conclusions.with_readme_block(before, conclusions.readme_text(three_notebooks))
    assert conclusions.readme_block(readme.read_text()) == conclusions.readme_text(three_notebooks)
    assert readme.read_text().endswith(f"{conclusions.README_END}\n\nThe rest.\n")
    readme.write_text("# Report without markers\n")
    assert sweep.main(["--study", str(three_notebooks.file), "--summary", "--write-readme"]) == 2
    assert "README.md lacks the block's markers" in capsys.readouterr().err
    assert readme.read_text() == "# Report without markers\n"


@pytest.mark.parametrize("options, names", [
    (["--summary", "--list"], ["--summary", "--list"]),              # --list was dropped
    (["--list", "--set-aside", "x"], ["--list", "--set-aside"]),
    (["--set-aside", ""], ["--set-aside", "build/old"]),             # started the whole sweep
    (["--write-readme"], ["--write-readme", "--summary"]),           # started the whole sweep
    (["--summary", "--write-readme", "--cells", "a"], ["--cells a"]),  # overwrote README's table with one cell's
])
def test_options_that_cannot_go_together_are_refused_before_anything_runs(tiny, tmp_path, monkeypatch, capsys, options,
                                                                          names):
    no_launch(monkeypatch)
    monkeypatch.setattr(sweep, "REPO_ROOT", tmp_path)  # a README.md written by mistake lands here
    assert sweep.main(args_of(tiny, *options)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and all(name in err for name in names), err
    assert stored_files(tiny.root) == [] and not (tmp_path / "README.md").exists()


def test_a_sweep_without_data_or_a_place_to_store_stops_before_the_first_run(tiny, tmp_path, monkeypatch, capsys):
    """Each run failed alike, one FAILED line and a traceback in its log after another."""
    no_launch(monkeypatch)
    empty = tmp_path / "no data here"
    empty.mkdir()
    assert sweep.main(args_of(tiny, "-p", "data_dir", str(empty))) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no CIFAR-10 data in ") and str(empty) in err and "data_dir" in err
    tuning_dir = tiny.study.tuning_dir
    tuning_dir.parent.mkdir(parents=True, exist_ok=True)
    tuning_dir.write_text("a file where the tuning runs' folder must be")
    assert sweep.main(args_of(tiny, "-p", "data_dir", tiny.data_dir)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the output folder ") and str(tuning_dir) in err and "choose a folder" in err
    assert stored_files(tiny.root) == []


def test_a_sweep_stops_at_a_result_of_a_newer_schema_instead_of_training_over_it(tiny, launches, capsys):
    run = tiny.final[0]
    result = store_fake(run)
    run.path.write_text(json.dumps({**result, "schema_version": result["schema_version"] + 1}))
    before = run.path.read_bytes()
    assert sweep.main(args_of(tiny, "--stage", "final", "-p", "data_dir", tiny.data_dir)) == 2
    err = capsys.readouterr().err
    assert str(run.path) in err and "newer version of cifar-report" in err and "upgrade" in err
    assert launches == [] and run.path.read_bytes() == before


def test_a_timeout_that_is_not_a_positive_number_of_minutes_is_refused(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    with pytest.raises(SystemExit) as info:
        sweep.main(args_of(tiny, "--timeout-min", "-5"))
    assert info.value.code == 2 and "'-5' is not a whole number of minutes above 0" in capsys.readouterr().err


@pytest.mark.parametrize("study_file", ["study_quick.yaml", "study_recipe.yaml"])
def test_write_readme_refuses_a_study_whose_summary_is_not_readme_s_block(tmp_path, monkeypatch, capsys, study_file):
    """Either one's summary written there replaced the study's table and emptied the verdicts."""
    no_launch(monkeypatch)
    monkeypatch.setattr(sweep, "REPO_ROOT", tmp_path)  # a copy of README.md is what would be written
    shutil.copy(REPO_ROOT / "README.md", tmp_path / "README.md")
    assert sweep.main(["--study", str(REPO_ROOT / "profiles" / study_file), "--summary", "--write-readme"]) == 2
    err = capsys.readouterr().err
    assert study_file in err and "--summary alone" in err
    assert (tmp_path / "README.md").read_bytes() == (REPO_ROOT / "README.md").read_bytes()


def test_summary_of_the_study_file_by_default(monkeypatch, capsys):
    no_launch(monkeypatch)
    assert sweep.main(["--summary"]) == 0
    assert capsys.readouterr().out == conclusions.summary_text(study.load()) + "\n"


def faithful_result(results: Path) -> Path:
    return results / f"baseline-{profile_config('faithful', 'baseline').key()}.json"


def test_set_aside_moves_the_study_runs_and_keeps_the_faithful_results(tiny, capsys):
    results, tuning = tiny.study.results_dir, tiny.study.tuning_dir
    tuning.mkdir(parents=True)
    (results / "earlier-single-runs").mkdir()
    faithful = faithful_result(results)
    study_files = [results / "alexnet_sgd-0123456789ab.json", results / "baseline-0123456789ab.diverged",
                   tuning / "baseline-ba9876543210.json"]
    for path in [faithful, *study_files, results / "earlier-single-runs" / "baseline-x.json", results / "README.md"]:
        path.write_text("{}")
    aside = tiny.root / "aside"
    moved = tiny.study.set_aside(aside, keep={faithful.stem})
    assert sorted(moved) == sorted(aside / p.relative_to(results) for p in study_files)
    assert all(p.exists() for p in moved) and not any(p.exists() for p in study_files)
    assert faithful.exists() and (results / "earlier-single-runs" / "baseline-x.json").exists()
    assert (results / "README.md").exists()
    # nothing is overwritten: a second set-aside into the same folder stops before moving anything
    study_files[0].write_text("{}")
    with pytest.raises(ValueError, match="alexnet_sgd-0123456789ab.json already exists; set the runs aside into an "
                                         "empty folder"):
        tiny.study.set_aside(aside, keep={faithful.stem})
    assert study_files[0].exists()


def test_set_aside_from_the_command_line(tiny, monkeypatch, capsys):
    no_launch(monkeypatch)
    faithful = {faithful_result(tiny.study.results_dir).with_name(f"{name}-{profile_config('faithful', name).key()}.json")
                for name in EXPERIMENTS}
    for run in tiny.tuning[:1] + tiny.final[:2]:
        store_fake(run)
    for path in faithful:
        path.write_text("{}")
    aside = tiny.root / "aside"
    assert sweep.main(args_of(tiny, "--set-aside", str(aside))) == 0
    assert capsys.readouterr().out == f"moved 3 stored runs of the study into {aside}\n"
    assert stored_files(tiny.study.results_dir) == sorted(faithful)  # the faithful profile's results stay
    assert (aside / "tuning" / tiny.tuning[0].path.name).exists()
    store_fake(tiny.final[0])
    assert sweep.main(args_of(tiny, "--set-aside", str(aside))) == 2
    assert capsys.readouterr().err == (f"error: {aside / tiny.final[0].path.name} already exists; set the runs aside "
                                       f"into an empty folder.\n")
    assert tiny.final[0].path.exists()


@pytest.mark.parametrize("folder", ["notebooks", "results/old", "figures", "."])
def test_set_aside_into_the_committed_report_is_refused_and_moves_nothing(tiny, monkeypatch, capsys, folder):
    no_launch(monkeypatch)
    store_fake(tiny.final[0])
    before = stored_files(tiny.root)
    assert sweep.main(args_of(tiny, "--set-aside", folder)) == 2
    err = capsys.readouterr().err
    assert repr(folder) in err and "build/" in err and err.count("\n") == 1
    assert stored_files(tiny.root) == before


def test_a_bad_option_value_is_one_line_without_the_usage_block(capsys):
    with pytest.raises(SystemExit) as exit_:
        sweep.main(["--timeout-min", "-5"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'-5'" in err and err.count("\n") == 1
