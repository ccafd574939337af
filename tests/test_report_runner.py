"""The report runner's command line: value parsing and refusal of bad arguments before any run."""
from __future__ import annotations

import nbformat
import pytest

from cifar_utils import recipes, report
from cifar_utils.config import ConfigError
from cifar_utils.recipes import EXPERIMENTS, profile_config, profile_differences, profile_parameters
from cifar_utils.results import result_path, save_result
from helpers import confusion_with_diagonal, fake_result, squeezed


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
    """Each notebook gets only its profile's differences and the overrides it declares (the rest is its cell)."""
    params = report.plan(["00_theory", "01_baseline"], "smoke", {"epochs": 2, "data_dir": "/tmp/x"})
    assert params["01_baseline"] == {"epochs": 2, "batch_size": 100, "train_subset": 500, "test_subset": 100,
                                     "data_dir": "/tmp/x"}
    assert params["00_theory"] == {}  # declares none of them
    assert report.plan(["01_baseline"], "report", {}) == {"01_baseline": {}}
    assert profile_parameters("smoke", "01_baseline")["model"] == "baseline"


def test_plan_refuses_a_profile_key_the_notebook_does_not_declare(tmp_path, monkeypatch):
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "01_baseline.yaml").write_text("epochs: 2\nepoch: 3\n")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"profiles/odd/01_baseline.yaml sets 'epoch', which 01_baseline does "
                                          r"not declare"):
        report.plan(["01_baseline"], "odd", {})


# --- the accuracy line: read from the stored result the run used ---------------------------------

def store_smoke_result(results_dir, diagonal=(7, 8, 6, 4, 7, 6, 8, 8, 8, 8)):
    config = profile_config("smoke", "baseline")
    result = fake_result("baseline", config, confusion_with_diagonal(diagonal, row_total=10))
    save_result(result_path(results_dir, "baseline", config.key()), result)
    return result


def test_accuracy_summary_reads_the_stored_result(tmp_path):
    store_smoke_result(tmp_path)  # 70 of 100 test images right
    params = {**profile_differences("smoke", "01_baseline"), "results_dir": str(tmp_path)}
    assert report.accuracy_summary("01_baseline", params) == "test accuracy 70.00% (70/100)"
    # another configuration (here: another seed) has no stored result: nothing to say
    assert report.accuracy_summary("01_baseline", {**params, "seed": 1}) == ""


def test_accuracy_summary_without_a_result(tmp_path):
    params = {**profile_differences("smoke", "01_baseline"), "results_dir": str(tmp_path)}
    assert report.accuracy_summary("01_baseline", params) == ""
    assert report.accuracy_summary("00_theory", {}) == ""  # no training, no accuracy
    assert report.accuracy_summary("00_theory", params) == ""


def test_accuracy_summary_of_an_unusable_result_is_empty(tmp_path):
    store_smoke_result(tmp_path)
    path = next(tmp_path.glob("baseline-*.json"))
    path.write_text("{ truncated")
    params = {**profile_differences("smoke", "01_baseline"), "results_dir": str(tmp_path)}
    assert report.accuracy_summary("01_baseline", params) == ""


def test_run_notebook_reports_the_stored_accuracy(tmp_path, monkeypatch):
    """After a successful run the runner's line carries the accuracy of the result the notebook stored."""
    store_smoke_result(tmp_path)
    monkeypatch.setattr(report.papermill, "execute_notebook", lambda *args, **kwargs: None)
    params = {**profile_differences("smoke", "01_baseline"), "results_dir": str(tmp_path)}
    ok, detail = report.run_notebook("01_baseline", params, tmp_path)[:2]
    assert (ok, detail) == (True, "test accuracy 70.00% (70/100)")


def test_results_table_lists_every_experiment():
    lines = squeezed(report.results_table("report"))
    assert lines[0].startswith("| notebook | original report | this repo |")
    assert [line.split(" | ")[0] for line in lines[2:]] == [f"| {info.notebook}" for info in EXPERIMENTS.values()]


