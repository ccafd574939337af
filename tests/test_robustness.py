"""Robustness (issue 9): each behaviour here failed before its fix (commit dd93afd).

1. Two runner calls at once never publish each other's notebook: each run executes into a file of its
   own and publishes the notebook object it executed; ``files.locked`` makes a second process wait.
2. An unusable checkpoint (truncated, another model's weights, a pickle that would run code) never
   blocks its configuration: training starts over, says so once, sets the file aside; retrain=True
   never resumes a leftover checkpoint.
3. A stored result that passes a shallow check but is bad is refused before anything is drawn.
4. Stale temp files of our own atomic writes are removed by the next write of the same target.
5. A second run of a configuration that is being trained waits for the first and loads its result.
6. The seed's range is checked at construction.
7. A 1-image test set is evaluated; a data_dir that is a file says so.
8. What a killed or failed run leaves goes: the runner's temps of a killed run (at its next run), a failed
   run's lock and empty checkpoint folder (a checkpoint stays), lock files whose holders were killed.

All on synthetic data in tmp folders, a baseline model, one epoch, a few hundred images.
"""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import matplotlib
import nbformat
import pytest
import torch

matplotlib.use("Agg")

from cifar_utils import store as store_mod  # noqa: E402
from cifar_utils import figures, recipes, report  # noqa: E402
from cifar_utils.config import MAX_SEED, ConfigError  # noqa: E402
from cifar_utils.data import CLASSES, DataError, load_cifar10  # noqa: E402
from cifar_utils.files import locked  # noqa: E402
from cifar_utils.models import build_model  # noqa: E402
from cifar_utils.recipes import REPO_ROOT  # noqa: E402
from cifar_utils.results import SCHEMA_VERSION, NewerResult, ResultError, load_result, save_result  # noqa: E402
from cifar_utils.store import ExperimentRun  # noqa: E402
from cifar_utils.train import train  # noqa: E402
from helpers import make_config, without_seconds, write_synthetic_npz  # noqa: E402
from test_report_runner import runner, save_cell  # noqa: E402,F401  (the fixture, used by name)

CONFIG = dict(train_subset=200, test_subset=50)  # on top of helpers.BASE_RECIPE: baseline, fp32, CPU, 1 epoch
HOUR = 3600


def quiet(line: str) -> None:
    pass


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("robust-cifar")
    write_synthetic_npz(folder / "cifar10.npz", n_train=300, n_test=100)
    return folder


@pytest.fixture(scope="module")
def data(data_dir):
    """What ExperimentRun trains on for CONFIG."""
    return load_cifar10(data_dir).subset(CONFIG["train_subset"], CONFIG["test_subset"], seed=0)


@pytest.fixture(scope="module")
def uninterrupted(data):
    """The history of a plain run of CONFIG: what every run that starts over must reproduce."""
    return without_seconds(train(make_config(**CONFIG), data, progress=False, log=quiet).history)


def make_exp(tmp_path, data_dir, retrain=False, **overrides) -> ExperimentRun:
    exp = ExperimentRun("baseline", make_config(**{**CONFIG, **overrides}), data_dir=str(data_dir), retrain=retrain,
                        results_dir=str(tmp_path / "results"), figures_dir=str(tmp_path / "figures"))
    exp.checkpoint = tmp_path / "runs" / f"baseline-{exp.key}" / "checkpoint.pt"  # keep runs/ out of the repo
    return exp


@pytest.fixture(scope="module")
def stored(tmp_path_factory, data_dir):
    """The text of a valid stored result of CONFIG (trained once)."""
    exp = make_exp(tmp_path_factory.mktemp("robust-stored"), data_dir)
    exp.run(log=quiet, progress=False)
    return exp.path.read_text()


@pytest.fixture
def train_calls(monkeypatch):
    """Count the train() calls ExperimentRun makes, still training for real."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[0])
        return train(*args, **kwargs)

    monkeypatch.setattr(store_mod, "train", spy)
    return calls


# A process that holds io.locked(lock) until the file `release` appears; it writes `released` (and,
# when given, moves `staged` onto `target`: the other run storing its result) just before letting go.
HOLDER = textwrap.dedent("""
    import os, sys, time
    from cifar_utils.files import locked
    lock, release, released, staged, target = sys.argv[1:6]
    with locked(lock):
        print("held", flush=True)
        deadline = time.time() + 60
        while not os.path.exists(release) and time.time() < deadline:
            time.sleep(0.02)
        if staged:
            os.replace(staged, target)
        open(released, "w").close()
