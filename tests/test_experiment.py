"""Experiment: train once and store, reload without training, retrain on request or on a broken
file, draw the four figures reproducibly, stop on a non-finite loss. All in tmp_path."""
from __future__ import annotations

import dataclasses
import json

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cifar_utils import experiment as experiment_mod  # noqa: E402
from cifar_utils import train as train_mod  # noqa: E402
from cifar_utils.config import ConfigError, ExperimentConfig  # noqa: E402
from cifar_utils.experiment import FIGURE_KINDS, Experiment  # noqa: E402
from cifar_utils.results import load_result  # noqa: E402
from cifar_utils.train import NonFiniteLossError  # noqa: E402

CONFIG = dict(model="baseline", dropout=0.25, epochs=1, batch_size=50, train_subset=200, test_subset=50,
              lr=0.05, flip=True, crop_pad=2, precision="fp32", device="cpu", seed=0)


def make(tmp_path, synthetic_dir, retrain=False, figures="figures", **overrides) -> Experiment:
    config = ExperimentConfig(**{**CONFIG, **overrides})
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

    monkeypatch.setattr(experiment_mod, "train", spy)
    return calls


def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("train() was called")

    monkeypatch.setattr(experiment_mod, "train", refuse)


def without_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


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
    assert result["key"] == exp.key == ExperimentConfig(**CONFIG).key()
    assert result["config"] == ExperimentConfig(**CONFIG).to_dict()
    assert len(result["history"]) == 1
    assert sum(map(sum, result["confusion"])) == 50
    assert result["environment"]["train_images"] == 200 and result["environment"]["test_images"] == 50
    assert result["environment"]["device"] == "cpu" and result["environment"]["autocast"] == "fp32"
    assert result["environment"]["data_source"].startswith("npz:")
    assert len(result["first_ten"]["true"]) == 10
    assert not exp.checkpoint.parent.exists()  # the checkpoint is removed once the result is stored
    assert logs[-1].startswith("Saved ")
    assert 0 <= exp.accuracy() <= 100
    assert "Test Accuracy (Overall)" in exp.seed_table()


def test_second_experiment_loads_without_training(trained, tmp_path, synthetic_dir, monkeypatch):
    _, result, _ = trained
    no_training(monkeypatch)
    again = make(tmp_path, synthetic_dir)
    logs = []
    loaded = again.run(log=logs.append)
    assert loaded == json.loads(json.dumps(result))
    assert logs[0].startswith("Loaded stored result")
    assert again.history_table().index.tolist() == [1]


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
        drawn.append({kind: (plt.close(exp.figure(kind)), exp.figure_path(kind).read_bytes())[1]
                      for kind in FIGURE_KINDS})
    assert drawn[0] == drawn[1]


@pytest.mark.parametrize("content", ["{ truncated", '{"schema_version": 0}'], ids=["bad-json", "old-schema"])
def test_corrupted_result_warns_and_retrains(tmp_path, synthetic_dir, train_calls, content):
    exp = make(tmp_path, synthetic_dir)
    exp.path.parent.mkdir(parents=True)
    exp.path.write_text(content)
    logs = []
    result = exp.run(log=logs.append)
    assert len(train_calls) == 1
    warning = logs[0]
    assert warning.startswith("Warning:") and str(exp.path) in warning and "Training again" in warning
    assert load_result(exp.path) == json.loads(json.dumps(result))


def test_wrongly_typed_result_warns_and_retrains(trained, tmp_path, synthetic_dir):
    exp, result, _ = trained
    broken = dict(result, classes=None)
    exp.path.write_text(json.dumps(broken))
    logs = []
    make(tmp_path, synthetic_dir).run(log=logs.append)
    assert logs[0].startswith("Warning:")


