"""Failures of issue 19 handled cleanly: an edit saved during a publishing run, where a run may write,
full disks, hostile strings in stored files, temp files left by a kill, early messages."""
from __future__ import annotations

import errno
import json
import re

import nbformat
import pytest

from cifar_utils import recipes, report
from cifar_utils.results import save_result
from helpers import confusion_with_diagonal, fake_result, make_config
from test_report_runner import runner, save_cell  # noqa: F401  (the fixture, used by name)


# --- 2. a publishing run never overwrites a notebook saved while it ran ----------------------------------

def test_a_publishing_run_keeps_an_edit_saved_while_it_ran(runner, monkeypatch, capsys):
    calls, root = runner
    notebook = root / "notebooks" / "01_baseline.ipynb"
    faked = report.run_notebook

    def run_while_the_user_saves(name, params, output_dir, source=None, base=None):
        ran = faked(name, params, output_dir, source, base)
        nb = nbformat.read(notebook, as_version=4)  # a Markdown edit saved from JupyterLab meanwhile
        nb.cells[0].source += "\n\nA sentence the user added."
        nbformat.write(nb, notebook)
        return ran

    monkeypatch.setattr(report, "run_notebook", run_while_the_user_saves)
    edited = None
    assert report.main(["--only", "01_baseline", "--output-dir", str(root / "out")]) == 1
    edited = notebook.read_bytes()
    assert b"A sentence the user added." in edited  # the edit stays
    captured = capsys.readouterr()
    assert "notebooks/01_baseline.ipynb changed while this run executed it" in captured.out
    assert "not published" in captured.out and str(root / "out" / "01_baseline.ipynb") in captured.out


# --- 3. one rule for where a run may write ---------------------------------------------------------------

@pytest.fixture
def nothing_runs(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a notebook was run")

    monkeypatch.setattr(report, "run_notebook", refuse)
    monkeypatch.setattr(report.papermill, "execute_notebook", refuse)
    monkeypatch.setattr(report, "ensure_writable_dir", refuse)


@pytest.mark.parametrize("folder", ["notebooks", "figures", "results", ".", "notebooks/sub"])
def test_executed_copies_never_go_into_the_committed_report(nothing_runs, capsys, folder):
    assert report.main(["--only", "01_baseline", "-p", "epochs", "1", "--output-dir", folder]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --output-dir") and "choose a folder under build/" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("args", [["-p", "results_dir", ""], ["-p", "figures_dir", ""],
                                  ["-p", "figures_dir", "figures"], ["-p", "figures_dir", "notebooks"],
                                  ["-p", "results_dir", "notebooks"], ["-p", "figures_dir", "results"]])
