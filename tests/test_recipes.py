"""recipes: the experiments, the report recipe (profiles/report/<notebook>.yaml, shown in each notebook's
parameters cell), the profiles' differences, the output folders, and the original report's numbers."""
from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from cifar_utils import recipes
from cifar_utils.config import ConfigError, ExperimentConfig
from cifar_utils.data import CLASSES
from cifar_utils.recipes import (BY_NOTEBOOK, EXPERIMENTS, NOTEBOOKS_DIR, PROFILES_DIR, REPO_ROOT, cell_differences,
                                 describe_differences, experiment_info, known_profiles, notebook_recipe, original,
                                 original_report, output_dirs, parameters_cell, parameters_cell_of,
                                 parameters_from_text, profile_config, profile_differences, profile_parameters,
                                 recipe_lines, repo_path, saved_parameters, set_recipe_value)

PROFILE_FILES = sorted(p for p in PROFILES_DIR.glob("*/*.yaml") if p.parent.name != "report")  # differences only
NOTEBOOKS = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))


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
    assert known_profiles() == ["faithful", "quick", "report", "smoke"]
    with pytest.raises(ConfigError, match="profile 'nope' does not exist; use one of faithful, quick, report, smoke"):
        profile_differences("nope", "01_baseline")


def test_a_profile_without_a_training_notebook_s_file_is_refused(tmp_path, monkeypatch):
    """Without it, the notebook would train the report recipe under the profile's name."""
    (tmp_path / "report").mkdir()
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "01_baseline.yaml").write_text("epochs: 1\n")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path)
    assert profile_differences("half", "01_baseline") == {"epochs": 1}
    assert profile_differences("half", "00_theory") == {}  # no training, nothing to change
    with pytest.raises(ConfigError, match=r"profile 'half' has no recipe for 02_alexnet_sgd \(.*half/02_alexnet_sgd"
                                          r".yaml\); add that file or run that notebook with another profile\."):
        profile_differences("half", "02_alexnet_sgd")


def test_every_profile_has_a_file_per_experiment_and_the_report_one_per_notebook():
    expected = sorted(PROFILES_DIR / p / f"{info.notebook}.yaml" for p in ("faithful", "quick", "smoke")
                      for info in EXPERIMENTS.values())
    assert PROFILE_FILES == expected
    assert sorted(PROFILES_DIR.glob("report/*.yaml")) == [PROFILES_DIR / "report" / f"{n}.yaml" for n in NOTEBOOKS]


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_profile_keys_are_declared_and_differ_from_the_report(path):
    """A profile holds only differences: each key is a parameter of its notebook, set to another value."""
    differences = profile_differences(path.parent.name, path.stem)
    base = notebook_recipe(path.stem)
    assert differences, "an empty profile file"
    for key, value in differences.items():
        assert key in base, f"{key} is not a parameter of {path.stem}"
        assert value != base[key], f"{key}: {value!r} repeats the report value"
    assert profile_parameters(path.parent.name, path.stem) == {**base, **differences}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_each_committed_parameters_cell_is_drawn_from_its_recipe(notebook):
    """The committed cell is the recipe file, line for line, with a comment each, and carries the mark of
    the cell the report published (so the runner can tell a saved edit from a recipe changed since)."""
    from cifar_utils.report import RECIPE_MARK, edited_since_published, source_sha
    cell = parameters_cell_of(json.loads((NOTEBOOKS_DIR / f"{notebook}.ipynb").read_text()))
    assert "".join(cell["source"]) == parameters_cell(notebook)
    assert saved_parameters(notebook) == notebook_recipe(notebook) and cell_differences(notebook) == {}
    assert cell["metadata"][RECIPE_MARK] == source_sha(parameters_cell(notebook))
    assert not edited_since_published(notebook)
    assert all(comment.startswith("# ") for _, _, comment in recipe_lines(PROFILES_DIR / "report" / f"{notebook}.yaml"))


def test_report_profile_is_the_recipe_file():
    for info in EXPERIMENTS.values():
        assert profile_differences("report", info.notebook) == {}
        assert profile_parameters("report", info.notebook) == notebook_recipe(info.notebook)


