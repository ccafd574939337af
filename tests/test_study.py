"""The study as a value (profiles/study.yaml, read by study.load): its cells and their labels, the final runs
(every cell x seed, on the test set), the tuning runs (learning rates on the validation split, with seeds of
their own), the rule that chooses among them, fixed in advance, and where a chosen rate is written."""
from __future__ import annotations

import dataclasses
import re
import shutil

import pytest
import yaml

from cifar_utils import recipes, study
from cifar_utils.config import ConfigError
from cifar_utils.recipes import EXPERIMENTS, REPO_ROOT, notebook_recipe, profile_config
from cifar_utils.results import save_result
from cifar_utils.study import Run, label_of, stored
from helpers import confusion_with_diagonal, fake_result, write_study

STUDY = study.load()
# What the cells of one optimizer x dropout design may differ in: the optimizer's own settings, and dropout.
OWN_SETTINGS = {"optimizer", "lr", "nesterov", "dropout"}


def differing(a, b) -> set[str]:
    da, db = a.to_dict(), b.to_dict()
    return {k for k in da if da[k] != db[k]}


def test_seeds_are_fixed_and_the_figure_seed_is_one_of_them():
    assert len(STUDY.seeds) == len(set(STUDY.seeds)) >= 3
    assert STUDY.figure_seed in STUDY.seeds
    assert not set(STUDY.tuning_seeds) & set(STUDY.seeds)  # tuning never reuses a final run's seed
    assert all(set(cell.seeds) <= set(STUDY.seeds) and len(cell.seeds) >= 3 for cell in STUDY.cells)


def test_final_runs_are_every_cell_times_its_seeds_seed_by_seed():
    runs = STUDY.final_runs()
    ready = [cell for cell in STUDY.cells if cell.lr is not None]
    assert len(runs) == sum(len(cell.seeds) for cell in ready)
    assert len({run.config.key() for run in runs}) == len(runs) == len({run.path for run in runs})
    assert [run.config.seed for run in runs] == sorted(run.config.seed for run in runs)  # seed by seed
    for run in runs:
        assert run.config.evaluate_on == "test"
        assert run.config.train_subset == run.config.test_subset == 0  # all 50,000 / 10,000 images
        assert run.results_dir == REPO_ROOT / "results" and run.config == run.cell.config(run.config.seed)
        assert run.path == REPO_ROOT / "results" / f"{run.cell.recipe}-{run.config.key()}.json"
    assert STUDY.tuning_dir == REPO_ROOT / "results" / "tuning"


def test_every_stored_result_of_the_study_recipes_is_a_run_of_the_study():
    """From a file in results/ to its cell (of any study file: the study, the quick profile's, the second
    recipe's): nothing stored is orphaned by a change of a study or a recipe."""
    known = {path for the_study in map(study.load, sorted((REPO_ROOT / "profiles").glob("study*.yaml")))
             for run in the_study.recorded_runs() for path in (run.path, run.diverged_path)}
    faithful = {REPO_ROOT / "results" / f"{name}-{profile_config('faithful', name).key()}.json" for name in EXPERIMENTS}
    stray = sorted(p for p in list(STUDY.results_dir.glob("*.*")) + list(STUDY.tuning_dir.glob("*.*"))
                   if p.suffix in (".json", ".diverged") and p not in known | faithful)
    assert stray == []


def test_the_original_report_s_three_configurations_are_cells_of_their_notebooks_recipes():
    own = {cell.recipe: cell for cell in STUDY.cells if cell.own_recipe}
    assert set(own) == set(EXPERIMENTS)
    for name, cell in own.items():
        assert cell.config(0) == profile_config("report", name)
        assert cell.label == EXPERIMENTS[name].title  # the title the notebook gives it