def test_a_variant_never_writes_into_the_report_or_the_repository_root(nothing_runs, capsys, args):
    assert report.main(["--only", "01_baseline", "-p", "epochs", "1", *args, "--output-dir", "build/x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {args[1]} = ") and "choose a folder under build/" in err


def test_the_report_run_and_the_study_keep_their_committed_folders(tmp_path):
    report_config = recipes.profile_config("report", "baseline")
    root = recipes.REPO_ROOT
    assert recipes.output_dirs("baseline", report_config, "results", "figures") == (root / "results", root / "figures")
    smoke = recipes.profile_config("smoke", "baseline")
    assert recipes.output_dirs("baseline", smoke, "results/tuning")[0] == root / "results" / "tuning"
    with pytest.raises(recipes.ConfigError, match="figures_dir = 'figures' would write into figures/"):
        recipes.output_dirs("baseline", smoke, "auto", "figures")


# --- 6. strings from stored files are escaped wherever they enter Markdown --------------------------------

HOSTILE = "<img src=x onerror=alert(1)>"


def rendered(markdown: str) -> str:
    """``markdown`` as the HTML pages render it (raw HTML passes through there)."""
    from nbconvert.filters.markdown_mistune import MarkdownWithMath
    from cifar_utils.webpages import MathMLRenderer
    return MarkdownWithMath(renderer=MathMLRenderer(escape=False)).render(markdown)


def test_a_hostile_data_source_is_shown_as_text_in_the_status_line(tmp_path):
    from cifar_utils import conclusions
    from test_conclusions import results_of, study_in
    the_study = study_in(tmp_path)
    cells = {cell: results_of(cell, [70.0] * len(cell.seeds)) for cell in the_study.cells}
    sgd = the_study.cell("sgd")
    cells[sgd][0] = dict(cells[sgd][0], environment=dict(cells[sgd][0]["environment"],
                                                         data_source=f"npz:{HOSTILE}", data_sha256="cd" * 32))
    html = rendered(conclusions.status(the_study, cells))
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_hostile_machine_names_are_shown_as_text_in_the_markdown_tables():
    from cifar_utils import conclusions, tables
    from test_conclusions import BASELINE, CELLS, results_of
    cells = {cell: [] for cell in CELLS}
    cells[BASELINE] = results_of(BASELINE, [76.0])
    cells[BASELINE][0]["environment"]["cpu"] = f"{HOSTILE} | *x*"
    for markdown in (conclusions.study_markdown(cells), tables.results_markdown({"baseline": cells[BASELINE][0]})):
        html = rendered(markdown)
        assert "<img" not in html and "<em>" not in html and "&lt;img" in html
        header, _, row = markdown.splitlines()[:3]
        assert len(re.split(r"(?<!\\)\|", row)) == header.count("|") + 1  # the "|" did not add a column


# --- 5. a full disk names the path, leaves nothing half-written; the data cache stays best effort ---------

def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def torch_full(*args, **kwargs):  # what torch.save raises when the disk fills under it
    raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1280 vs 1174")


@pytest.mark.parametrize("writer", ["results", "figures", "checkpoint"])
@pytest.mark.parametrize("failure", [enospc, torch_full])
def test_a_full_disk_names_the_path_and_leaves_nothing_half_written(tmp_path, monkeypatch, writer, failure):
    from cifar_utils import files, plots, results, train
    path = tmp_path / "out" / {"results": "r.json", "figures": "f.png", "checkpoint": "checkpoint.pt"}[writer]
    path.parent.mkdir()
    path.write_bytes(b"old")
    if writer == "checkpoint":
        monkeypatch.setattr(train.torch, "save", failure)
        write = lambda: files.atomic_write_with(path, lambda tmp: train.torch.save({}, tmp))  # noqa: E731
    else:
        monkeypatch.setattr(files.os, "fsync", failure)
        result = fake_result("baseline", make_config(), confusion_with_diagonal([7] * 10, row_total=10))
        write = (lambda: results.save_result(path, result)) if writer == "results" else \
            (lambda: plots.atomic_write_bytes(path, b"png"))
    with pytest.raises(files.OutputError) as info:
        write()
    assert str(info.value).startswith(f"writing {path} failed (")
    assert str(info.value).endswith("; free space or choose another folder.") and "\n" not in str(info.value)
    assert path.read_bytes() == b"old" and sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_full_data_folder_gets_no_cache_and_the_data_still_loads(tmp_path, monkeypatch):
    from cifar_utils import data
    from helpers import write_synthetic_npz
    write_synthetic_npz(tmp_path / "cifar10.npz")
    monkeypatch.setattr(data.torch, "save", torch_full)
    with pytest.warns(UserWarning, match=rf"writing {tmp_path / 'cifar10_uint8.pt'} failed .*; CIFAR-10 loads "
                                         r"without its cache this time\."):
        loaded = data.load_cifar10(tmp_path)
    assert len(loaded.y_test) == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar10.npz"]


# --- 9. temp files from a kill are removed when their folder is next used; a failed run leaves nothing ----

def stale_temp(folder, name, suffix=".tmp"):
    """The temp file a writer killed two hours ago left beside ``folder / name``."""
    import os
    import time
    path = folder / f".{name}.k1ll3d{suffix}"
    path.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(path, (old, old))
    return path


def test_an_identical_redraw_removes_a_stale_temp(tmp_path):
    from cifar_utils.files import atomic_write_bytes
    atomic_write_bytes(tmp_path / "fig.png", b"png")
    left = stale_temp(tmp_path, "fig.png")
    atomic_write_bytes(tmp_path / "fig.png", b"png")  # the same bytes: no write, but the folder was used
    assert not left.exists()


def test_a_stale_cache_temp_is_removed_when_the_cache_is_used(tmp_path):
    from cifar_utils import data
    from helpers import write_synthetic_npz
    write_synthetic_npz(tmp_path / "cifar10.npz")
    data.load_cifar10(tmp_path)  # writes the cache
    left = stale_temp(tmp_path, data.CACHE_NAME)
    data.load_cifar10(tmp_path)  # reads it
    assert not left.exists()


def test_stale_executing_notebooks_are_removed_when_the_output_folder_is_next_used(runner):
    calls, root = runner
    out = root / "out"
    out.mkdir()
    left = [stale_temp(out, "02_alexnet_sgd.ipynb", report.RUNNING_SUFFIX),
            stale_temp(out, "00_theory.ipynb", ".source.ipynb")]
    assert report.main(["--only", "01_baseline", "--output-dir", str(out)]) == 0
    assert not any(p.exists() for p in left)


def test_a_failed_run_keeps_the_last_good_executed_copy(tmp_path, monkeypatch, capsys):
    def fails(source, output, **kwargs):
        nbformat.write(nbformat.v4.new_notebook(), output)
        raise report.papermill.PapermillExecutionError(5, 3, "load()", "DataError", "no data", [])

    (tmp_path / "01_baseline.ipynb").write_text("the last good run")
    monkeypatch.setattr(report.papermill, "execute_notebook", fails)
    ok, detail, _ = report.run_notebook("01_baseline", {}, tmp_path)
    assert not ok and (tmp_path / "01_baseline.ipynb").read_text() == "the last good run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_baseline.failed.ipynb", "01_baseline.ipynb"]