@pytest.mark.parametrize("profile", ["report", "faithful", "quick", "smoke"])
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_profile_config_builds(profile, name):
    config = profile_config(profile, name)
    notebook = EXPERIMENTS[name].notebook
    assert isinstance(config, ExperimentConfig)
    assert config == ExperimentConfig.from_parameters({**notebook_recipe(notebook),
                                                       **profile_differences(profile, notebook)})
    assert config.model == ("baseline" if name == "baseline" else "alexnet")
    assert config.optimizer == ("adam" if name == "alexnet_adam_dropout" else "sgd")


def test_smoke_profile_is_tiny():
    for name in EXPERIMENTS:
        config = profile_config("smoke", name)
        assert (config.epochs, config.train_subset, config.test_subset) == (1, 500, 100)


def test_profile_keys_are_distinct_across_profiles():
    keys = {(p, n): profile_config(p, n).key() for p in ("report", "faithful", "quick", "smoke") for n in EXPERIMENTS}
    assert len(set(keys.values())) == len(keys)


# --- the parameters cell -------------------------------------------------------------------------

def write_notebook(folder, name, source, tags=("parameters",)):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# title"]},
             {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": source.splitlines(keepends=True),
              "outputs": [], "execution_count": None}]
    (folder / f"{name}.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                      "nbformat_minor": 5}))


def test_saved_parameters_returns_the_literals(tmp_path, monkeypatch):
    write_notebook(tmp_path, "nb", 'model = "alexnet"  # a comment\nlr = -1e-3\nflip = True\nshape = (1, [2, 3])\n'
                                   'none = None\nd = {"a": 1}\n')
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    assert saved_parameters("nb") == {"model": "alexnet", "lr": -1e-3, "flip": True, "shape": (1, [2, 3]),
                                         "none": None, "d": {"a": 1}}


def test_notebook_without_parameters_cell_has_none(tmp_path, monkeypatch):
    write_notebook(tmp_path, "nb", "lr = 0.1\n", tags=())
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    assert saved_parameters("nb") == {}


@pytest.mark.parametrize("line,lineno", [("import os", 2), ("lr += 1", 2), ("a, b = 1, 2", 2), ("a = b = 1", 2),
                                         ("print('hi')", 2)])
def test_saved_parameters_refuses_a_line_that_is_not_an_assignment(tmp_path, monkeypatch, line, lineno):
    write_notebook(tmp_path, "nb", f"lr = 0.1\n{line}\n")
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    with pytest.raises(ConfigError) as info:
        saved_parameters("nb")
    assert str(info.value).startswith(f"{tmp_path / 'nb.ipynb'} has a line in its parameters cell that is not "
                                      f"'name = literal' (line {lineno})")


@pytest.mark.parametrize("value", ["open('/tmp/side-effect', 'w')", "10 ** -3", "[i for i in range(3)]", "x"])
def test_saved_parameters_refuses_a_value_that_is_not_a_literal(tmp_path, monkeypatch, value):
    """Never executed: a call, an expression or a name is refused (with ValueError from ast.literal_eval,
    of which ConfigError is a subclass)."""
    write_notebook(tmp_path, "nb", f"lr = {value}\n")
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    with pytest.raises(ValueError):
        saved_parameters("nb")


def test_recipes_of_the_report_notebooks():
    for info in EXPERIMENTS.values():
        params = notebook_recipe(info.notebook)
        assert set(params) >= {"data_dir", "download", "retrain", "results_dir", "figures_dir"}
        assert params["results_dir"] == params["figures_dir"] == "auto" and params["retrain"] is False
    # the theory notebook's parameters are its worked examples, none of the training recipe's run options
    theory = notebook_recipe("00_theory")
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
    quick = profile_config("quick", "alexnet_sgd")
    assert output_dirs("alexnet_sgd", quick) == (REPO_ROOT / "build" / "results",
                                                 REPO_ROOT / "build" / "figures" / f"alexnet_sgd-{quick.key()}")
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


# --- writing a recipe value (how the sweep adopts a tuned learning rate) ------------------------------

@pytest.fixture
def recipe_copy(tmp_path, monkeypatch):
    """A copy of the profiles folder that recipes.PROFILES_DIR points at; returns 01_baseline's recipe file."""
    import shutil
    shutil.copytree(PROFILES_DIR, tmp_path / "profiles")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path / "profiles")
    return tmp_path / "profiles" / "report" / "01_baseline.yaml"