@pytest.mark.parametrize("model", ["alexnet", "baseline"])
def test_a_design_s_cells_share_one_recipe_and_differ_only_in_the_optimizer_and_dropout(model):
    design = study.design(STUDY.cells, model, 8)
    if model == "baseline" and not design:
        pytest.skip("the study has no baseline-network design")
    assert set(design) == {("sgd", 0.0), ("sgd", 0.5), ("adam", 0.0), ("adam", 0.5)}
    configs = {factors: cell.config(0, lr=0.01) for factors, cell in design.items()}
    for a in configs.values():
        assert a.model == model
        for b in configs.values():
            assert differing(a, b) <= OWN_SETTINGS
    for optimizer in ("sgd", "adam"):  # within an optimizer only dropout differs, the rate included
        sgd_pair = [c for (o, _), c in design.items() if o == optimizer]
        assert differing(sgd_pair[0].config(0), sgd_pair[1].config(0)) == {"dropout"} if sgd_pair[0].lr else True


def test_labels_are_read_off_the_configuration_and_unique():
    assert len({cell.label for cell in STUDY.cells}) == len(STUDY.cells)
    alexnet, baseline = profile_config("report", "alexnet_sgd"), profile_config("report", "baseline")
    settings = dataclasses.asdict(alexnet)
    assert label_of(settings, alexnet) == "AlexNet + SGD"
    assert label_of({**settings, "dropout": 0.5, "optimizer": "adam"}, alexnet) == "AlexNet + Adam + Dropout 0.5"
    assert label_of({**settings, "epochs": 16}, alexnet) == "AlexNet + SGD (16 epochs)"
    assert label_of({**settings, "model": "baseline", "dropout": 0.5}, alexnet) == \
        "baseline CNN + SGD + Dropout 0.5 (AlexNet recipe)"
    assert label_of(dataclasses.asdict(baseline), baseline) == "baseline CNN + SGD"  # its own 0.25 is its network
    adam = profile_config("report", "alexnet_adam_dropout")  # the baseline network with notebook 03's Dropout 0.5
    assert label_of({**dataclasses.asdict(adam), "model": "baseline"}, adam) == \
        "baseline CNN + Adam + Dropout 0.5 (AlexNet recipe)"


def test_a_cell_s_dropout_is_its_recipe_s_unless_the_study_file_changes_it():
    for cell in STUDY.cells:
        recipe = notebook_recipe(EXPERIMENTS[cell.recipe].notebook)
        assert cell.value("dropout") == dict(cell.changes).get("dropout", recipe["dropout"])


def test_cell_config_applies_changes_seed_and_more(tmp_path):
    s = write_study(tmp_path, {"a": {"recipe": "baseline", "epochs": 2, "dropout": 0.0, "grid": [0.1, 0.2]}})
    config = s.cell("a").config(7, lr=0.2, evaluate_on="validation")
    base = profile_config("report", "baseline")
    assert config == dataclasses.replace(base, epochs=2, dropout=0.0, seed=7, lr=0.2, evaluate_on="validation")
    with pytest.raises(ConfigError, match="the cell a has no chosen learning rate yet; run python -m "
                                          "cifar_utils.sweep --stage tune, then --stage adopt"):
        s.cell("a").config(0)
    assert s.final_runs() == []  # nothing to run before a rate is chosen


def test_tuning_runs_use_the_validation_split_and_their_own_seeds():
    runs = STUDY.tuning_runs()
    tuned = [cell for cell in STUDY.cells if cell.tuned]
    assert len(runs) == len(STUDY.tuning_seeds) * sum(len(cell.grid) for cell in tuned)
    assert len({run.config.key() for run in runs}) == len(runs)
    assert not {run.config.key() for run in STUDY.final_runs()} & {run.config.key() for run in runs}
    for run in runs:
        assert run.config.evaluate_on == "validation" and run.config.seed in STUDY.tuning_seeds
        assert run.config.lr in run.cell.grid and run.results_dir == STUDY.tuning_dir
        # apart from lr, split and seed, a tuning run is its cell's final recipe
        assert differing(run.config, run.cell.config(STUDY.seeds[0], lr=1.0)) <= {"lr", "evaluate_on", "seed"}
    for cell in STUDY.cells:
        assert cell.tuned != bool(cell.lr_from)
        if cell.lr_from:  # a cell that takes another's rate takes it from a cell of its recipe and network
            source = STUDY.cell(cell.lr_from)
            assert source.tuned and (source.recipe, source.value("model")) == (cell.recipe, cell.value("model"))
            assert cell.lr == source.lr