""")


def hold_lock(lock, release, released, staged="", target="") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock), str(release), str(released), str(staged),
                             str(target)], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    assert proc.stdout.readline().strip() == "held"
    return proc


# ---------------------------------------------------------------------------------------------
# 1. Two runner calls at once never publish the wrong notebook.

def tiny_notebook(folder, name="tiny"):
    """A notebook with a parameters cell (tag, pause) that sleeps, then prints its tag."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("tag = 'default'\npause = 0.0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("import time\ntime.sleep(pause)\nprint('tag is', tag)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


def injected(nb) -> str:
    [cell] = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    return cell.source


@pytest.mark.slow
def test_two_concurrent_runs_each_get_their_own_executed_notebook(tmp_path, monkeypatch):
    notebooks, output = tmp_path / "notebooks", tmp_path / "build"
    tiny_notebook(notebooks)
    output.mkdir()
    monkeypatch.setattr(report, "NOTEBOOKS_DIR", notebooks)
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", notebooks)
    # papermill changes the process's working directory while it executes (cwd=...), which two threads
    # cannot share: the last to restore it may leave the other's. The runner runs notebooks one after
    # another; here, the directory is put back when the test ends, so later tests (nbval) find their files.
    monkeypatch.chdir(os.getcwd())
    runs = {}

    def run(tag, pause):  # A finishes first; B is still executing (and writing) when A returns
        runs[tag] = report.run_notebook("tiny", {"tag": tag, "pause": pause}, output)

    threads = [threading.Thread(target=run, args=args) for args in (("A", 0.2), ("B", 2.0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert set(runs) == {"A", "B"}
    for tag, (ok, detail, nb) in runs.items():
        assert ok, detail
        assert f'tag = "{tag}"' in injected(nb)
        assert nb.cells[-1].outputs[0]["text"] == f"tag is {tag}\n"
    # The build copy is one whole executed notebook (the last to finish); no temp file is left.
    build = nbformat.read(output / "tiny.ipynb", as_version=4)
    [last] = [tag for tag, (_, _, nb) in runs.items() if injected(nb) == injected(build)]
    assert build.cells[-1].outputs[0]["text"] == f"tag is {last}\n"
    assert sorted(p.name for p in output.iterdir()) == ["tiny.ipynb"]


def test_publish_writes_exactly_the_notebook_it_was_given(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    source = tiny_notebook(notebooks)
    before = source.read_bytes()
    monkeypatch.setattr(report, "NOTEBOOKS_DIR", notebooks)
    mine = nbformat.read(source, as_version=4)
    cell = nbformat.v4.new_code_cell('# Parameters\ntag = "mine"\n')
    cell.metadata["tags"] = ["injected-parameters"]
    mine.cells.insert(1, cell)
    mine.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="tag is mine\n")]
    mine.metadata["papermill"] = {"parameters": {"tag": "mine"}}
    # Meanwhile another run left its own executed copy in the build folder: publish never reads it.
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "tiny.ipynb")
    expected = copy.deepcopy(mine)
    report.strip_volatile(expected)

    assert report.publish("tiny", mine, before)
    published = source.read_bytes()
    assert published != before
    assert published == nbformat.writes(expected).encode() + b"\n"
    assert nbformat.read(source, as_version=4).cells[-1].outputs[0]["text"] == "tag is mine\n"
    assert not [p for p in notebooks.iterdir() if p.name != "tiny.ipynb"]


def test_a_second_process_waits_for_the_lock_and_is_told_once(tmp_path):
    lock, release, released = tmp_path / "x.lock", tmp_path / "release", tmp_path / "released"
    proc = hold_lock(lock, release, released)
    waits = []

    def on_wait():
        waits.append(time.time())
        release.touch()  # the holder lets go only once we are waiting

    try:
        with locked(lock, on_wait=on_wait):
            assert released.exists()  # we got the lock only after the holder gave it up
    finally:
        proc.wait(timeout=30)
    assert len(waits) == 1
    with locked(lock, on_wait=lambda: waits.append("again")):  # free: no waiting, no message
        pass
    assert len(waits) == 1


# ---------------------------------------------------------------------------------------------
# 2. An unusable checkpoint never blocks its configuration.

class Planted:
    """Pickles as a call of open(marker, "w"): unpickling it would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_unusable(kind, path, data, marker):
    """Write an unusable checkpoint of ``kind`` at ``path`` (a run of CONFIG's key on ``data``)."""
    config = make_config(**CONFIG)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "crafted_pickle":
        torch.save({"key": config.key(), "data_sha256": data.sha256, "model": Planted(marker)}, path)
        return
    train(config, data, checkpoint_path=path, progress=False, log=quiet)  # a real checkpoint of this run
    if kind == "truncated":
        blob = path.read_bytes()
        path.write_bytes(blob[: len(blob) // 2])
    elif kind == "other_model":  # AlexNet's weights under the baseline run's key and data
        state = torch.load(path, weights_only=True)
        state["model"] = build_model("alexnet", 0.0).state_dict()
        torch.save(state, path)


UNUSABLE = ("truncated", "other_model", "crafted_pickle")


def test_the_crafted_pickle_is_live(tmp_path, data):
    """The payload used below does create its marker when unpickled without weights_only."""
    marker = tmp_path / "marker"
    write_unusable("crafted_pickle", tmp_path / "ckpt.pt", data, marker)
    torch.load(tmp_path / "ckpt.pt", weights_only=False)
    assert marker.exists()


def assert_started_over(lines, path, marker):
    named = [line for line in lines if str(path) in line]
    assert len(named) == 1, lines
    assert "starts over" in named[0] and "checkpoint" in named[0]
    assert not any(line.startswith("Resuming") for line in lines)
    assert not marker.exists()


@pytest.mark.parametrize("kind", UNUSABLE)
def test_train_starts_over_from_an_unusable_checkpoint(kind, tmp_path, data, uninterrupted):
    path, marker = tmp_path / "runs" / "checkpoint.pt", tmp_path / "marker"
    write_unusable(kind, path, data, marker)
    bad = path.read_bytes()
    lines = []
    history = train(make_config(**CONFIG), data, checkpoint_path=path, progress=False, log=lines.append).history
    assert_started_over(lines, path, marker)
    aside = path.with_name("checkpoint.pt.unusable")
    assert aside.read_bytes() == bad
    assert without_seconds(history) == uninterrupted
    assert torch.load(path, weights_only=True)["history"] == history  # a new, usable checkpoint in its place


@pytest.mark.parametrize("kind", UNUSABLE)
def test_experiment_run_starts_over_from_an_unusable_checkpoint(kind, tmp_path, data_dir, data, uninterrupted):
    exp, marker = make_exp(tmp_path, data_dir), tmp_path / "marker"
    write_unusable(kind, exp.checkpoint, data, marker)
    lines = []
    result = exp.run(log=lines.append, progress=False)
    assert_started_over(lines, exp.checkpoint, marker)
    assert without_seconds(result["history"]) == uninterrupted
    assert load_result(exp.path, key=exp.key) == result
    assert not exp.checkpoint.parent.exists()  # the finished run cleans up after itself


def test_retrain_never_resumes_a_leftover_checkpoint(tmp_path, data_dir, data, uninterrupted):
    exp = make_exp(tmp_path, data_dir, retrain=True)
    exp.checkpoint.parent.mkdir(parents=True)
    train(make_config(**CONFIG), data, checkpoint_path=exp.checkpoint, progress=False, log=quiet)
    state = torch.load(exp.checkpoint, weights_only=True)
    state["history"][0]["train_loss"] = 123.0  # marks what a resumed run would report
    torch.save(state, exp.checkpoint)
    probe = tmp_path / "probe.pt"
    shutil.copy(exp.checkpoint, probe)
    resumed = train(make_config(**CONFIG), data, checkpoint_path=probe, progress=False, log=quiet).history
    assert resumed[0]["train_loss"] == 123.0  # the leftover is one a plain run would resume

    lines = []
    result = exp.run(log=lines.append, progress=False)
    assert not any(line.startswith("Resuming") for line in lines), lines
    assert without_seconds(result["history"]) == uninterrupted


# ---------------------------------------------------------------------------------------------
# 3. Stored results that pass a shallow check but are bad are refused.

def _three_classes(r):
    r["classes"] = list(CLASSES[:3])
    r["confusion"] = [row[:3] for row in r["confusion"][:3]]
    r["environment"]["test_images"] = sum(map(sum, r["confusion"]))


def _huge_count(r):
    r["confusion"][0][0] += 10 ** 30
    r["environment"]["test_images"] += 10 ** 30


BAD_RESULTS = {
    "test_loss_infinity": lambda r: r["history"][0].update(test_loss=float("inf")),  # JSON: Infinity
    "confusion_count_1e30": _huge_count,
    "train_images_1e30": lambda r: r["environment"].update(train_images=10 ** 30),
    "all_zero_confusion": lambda r: r.update(confusion=[[0] * 10 for _ in range(10)]),
    "predicted_class_99": lambda r: r["first_ten"]["predicted"].__setitem__(0, 99),
    "three_classes": _three_classes,
    "bad_base64": lambda r: r["first_ten"].update(images_base64="not*base64!"),
    "empty_environment": lambda r: r.update(environment={}),
    "train_seconds_text": lambda r: r.update(train_seconds="fast"),
    "huge_class_names": lambda r: r.update(classes=["x" * 100_000] * 10),
}


def write_bad(path, stored_text, variant):
    result = json.loads(stored_text)
    BAD_RESULTS[variant](result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return path


def test_the_unmodified_result_loads(stored, tmp_path):
    (tmp_path / "ok.json").write_text(stored)
    assert load_result(tmp_path / "ok.json") == json.loads(stored)


@pytest.mark.parametrize("variant", BAD_RESULTS)
def test_a_bad_stored_result_is_refused(variant, stored, tmp_path):
    path = write_bad(tmp_path / "bad.json", stored, variant)
    with pytest.raises(ResultError, match=re.escape(str(path))):
        load_result(path)


class Stop(Exception):
    """Raised by the stand-in for train(): the run got as far as training."""


@pytest.mark.parametrize("variant", BAD_RESULTS)
def test_experiment_warns_and_trains_before_drawing_anything(variant, stored, tmp_path, data_dir, monkeypatch):
    exp = make_exp(tmp_path, data_dir)
    write_bad(exp.path, stored, variant)
    bad = exp.path.read_bytes()

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(store_mod, "train", stop)
    lines = []
    with pytest.raises(Stop):
        exp.run(log=lines.append, progress=False)
    assert len(lines) == 1 and lines[0].startswith("Warning: ") and lines[0].endswith("Training again now."), lines
    assert not exp.figures_dir.exists() or not list(exp.figures_dir.iterdir())  # nothing drawn
    assert exp.path.read_bytes() == bad


def test_a_result_of_a_newer_schema_is_never_trained_over(stored, tmp_path, data_dir, monkeypatch):
    """Training again would overwrite a result only a newer cifar-report can read: the run stops, saying to upgrade."""
    exp = make_exp(tmp_path, data_dir)
    newer = {**json.loads(stored), "schema_version": SCHEMA_VERSION + 1}
    exp.path.parent.mkdir(parents=True, exist_ok=True)
    exp.path.write_text(json.dumps(newer))
    before = exp.path.read_bytes()

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(store_mod, "train", stop)
    with pytest.raises(NewerResult, match="upgrade"):
        exp.run(log=lambda line: None, progress=False)
    assert exp.path.read_bytes() == before


def test_experiment_replaces_a_bad_stored_result(stored, tmp_path, data_dir, train_calls, uninterrupted):
    exp = make_exp(tmp_path, data_dir)
    write_bad(exp.path, stored, "test_loss_infinity")
    lines = []
    result = exp.run(log=lines.append, progress=False)
    assert lines[0].startswith("Warning: ") and len(train_calls) == 1
    assert without_seconds(result["history"]) == uninterrupted
    assert load_result(exp.path, key=exp.key) == result


# ---------------------------------------------------------------------------------------------
# 4. Stale temp files of our own writes are removed on the next write.

def plant_temps(folder, name):
    folder.mkdir(parents=True, exist_ok=True)
    stale, fresh = folder / f".{name}.k3x9q2ab.tmp", folder / f".{name}.z8w1m4cd.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"half")
    then = time.time() - 2 * HOUR
    os.utime(stale, (then, then))
    return stale, fresh


def test_stale_temps_of_a_result_are_removed(stored, tmp_path):
    target = tmp_path / "results" / "baseline-x.json"
    stale, fresh = plant_temps(target.parent, target.name)
    save_result(target, json.loads(stored))
    assert target.is_file() and not stale.exists() and fresh.exists()


def test_stale_temps_of_a_checkpoint_are_removed(tmp_path, data):
    target = tmp_path / "runs" / "checkpoint.pt"
    stale, fresh = plant_temps(target.parent, target.name)
    train(make_config(**CONFIG), data, checkpoint_path=target, progress=False, log=quiet)
    assert target.is_file() and not stale.exists() and fresh.exists()


def test_stale_temps_of_a_figure_are_removed(stored, tmp_path):
    figure = figures.experiment_figure("baseline", "confusion_matrix")
    stale, fresh = plant_temps(tmp_path / "figures", figure.filename)
    figures.render(figure, json.loads(stored), tmp_path / "figures")
    assert (tmp_path / "figures" / figure.filename).is_file() and not stale.exists() and fresh.exists()


# ---------------------------------------------------------------------------------------------
# 5. A run of a configuration being trained elsewhere waits, then loads that run's result.

def test_second_run_waits_for_the_first_and_loads_its_result(stored, tmp_path, data_dir, train_calls):
    exp = make_exp(tmp_path, data_dir)
    lock = tmp_path / "runs" / f"baseline-{exp.key}.lock"
    assert exp.checkpoint.parent.with_suffix(".lock") == lock
    exp.checkpoint.parent.mkdir(parents=True)
    exp.checkpoint.write_bytes(b"the other run's checkpoint")  # the first run is still training
    staged = tmp_path / "staged.json"
    staged.write_text(stored)
    exp.path.parent.mkdir(parents=True)
    release, released = tmp_path / "release", tmp_path / "released"
    proc = hold_lock(lock, release, released, staged, exp.path)
    lines = []

    def log(line):
        lines.append(line)
        if line.startswith("Waiting for another run"):
            release.touch()  # now the first run stores its result and lets go

    try:
        result = exp.run(log=log, progress=False)
    finally:
        proc.wait(timeout=30)
    assert train_calls == []
    assert [line for line in lines if line.startswith("Waiting")] == [
        f"Waiting for another run of these parameters to finish ({lock})."]
    assert any("just stored by the other run" in line for line in lines), lines
    assert released.exists() and result == json.loads(stored)
    assert exp.checkpoint.read_bytes() == b"the other run's checkpoint"  # not ours to delete


# ---------------------------------------------------------------------------------------------
# 6. Seed range.

def test_a_seed_out_of_range_is_refused_at_construction():
    with pytest.raises(ConfigError, match=rf"seed = 35184372088832 is out of range.*<= {MAX_SEED}"):
        make_config(seed=35184372088832)


# ---------------------------------------------------------------------------------------------
# 7. A one-image test set; a data_dir that is a file.

def test_a_one_image_test_set_is_evaluated(tmp_path, data_dir):
    exp = make_exp(tmp_path, data_dir, test_subset=1)
    result = exp.run(log=quiet, progress=False)
    assert sum(map(sum, result["confusion"])) == 1


def test_a_data_dir_that_is_a_file_says_so(tmp_path, data_dir):
    npz = data_dir / "cifar10.npz"
    with pytest.raises(DataError, match=rf"{re.escape(str(npz.resolve()))} is a file, not a folder"):
        load_cifar10(npz)
    exp = ExperimentRun("baseline", make_config(**CONFIG), data_dir=str(npz), results_dir=str(tmp_path / "results"),
                        figures_dir=str(tmp_path / "figures"))
    exp.checkpoint = tmp_path / "runs" / "checkpoint.pt"
    with pytest.raises(DataError, match="is a file, not a folder"):
        exp.run(log=quiet, progress=False)


# ---------------------------------------------------------------------------------------------
# 8. What a killed or failed run leaves goes: the runner's temps, empty checkpoint folders, lock files.

def exited_pid() -> int:
    """The pid of a process that has ended (as a kill -9 leaves its writer)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_variant_runs_temps_are_gone_after_the_next_run(runner, capsys):
    _, root = runner
    save_cell(root / "notebooks" / "01_baseline.ipynb",
              lambda source: source.replace("epochs: int = 10 ", "epochs: int = 3  "))
    out, dead = root / "out", exited_pid()
    out.mkdir()
    killed = [out / f".01_baseline.ipynb.{dead}.k1ll3d99{suffix}"
              for suffix in (report.RUNNING_SUFFIX, report.SOURCE_SUFFIX)]
    working = out / f".01_baseline.ipynb.{os.getpid()}.wr1t1ng0{report.RUNNING_SUFFIX}"  # a run still at work
    for temp in (*killed, working):
        temp.write_text("{}")
    assert report.main(["--only", "01_baseline", "--output-dir", str(out)]) == 0
    assert "runs as a variant" in capsys.readouterr().out
    assert not any(temp.exists() for temp in killed) and working.exists()


def fails_in_training(creates_folder: bool, writes_checkpoint: bool):
    """A stand-in for train() that fails (as a full disk or a crash would), after making its checkpoint folder
    (as a checkpoint write that failed does) and, optionally, a checkpoint."""
    def failing(config, data, checkpoint_path, **kwargs):
        if creates_folder:
            checkpoint_path.parent.mkdir(parents=True)
        if writes_checkpoint:
            checkpoint_path.write_bytes(b"epoch 1")
        raise Stop
    return failing


@pytest.mark.parametrize("creates_folder", [False, True], ids=["before any checkpoint write", "in a checkpoint write"])
def test_a_failed_run_leaves_no_empty_checkpoint_folder_and_no_lock(creates_folder, tmp_path, data_dir, monkeypatch):
    exp = make_exp(tmp_path, data_dir)
    monkeypatch.setattr(store_mod, "train", fails_in_training(creates_folder, writes_checkpoint=False))
    with pytest.raises(Stop):
        exp.run(log=quiet, progress=False)
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_failed_run_without_data_leaves_nothing_in_runs(tmp_path):
    (tmp_path / "empty").mkdir()
    exp = make_exp(tmp_path, tmp_path / "empty")
    with pytest.raises(DataError):
        exp.run(log=quiet, progress=False)
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_failed_run_keeps_its_checkpoint_to_resume_from(tmp_path, data_dir, monkeypatch):
    exp = make_exp(tmp_path, data_dir)
    monkeypatch.setattr(store_mod, "train", fails_in_training(creates_folder=True, writes_checkpoint=True))
    with pytest.raises(Stop):
        exp.run(log=quiet, progress=False)
    assert exp.checkpoint.read_bytes() == b"epoch 1"
    assert list((tmp_path / "runs").iterdir()) == [exp.checkpoint.parent]


def test_a_run_removes_the_locks_killed_runs_left_and_keeps_a_held_one(tmp_path, data_dir, monkeypatch):
    runs = tmp_path / "runs"
    runs.mkdir()
    left = runs / "baseline-0123456789ab.lock"  # its holder was killed (SIGTERM, kill -9): no one holds it
    left.touch()
    held, release, released = runs / "baseline-ba9876543210.lock", tmp_path / "release", tmp_path / "released"
    proc = hold_lock(held, release, released)
    try:
        monkeypatch.setattr(store_mod, "train", fails_in_training(creates_folder=False, writes_checkpoint=False))
        with pytest.raises(Stop):
            make_exp(tmp_path, data_dir).run(log=quiet, progress=False)
        assert not left.exists() and held.exists()
    finally:
        release.touch()
        proc.wait(timeout=30)
    assert not held.exists()