def recipe_line(path, name) -> str:
    (line,) = [line for line in path.read_text().splitlines() if line.split(":")[0].strip() == name]
    return line


def test_set_recipe_value_changes_only_that_line(recipe_copy):
    before = recipe_copy.read_text().splitlines()
    old_line = recipe_line(recipe_copy, "lr")
    params = notebook_recipe("01_baseline")
    new_lr = params["lr"] * 2
    set_recipe_value(recipe_copy, "lr", new_lr)
    after = recipe_copy.read_text().splitlines()
    assert len(after) == len(before)
    assert [i for i, (a, b) in enumerate(zip(before, after)) if a != b] == [before.index(old_line)]
    assert notebook_recipe("01_baseline") == {**params, "lr": new_lr}
    new_line = recipe_line(recipe_copy, "lr")
    assert new_line.startswith(f"lr: {new_lr!r} ")
    assert new_line.index("#") == old_line.index("#")  # the comment column is kept
    assert new_line.split("#", 1)[1] == old_line.split("#", 1)[1]  # and the comment itself
    assert f"lr: float = {new_lr!r} " in parameters_cell("01_baseline")  # what the notebook will show


@pytest.mark.parametrize("name,value", [("model", 'say "hi"'), ("data_dir", "/data/it's here # not a comment"),
                                        ("lr", 1e-05), ("nesterov", False), ("epochs", 12345678901234567890),
                                        ("data_dir", "")])
def test_set_recipe_value_round_trips_literals(recipe_copy, name, value):
    old_line = recipe_line(recipe_copy, name)
    set_recipe_value(recipe_copy, name, value)
    written = notebook_recipe("01_baseline")[name]
    assert written == value and type(written) is type(value)
    assert recipe_line(recipe_copy, name).endswith("#" + old_line.split("#", 1)[1])  # the comment kept
    assert parameters_from_text(parameters_cell("01_baseline"))[name] == value  # and the cell shows it


def test_set_recipe_value_refuses_an_unknown_name(recipe_copy):
    before = recipe_copy.read_bytes()
    with pytest.raises(ConfigError, match="01_baseline.yaml has no line 'learning_rate: ...'; add it there first"):
        set_recipe_value(recipe_copy, "learning_rate", 0.1)
    with pytest.raises(ConfigError, match="no line 'peak: ...'"):  # a word of a comment is not a parameter
        set_recipe_value(recipe_copy, "peak", 0.1)
    assert recipe_copy.read_bytes() == before