def test_tuning_grids_are_distinct_and_ascending():
    for cell in STUDY.cells:
        if cell.tuned:
            assert len(cell.grid) >= 2 and list(cell.grid) == sorted(set(cell.grid)) and min(cell.grid) > 0


def test_run_describe_and_path(tmp_path):
    final = STUDY.final_runs()[1]
    assert final.describe() == f"{final.cell.label}, seed {STUDY.seeds[0]}"
    tune = STUDY.tuning_runs()[0]
    assert tune.describe() == f"{tune.cell.label}, seed {STUDY.tuning_seeds[0]}, lr {tune.config.lr:g}, validation"
    assert Run(final.cell, final.config, tmp_path / "x").path == tmp_path / "x" / final.path.name


@pytest.mark.parametrize("entry,message", [
    ({"grid": [0.1]}, "needs a recipe and exactly one of grid, lr_from and profile"),
    ({"recipe": "baseline"}, "needs a recipe and exactly one of grid, lr_from and profile"),
    ({"recipe": "baseline", "grid": [0.1], "lr_from": "a"}, "exactly one of grid, lr_from and profile"),
    ({"recipe": "baseline", "grid": [0.1], "profile": "smoke"}, "exactly one of grid, lr_from and profile"),
    ({"recipe": "baseline", "grid": [0.1], "epoch": 3}, "has unknown fields ['epoch']"),
    ({"recipe": "baseline", "lr_from": "nope"}, "takes its rate from 'nope', which is no tuned cell"),
])
def test_a_bad_cell_is_refused_naming_the_file_and_the_cell(tmp_path, entry, message):
    with pytest.raises(ConfigError, match="the cell b in .*study.yaml") as info:
        write_study(tmp_path, {"a": {"recipe": "baseline", "grid": [0.1, 0.2]}, "b": entry})
    assert message in str(info.value)


def test_an_unreadable_study_file_is_one_sentence(tmp_path):
    (tmp_path / "study.yaml").write_text("cells: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read the study file .*study.yaml .*; restore it from git"):
        study.load(tmp_path / "study.yaml")


GOOD = {"seeds": [0, 1], "figure_seed": 0, "tuning_seeds": [7], "cells": {"a": {"recipe": "baseline", "grid": [0.1]}}}


@pytest.mark.parametrize("change, names", [
    ({"seeds": None}, ["seeds", "required"]),                      # renamed away: was a KeyError
    ({"seeds": "all"}, ["seeds", "'all'"]),
    ({"seeds": [-3]}, ["seeds.0", "-3"]),
    ({"tuning_seeds": []}, ["tuning_seeds", "[]"]),                 # was "fmean requires at least one data point"
    ({"cells": []}, ["cells", "[]"]),
    ({"cells": {}}, ["cells", "{}"]),
    ({"cells": {"a": 5}}, ["cells.a", "5"]),
    ({"cells": {"a": {"recipe": "baseline", "grid": "0.02"}}}, ["cells.a.grid", "'0.02'"]),  # was "lr = '0'"
    ({"cells": {"a": {"recipe": "baseline", "grid": [float("nan")]}}}, ["cells.a.grid.0", "nan"]),
    ({"tuning_dirr": "x"}, ["tuning_dirr", "'x'"]),                  # a typo was ignored
    ({"extend_at_edge": "false"}, ["extend_at_edge", "'false'"]),    # bool("false") is True: never convert
    ({"seeds": ["0"]}, ["seeds.0", "'0'"]),
    ({"cells": {"a": {"recipe": "baseline", "grid": ["0.02"]}}}, ["cells.a.grid.0", "'0.02'"]),
    ({"recipes": {"r": [8]}}, ["recipes.r", "[8]"]),
])
def test_a_bad_study_file_is_one_sentence_naming_the_file_the_key_and_the_value(tmp_path, change, names):
    spec = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError) as info:
        study.load(tmp_path / "study.yaml")
    message = str(info.value)
    assert str(tmp_path / "study.yaml") in message and "fix that" in message and "\n" not in message
    assert all(name in message for name in names), message


