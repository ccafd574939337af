"""recipes: the experiments, the report recipe (each notebook's parameters cell), the profiles' differences,
the output folders, and the original report's numbers."""
from __future__ import annotations

import dataclasses
import json

import pytest

from cifar_utils import recipes
from cifar_utils.config import ConfigError, ExperimentConfig
from cifar_utils.data import CLASSES
from cifar_utils.recipes import (BY_NOTEBOOK, EXPERIMENTS, PROFILES_DIR, REPO_ROOT, experiment_info, known_profiles,
                                 notebook_parameters, original, original_report, output_dirs, profile_config,
                                 profile_differences, profile_parameters, repo_path)

PROFILE_FILES = sorted(PROFILES_DIR.glob("*/*.yaml"))


def test_experiments_and_their_notebooks():
    assert list(EXPERIMENTS) == ["baseline", "alexnet_sgd", "alexnet_adam_dropout"]
    for name, info in EXPERIMENTS.items():
        assert info.name == name and BY_NOTEBOOK[info.notebook] is info
        assert (REPO_ROOT / "notebooks" / f"{info.notebook}.ipynb").is_file()
        assert experiment_info(name) is info
    with pytest.raises(ConfigError, match="experiment 'resnet' is not known; use one of baseline, alexnet_sgd, "
                                          "alexnet_adam_dropout"):
        experiment_info("resnet")


def test_known_profiles():
    assert known_profiles() == ["faithful", "report", "smoke"]
    assert not (PROFILES_DIR / "report").exists()  # the report recipe is the notebooks' cells, nowhere else
    with pytest.raises(ConfigError, match="profile 'nope' does not exist; use one of faithful, report, smoke"):
        profile_differences("nope", "01_baseline")


def test_every_profile_has_a_file_per_experiment_and_nothing_else():
    expected = sorted(PROFILES_DIR / p / f"{info.notebook}.yaml" for p in ("faithful", "smoke")
                      for info in EXPERIMENTS.values())
    assert PROFILE_FILES == expected


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_profile_keys_are_declared_and_differ_from_the_report(path):
    """A profile holds only differences: each key is a parameter of its notebook, set to another value."""
    differences = profile_differences(path.parent.name, path.stem)
    base = notebook_parameters(path.stem)
    assert differences, "an empty profile file"
    for key, value in differences.items():
        assert key in base, f"{key} is not a parameter of {path.stem}"
        assert value != base[key], f"{key}: {value!r} repeats the report value"
    assert profile_parameters(path.parent.name, path.stem) == {**base, **differences}


def test_report_profile_is_the_parameters_cell():
    for info in EXPERIMENTS.values():
        assert profile_differences("report", info.notebook) == {}
        assert profile_parameters("report", info.notebook) == notebook_parameters(info.notebook)


@pytest.mark.parametrize("profile", ["report", "faithful", "smoke"])
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_profile_config_builds(profile, name):
    config = profile_config(profile, name)
    notebook = EXPERIMENTS[name].notebook
    assert isinstance(config, ExperimentConfig)
    assert config == ExperimentConfig.from_parameters({**notebook_parameters(notebook),
                                                       **profile_differences(profile, notebook)})
    assert config.model == ("baseline" if name == "baseline" else "alexnet")
    assert config.optimizer == ("adam" if name == "alexnet_adam_dropout" else "sgd")


def test_smoke_profile_is_tiny():
    for name in EXPERIMENTS:
        config = profile_config("smoke", name)
        assert (config.epochs, config.train_subset, config.test_subset) == (1, 500, 100)


def test_profile_keys_are_distinct_across_profiles():
    keys = {(p, n): profile_config(p, n).key() for p in ("report", "faithful", "smoke") for n in EXPERIMENTS}
    assert len(set(keys.values())) == len(keys)


# --- the parameters cell -------------------------------------------------------------------------