def test_set_recipe_value_within_a_block_and_without_a_comment(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("cells:\n  a:\n    lr: 0.1  # chosen\n  b:\n    lr: null\nlr: 3\n")
    set_recipe_value(path, "lr", 0.2, within="b")
    assert path.read_text() == "cells:\n  a:\n    lr: 0.1  # chosen\n  b:\n    lr: 0.2\nlr: 3\n"
    set_recipe_value(path, "lr", 0.05, within="a")
    assert path.read_text().splitlines()[2] == "    lr: 0.05 # chosen"  # the comment keeps its column
    with pytest.raises(ConfigError, match="has no block 'c'"):
        set_recipe_value(path, "lr", 0.1, within="c")


def test_a_recipe_line_that_is_not_one_plain_value_is_refused(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("lr: 0.1  # ok\nlist:\n  - 1\n")
    with pytest.raises(ConfigError, match=r"r.yaml line 3 is not 'name: value  # comment'"):
        recipe_lines(path)


def test_a_recipe_that_sets_a_name_twice_is_refused_naming_both_lines(tmp_path):
    """YAML keeps the last of two equal keys silently: an appended 'lr: 0.5' would become a new recipe."""
    path = tmp_path / "r.yaml"
    path.write_text("lr: 0.1  # ok\nepochs: 2\nlr: 0.5\n")
    with pytest.raises(ConfigError, match=r"r.yaml sets lr twice \(lines 1 and 3\); keep one of them"):
        recipe_lines(path)


def test_a_recipe_or_profile_that_is_not_utf8_is_refused_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "r.yaml"
    path.write_bytes(b"lr: 0.1  # caf\xe9\n")
    with pytest.raises(ConfigError, match=r"r.yaml is not UTF-8 text \(byte 0xe9 at offset 14\)"):
        recipe_lines(path)
    (tmp_path / "report").mkdir()
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "01_baseline.yaml").write_bytes(b"epochs: 1 # \xff\n")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path)
    with pytest.raises(ConfigError, match="01_baseline.yaml is not UTF-8 text"):
        profile_differences("odd", "01_baseline")


@pytest.mark.parametrize("text, message", [("epochs: [1\n", r"is not valid YAML \(line 2\)"),
                                           ("hello\n", "holds 'hello', not 'name: value' lines"),
                                           ("- 1\n", r"holds \[1\], not 'name: value' lines"),
                                           ("# only a comment\n", "changes nothing"), ("", "changes nothing")])
def test_a_profile_that_is_no_mapping_is_one_sentence_naming_the_file(tmp_path, monkeypatch, text, message):
    (tmp_path / "report").mkdir()
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "01_baseline.yaml").write_text(text)
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path)
    with pytest.raises(ConfigError, match=f"01_baseline.yaml {message}"):
        profile_differences("odd", "01_baseline")


def test_a_report_recipe_name_the_notebook_does_not_declare_is_refused_with_the_likely_one(tmp_path, monkeypatch):
    """An 'epochz: 5' appended to the recipe would otherwise become a parameter of the published notebook."""
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "nb.yaml").write_text("epochs: 2  # passes\nlr: 0.1  # rate\n")
    write_notebook(tmp_path, "nb", "epochs = 2\nlr = 0.1\n")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path)
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    recipes.undeclared_recipe_keys("nb")  # every name declared: nothing to say
    with open(tmp_path / "report" / "nb.yaml", "a") as fh:
        fh.write("epochz: 5  # typo\n")
    with pytest.raises(ConfigError, match=r"sets 'epochz', which the parameters cell of notebooks/nb.ipynb does not "
                                          r"declare \(did you mean 'epochs'\?\); fix or remove that line"):
        recipes.undeclared_recipe_keys("nb")


def test_every_report_recipe_declares_only_its_notebook_s_parameters():
    for notebook in NOTEBOOKS:
        recipes.undeclared_recipe_keys(notebook)


def test_parameters_from_text_names_its_source():
    assert parameters_from_text('lr = 0.1  # x = 3\nname = "a # b"\n') == {"lr": 0.1, "name": "a # b"}
    with pytest.raises(ConfigError, match=r"^somewhere.ipynb has a line in its parameters cell that is not "
                                          r"'name = literal' \(line 2\)"):
        parameters_from_text("lr = 0.1\nimport os\n", "somewhere.ipynb")
    with pytest.raises(ConfigError, match=r"^the notebook has a line in its parameters cell"):
        parameters_from_text("lr: float\n")  # an annotation without a value


def test_annotated_parameters_are_read():
    """``name: type = literal`` (papermill's --help-notebook shows the type) reads like ``name = literal``."""
    assert parameters_from_text("lr: float = 0.1    # peak learning rate\nflip: bool = True  # flips\n") == \
        {"lr": 0.1, "flip": True}