@pytest.mark.parametrize("text", ["", "hello\n", "- 1\n", "\xff\xfe seeds"])
def test_a_study_file_that_is_no_mapping_is_one_sentence(tmp_path, text):
    (tmp_path / "study.yaml").write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match="study.yaml"):
        study.load(tmp_path / "study.yaml")


# --- the rule fixed in advance ---------------------------------------------------------------------

@pytest.fixture
def two_grids(tmp_path):
    return write_study(tmp_path, {"a": {"recipe": "baseline", "epochs": 2, "grid": [0.05, 0.1, 0.2]},
                                  "b": {"recipe": "alexnet_sgd", "epochs": 2, "grid": [0.01, 0.02], "lr": 0.02},
                                  "c": {"recipe": "baseline", "epochs": 2, "dropout": 0.5, "lr_from": "a"}},
                       tuning_seeds=(1000, 1001))


def make_log(the_study, accuracy) -> list[dict]:
    """A tuning log over every tuning run of ``the_study``, accuracy(cell name, lr, seed) in percent."""
    return [{"cell": run.cell.name, "recipe": run.cell.recipe, "label": run.cell.label, "lr": run.config.lr,
             "seed": run.config.seed, "validation accuracy (%)": accuracy(run.cell.name, run.config.lr, run.config.seed),
             "diverged": False, "training seconds": 1.0, "device": "cpu"} for run in the_study.tuning_runs()]


def test_choose_takes_the_highest_mean_over_tuning_seeds(two_grids):
    def accuracy(cell, lr, seed):
        if cell == "a":  # the single best run is at 0.2 (90), but the mean over the two seeds is best at 0.1
            return {(1000, 0.2): 90.0, (1001, 0.2): 40.0, (1000, 0.1): 70.0, (1001, 0.1): 68.0}.get((seed, lr), 50.0)
        return 60.0 + lr  # the largest rate is best
    log = make_log(two_grids, accuracy)
    assert {row["seed"] for row in log} == {1000, 1001} and {row["cell"] for row in log} == {"a", "b"}
    assert two_grids.choose(log) == {"a": 0.1, "b": 0.02}


def test_choose_one_cell_needs_only_its_own_tuning_runs(two_grids):
    log = make_log(two_grids, lambda cell, lr, seed: None if cell == "b" else 60.0 + lr)
    with pytest.raises(ValueError, match="not stored yet"):
        two_grids.choose(log)
    assert two_grids.choose(log, ["a"]) == {"a": 0.2}


def test_choose_breaks_a_tie_by_the_first_rate_of_the_grid(two_grids):
    """max() keeps the first of equal means: the grids are ascending, so a tie goes to the smaller rate."""
    assert two_grids.choose(make_log(two_grids, lambda cell, lr, seed: 50.0)) == {"a": 0.05, "b": 0.01}


def test_choose_refuses_while_a_tuning_run_is_missing(two_grids):
    log = make_log(two_grids, lambda cell, lr, seed: 50.0)
    row = log[4]
    row["validation accuracy (%)"] = None
    with pytest.raises(ValueError) as info:
        two_grids.choose(log)
    message = str(info.value)
    assert message.startswith("1 tuning runs are not stored yet")
    assert f"{row['label']}, lr {row['lr']:g}, seed {row['seed']}" in message
    assert "python -m cifar_utils.sweep --stage tune" in message