def test_a_failed_training_leaves_no_empty_folder_and_no_lock(tmp_path):
    from cifar_utils.data import DataError
    from cifar_utils.store import ExperimentRun
    run = ExperimentRun("baseline", make_config(), data_dir=str(tmp_path / "no data"),
                        results_dir=str(tmp_path / "results"), figures_dir=str(tmp_path / "figures"))
    run.checkpoint = tmp_path / "runs" / "baseline-x" / "checkpoint.pt"
    with pytest.raises(DataError):
        run.run(log=lambda message: None)
    assert sorted(p.name for p in tmp_path.rglob("*")) in ([], ["runs"])


# --- 10. refused early, with a sentence naming the value and the fix ---------------------------------------

def test_an_npz_without_test_images_is_refused_when_loaded(tmp_path):
    from cifar_utils.data import DataError, load_cifar10
    from helpers import write_synthetic_npz
    write_synthetic_npz(tmp_path / "cifar10.npz", n_test=0)
    with pytest.raises(DataError, match=r"cifar10.npz: the test split holds no images; rebuild the file"):
        load_cifar10(tmp_path)


def test_a_huge_weight_decay_is_refused_by_name():
    with pytest.raises(recipes.ConfigError, match=r"weight_decay = 1e\+300 is out of range; it must be >= 0 and <= 1"):
        make_config(weight_decay=1e300)


def test_a_failed_cell_is_named_as_the_reader_sees_it(tmp_path, monkeypatch):
    def fails(source, output, **kwargs):
        raise report.papermill.PapermillExecutionError(10, 5, "load()", "DataError", "no data", [])

    monkeypatch.setattr(report.papermill, "execute_notebook", fails)
    assert report.run_notebook("01_baseline", {}, tmp_path)[1] == "In [5]: DataError: no data"


def test_an_offline_download_names_data_dir_and_cifar10_root(tmp_path, monkeypatch):
    import torchvision.datasets
    from cifar_utils.data import DataError, load_cifar10

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError) as info:
        load_cifar10(tmp_path, download=True)
    assert "-p data_dir FOLDER" in str(info.value) and "CIFAR10_ROOT" in str(info.value)