def test_strip_volatile():  # more in test_publish.py
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


# --- --help lists the notebooks' parameters; a named device is checked before any run ---------------

def test_help_lists_every_notebook_parameter_with_its_defaults_and_comment(nothing_runs, capsys):
    with pytest.raises(SystemExit) as exit_:
        report.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "01 = 01_baseline" in out and "03 = 03_alexnet_adam_dropout" in out
    for name in report.notebook_names(None):
        for parameter in recipes.notebook_recipe(name):
            assert f"\n  {parameter} " in out, parameter
    lines = out.splitlines()
    lr = lines.index(next(line for line in lines if line.startswith("  lr ")))
    for name in ("01_baseline", "03_alexnet_adam_dropout"):
        assert report.literal(recipes.notebook_recipe(name)["lr"]) in lines[lr]
    assert lines[lr + 1].strip() == "peak learning rate"  # the recipe's comment


def test_parameters_help_shows_each_default_once_and_where_it_holds(tmp_path, monkeypatch):
    recipes_of = {"01_a": 'lr: 0.05  # peak learning rate\nmodel: "baseline"  # network\nseed: 0\n',
                  "02_b": 'lr: 0.0007  # peak learning rate, Adam\nmodel: "baseline"  # network\n',
                  "03_c": None}
    (tmp_path / "report").mkdir()
    for name, text in recipes_of.items():
        if text:
            (tmp_path / "report" / f"{name}.yaml").write_text(text)
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path)
    lines = report.parameters_help(list(recipes_of)).splitlines()
    assert lines[1] == "Defaults are the recipes in profiles/report/: 01 = 01_a, 02 = 02_b; 03_c has none."
    assert lines[3:] == ["  lr              0.05 (01), 0.0007 (02)",  # two meanings of one name: each says where
                         "                    peak learning rate (01)",
                         "                    peak learning rate, Adam (02)",
                         '  model           "baseline"',
                         "                    network",
                         "  seed            0 (01)"]


# --- the recipe, not a saved notebook, is the report --------------------------------------------------

WRITE_README = report.write_readme  # the real one, before a fixture replaces it


@pytest.fixture
def runner(tmp_path, monkeypatch, synthetic_dir):
    """The runner over copies of the committed notebooks and recipes, its notebook runs faked: each call is
    recorded with the parameters cell it executed, and publishing writes the copy."""
    import shutil
    shutil.copytree(recipes.NOTEBOOKS_DIR, tmp_path / "notebooks")
    shutil.copytree(recipes.PROFILES_DIR, tmp_path / "profiles")
    for module in (recipes, report):
        monkeypatch.setattr(module, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path / "profiles")
    calls = []

    def fake_run(name, params, output_dir, source=None, base=None):
        nb = nbformat.read(source or tmp_path / "notebooks" / f"{name}.ipynb", as_version=4)
        calls.append({"name": name, "params": params, "cell": recipes.parameters_cell_of(nb).source,
                      "base": base})
        return True, "", nb

    monkeypatch.setattr(report, "run_notebook", fake_run)
    # README's blocks are computed from every stored run (seconds): the tests of them call the real one.
    monkeypatch.setattr(report, "write_readme", lambda path: False)
    monkeypatch.setenv("CIFAR10_ROOT", str(synthetic_dir))  # a variant that would train finds data
    return calls, tmp_path


def save_cell(path, edit) -> None:
    """Change the saved parameters cell of the notebook at ``path`` as JupyterLab's save would."""
    nb = nbformat.read(path, as_version=4)
    cell = recipes.parameters_cell_of(nb)
    cell.source = edit(cell.source)
    nbformat.write(nb, path)