def test_tuning_log_reads_what_is_stored(two_grids):
    runs = two_grids.tuning_runs()
    assert stored(runs) == {run: None for run in runs}
    log = two_grids.tuning_log()
    assert len(log) == len(runs) and all(row["validation accuracy (%)"] is None for row in log)
    with pytest.raises(ValueError, match=f"{len(runs)} tuning runs are not stored yet"):
        two_grids.choose(log)
    run = runs[2]
    result = fake_result(run.cell.recipe, run.config, confusion_with_diagonal([40] * 10, row_total=100))
    result["evaluations"] = {"weights": 0.4, "weights + test flips": 0.425}
    save_result(run.path, result)
    assert stored(runs)[run] == result
    (row,) = [r for r in two_grids.tuning_log() if r["validation accuracy (%)"] is not None]
    assert row == {"cell": run.cell.name, "recipe": run.cell.recipe, "label": run.cell.label, "lr": run.config.lr,
                   "changes": dict(run.cell.changes), "evaluations": {"weights": 40.0, "weights + test flips": 42.5},
                   "seed": run.config.seed, "validation accuracy (%)": 40.0, "diverged": False,
                   "training seconds": result["train_seconds"], "device": "cpu",
                   "precision": result["environment"]["autocast"]}


def test_a_stored_result_of_another_experiment_is_left_out_with_a_warning(two_grids, capsys):
    """A result whose "experiment" is not the one its file name says (results/alexnet_sgd-<key>.json holding
    "baseline") is named on stderr with its fix and left out, as a damaged one is."""
    run = next(r for r in two_grids.tuning_runs() if r.cell.recipe == "alexnet_sgd")
    result = fake_result(run.cell.recipe, run.config, confusion_with_diagonal([40] * 10, row_total=100))
    save_result(run.path, {**result, "experiment": "baseline"})
    assert study.stored_result(run) is None
    assert all(row["validation accuracy (%)"] is None for row in two_grids.tuning_log())  # left out
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith("Warning: ") and str(run.path) in warning
    assert "restore it from git or delete it" in warning


def test_choose_leaves_out_rates_that_diverged_anywhere(two_grids):
    log = make_log(two_grids, lambda cell, lr, seed: 60.0 + lr)  # the largest rate is best everywhere
    assert two_grids.choose(log, ["a"], unstable={("a", 0.2)}) == {"a": 0.1}
    for row in log:  # a diverged tuning run has no accuracy; its rate being unstable, nothing is missing
        if row["cell"] == "a" and row["lr"] == 0.2:
            row["validation accuracy (%)"], row["diverged"] = None, True
    assert two_grids.choose(log, ["a"], unstable={("a", 0.2)}) == {"a": 0.1}
    with pytest.raises(ValueError, match="every learning rate tried for the cell a diverged"):
        two_grids.choose(log, ["a"], unstable={("a", lr) for lr in (0.05, 0.1, 0.2)})


def test_the_edge_clause_extends_a_grid_whose_best_rate_sits_at_either_edge(two_grids):
    best = {"a": 0.2, "b": 0.01}  # a: the top edge (0.1 next best); b: the bottom edge
    log = make_log(two_grids, lambda cell, lr, seed: 70.0 if lr == best[cell] else 60.0 if lr == 0.1 else 50.0)
    assert two_grids.edge_extensions(log) == {"a": (0.05, 0.1, 0.2, 0.4), "b": (0.005, 0.01, 0.02)}
    inside = make_log(two_grids, lambda cell, lr, seed: 70.0 if lr in (0.1, 0.02) else 50.0)
    assert two_grids.edge_extensions(inside) == {"b": (0.01, 0.02, 0.04)}
    # an outer rate that diverged bounds the grid; a cell still tuning is left alone
    assert "a" not in two_grids.edge_extensions(log, unstable={("a", 0.2)})
    log[0]["validation accuracy (%)"] = None
    assert log[0]["cell"] not in two_grids.edge_extensions(log)