def test_figures_written_and_redrawn_byte_identical(trained, tmp_path, synthetic_dir, monkeypatch):
    exp, _, _ = trained
    first = {}
    for kind in FIGURE_KINDS:
        fig = exp.figure(kind)
        plt.close(fig)
        path = exp.figure_path(kind)
        assert path.parent == tmp_path / "figures"
        first[kind] = path.read_bytes()
        assert first[kind].startswith(b"\x89PNG\r\n\x1a\n")
        assert b"Matplotlib version" not in first[kind]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "fig01_baseline_per_class_accuracy.png", "fig02_baseline_loss_curves.png",
        "fig03_baseline_confusion_matrix.png", "fig04_baseline_first_ten.png"]
    mtimes = {k: exp.figure_path(k).stat().st_mtime_ns for k in FIGURE_KINDS}

    # Redraw from the stored result (no training) into another folder and into the same one.
    no_training(monkeypatch)
    for figures in ("figures_again", "figures"):
        other = make(tmp_path, synthetic_dir, figures=figures)
        other.run(log=lambda *_: None)
        for kind in FIGURE_KINDS:
            plt.close(other.figure(kind))
            assert other.figure_path(kind).read_bytes() == first[kind], kind
    assert {k: exp.figure_path(k).stat().st_mtime_ns for k in FIGURE_KINDS} == mtimes


def test_figure_needs_result_and_known_kind(tmp_path, synthetic_dir):
    exp = make(tmp_path, synthetic_dir)
    with pytest.raises(ValueError, match="figure kind 'histogram' is not known"):
        exp.figure("histogram")
    with pytest.raises(RuntimeError, match="call run"):
        exp.figure("loss_curves")


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

    monkeypatch.setattr(train_mod, "build_model", lambda name, dropout, init="default": NanAt(real_build(name, dropout, init)))
    exp = make(tmp_path, synthetic_dir, epochs=2)
    with pytest.raises(NonFiniteLossError) as info:
        exp.run(log=lambda *_: None)
    assert "the training loss became nan at epoch 2, step 3;" in str(info.value)
    assert not exp.path.exists()


def test_bad_options_are_refused(tmp_path, synthetic_dir):
    config = ExperimentConfig(**CONFIG)
    with pytest.raises(ConfigError, match="experiment 'resnet' is not known"):
        Experiment("resnet", config)
    with pytest.raises(ConfigError, match="retrain = 'yes' is not a boolean"):
        Experiment("baseline", config, retrain="yes")
    with pytest.raises(ConfigError, match="results_dir = "):
        Experiment("baseline", config, results_dir=tmp_path)
    with pytest.raises(ConfigError, match="lr = 0"):
        Experiment.from_parameters("baseline", {**CONFIG, "lr": 0, "results_dir": str(tmp_path)})


def test_from_parameters_takes_run_options(tmp_path, synthetic_dir):
    exp = Experiment.from_parameters("baseline", {**CONFIG, "data_dir": str(synthetic_dir), "retrain": True,
                                                  "results_dir": str(tmp_path / "r"),
                                                  "figures_dir": str(tmp_path / "f"), "unrelated": 1})
    assert exp.config == ExperimentConfig(**CONFIG)
    assert exp.retrain is True and exp.data_dir == synthetic_dir
    assert exp.path == tmp_path / "r" / f"baseline-{exp.key}.json"
    assert exp.figure_path("confusion_matrix") == tmp_path / "f" / "fig03_baseline_confusion_matrix.png"


def test_auto_folders_keep_exploration_out_of_the_report():
    """With results_dir and figures_dir "auto", only the report profile's parameters write into the
    committed results/ and figures/; anything else goes under build/."""
    from cifar_utils.experiment import REPO_ROOT, profile_config
    report = Experiment("alexnet_sgd", profile_config("report", "alexnet_sgd"))
    assert report.results_dir == REPO_ROOT / "results" and report.figures_dir == REPO_ROOT / "figures"
    faithful = Experiment("alexnet_sgd", profile_config("faithful", "alexnet_sgd"))
    assert faithful.results_dir == REPO_ROOT / "results" and faithful.figures_dir.parent == REPO_ROOT / "build" / "figures"
    other = Experiment("alexnet_sgd", dataclasses.replace(profile_config("report", "alexnet_sgd"), epochs=1))
    assert other.results_dir == REPO_ROOT / "build" / "results"
    assert other.figures_dir == REPO_ROOT / "build" / "figures" / f"alexnet_sgd-{other.key}"


def test_subset_larger_than_the_dataset_names_the_parameter(tmp_path, synthetic_dir):
    exp = make(tmp_path, synthetic_dir, train_subset=2000)  # the synthetic set has 500 training images
    with pytest.raises(ConfigError, match=r"train_subset = 2000 is out of range; it must be >= 0 and <= 500"):
        exp.run(log=lambda *_: None)
    assert not exp.path.exists()