def test_a_saved_edit_runs_as_a_variant_and_the_committed_notebook_keeps_it(runner, capsys):
    calls, root = runner
    notebook = root / "notebooks" / "01_baseline.ipynb"
    save_cell(notebook, lambda source: source.replace("epochs: int = 10 ", "epochs: int = 3  "))
    before = notebook.read_bytes()
    assert report.main(["--only", "01_baseline", "--output-dir", str(root / "out")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("01_baseline: its saved parameters cell differs from profiles/report/01_baseline.yaml "
                          "(epochs 3 (recipe 10)); it runs as a variant with its outputs under build/")
    (call,) = calls
    assert "epochs: int = 3 " in call["cell"]  # the user's values ran
    assert call["params"] == {"results_dir": "build/results", "figures_dir": "build/figures/01_baseline-variant"}
    assert call["base"]["epochs"] == 3  # the accuracy line reads the variant's result
    assert notebook.read_bytes() == before  # not published: the edit is kept, the report unchanged


def test_a_recipe_changed_since_publishing_is_published_with_its_new_cell(runner, capsys):
    calls, root = runner
    recipes.set_recipe_value(root / "profiles" / "report" / "01_baseline.yaml", "lr", 0.2)  # as adopt does
    assert recipes.cell_differences("01_baseline") == {"lr": (0.1, 0.2)}
    assert report.main(["--only", "01_baseline", "--output-dir", str(root / "out")]) == 0
    assert "variant" not in capsys.readouterr().out
    (call,) = calls
    assert call["cell"] == recipes.parameters_cell("01_baseline") and "lr: float = 0.2 " in call["cell"]
    assert recipes.cell_differences("01_baseline") == {}  # published: the notebook shows the recipe
    assert not report.edited_since_published("01_baseline")


def test_a_profile_run_starts_from_the_recipe_whatever_the_saved_cell_says(runner, synthetic_dir, capsys):
    calls, root = runner
    save_cell(root / "notebooks" / "01_baseline.ipynb", lambda source: source.replace("= 0.1 ", "= 0.7 ", 1))
    assert report.main(["--only", "01_baseline", "--profile", "smoke", "-p", "data_dir", str(synthetic_dir),
                        "--output-dir", str(root / "out")]) == 0
    (call,) = calls
    assert call["cell"] == recipes.parameters_cell("01_baseline")
    assert call["params"] == {**profile_differences("smoke", "01_baseline"), "data_dir": str(synthetic_dir)}
    assert recipes.cell_differences("01_baseline") == {"lr": (0.7, 0.1)}  # the saved edit itself is kept


def test_a_run_that_is_not_published_says_variant_and_where_its_notebook_result_and_figures_went(runner, capsys):
    calls, root = runner
    assert report.main(["--only", "01_baseline", "-p", "epochs", "3", "--output-dir", str(root / "out")]) == 0
    out = capsys.readouterr().out
    exp, _ = report.stored_run("01_baseline", calls[0]["params"])
    assert "variant" in out
    for path in (root / "out" / "01_baseline.ipynb", exp.path, exp.figures_dir):
        assert recipes.repo_relative(path) in out
    assert "build/" in recipes.repo_relative(exp.path)  # never the committed results/


def test_a_published_run_prints_no_variant_line(runner, capsys):
    assert report.main(["--only", "01_baseline", "--output-dir", str(runner[1] / "out")]) == 0
    assert "variant" not in capsys.readouterr().out


@pytest.mark.parametrize("diagonal, warned", [((1,) * 10, True), ((2, 1, 1, 1, 1, 1, 1, 1, 1, 1), True),
                                              ((3, 2, 2, 2, 2, 2, 2, 2, 2, 2), False)])
def test_a_run_that_ends_near_chance_is_warned_about(runner, monkeypatch, capsys, diagonal, warned):
    """Chance is 10% with ten classes; a run within 5 points of it learned nothing (10%, 11% warned; 21% not)."""
    _, root = runner
    monkeypatch.setenv("CIFAR10_ROOT", "")
    store_smoke_result(root / "results", diagonal)
    assert report.main(["--only", "01_baseline", "--profile", "smoke", "-p", "results_dir", str(root / "results"),
                        "--output-dir", str(root / "out")]) == 0
    err = capsys.readouterr().err
    assert ("near chance" in err and "01_baseline" in err and "lr" in err) == warned


def test_a_notebook_run_off_the_report_recipe_says_which_parts_are_its_own(tmp_path):
    """The variant notebook's first output says its figures are this run's and its tables the study's."""
    from cifar_utils.experiment import Experiment
    store_smoke_result(tmp_path)
    said = []
    exp = Experiment("baseline", profile_config("smoke", "baseline"), results_dir=str(tmp_path))
    exp.run(log=said.append)
    assert "not the report's recipe" in said[0] and recipes.repo_relative(exp.figures_dir) in said[0]
    report_run = Experiment("baseline", profile_config("report", "baseline"))
    said.clear()
    report_run.run(log=said.append)
    assert not any("not the report's recipe" in line for line in said)


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_a_named_device_that_is_missing_is_refused_before_any_run(device, nothing_runs, monkeypatch, capsys):
    """Even where the notebook would only load a stored result (device is not in the results key)."""
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert report.main(["--only", "01_baseline", "-p", "device", device]) == 2
    err = capsys.readouterr().err
    assert err == f"error: device = {device!r} is not available on this machine; use device 'auto' or 'cpu'.\n"


def test_a_run_that_would_train_without_data_is_refused_before_any_notebook(tmp_path, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise AssertionError("a notebook was run")
    monkeypatch.setattr(report, "run_notebook", refuse)
    assert report.main(["--only", "01_baseline", "--profile", "smoke", "-p", "data_dir", str(tmp_path),
                        "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no CIFAR-10 data in {tmp_path}") and "-p data_dir FOLDER" in err


# --- make lab as root (Docker, Colab): JupyterLab refuses root unless told --allow-root ----------------------

@pytest.mark.parametrize("uid,allowed", [("0", True), ("1000", False)])
def test_make_lab_passes_allow_root_only_as_root(uid, allowed, tmp_path):
    import os
    import shutil
    import subprocess
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    fake_id = tmp_path / "id"  # the uid the Makefile reads with `id -u`, whoever runs the tests
    fake_id.write_text(f"#!/bin/sh\necho {uid}\n")
    fake_id.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    dry = subprocess.run(["make", "-n", "lab"], cwd=recipes.REPO_ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    (lab,) = [line for line in dry.splitlines() if "jupyter lab" in line]
    assert ("--allow-root" in lab) is allowed


# --- the final line names a failed notebook's copy only where there is one -----------------------------------

@pytest.mark.parametrize("writes", [True, False], ids=["executed copy", "nothing written"])
def test_the_final_line_names_the_failed_copy_only_when_it_exists(writes, tmp_path, monkeypatch, capsys):
    def fails(source, output, **kwargs):
        if writes:
            nbformat.write(nbformat.v4.new_notebook(), output)
        raise RuntimeError("Kernel died before replying to kernel_info")

    out = tmp_path / "out"
    out.mkdir()
    (out / "01_baseline.failed.ipynb").write_text("an older run's failure")  # not this run's
    monkeypatch.setattr(report.papermill, "execute_notebook", fails)
    assert report.main(["--only", "01_baseline", "--output-dir", str(out)]) == 1
    last = capsys.readouterr().err.splitlines()[-1]
    failed = out / "01_baseline.failed.ipynb"
    assert last.startswith("error: 01_baseline failed")
    assert (str(failed) in last) is writes is failed.is_file()
    if not writes:
        assert "FAILED line above" in last


# --- a bad or missing recipe file is named before any run -------------------------------------------

@pytest.fixture
def profiles_copy(tmp_path, monkeypatch):
    import shutil
    shutil.copytree(recipes.PROFILES_DIR, tmp_path / "profiles")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path / "profiles")
    return tmp_path / "profiles"


@pytest.mark.parametrize("profile", ["report", "quick"])
def test_a_bad_value_in_a_recipe_file_stops_the_runner_naming_the_file_and_key(nothing_runs, profiles_copy, capsys,
                                                                               profile):
    path = profiles_copy / profile / "01_baseline.yaml"
    path.write_text(path.read_text().replace("epochs: 10 ", 'epochs: "ten"').replace("epochs: 5", 'epochs: "ten"'))
    assert '"ten"' in path.read_text()
    assert report.main(["--profile", profile, "--only", "01_baseline"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert f"{profile}/01_baseline.yaml" in err and "epochs" in err


def test_a_deleted_recipe_file_stops_the_runner_naming_it_and_git_checkout(nothing_runs, profiles_copy, capsys):
    (profiles_copy / "report" / "02_alexnet_sgd.yaml").unlink()
    assert report.main(["--only", "02_alexnet_sgd"]) == 2
    err = capsys.readouterr().err.strip()
    assert "report/02_alexnet_sgd.yaml" in err and "git checkout -- profiles/report/02_alexnet_sgd.yaml" in err


# --- a full disk, a read-only README (issue 31) ---------------------------------------------------------

def test_a_full_disk_under_the_output_folder_is_one_sentence_and_leaves_no_temp(runner, monkeypatch, capsys):
    import errno
    from pathlib import Path
    calls, root = runner
    out = root / "out"
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name.endswith(report.SOURCE_SUFFIX):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    notebook = (root / "notebooks" / "01_baseline.ipynb").read_bytes()
    assert report.main(["--only", "01_baseline", "--output-dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(out) in err and "free space" in err
    assert list(out.iterdir()) == [] and calls == []
    assert (root / "notebooks" / "01_baseline.ipynb").read_bytes() == notebook


def test_a_full_disk_while_papermill_writes_the_executed_copy_keeps_no_truncated_copy(tmp_path, monkeypatch, capsys):
    import errno

    def fills_the_disk(source, output, **kwargs):
        with open(output, "w") as fh:
            fh.write('{"cells": [')  # what fitted
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "out"
    monkeypatch.setattr(report.papermill, "execute_notebook", fills_the_disk)
    assert report.main(["--only", "01_baseline", "--output-dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(out) in err and "free space" in err
    assert list(out.iterdir()) == []


def test_a_read_only_readme_is_named_with_its_fix_and_left_unchanged(runner, readme_copy, capsys, monkeypatch):
    import stat
    calls, root = runner
    monkeypatch.setattr(report, "write_readme", WRITE_README)
    first_finding = "\n- The study's recipes"
    text = readme_copy.read_text()
    assert first_finding in text
    readme_copy.write_text(text.replace(first_finding, f"\n- A stale finding.{first_finding}", 1))  # to rewrite
    before = readme_copy.read_bytes()
    readme_copy.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        assert report.main(["--only", "01_baseline", "--output-dir", str(root / "out")]) == 1
    finally:
        readme_copy.chmod(0o644)
    err = capsys.readouterr().err
    assert err.startswith("error: README.md was not updated") and err.count("\n") == 1
    assert "writable" in err and "free space" not in err
    assert readme_copy.read_bytes() == before


def test_a_variant_that_would_train_without_data_is_refused_before_any_notebook_runs(runner, monkeypatch, capsys):
    calls, root = runner
    monkeypatch.delenv("CIFAR10_ROOT")
    monkeypatch.setenv("HOME", str(root))  # no data cache either
    save_cell(root / "notebooks" / "01_baseline.ipynb", lambda source: source.replace("epochs: int = 10 ", "epochs: int = 3  "))
    assert report.main(["--output-dir", str(root / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no CIFAR-10 data") and "data_dir" in err and err.count("\n") == 1
    assert calls == []  # not even notebook 00 ran


@pytest.mark.parametrize("recipe_file,line,named", [("02_alexnet_sgd", 'device: "cuda"', "device = 'cuda'"),
                                                    ("03_alexnet_adam_dropout", 'compare_with: "nope"', "compare_with = 'nope'"),
                                                    ("00_theory", "kernel: [[2, 0], [1]]", "kernel is ragged")])
def test_a_bad_value_in_a_recipe_is_refused_before_any_notebook_runs(runner, capsys, recipe_file, line, named):
    """What a notebook checks in its first cells the runner checks first, for every notebook it will run."""
    calls, root = runner
    path = root / "profiles" / "report" / f"{recipe_file}.yaml"
    key = line.split(":")[0]
    path.write_text("\n".join(line if row.startswith(f"{key}:") else row for row in path.read_text().splitlines()) + "\n")
    assert report.main(["--output-dir", str(root / "out")]) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1
    assert calls == []


def test_help_with_a_broken_recipe_says_so_instead_of_a_traceback(runner, capsys):
    _, root = runner
    recipe = root / "profiles" / "report" / "02_alexnet_sgd.yaml"
    recipe.write_text(recipe.read_text() + "epochs: [8   # an unclosed list\n")
    with pytest.raises(SystemExit) as exit_:
        report.main(["--help"])
    assert exit_.value.code == 0
    out, err = capsys.readouterr()
    assert "usage:" in out  # the help itself is printed
    assert "02_alexnet_sgd.yaml" in err and err.count("\n") == 1  # the broken file, in one line beside it


@pytest.mark.parametrize("damage", ["truncated", "untagged"])
def test_a_damaged_notebook_is_refused_naming_it_before_any_notebook_runs(runner, capsys, damage):
    calls, root = runner
    path = root / "notebooks" / "01_baseline.ipynb"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:3000])
    else:
        nb = nbformat.read(path, as_version=4)
        recipes.parameters_cell_of(nb).metadata["tags"].remove("parameters")
        nbformat.write(nb, path)
    assert report.main(["--output-dir", str(root / "out")]) == 2
    err = capsys.readouterr().err
    assert "01_baseline.ipynb" in err and "git" in err and err.count("\n") == 1
    assert calls == []


def test_a_result_of_a_newer_version_is_named_before_any_notebook_runs(runner, capsys):
    """check_data says "upgrade" for a result this copy cannot read (never "delete it"); the runner prints it as
    one line before any notebook runs."""
    import json
    calls, root = runner
    config = recipes.profile_config("report", "alexnet_sgd")
    path = recipes.REPO_ROOT / "results" / f"alexnet_sgd-{config.key()}.json"
    newer = root / "results" / path.name
    newer.parent.mkdir()
    newer.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": 99}))
    assert report.main(["--only", "02_alexnet_sgd", "-p", "results_dir", str(root / "results"),
                        "--output-dir", str(root / "out")]) == 2
    err = capsys.readouterr().err
    assert "schema_version 99" in err and "upgrade" in err and err.count("\n") == 1
    assert calls == []


def test_a_study_file_that_cannot_be_read_stops_the_runner_before_any_notebook_runs(runner, monkeypatch, capsys):
    """Notebooks 01-03 state the study's results: a study file they could not read would fail each of them (or,
    with a figure seed the study never trains, publish "not stored yet" for their sentences)."""
    from cifar_utils import study
    calls, root = runner
    broken = root / "study.yaml"
    broken.write_text(study.STUDY_FILE.read_text().replace("figure_seed: 0", "figure_seed: 7", 1))
    monkeypatch.setattr(study, "STUDY_FILE", broken)
    monkeypatch.setattr(study.load, "__defaults__", (broken,))
    assert report.main(["--output-dir", str(root / "out")]) == 2
    err = capsys.readouterr().err
    assert "figure_seed is 7" in err and err.count("\n") == 1
    assert calls == []