def test_the_sweep_writes_an_extended_grid_into_the_study_file_keeping_its_comment(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("cells:\n  a:\n    grid: [0.1, 0.2]   # why these\n  b:\n    grid: [0.1, 0.2]\n")
    recipes.set_recipe_value(path, "grid", [0.1, 0.2, 0.4], within="a")
    line = path.read_text().splitlines()[2]
    assert line.startswith("    grid: [0.1, 0.2, 0.4]") and line.endswith("# why these")
    assert path.read_text().splitlines()[4] == "    grid: [0.1, 0.2]"


def test_a_design_holds_one_batch_size_and_only_cells_with_final_seeds(tmp_path):
    the_study = write_study(tmp_path, {
        "sgd": {"recipe": "alexnet_sgd", "epochs": 2, "grid": [0.1], "lr": 0.1},
        "sgd_b128": {"recipe": "alexnet_sgd", "epochs": 2, "batch_size": 128, "grid": [0.1], "lr": 0.1},
        "sgd_try": {"recipe": "alexnet_sgd", "epochs": 2, "batch_size": 64, "grid": [0.1], "lr": 0.1, "seeds": []}})
    cells = {c.name: c for c in the_study.cells}
    assert study.design(the_study.cells, "alexnet", 2, 128) == {("sgd", 0.0): cells["sgd_b128"]}
    assert study.design(the_study.cells, "alexnet", 2, 512) == {("sgd", 0.0): cells["sgd"]}
    assert study.design(the_study.cells, "alexnet", 2, 64) == {}
    assert cells["sgd_b128"].label == "AlexNet + SGD (2 epochs, batch 128)"


def test_a_divergence_of_a_cell_that_takes_another_s_rate_makes_that_rate_unstable(two_grids):
    two_grids = dataclasses.replace(two_grids, cells=tuple(
        dataclasses.replace(c, settings=tuple(sorted({**dict(c.settings), "lr": 0.2}.items())))
        if c.name in ("a", "c") else c for c in two_grids.cells))
    run = two_grids.final_runs([two_grids.cell("c")])[0]
    study.record_divergence(run.diverged_path, run.cell.recipe, run.config, "the training loss became nan")
    assert study.divergence(run) == "the training loss became nan"
    assert two_grids.unstable_rates() == {("a", 0.2)}


# --- where a chosen rate is written --------------------------------------------------------------------

def test_adopt_writes_a_notebook_s_own_cell_into_its_recipe_and_any_other_into_the_study_file(tmp_path, monkeypatch):
    shutil.copytree(recipes.PROFILES_DIR, tmp_path / "profiles")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path / "profiles")
    s = write_study(tmp_path, {"own": {"recipe": "alexnet_sgd", "grid": [0.02, 0.04]},
                               "other": {"recipe": "alexnet_sgd", "model": "baseline", "grid": [0.1, 0.2], "lr": None}})
    assert s.cell("own").lr == 0.04 and s.cell("other").lr is None
    assert s.adopt("own", 0.02) == tmp_path / "profiles" / "report" / "02_alexnet_sgd.yaml"
    assert s.adopt("other", 0.2) == s.file
    again = study.load(s.file)
    assert again.cell("own").lr == 0.02 and again.cell("other").lr == 0.2
    assert notebook_recipe("02_alexnet_sgd")["lr"] == 0.02
    assert (REPO_ROOT / "profiles" / "report" / "02_alexnet_sgd.yaml").read_text() != \
        (tmp_path / "profiles" / "report" / "02_alexnet_sgd.yaml").read_text()  # the committed one untouched


def test_a_profile_cell_is_the_profile_s_recipe_with_its_rate(tmp_path):
    """A cell of a profile (what `report --profile` trains) takes every setting from the profile file, its rate
    included, and is labelled by the profile; a cell without seeds of its own is a try: tuning runs only."""
    s = write_study(tmp_path, {"quick": {"recipe": "alexnet_sgd", "profile": "smoke"},
                               "try": {"recipe": "alexnet_sgd", "epochs": 1, "grid": [0.01, 0.02], "seeds": []}})
    smoke = profile_config("smoke", "alexnet_sgd")
    cell = s.cell("quick")
    assert cell.config(3) == dataclasses.replace(smoke, seed=3)
    assert cell.lr == smoke.lr and not cell.tuned and not cell.own_recipe
    assert cell.label == "AlexNet + SGD (smoke profile)"
    assert [run.cell.name for run in s.final_runs()] == ["quick", "quick"]
    assert [(run.cell.name, run.config.lr) for run in s.tuning_runs()] == [("try", 0.01), ("try", 0.02)]