def write_notebook(folder, name, source, tags=("parameters",)):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# title"]},
             {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": source.splitlines(keepends=True),
              "outputs": [], "execution_count": None}]
    (folder / f"{name}.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                      "nbformat_minor": 5}))


def test_notebook_parameters_returns_the_literals(tmp_path, monkeypatch):
    write_notebook(tmp_path, "nb", 'model = "alexnet"  # a comment\nlr = -1e-3\nflip = True\nshape = (1, [2, 3])\n'
                                   'none = None\nd = {"a": 1}\n')
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    assert notebook_parameters("nb") == {"model": "alexnet", "lr": -1e-3, "flip": True, "shape": (1, [2, 3]),
                                         "none": None, "d": {"a": 1}}


def test_notebook_without_parameters_cell_has_none(tmp_path, monkeypatch):
    write_notebook(tmp_path, "nb", "lr = 0.1\n", tags=())
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    assert notebook_parameters("nb") == {}


@pytest.mark.parametrize("line,lineno", [("import os", 2), ("lr += 1", 2), ("a, b = 1, 2", 2), ("a = b = 1", 2),
                                         ("print('hi')", 2)])
def test_notebook_parameters_refuses_a_line_that_is_not_an_assignment(tmp_path, monkeypatch, line, lineno):
    write_notebook(tmp_path, "nb", f"lr = 0.1\n{line}\n")
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    with pytest.raises(ConfigError) as info:
        notebook_parameters("nb")
    assert str(info.value).startswith(f"{tmp_path / 'nb.ipynb'} has a line in its parameters cell that is not "
                                      f"'name = literal' (line {lineno})")


@pytest.mark.parametrize("value", ["open('/tmp/side-effect', 'w')", "10 ** -3", "[i for i in range(3)]", "x"])
def test_notebook_parameters_refuses_a_value_that_is_not_a_literal(tmp_path, monkeypatch, value):
    """Never executed: a call, an expression or a name is refused (with ValueError from ast.literal_eval,
    of which ConfigError is a subclass)."""
    write_notebook(tmp_path, "nb", f"lr = {value}\n")
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    with pytest.raises(ValueError):
        notebook_parameters("nb")


def test_notebook_parameters_of_the_report_notebooks():
    for info in EXPERIMENTS.values():
        params = notebook_parameters(info.notebook)
        assert set(params) >= {"data_dir", "download", "retrain", "results_dir", "figures_dir"}
        assert params["results_dir"] == params["figures_dir"] == "auto" and params["retrain"] is False
    # the theory notebook's parameters are its worked examples, none of the training recipe's run options
    theory = notebook_parameters("00_theory")
    assert {"feature_map", "kernel", "stride", "padding", "logits", "targets"} <= set(theory)
    assert not set(theory) & {"data_dir", "download", "retrain", "results_dir", "figures_dir", "epochs", "lr"}


# --- output folders --------------------------------------------------------------------------------

def test_output_dirs_keep_exploration_out_of_the_report():
    report = profile_config("report", "baseline")
    assert output_dirs("baseline", report) == (REPO_ROOT / "results", REPO_ROOT / "figures")
    faithful = profile_config("faithful", "baseline")
    assert output_dirs("baseline", faithful) == (REPO_ROOT / "results",
                                                 REPO_ROOT / "build" / "figures" / f"baseline-{faithful.key()}")
    smoke = profile_config("smoke", "baseline")
    assert output_dirs("baseline", smoke) == (REPO_ROOT / "build" / "results",
                                              REPO_ROOT / "build" / "figures" / f"baseline-{smoke.key()}")
    # the device is not part of the key: a report recipe on another device still writes the report
    assert output_dirs("baseline", dataclasses.replace(report, device="cpu"))[1] == REPO_ROOT / "figures"


def test_output_dirs_given_explicitly(tmp_path):
    config = profile_config("report", "baseline")
    assert output_dirs("baseline", config, str(tmp_path / "r"), "f") == (tmp_path / "r", REPO_ROOT / "f")
    assert repo_path("results") == REPO_ROOT / "results" and repo_path(tmp_path) == tmp_path


# --- the original report ---------------------------------------------------------------------------

def test_faithful_profile_is_the_original_recipe():
    for name in EXPERIMENTS:
        config, recipe = profile_config("faithful", name), original(name)["recipe"]
        assert (config.batch_size, config.epochs, config.optimizer) == \
               (recipe["batch_size"], recipe["epochs"], recipe["optimizer"])
        # The original report gives no learning rate for Adam; its SGD rate, 1e-4, is used.
        assert config.lr == (recipe["lr"] if recipe["lr"] is not None else 1e-4)
        for field in ("momentum", "dropout"):
            if field in recipe:
                assert getattr(config, field) == recipe[field], (name, field)
        assert (config.schedule, config.flip, config.crop_pad, config.label_smoothing, config.weight_decay,
                config.nesterov, config.precision) == ("constant", False, 0, 0.0, 0.0, False, "fp32")
        assert (config.train_subset, config.test_subset) == (0, 0)


@pytest.mark.parametrize("name,correct", [("alexnet_sgd", 7199), ("alexnet_adam_dropout", 7430)])
def test_original_per_class_counts_add_up_to_the_stated_accuracy(name, correct):
    stated = original(name)
    assert list(stated["correct"]) == list(CLASSES)
    assert all(0 <= c <= 1000 for c in stated["correct"].values())
    assert sum(stated["correct"].values()) == correct
    assert stated["accuracy"] == pytest.approx(correct / 100)


def test_original_report_names_every_experiment():
    assert set(original_report()["experiments"]) == set(EXPERIMENTS)
    assert original("baseline")["accuracy"] == 67.0
    assert original_report() is original_report()  # read once


# --- writing a parameter (how the sweep adopts a tuned learning rate) -------------------------------

@pytest.fixture
def notebook_copy(tmp_path, monkeypatch):
    """A copy of 01_baseline in a folder that recipes.NOTEBOOKS_DIR points at; returns its path."""
    path = tmp_path / "01_baseline.ipynb"
    path.write_bytes((REPO_ROOT / "notebooks" / "01_baseline.ipynb").read_bytes())
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    return path


def parameter_line(path, name) -> str:
    cell = next(c for c in json.loads(path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
    (line,) = [line for line in "".join(cell["source"]).split("\n")
               if line.split("=")[0].split(":")[0].strip() == name]
    return line


def test_set_notebook_parameter_changes_only_that_line(notebook_copy):
    before = notebook_copy.read_text().splitlines()
    old_line = parameter_line(notebook_copy, "lr")
    params = notebook_parameters("01_baseline")
    new_lr = params["lr"] * 2
    recipes.set_notebook_parameter("01_baseline", "lr", new_lr)
    after = notebook_copy.read_text().splitlines()
    assert len(after) == len(before)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(changed) == 1  # the file itself: one line of JSON, the rest byte for byte
    assert notebook_parameters("01_baseline") == {**params, "lr": new_lr}
    new_line = parameter_line(notebook_copy, "lr")
    assert new_line.startswith(f"lr: float = {new_lr!r} ")  # the type annotation kept
    assert new_line.index("#") == old_line.index("#")  # the comment column is kept
    assert new_line.split("#", 1)[1] == old_line.split("#", 1)[1]  # and the comment itself
    nb = json.loads(notebook_copy.read_text())
    assert nb["nbformat"] == 4 and all(isinstance(line, str) for c in nb["cells"] for line in c["source"])


@pytest.mark.parametrize("name,value", [("model", 'say "hi"'), ("data_dir", "/data/it's here"), ("lr", 1e-05),
                                        ("nesterov", False), ("epochs", 12345678901234567890), ("data_dir", "")])
def test_set_notebook_parameter_round_trips_literals(notebook_copy, name, value):
    old_line = parameter_line(notebook_copy, name)
    recipes.set_notebook_parameter("01_baseline", name, value)
    written = notebook_parameters("01_baseline")[name]
    assert written == value and type(written) is type(value)
    line = parameter_line(notebook_copy, name)
    assert line.split("#", 1)[1] == old_line.split("#", 1)[1]  # the comment kept
    if isinstance(value, str):
        assert line.startswith(f"{name}: str = {json.dumps(value)}")  # double-quoted, as the cell writes strings


def test_set_notebook_parameter_refuses_an_unknown_name(notebook_copy):
    before = notebook_copy.read_bytes()
    with pytest.raises(ConfigError, match="01_baseline's parameters cell has no parameter 'learning_rate'; "
                                          "add it there first"):
        recipes.set_notebook_parameter("01_baseline", "learning_rate", 0.1)
    with pytest.raises(ConfigError, match="no parameter 'peak'"):  # a word of a comment is not a parameter
        recipes.set_notebook_parameter("01_baseline", "peak", 0.1)
    assert notebook_copy.read_bytes() == before


def test_set_notebook_parameter_in_a_cell_without_comments(tmp_path, monkeypatch):
    write_notebook(tmp_path, "nb", 'lr = 0.1\nmodel = "alexnet"\n')
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    recipes.set_notebook_parameter("nb", "lr", 0.2)
    assert notebook_parameters("nb") == {"lr": 0.2, "model": "alexnet"}
    assert parameter_line(tmp_path / "nb.ipynb", "lr") == "lr = 0.2"


def test_set_notebook_parameter_keeps_the_comment_after_a_string_with_a_hash(notebook_copy):
    comment = parameter_line(notebook_copy, "data_dir").split("#", 1)[1]
    recipes.set_notebook_parameter("01_baseline", "data_dir", "/data/#1")
    recipes.set_notebook_parameter("01_baseline", "data_dir", "/data/2")
    assert notebook_parameters("01_baseline")["data_dir"] == "/data/2"
    assert parameter_line(notebook_copy, "data_dir").endswith("#" + comment)
    assert parameter_line(notebook_copy, "data_dir").count("#") == 1 + comment.count("#")


def test_set_notebook_parameter_keeps_a_space_before_the_comment(notebook_copy):
    recipes.set_notebook_parameter("01_baseline", "lr", 0.00012345678901234)
    assert " # " in parameter_line(notebook_copy, "lr")


def test_notebook_parameters_from_text_names_its_source():
    assert recipes.notebook_parameters_from_text('lr = 0.1  # x = 3\nname = "a # b"\n') == {"lr": 0.1,
                                                                                           "name": "a # b"}
    with pytest.raises(ConfigError, match=r"^somewhere.ipynb has a line in its parameters cell that is not "
                                          r"'name = literal' \(line 2\)"):
        recipes.notebook_parameters_from_text("lr = 0.1\nimport os\n", "somewhere.ipynb")
    with pytest.raises(ConfigError, match=r"^the notebook has a line in its parameters cell"):
        recipes.notebook_parameters_from_text("lr: float\n")  # an annotation without a value


def test_annotated_parameters_are_read_and_written(tmp_path, monkeypatch):
    """``name: type = literal`` (papermill's --help-notebook shows the type) reads and writes like ``name = literal``."""
    write_notebook(tmp_path, "nb", "lr: float = 0.1    # peak learning rate\nflip: bool = True  # flips\n")
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    assert notebook_parameters("nb") == {"lr": 0.1, "flip": True}
    recipes.set_notebook_parameter("nb", "lr", 0.2)
    assert notebook_parameters("nb") == {"lr": 0.2, "flip": True}
    source = "".join(recipes._parameters_cell("nb")[2]["source"])
    assert source.splitlines()[0] == "lr: float = 0.2    # peak learning rate"
