"""The report runner's command line: value parsing and refusal of bad arguments before any run."""
from __future__ import annotations

import pytest

from cifar_utils import report


@pytest.mark.parametrize("text,expected", [
    ("True", True), ("true", True), ("False", False), ("None", None), ("5", 5), ("-3", -3), ("0.01", 0.01),
    ("1e-4", 1e-4), ("ten", "ten"), ("", ""), ("/tmp/data", "/tmp/data"),
])
def test_parse_value(text, expected):
    value = report.parse_value(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.fixture
def nothing_runs(monkeypatch, tmp_path):
    """Fail the test if a notebook would be executed or an output folder created."""
    def refuse(*args, **kwargs):
        raise AssertionError("a notebook was run")

    monkeypatch.setattr(report, "run_notebook", refuse)
    monkeypatch.setattr(report.papermill, "execute_notebook", refuse)
    monkeypatch.setattr(report, "ensure_writable_dir", refuse)


def test_unknown_parameter(nothing_runs, capsys):
    assert report.main(["-p", "epoch", "5"]) == 2
    captured = capsys.readouterr()
    assert "'epoch'" in captured.err and captured.err.startswith("error: ")
    assert "epochs" in captured.err  # the message lists the known parameters
    assert captured.out == ""


def test_unknown_profile(nothing_runs, capsys):
    assert report.main(["--profile", "nope", "--only", "00_theory"]) == 2
    err = capsys.readouterr().err
    assert "profile 'nope' does not exist" in err and "report" in err


def test_unknown_profile_all_notebooks(nothing_runs, capsys):
    assert report.main(["--profile", "nope"]) == 2
    assert "'nope'" in capsys.readouterr().err


def test_unknown_notebook(nothing_runs, capsys):
    assert report.main(["--only", "nope"]) == 2
    err = capsys.readouterr().err
    assert "['nope']" in err and "01_baseline" in err


def test_notebook_names():
    names = report.notebook_names(None)
    assert names == sorted(names) and "01_baseline" in names
    assert report.notebook_names(["02_alexnet_sgd", "01_baseline"]) == ["01_baseline", "02_alexnet_sgd"]


def test_plan_applies_profile_and_overrides():
    params = report.plan(["01_baseline"], "smoke", {"epochs": 2, "data_dir": "/tmp/x"})
    assert params["01_baseline"]["epochs"] == 2
    assert params["01_baseline"]["data_dir"] == "/tmp/x"
    assert params["01_baseline"]["model"] == "baseline"


def test_accuracy_summary():
    import nbformat
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(table)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text="Test Accuracy of cat: 44% (449/1000)\n\n"
                                                "Test Accuracy (Overall): 71% (7199/10000)\n")]
    nb.cells.append(cell)
    assert report.accuracy_summary(nb) == "test accuracy 71.99% (7199/10000)"
    assert report.accuracy_summary(nbformat.v4.new_notebook()) == ""


def test_strip_volatile():
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"start_time": "x"}
    cell = nbformat.v4.new_code_cell("1")
    cell.metadata["execution"] = {"iopub.status.busy": "x"}
    cell.metadata["papermill"] = {"duration": 1.0}
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    report.strip_volatile(nb)
    assert "papermill" not in nb.metadata
    assert dict(nb.cells[0].metadata) == {"tags": ["parameters"]}