def test_only_keeps_the_cells_named_and_those_they_take_their_rate_from(tmp_path):
    s = write_study(tmp_path, {"a": {"recipe": "baseline", "grid": [0.1]}, "b": {"recipe": "baseline", "dropout": 0.0,
                                                                                   "lr_from": "a"},
                               "c": {"recipe": "alexnet_sgd", "grid": [0.01]}})
    assert [c.name for c in s.only(["b"]).cells] == ["a", "b"]
    assert [c.name for c in s.only(["c"]).cells] == ["c"] and s.only(None) is s
    with pytest.raises(ConfigError, match="the study has no cell 'd'; use one of a, b, c"):
        s.only(["d"])


def test_a_study_file_that_sets_a_key_twice_is_refused_naming_both_lines(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(study.STUDY_FILE.read_text() + "seeds: [0]\n")
    with pytest.raises(ConfigError, match=r"study.yaml sets seeds twice \(lines \d+ and \d+\); keep one of them"):
        study.load(path)


@pytest.mark.parametrize("old,new,named", [("figure_seed: 0", "figure_seed: 7", "figure_seed is 7"),
                                           ("seeds: [0, 1, 2]\n", "seeds: [0, 0]\n", "adam_16_epochs.seeds"),
                                           ("seeds: [0, 1, 2, 3, 4]", "seeds: [0, 1, 1]", "seeds")])
def test_a_figure_seed_outside_the_seeds_or_a_seed_given_twice_is_refused(tmp_path, old, new, named):
    """A figure seed the study never trains would publish "not stored yet" in place of the report's sentences; a
    seed listed twice would train one run as two."""
    path = tmp_path / "study.yaml"
    path.write_text(study.STUDY_FILE.read_text().replace(old, new, 1))
    with pytest.raises(ConfigError, match=named) as info:
        study.load(path)
    assert "; " in str(info.value) and "{" not in str(info.value)


@pytest.mark.parametrize("key,folder", [("results_dir", "notebooks"), ("results_dir", "figures"), ("tuning_dir", "."),
                                        ("logs_dir", "results")])
def test_a_study_that_would_write_into_the_committed_report_is_refused(tmp_path, key, folder):
    path = tmp_path / "study.yaml"
    text = study.STUDY_FILE.read_text()
    path.write_text(text.replace("cells:", f"{key}: {folder!r}\ncells:", 1) if key not in text
                    else re.sub(rf"^{key}: .*$", f"{key}: {folder!r}", text, count=1, flags=re.M))
    with pytest.raises(ConfigError, match=rf"{key} in .* = '{re.escape(folder)}' would write into .*build/"):
        study.load(path)


def test_a_recipe_key_its_notebook_does_not_declare_is_refused_by_the_study_too(tmp_path, monkeypatch):
    """report refuses `epochz: 5` in a report recipe; the sweep, which reads the same recipe, refuses it alike."""
    shutil.copytree(recipes.PROFILES_DIR, tmp_path / "profiles")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path / "profiles")
    recipe = tmp_path / "profiles" / "report" / "02_alexnet_sgd.yaml"
    recipe.write_text(recipe.read_text() + "epochz: 5  # a typo\n")
    with pytest.raises(ConfigError, match=r"02_alexnet_sgd.yaml sets 'epochz'.*did you mean 'epochs'"):
        study.load(study.STUDY_FILE)


def test_a_study_compared_with_a_missing_file_is_refused_when_it_is_read(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(study.STUDY_FILE.read_text().replace("cells:", "compare_with: profiles/nope.yaml\ncells:", 1))
    with pytest.raises(ConfigError, match=r"compare_with names profiles/nope.yaml, which does not exist"):
        study.load(path)
