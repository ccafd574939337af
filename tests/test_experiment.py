"""Experiment: train once and store, reload without training, retrain on request or on a broken
file, draw the four figures reproducibly, stop on a non-finite loss. All in tmp_path."""
from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cifar_utils import figures as figures_mod  # noqa: E402
from cifar_utils import store as store_mod  # noqa: E402
from cifar_utils import train as train_mod  # noqa: E402
from cifar_utils.config import ConfigError  # noqa: E402
from cifar_utils.data import load_cifar10  # noqa: E402
from cifar_utils.evaluate import decode_images  # noqa: E402
from cifar_utils.experiment import Experiment, comparison_figures  # noqa: E402
from cifar_utils.figures import FIGURES, EXPERIMENT_KINDS, experiment_figure  # noqa: E402
from cifar_utils.recipes import REPO_ROOT, profile_config  # noqa: E402
from cifar_utils.results import ResultError, accuracy, load_result, save_result  # noqa: E402
from cifar_utils.recipes import repo_relative  # noqa: E402
from cifar_utils.train import NonFiniteLossError  # noqa: E402
from helpers import (BASE_RECIPE, confusion_with_diagonal, fake_result, make_config, without_seconds,  # noqa: E402
                     write_synthetic_npz)

CONFIG = dict(model="baseline", dropout=0.25, epochs=1, batch_size=50, train_subset=200, test_subset=50,
              lr=0.05, flip=True, crop_pad=2, precision="fp32", device="cpu", seed=0)


def figure_path(exp: Experiment, kind: str):
    return exp.figures_dir / experiment_figure(exp.name, kind).filename


def make(tmp_path, synthetic_dir, retrain=False, figures="figures", **overrides) -> Experiment:
    config = make_config(**{**CONFIG, **overrides})
    exp = Experiment("baseline", config, data_dir=str(synthetic_dir), retrain=retrain,
                     results_dir=str(tmp_path / "results"), figures_dir=str(tmp_path / figures))
    exp.checkpoint = tmp_path / "runs" / f"baseline-{exp.key}" / "checkpoint.pt"  # keep runs/ out of the repo
    return exp


