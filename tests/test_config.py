"""ExperimentConfig: every bad parameter is refused naming itself and its value; the results key."""
from __future__ import annotations

import math

import pytest

from cifar_utils.config import ConfigError, ExperimentConfig

BAD = [
    ("epochs", 0), ("epochs", "ten"), ("epochs", 2.5), ("epochs", True),
    ("lr", 0), ("lr", -1), ("lr", math.nan), ("lr", math.inf), ("lr", "0.01"),
    ("momentum", 1.0), ("momentum", -0.1),
    ("dropout", 1.0), ("dropout", -0.5),
    ("batch_size", 0), ("batch_size", 60_000),
    ("train_subset", 60_000), ("train_subset", -1), ("test_subset", 20_000),
    ("crop_pad", 17), ("seed", -1), ("weight_decay", -0.1), ("label_smoothing", 1.0), ("warmup", 1.0),
    ("model", "vgg"), ("optimizer", "rmsprop"), ("schedule", "cosine"), ("precision", "fp8"),
    ("device", "tpu"), ("init", "xavier"), ("nesterov", "yes"), ("flip", 1),
]


@pytest.mark.parametrize("name,value", BAD, ids=[f"{n}={v!r}" for n, v in BAD])
def test_bad_parameter_is_named_with_its_value(name, value):
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_parameters({name: value})
    message = str(info.value)
    # float parameters given as ints are stored as floats (lr 0 -> 0.0), so either spelling may be named
    spellings = {f"{name} = {value!r} "} | ({f"{name} = {float(value)!r} "} if type(value) is int else set())
    assert any(message.startswith(s) for s in spellings), message
    with pytest.raises(ConfigError):
        ExperimentConfig(**{name: value}).validate()


def test_nesterov_with_adam_is_refused():
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_parameters({"nesterov": True, "optimizer": "adam"})
    message = str(info.value)
    assert "nesterov = True" in message and "sgd" in message


def test_nesterov_without_momentum_is_refused():
    with pytest.raises(ConfigError, match="nesterov = True"):
        ExperimentConfig(nesterov=True, optimizer="sgd", momentum=0.0).validate()


def test_batch_size_larger_than_subset():
    with pytest.raises(ConfigError, match=r"batch_size = 300 .* 200 training images"):
        ExperimentConfig(batch_size=300, train_subset=200).validate()
    ExperimentConfig(batch_size=200, train_subset=200).validate()


def test_validate_against_smaller_dataset():
    config = ExperimentConfig(batch_size=50, train_subset=600)
    config.validate()
    with pytest.raises(ConfigError, match="train_subset = 600"):
        config.validate(n_train=500, n_test=100)


def test_range_message_states_bounds():
    with pytest.raises(ConfigError, match=r"momentum = 1\.0 is out of range; it must be >= 0 and < 1"):
        ExperimentConfig(momentum=1.0).validate()
    with pytest.raises(ConfigError, match=r"0 means all 10,000 test images"):
        ExperimentConfig(test_subset=20_000).validate()


def test_valid_configs_pass():
    ExperimentConfig().validate()
    ExperimentConfig(model="baseline", optimizer="adam", lr=1, momentum=0, dropout=0.5, epochs=1, batch_size=1,
                     schedule="onecycle", warmup=0.2, precision="bf16", device="cpu", crop_pad=16,
                     train_subset=50_000, test_subset=10_000).validate()
    ExperimentConfig(nesterov=True).validate()


def test_from_parameters_takes_only_fields():
    params = {"model": "baseline", "epochs": 3, "data_dir": "/somewhere", "retrain": True, "Markdown": object()}
    config = ExperimentConfig.from_parameters(params)
    assert config == ExperimentConfig(model="baseline", epochs=3)
    assert config.to_dict()["epochs"] == 3


def test_key_stable_and_equal_for_equal_configs():
    a = ExperimentConfig(model="baseline", lr=0.05, epochs=3)
    b = ExperimentConfig(epochs=3, lr=0.05, model="baseline")
    assert a == b
    key = a.key()
    assert len(key) == 12 and int(key, 16) >= 0
    assert a.key() == key == b.key()
    # Pinned: the committed results are found by this name, so a change of key orphans them.
    assert ExperimentConfig().key() == "26fb8aefaa17"


def test_key_changes_with_every_training_parameter():
    base = ExperimentConfig()
    changed = dict(model="baseline", dropout=0.1, optimizer="adam", lr=0.02, momentum=0.8, nesterov=True,
                   weight_decay=1e-4, epochs=11, batch_size=128, schedule="onecycle", warmup=0.1,
                   label_smoothing=0.1, flip=True, crop_pad=2, train_subset=100, test_subset=100, seed=1,
                   precision="fp32")
    keys = {base.key()}
    for name, value in changed.items():
        other = ExperimentConfig(**{name: value})
        assert other.key() != base.key(), name
        keys.add(other.key())
    assert len(keys) == len(changed) + 1


def test_key_differs_when_lr_changes():
    assert ExperimentConfig(lr=0.01).key() != ExperimentConfig(lr=0.011).key()


def test_key_unchanged_when_only_device_changes():
    keys = {ExperimentConfig(device=d).key() for d in ("auto", "cpu", "cuda", "mps")}
    assert len(keys) == 1


@pytest.mark.parametrize("name,as_int,as_float", [("dropout", 0, 0.0), ("weight_decay", 0, 0.0), ("lr", 1, 1.0)])
def test_key_equal_for_int_and_float_spelling(name, as_int, as_float):
    a, b = ExperimentConfig(**{name: as_int}), ExperimentConfig(**{name: as_float})
    assert a == b
    assert a.key() == b.key()
