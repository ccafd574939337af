"""The notebooks as a whole: smoke runs through the report runner, and the committed report's consistency.

(``pytest --nbval`` separately re-executes the committed notebooks and compares their outputs.)
"""
from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

from cifar_utils import report
from cifar_utils.experiment import EXPERIMENTS, REPO_ROOT, Experiment, profile_config
from cifar_utils.results import load_result

NOTEBOOKS = REPO_ROOT / "notebooks"


def tree_digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def smoke_run(synthetic_dir, tmp_path_factory):
    """All four notebooks executed by the runner with the smoke profile on synthetic data."""
    out = tmp_path_factory.mktemp("smoke")
    before = {name: tree_digest(REPO_ROOT / name) for name in ("figures", "results", "notebooks")}
    code = report.main(["--profile", "smoke", "-p", "data_dir", str(synthetic_dir),
                        "-p", "results_dir", str(out / "results"), "-p", "figures_dir", str(out / "figures"),
                        "--output-dir", str(out / "executed")])
    after = {name: tree_digest(REPO_ROOT / name) for name in ("figures", "results", "notebooks")}
    return code, out, before, after


def test_smoke_profile_runs_every_notebook(smoke_run):
    code, out, _, _ = smoke_run
    assert code == 0
    assert sorted(p.name for p in (out / "executed").glob("*.ipynb")) == sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    results = sorted(p.name.split("-")[0] for p in (out / "results").glob("*.json"))
    assert results == sorted(EXPERIMENTS)
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    # Fig. 15 (notebook 01) is drawn from the stored report and faithful results, when both are committed.
    both = all(Experiment.stored("baseline", profile, required=False).result for profile in ("report", "faithful"))
    assert len(figures) == 14 + both and figures[0].startswith("fig01_baseline") and figures[13].startswith("fig14_")
    assert both == ("fig15_baseline_profiles_accuracy_over_time.png" in figures)


def test_smoke_run_leaves_the_committed_report_untouched(smoke_run):
    _, _, before, after = smoke_run
    assert before == after


def test_smoke_results_match_the_profile(smoke_run):
    _, out, _, _ = smoke_run
    for name in EXPERIMENTS:
        config = profile_config("smoke", name)
        result = load_result(out / "results" / f"{name}-{config.key()}.json")
        assert result["config"] == config.to_dict()
        assert len(result["history"]) == config.epochs
        assert sum(map(sum, result["confusion"])) == config.test_subset


@pytest.mark.parametrize("notebook", [info["notebook"] for info in EXPERIMENTS.values()])
def test_parameters_cell_is_the_report_profile(notebook):
    declared = papermill.inspect_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"))
    defaults = {name: ast.literal_eval(p["default"]) for name, p in declared.items()}  # plain literals only
    profile = yaml.safe_load((REPO_ROOT / "profiles" / "report" / f"{notebook}.yaml").read_text())
    assert {k: defaults[k] for k in profile} == profile
    assert all(p["help"] for p in declared.values()), "every parameter needs a # comment"


@pytest.mark.parametrize("profile", ["report", "faithful", "smoke"])
def test_profiles_are_valid_and_complete(profile):
    for name in EXPERIMENTS:
        config = profile_config(profile, name)
        declared = yaml.safe_load((REPO_ROOT / "profiles" / profile / f"{EXPERIMENTS[name]['notebook']}.yaml")
                                  .read_text())
        assert set(config.to_dict()) <= set(declared), f"{profile} profile must set every training parameter"


def test_faithful_profile_is_the_seed_recipe():
    for name, info in EXPERIMENTS.items():
        config = profile_config("faithful", name)
        seed = info["seed"]
        # The seed gives no learning rate for Adam; its SGD rate, 1e-4, is used.
        assert (config.batch_size, config.epochs, config.lr, config.optimizer) == \
               (seed["batch_size"], seed["epochs"], seed["lr"] or 1e-4, seed["optimizer"])
        assert (config.schedule, config.flip, config.crop_pad, config.label_smoothing, config.weight_decay) == \
               ("constant", False, 0, 0.0, 0.0)