@pytest.fixture
def train_calls(monkeypatch):
    """Count calls of train() made by Experiment, still training for real."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[0])
        return train_mod.train(*args, **kwargs)

    monkeypatch.setattr(store_mod, "train", spy)
    return calls


def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("train() was called")

    monkeypatch.setattr(store_mod, "train", refuse)


@pytest.fixture
def trained(tmp_path, synthetic_dir, train_calls):
    exp = make(tmp_path, synthetic_dir)
    logs = []
    result = exp.run(log=logs.append)
    assert len(train_calls) == 1
    return exp, result, logs


def test_first_run_trains_and_writes_result(trained, tmp_path):
    exp, result, logs = trained
    path = tmp_path / "results" / f"baseline-{exp.key}.json"
    assert exp.path == path and path.is_file()
    assert [p.name for p in (tmp_path / "results").iterdir()] == [path.name]
    assert json.loads(path.read_text()) == json.loads(json.dumps(result))
    assert result["key"] == exp.key == make_config(**CONFIG).key()
    assert result["config"] == make_config(**CONFIG).to_dict()
    assert len(result["history"]) == 1
    assert sum(map(sum, result["confusion"])) == 50
    assert result["environment"]["train_images"] == 200 and result["environment"]["test_images"] == 50
    assert result["environment"]["device"] == "cpu" and result["environment"]["autocast"] == "fp32"
    assert result["environment"]["data_source"].startswith("npz:")
    assert len(result["first_ten"]["true"]) == 10
    assert not exp.checkpoint.parent.exists()  # the checkpoint is removed once the result is stored
    assert logs[-1].startswith("Saved ")
    assert 0 <= accuracy(result) <= 100


def test_second_experiment_loads_without_training(trained, tmp_path, synthetic_dir, monkeypatch):
    _, result, _ = trained
    no_training(monkeypatch)
    again = make(tmp_path, synthetic_dir)
    logs = []
    loaded = again.run(log=logs.append)
    assert loaded == json.loads(json.dumps(result))
    assert logs[1].startswith("Loaded stored result")  # after the line saying it is not the report's recipe


def test_retrain_trains_again_with_identical_history(trained, tmp_path, synthetic_dir, train_calls):
    exp, result, _ = trained
    again = make(tmp_path, synthetic_dir, retrain=True)
    new = again.run(log=lambda *_: None)
    assert len(train_calls) == 2
    # Same seed, same data: the same history except the wall time (determinism).
    assert without_seconds(new["history"]) == without_seconds(result["history"])
    assert new["confusion"] == result["confusion"]
    assert new["first_ten"] == result["first_ten"]
    assert load_result(exp.path) == json.loads(json.dumps(new))  # the stored file holds the new run


def test_two_trainings_draw_byte_identical_figures(tmp_path, synthetic_dir):
    """Same parameters and seed on the same CPU: two independent trainings, the same figure bytes."""
    drawn = []
    for run in ("a", "b"):
        exp = make(tmp_path / run, synthetic_dir)
        exp.run(log=lambda *_: None)
        drawn.append({kind: exp.figure(kind).path.read_bytes() for kind in EXPERIMENT_KINDS})
    assert drawn[0] == drawn[1]


@pytest.mark.parametrize("content", ["{ truncated", '{"schema_version": 0}'], ids=["bad-json", "old-schema"])
def test_corrupted_result_warns_and_retrains(tmp_path, synthetic_dir, train_calls, content):
    exp = make(tmp_path, synthetic_dir)
    exp.path.parent.mkdir(parents=True)
    exp.path.write_text(content)
    logs = []
    result = exp.run(log=logs.append)
    assert len(train_calls) == 1
    warning = logs[1]
    assert warning.startswith("Warning:") and str(exp.path) in warning and "Training again" in warning
    assert load_result(exp.path) == json.loads(json.dumps(result))


def test_wrongly_typed_result_warns_and_retrains(trained, tmp_path, synthetic_dir):
    exp, result, _ = trained
    broken = dict(result, classes=None)
    exp.path.write_text(json.dumps(broken))
    logs = []
    make(tmp_path, synthetic_dir).run(log=logs.append)
    assert logs[1].startswith("Warning:")


def test_figures_written_and_redrawn_byte_identical(trained, tmp_path, synthetic_dir, monkeypatch):
    exp, _, _ = trained
    first = {}
    for kind in EXPERIMENT_KINDS:
        shown_figure = exp.figure(kind)
        path = figure_path(exp, kind)
        assert shown_figure.path == path and not plt.fignum_exists(shown_figure.fig.number)
        assert path.parent == tmp_path / "figures"
        first[kind] = path.read_bytes()
        assert first[kind].startswith(b"\x89PNG\r\n\x1a\n")
        assert b"Matplotlib version" not in first[kind]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "fig01_baseline_per_class_accuracy.png", "fig02_baseline_loss_curves.png",
        "fig03_baseline_confusion_matrix.png", "fig04_baseline_first_ten.png"]
    mtimes = {k: figure_path(exp, k).stat().st_mtime_ns for k in EXPERIMENT_KINDS}

    # Redraw from the stored result (no training) into another folder and into the same one.
    no_training(monkeypatch)
    for figures in ("figures_again", "figures"):
        other = make(tmp_path, synthetic_dir, figures=figures)
        other.run(log=lambda *_: None)
        for kind in EXPERIMENT_KINDS:
            other.figure(kind)
            assert figure_path(other, kind).read_bytes() == first[kind], kind
    assert {k: figure_path(exp, k).stat().st_mtime_ns for k in EXPERIMENT_KINDS} == mtimes


def test_figure_needs_result_and_known_kind(tmp_path, synthetic_dir):
    exp = make(tmp_path, synthetic_dir)
    with pytest.raises(RuntimeError, match="call run"):
        exp.figure("loss_curves")
    exp.result = fake_result("baseline", exp.config, confusion_with_diagonal([3] * 10, row_total=5))
    with pytest.raises(ValueError, match="figure kind 'histogram' is not known; use one of per_class_accuracy, "
                                         "loss_curves, confusion_matrix, first_ten"):
        exp.figure("histogram")
    assert not exp.figures_dir.exists()  # nothing drawn


def test_non_finite_loss_stops_training(tmp_path, synthetic_dir):
    exp = make(tmp_path, synthetic_dir, lr=1e30, dropout=0.0, schedule="constant")
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 2\b"):
        exp.run(log=lambda *_: None)
    assert not exp.path.exists()


def test_non_finite_loss_names_later_epoch_and_step(tmp_path, synthetic_dir, monkeypatch):
    """A model whose 7th training forward pass gives NaN: epoch 2 (of 4 steps each), step 3."""
    real_build = train_mod.build_model

    class NanAt(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.calls = inner, 0

        def forward(self, x):
            out = self.inner(x)
            if self.training:
                self.calls += 1
                if self.calls == 7:
                    return out * float("nan")
            return out

    monkeypatch.setattr(train_mod, "build_model",
                        lambda name, dropout, init="default": NanAt(real_build(name, dropout, init)))
    exp = make(tmp_path, synthetic_dir, epochs=2)
    with pytest.raises(NonFiniteLossError) as info:
        exp.run(log=lambda *_: None)
    assert "the training loss became nan at epoch 2, step 3;" in str(info.value)
    assert not exp.path.exists()


def test_bad_options_are_refused(tmp_path, synthetic_dir):
    config = make_config(**CONFIG)
    with pytest.raises(ConfigError, match="experiment 'resnet' is not known"):
        Experiment("resnet", config)
    with pytest.raises(ConfigError, match="retrain = 'yes' is not a boolean"):
        Experiment("baseline", config, retrain="yes")
    with pytest.raises(ConfigError, match="results_dir = "):
        Experiment("baseline", config, results_dir=tmp_path)
    with pytest.raises(ConfigError, match="lr = 0"):
        Experiment.from_parameters("baseline", {**BASE_RECIPE, **CONFIG, "lr": 0, "results_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="the parameters lr are missing"):
        Experiment.from_parameters("baseline", {k: v for k, v in BASE_RECIPE.items() if k != "lr"})


def test_from_parameters_takes_run_options(tmp_path, synthetic_dir):
    exp = Experiment.from_parameters("baseline", {**BASE_RECIPE, **CONFIG, "data_dir": str(synthetic_dir),
                                                  "retrain": True, "results_dir": str(tmp_path / "r"),
                                                  "figures_dir": str(tmp_path / "f"), "unrelated": 1})
    assert exp.config == make_config(**CONFIG)
    assert exp.retrain is True and exp.data_dir == synthetic_dir
    assert exp.path == tmp_path / "r" / f"baseline-{exp.key}.json"
    assert figure_path(exp, "confusion_matrix") == tmp_path / "f" / "fig03_baseline_confusion_matrix.png"


def test_auto_folders_keep_exploration_out_of_the_report():
    """With results_dir and figures_dir "auto", only the report profile's parameters write into the
    committed results/ and figures/; anything else goes under build/."""
    report = Experiment("alexnet_sgd", profile_config("report", "alexnet_sgd"))
    assert report.results_dir == REPO_ROOT / "results" and report.figures_dir == REPO_ROOT / "figures"
    faithful = Experiment("alexnet_sgd", profile_config("faithful", "alexnet_sgd"))
    assert faithful.results_dir == REPO_ROOT / "results"
    assert faithful.figures_dir == REPO_ROOT / "build" / "figures" / f"alexnet_sgd-{faithful.key}"
    other = Experiment("alexnet_sgd", dataclasses.replace(profile_config("report", "alexnet_sgd"), epochs=1))
    assert other.results_dir == REPO_ROOT / "build" / "results"
    assert other.figures_dir == REPO_ROOT / "build" / "figures" / f"alexnet_sgd-{other.key}"


def test_subset_larger_than_the_dataset_names_the_parameter(tmp_path, synthetic_dir):
    exp = make(tmp_path, synthetic_dir, train_subset=2000)  # the synthetic set has 500 training images
    with pytest.raises(ConfigError, match=r"train_subset = 2000 is out of range; it must be >= 0 and <= 500"):
        exp.run(log=lambda *_: None)
    assert not exp.path.exists()


# --- stored results, comparison figures ----------------------------------------------------------

def test_stored_without_a_result_says_how_to_make_one(tmp_path):
    with pytest.raises(ResultError) as info:
        Experiment.stored("alexnet_sgd", "smoke", results_dir=str(tmp_path))
    message = str(info.value)
    key = profile_config("smoke", "alexnet_sgd").key()
    assert f"there is no stored result {tmp_path / f'alexnet_sgd-{key}.json'} for alexnet_sgd" in message
    assert "python -m cifar_utils.report --profile smoke --only 02_alexnet_sgd first" in message
    assert Experiment.stored("alexnet_sgd", "smoke", results_dir=str(tmp_path), required=False).result is None


def test_stored_loads_the_profiles_result(tmp_path):
    config = profile_config("smoke", "baseline")
    stored = fake_result("baseline", config, confusion_with_diagonal([5] * 10, row_total=10))
    save_result(tmp_path / f"baseline-{config.key()}.json", stored)
    exp = Experiment.stored("baseline", "smoke", results_dir=str(tmp_path))
    assert exp.config == config and exp.result == stored


def test_repo_relative_is_relative_inside_the_repository(tmp_path):
    assert repo_relative(REPO_ROOT / "results" / "x.json") == "results/x.json"
    assert repo_relative(tmp_path / "x.json") == str(tmp_path / "x.json")


def test_comparison_figures_are_fig17_to_fig19_over_the_runs_of_each(tmp_path):
    sgd_config = make_config(model="alexnet", dropout=0.0, epochs=2)
    adam_config = make_config(model="alexnet", dropout=0.5, optimizer="adam", lr=0.001, epochs=2)
    sgd = [fake_result("alexnet_sgd", dataclasses.replace(sgd_config, seed=s), confusion_with_diagonal([70 + s] * 10, row_total=100))
           for s in range(3)]
    adam = [fake_result("alexnet_adam_dropout", adam_config, confusion_with_diagonal([75] * 10, row_total=100))]
    drawn = comparison_figures(sgd, adam, tmp_path)
    assert len(drawn) == 3 and not any(plt.fignum_exists(f.fig.number) for f in drawn)  # closed, shown once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig17_sgd_vs_adam_loss_curves.png",
                                                           "fig18_sgd_vs_adam_per_class_accuracy.png",
                                                           "fig19_sgd_vs_adam_confusion_difference.png"]
    assert drawn[0].fig._suptitle.get_text() == FIGURES[17].title
    for shown, n in zip(drawn, (17, 18, 19)):
        assert shown.caption.startswith(f"**Fig. {n}.** {FIGURES[n].title}. ")
        assert "3 seeds (0-2)" in shown.caption and "seed 0;" in shown.caption
    with pytest.raises(ValueError, match="a and b are both runs of alexnet_sgd"):
        comparison_figures(sgd, sgd, tmp_path)
    with pytest.raises(ValueError, match="a must be a non-empty list of stored results"):
        comparison_figures(sgd[0], adam, tmp_path)


# --- the runs at every seed ------------------------------------------------------------------------

def store_fake(folder, config, correct=5, experiment="baseline"):
    result = fake_result(experiment, config, confusion_with_diagonal([correct] * 10, row_total=10))
    save_result(folder / f"{experiment}-{config.key()}.json", result)
    return result


def test_seed_runs_are_the_stored_runs_of_the_same_parameters_at_every_seed_in_seed_order(tmp_path, synthetic_dir):
    exp = make(tmp_path, synthetic_dir, seed=2)
    folder = tmp_path / "results"
    folder.mkdir()
    for seed in (4, 0, 2):
        store_fake(folder, dataclasses.replace(exp.config, seed=seed), correct=seed + 3)
    store_fake(folder, dataclasses.replace(exp.config, lr=0.2, seed=1))  # another recipe
    store_fake(folder, dataclasses.replace(exp.config, seed=3, device="auto"))  # device is not in the key: the same
    (folder / "baseline-000000000000.json").write_text("{not json")  # unreadable: never the same recipe
    exp.run(log=lambda *_: None)  # loads seed 2
    found = exp.seed_runs()
    assert [r["config"]["seed"] for r in found] == [0, 2, 3, 4]
    assert found[1] is exp.result
    changed = make(tmp_path, synthetic_dir, seed=2, lr=0.2)  # a reader's change: just the runs of that change
    changed.result = store_fake(tmp_path, changed.config)
    assert [r["config"]["seed"] for r in changed.seed_runs()] == [1, 2]


def test_a_damaged_run_of_the_same_recipe_is_named_and_left_out(tmp_path, synthetic_dir, capsys):
    exp = make(tmp_path, synthetic_dir)
    folder = tmp_path / "results"
    folder.mkdir()
    stored = store_fake(folder, exp.config)
    other = dataclasses.replace(exp.config, seed=1)
    path = folder / f"baseline-{other.key()}.json"
    damaged = json.loads(json.dumps(fake_result("baseline", other, confusion_with_diagonal([5] * 10, row_total=10))))
    damaged["history"] = damaged["history"][:0]
    path.write_text(json.dumps(damaged))
    exp.result = stored
    assert exp.seed_runs() == [stored]
    assert f"{path}" in capsys.readouterr().err


def test_seed_figures_draw_every_seed_and_single_run_figures_the_notebooks_run(tmp_path, synthetic_dir):
    exp = make(tmp_path, synthetic_dir)
    folder = tmp_path / "results"
    folder.mkdir()
    for seed in (1, 0, 2):
        store_fake(folder, dataclasses.replace(exp.config, seed=seed), correct=4 + seed)
    exp.run(log=lambda *_: None)
    per_class, curves, confusion = (exp.figure(kind) for kind in ("per_class_accuracy", "loss_curves", "confusion_matrix"))
    assert all("3 seeds (0-2)" in figure.caption for figure in (per_class, curves, confusion))  # every stored seed
    assert len(error_bars_of(per_class.fig.axes[0])) == 10
    alone = make(tmp_path / "alone", synthetic_dir)
    alone.result = exp.result
    assert "seed 0;" in alone.figure("per_class_accuracy").caption  # its results_dir holds no other seed


def error_bars_of(ax) -> list:
    return [c for c in ax.containers if hasattr(c, "has_yerr")]


# --- evaluate_on = "validation" ------------------------------------------------------------------

def test_validation_run_trains_on_nine_tenths_and_never_sees_the_test_images(tmp_path, monkeypatch):
    """evaluate_on="validation": training uses the 450 training images not held out, evaluation the 50 held
    out (a tenth of the synthetic 500); the test images (here all one grey, unlike any training image)
    are neither trained on nor evaluated."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_synthetic_npz(folder / "cifar10.npz")
    with np.load(folder / "cifar10.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["x_test"] = np.full_like(arrays["x_test"], 7)
    np.savez(folder / "cifar10.npz", **arrays)
    seen = []

    def spy(config, data, **kwargs):
        seen.append(data)
        return train_mod.train(config, data, **kwargs)

    monkeypatch.setattr(store_mod, "train", spy)
    exp = make(tmp_path, folder, evaluate_on="validation", train_subset=0, test_subset=0, flip=False, crop_pad=0)
    assert exp.key != make(tmp_path, folder, train_subset=0, test_subset=0, flip=False, crop_pad=0).key
    result = exp.run(log=lambda *_: None, progress=False)

    held_out = load_cifar10(folder).validation_split()
    assert (len(held_out.y_train), len(held_out.y_test)) == (450, 50)
    (data,) = seen
    assert data.split == "validation"
    assert torch.equal(data.x_train, held_out.x_train) and torch.equal(data.x_test, held_out.x_test)
    assert result["environment"]["train_images"] == 450 and result["environment"]["test_images"] == 50
    assert result["config"]["evaluate_on"] == "validation" and sum(map(sum, result["confusion"])) == 50
    assert result["predictions"]["n"] == 50
    # the evaluated images are training images that were held out, never test images
    first = decode_images(result["first_ten"])
    assert np.array_equal(first, held_out.x_test[:10].permute(0, 2, 3, 1).numpy())
    training = {bytes(x) for x in arrays["x_train"]}
    assert all(bytes(image) in training for image in first)
    assert not (first == 7).all(axis=(1, 2, 3)).any()
    trained_on = {bytes(x) for x in data.x_train.permute(0, 2, 3, 1).numpy()}
    assert not trained_on & {bytes(x) for x in held_out.x_test.permute(0, 2, 3, 1).numpy()}
    assert not (data.x_train == 7).flatten(1).all(dim=1).any()
    assert load_result(exp.path, key=exp.key) == json.loads(json.dumps(result))


def test_validation_run_subsets_come_from_the_split(tmp_path, synthetic_dir):
    """train_subset and test_subset are drawn from the 450 / 50 of the split, checked against them."""
    exp = make(tmp_path, synthetic_dir, evaluate_on="validation", train_subset=100, test_subset=20)
    result = exp.run(log=lambda *_: None, progress=False)
    assert result["environment"]["train_images"] == 100 and result["environment"]["test_images"] == 20
    too_many = make(tmp_path, synthetic_dir, evaluate_on="validation", test_subset=60)
    with pytest.raises(ConfigError, match=r"test_subset = 60 is out of range; it must be >= 0 and <= 50 "
                                          r"\(0 means all 50 validation images\)"):
        too_many.run(log=lambda *_: None)
    assert not too_many.path.exists()


def test_a_named_device_that_is_missing_is_refused_even_with_a_stored_result(tmp_path, synthetic_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    exp = make(tmp_path, synthetic_dir, device="cuda")
    save_result(exp.path, fake_result("baseline", exp.config, confusion_with_diagonal([3] * 10, row_total=5)))
    with pytest.raises(ConfigError, match=r"^device = 'cuda' is not available on this machine; use device 'auto' or 'cpu'\.$"):
        exp.run(log=lambda *_: None)
    loaded = make(tmp_path, synthetic_dir, device="cpu")  # the same key: device is not part of it
    assert loaded.key == exp.key and loaded.run(log=lambda *_: None)["key"] == exp.key


def test_mistakes_figure_draws_from_the_dataset_else_shows_the_saved_one_of_the_same_result(tmp_path, synthetic_dir):
    from cifar_utils.experiment import mistakes_figure
    config = make_config(model="alexnet", dropout=0.5, optimizer="adam", lr=0.001)
    result = fake_result("alexnet_adam_dropout", config, confusion_with_diagonal([6] * 10, row_total=10))
    figure = FIGURES[16]
    drawn = mistakes_figure(result, str(synthetic_dir), tmp_path)  # its 100 test images, as the result's 100
    assert drawn.figure == figure and drawn.fig is not None
    saved = (tmp_path / figure.filename).read_bytes()
    assert figures_mod.drawn_from(tmp_path / figure.filename) == result["key"]

    empty = tmp_path / "no-data"
    empty.mkdir()
    again = mistakes_figure(result, str(empty), tmp_path)  # no dataset: the saved figure of this result
    assert again.fig is None and again.path.read_bytes() == saved and again.caption == drawn.caption
    other = dict(result, key="0" * 12)
    note = mistakes_figure(other, str(empty), tmp_path)  # saved from another result: say what is missing
    assert "needs the CIFAR-10 test images" in note.data and (tmp_path / figure.filename).read_bytes() == saved
    del result["predictions"]
    assert mistakes_figure(result, str(synthetic_dir), tmp_path) is None  # schema 1: no predictions


def test_faithful_figures_only_for_the_baseline_and_only_when_stored(tmp_path, monkeypatch):
    from cifar_utils.experiment import faithful_figures
    assert faithful_figures("alexnet_sgd", tmp_path) == []
    stored = Experiment.stored("baseline", "faithful", required=False).result
    drawn = faithful_figures("baseline", tmp_path)
    assert [f.figure.number for f in drawn] == ([6, 7] if stored else [])
    monkeypatch.setattr(Experiment, "stored", classmethod(lambda cls, *a, **k: SimpleNamespace(result=None)))
    assert faithful_figures("baseline", tmp_path / "none") == []


@pytest.mark.parametrize("compare_with", ["nope", "", 3, None])
def test_a_compare_with_that_names_no_profile_is_refused_before_any_training(tmp_path, synthetic_dir, train_calls,
                                                                             compare_with):
    from cifar_utils.recipes import profile_parameters
    params = {**profile_parameters("smoke", "03_alexnet_adam_dropout"), "compare_with": compare_with,
              "data_dir": str(synthetic_dir), "results_dir": str(tmp_path / "r"), "figures_dir": str(tmp_path / "f")}
    with pytest.raises(ConfigError) as caught:
        Experiment.from_parameters("alexnet_adam_dropout", params)
    message = str(caught.value)
    assert "compare_with" in message and repr(compare_with) in message and "'quick'" in message
    assert train_calls == [] and not (tmp_path / "r").exists() and not (tmp_path / "f").exists()
    exp = Experiment.from_parameters("alexnet_adam_dropout", {**params, "compare_with": "quick"})  # a profile: fine
    assert exp.config.epochs == params["epochs"]