def test_data_dir_none_is_told_what_data_dir_takes():
    from cifar_utils.store import ExperimentRun
    with pytest.raises(recipes.ConfigError, match=r"data_dir = None is not a path string; pass '' \(CIFAR10_ROOT"):
        ExperimentRun("baseline", make_config(), data_dir=None)


def test_bad_base64_is_named_as_such(tmp_path):
    from cifar_utils.results import ResultError, load_result, save_result
    path = tmp_path / "r.json"
    result = fake_result("baseline", make_config(), confusion_with_diagonal([7] * 10, row_total=10))
    save_result(path, result)
    path.write_text(path.read_text().replace(result["predictions"]["true_base64"], "@@@@@"))
    with pytest.raises(ResultError, match=r"has predictions that are not valid base64 \("):
        load_result(path)


# --- 4. a damaged stored result without data: the error names the file and a fix that works ----------------

def test_a_damaged_result_without_data_names_the_file_and_a_fix(tmp_path):
    from cifar_utils.data import DataError
    from cifar_utils.store import ExperimentRun
    run = ExperimentRun("baseline", make_config(seed=3), data_dir=str(tmp_path / "no data"),
                        results_dir=str(tmp_path / "results"), figures_dir=str(tmp_path / "figures"))
    run.checkpoint = tmp_path / "runs" / "baseline-x" / "checkpoint.pt"
    run.path.parent.mkdir()
    run.path.write_text("{ truncated")
    with pytest.raises(DataError) as info:
        run.run(log=lambda message: None)
    message = str(info.value)
    assert message.startswith(f"the stored result {run.path} is damaged and training it again needs CIFAR-10")
    assert "delete it" in message and "cifar_utils.sweep" in message and "retrain=True" not in message


def test_a_notebook_that_will_train_without_data_stops_in_its_first_cell(tmp_path):
    """The offline DataError came after the cells before training; a run that has to train checks its data
    when it is built (the notebook's first cell), naming data_dir and CIFAR10_ROOT. A run whose result is
    stored needs no data."""
    from cifar_utils.data import DataError
    from cifar_utils.experiment import Experiment
    params = {**make_config().to_dict(), "data_dir": str(tmp_path / "empty"), "results_dir": str(tmp_path / "r")}
    with pytest.raises(DataError, match=r"no CIFAR-10 data in .*empty.*-p data_dir FOLDER.*CIFAR10_ROOT"):
        Experiment.from_parameters("baseline", params)
    exp = Experiment("baseline", make_config(), results_dir=str(tmp_path / "r"))
    exp.path.parent.mkdir(parents=True)
    save_result(exp.path, fake_result("baseline", make_config(), confusion_with_diagonal([60] * 10, row_total=100)))
    assert Experiment.from_parameters("baseline", params).path == exp.path
    with pytest.raises(DataError):  # unless it is to be trained again
        Experiment.from_parameters("baseline", {**params, "retrain": True})


def test_the_runner_refuses_a_damaged_result_without_data_before_any_notebook_runs(tmp_path, monkeypatch, capsys):
    """check_data: a stored result that cannot be used will train, so without data the runner stops at once
    (exit 2, one sentence naming the file and its fix), not in the notebook; a newer result says to upgrade."""
    from cifar_utils.data import DataError
    from cifar_utils.results import NewerResult
    from cifar_utils.store import ExperimentRun
    run = ExperimentRun("baseline", make_config(seed=3), data_dir=str(tmp_path / "no data"),
                        results_dir=str(tmp_path / "results"), figures_dir=str(tmp_path / "figures"))
    run.path.parent.mkdir()
    run.path.write_text("{ truncated")
    with pytest.raises(DataError, match=r"the stored result .* is damaged and training it again needs CIFAR-10"):
        run.check_data()
    result = fake_result("baseline", make_config(seed=3), confusion_with_diagonal([60] * 10, row_total=100))
    run.path.write_text(json.dumps({**result, "schema_version": 99}))
    with pytest.raises(NewerResult):
        run.check_data()