def test_cell_differences_name_what_a_saved_edit_changed(tmp_path, monkeypatch):
    recipe = parameters_cell("01_baseline").replace("epochs: int = 10 ", "epochs: int = 3  ")
    write_notebook(tmp_path, "01_baseline", recipe + '\nextra = 1  # a new name\n')
    monkeypatch.setattr(recipes, "NOTEBOOKS_DIR", tmp_path)
    differences = cell_differences("01_baseline")
    assert differences == {"epochs": (3, 10), "extra": (1, None)}
    assert describe_differences(differences) == "epochs 3 (recipe 10), extra 1 (recipe None)"
    cell = parameters_cell("01_baseline")
    write_notebook(tmp_path, "01_baseline", cell.replace("crop_pad: int = 0 ", "crop_pad: int = 0.0"))
    assert cell_differences("01_baseline") == {}  # 0 and 0.0 are one value
    write_notebook(tmp_path, "01_baseline", cell.replace("flip: bool = True", "flip: bool = 1   "))
    assert cell_differences("01_baseline") == {"flip": (1, True)}  # 1 is no boolean


# --- a bad or missing recipe file names itself ----------------------------------------------------

def _set_line(path, name, text):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(f"{name}: {text}" if line.split(":")[0] == name else line for line in lines) + "\n")


@pytest.mark.parametrize("profile,key,text", [("report", "epochs", '"ten"'), ("quick", "epochs", '"ten"'),
                                               ("smoke", "optimizer", '"adamw"'), ("report", "lr", "-1")])
def test_a_bad_value_in_a_recipe_or_profile_file_names_the_file_and_the_key(recipe_copy, profile, key, text):
    path = recipe_copy.parents[1] / profile / "01_baseline.yaml"
    _set_line(path, key, text)
    if key not in path.read_text():
        path.write_text(path.read_text() + f"{key}: {text}\n")
    with pytest.raises(ConfigError) as caught:
        recipes.profile_config(profile, "baseline")
    message = str(caught.value)
    assert f"{profile}/01_baseline.yaml" in message and key in message and "-p " not in message
    assert "\n" not in message


def test_a_deleted_recipe_file_is_named_with_how_to_restore_it(recipe_copy):
    missing = recipe_copy.parent / "02_alexnet_sgd.yaml"
    missing.unlink()
    for call in (lambda: recipes.profile_config("report", "alexnet_sgd"),
                 lambda: recipes.profile_parameters("quick", "02_alexnet_sgd")):
        with pytest.raises(ConfigError) as caught:
            call()
        message = str(caught.value)
        assert "report/02_alexnet_sgd.yaml" in message and "git checkout --" in message
        assert "missing" not in message or "lr" not in message  # not a list of 23 missing parameters


@pytest.mark.parametrize("source,lineno", [("epochs = 10\nlr = (0.1\n", 2), ("epochs = 10\nlr 0.1\n", 2),
                                           ("epochs = 10\nx = {[1]: 2}\n", 2), ("epochs = 1\nlr = 1 +\n", 2),
                                           ("epochs = 1\n" + "x = " + "[" * 1000 + "]" * 1000 + "\n", None)])
def test_a_parameters_cell_that_does_not_parse_is_one_error_naming_the_notebook_and_line(source, lineno):
    with pytest.raises(ConfigError) as caught:
        recipes.parameters_from_text(source, "notebooks/01_baseline.ipynb")
    message = str(caught.value)
    assert "notebooks/01_baseline.ipynb" in message and "\n" not in message
    if lineno:
        assert f"line {lineno}" in message


def test_a_profile_that_sets_a_name_twice_is_refused_naming_both_lines(tmp_path, monkeypatch):
    """A profile (profiles/quick/, faithful/, smoke/) is read by YAML, which would keep the last of two keys."""
    from cifar_utils import recipes
    shutil.copytree(PROFILES_DIR, tmp_path / "profiles")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path / "profiles")
    path = tmp_path / "profiles" / "quick" / "02_alexnet_sgd.yaml"
    path.write_text(path.read_text() + "lr: 0.5\n")
    with pytest.raises(ConfigError, match=r"quick/02_alexnet_sgd.yaml sets lr twice \(lines \d+ and \d+\); keep one"):
        recipes.profile_differences("quick", "02_alexnet_sgd")