def test_committed_figures_are_drawn_from_committed_results(tmp_path):
    """Redrawing each committed report result gives byte-identical PNGs to the committed figures/."""
    for name in EXPERIMENTS:
        exp = Experiment(name, profile_config("report", name), figures_dir=str(tmp_path))
        exp.result = load_result(exp.path)
        if exp.result is None:
            pytest.fail(f"no committed result for the report profile of {name}: {exp.path}")
        for kind in ("per_class_accuracy", "loss_curves", "confusion_matrix", "first_ten"):
            exp.figure(kind)
            committed = REPO_ROOT / "figures" / exp.figure_path(kind).name
            assert committed.read_bytes() == exp.figure_path(kind).read_bytes(), committed.name


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_profiles_figure_is_drawn_from_the_stored_results(name, tmp_path):
    """Fig. 15: drawn (byte-identical to the committed one) when both profiles' results are stored, else None."""
    exp = Experiment(name, profile_config("report", name), figures_dir=str(tmp_path))
    fig = exp.profiles_figure()
    both = all(Experiment.stored(name, profile, required=False).result for profile in ("report", "faithful"))
    drawn = sorted(tmp_path.glob("*.png"))
    assert (fig is not None) == both and len(drawn) == both
    if both:
        assert drawn[0].read_bytes() == (REPO_ROOT / "figures" / drawn[0].name).read_bytes(), drawn[0].name


def test_committed_notebooks_show_the_committed_results():
    """The accuracy printed in each committed notebook is the one in its stored result."""
    for name, info in EXPERIMENTS.items():
        nb = nbformat.read(NOTEBOOKS / f"{info['notebook']}.ipynb", as_version=4)
        exp = Experiment(name, profile_config("report", name))
        exp.result = load_result(exp.path)
        text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
        assert exp.seed_table() in text


@pytest.mark.parametrize("keep_going", [False, True], ids=["stop", "keep-going"])
def test_bad_parameter_fails_fast_naming_notebook_and_cell(keep_going, synthetic_dir, tmp_path, capsys):
    """A bad value stops each training notebook in its validation cell, before any work: nothing is
    trained, no result or figure is written, and the committed report is untouched."""
    before = {name: tree_digest(REPO_ROOT / name) for name in ("figures", "results", "notebooks")}
    argv = ["--profile", "smoke", "--only", "01_baseline", "02_alexnet_sgd", "-p", "lr", "-1",
            "-p", "data_dir", str(synthetic_dir), "-p", "results_dir", str(tmp_path / "results"),
            "-p", "figures_dir", str(tmp_path / "figures"), "--output-dir", str(tmp_path / "executed")]
    code = report.main(argv + (["--keep-going"] if keep_going else []))
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED 01_baseline" in out and "ConfigError: lr = -1.0 is out of range; it must be > 0." in out
    assert ("FAILED 02_alexnet_sgd" in out) == keep_going
    assert not (tmp_path / "results").exists() and not (tmp_path / "figures").exists()
    assert before == {name: tree_digest(REPO_ROOT / name) for name in ("figures", "results", "notebooks")}


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_profiles_table_shows_the_stored_report_and_faithful_results(name):
    exp = Experiment(name, profile_config("report", name))
    table = exp.profiles_table()
    report = Experiment(name, profile_config("report", name))
    report.result = load_result(report.path)
    assert table.loc["test accuracy (%)", "report profile"] == f"{report.accuracy():.2f}"
    assert table.loc["test accuracy (%)", "seed report"] == f"{EXPERIMENTS[name]['seed']['accuracy']:.2f}"
    faithful = Experiment(name, profile_config("faithful", name))
    faithful.result = load_result(faithful.path)
    expected = (f"not run: python -m cifar_utils.report --profile faithful --only {EXPERIMENTS[name]['notebook']} "
                "-p data_dir <CIFAR-10 folder>"
                if faithful.result is None else f"{faithful.accuracy():.2f}")
    assert table.loc["test accuracy (%)", "faithful profile"] == expected
