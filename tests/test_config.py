"""ExperimentConfig: every bad parameter is refused naming itself and its value (an invalid config
cannot be built); a missing field is refused by name; the results key."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import pytest

from cifar_utils.config import KEY_SINCE, MAX_SEED, ConfigError, ExperimentConfig
from helpers import BASE_RECIPE, make_config

BAD = [
    ("epochs", 0), ("epochs", "ten"), ("epochs", 2.5), ("epochs", True),
    ("lr", 0), ("lr", -1), ("lr", math.nan), ("lr", math.inf), ("lr", "0.01"),
    ("momentum", 1.0), ("momentum", -0.1),
    ("dropout", 1.0), ("dropout", -0.5),
    ("batch_size", 0), ("batch_size", 60_000),
    ("train_subset", 60_000), ("train_subset", -1), ("test_subset", 20_000),
    ("crop_pad", 17), ("seed", -1), ("seed", 2 ** 32), ("seed", 1.0),
    ("weight_decay", -0.1), ("label_smoothing", 1.0), ("warmup", 1.0),
    ("model", "vgg"), ("optimizer", "rmsprop"), ("schedule", "cosine"), ("precision", "fp8"),
    ("device", "tpu"), ("init", "xavier"), ("nesterov", "yes"), ("flip", 1),
    ("evaluate_on", "valid"), ("evaluate_on", "train"), ("evaluate_on", None),
    ("ema", 1.0), ("ema", -0.1), ("ema", "0.99"), ("test_flips", 1), ("test_flips", "True"),
]


@pytest.mark.parametrize("name,value", BAD, ids=[f"{n}={v!r}" for n, v in BAD])
def test_bad_parameter_is_named_with_its_value(name, value):
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_parameters({**BASE_RECIPE, name: value})
    message = str(info.value)
    # float parameters given as ints are stored as floats (lr 0 -> 0.0), so either spelling may be named
    spellings = {f"{name} = {value!r} "} | ({f"{name} = {float(value)!r} "} if type(value) is int else set())
    assert any(message.startswith(s) for s in spellings), message
    with pytest.raises(ConfigError) as direct:  # the constructor itself refuses: no invalid config exists
        make_config(**{name: value})
    assert str(direct.value) == message


def test_an_existing_config_cannot_be_made_invalid():
    config = make_config()
    with pytest.raises(ConfigError, match="lr = -1.0 is out of range"):
        dataclasses.replace(config, lr=-1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = -1.0


def test_seed_upper_bound():
    """Shuffling seeds a generator with seed * 1_000_003 + epoch, which must fit in 64 bits."""
    assert make_config(seed=MAX_SEED).seed == MAX_SEED
    with pytest.raises(ConfigError, match=rf"seed = {2 ** 32} is out of range; it must be >= 0 and <= {MAX_SEED}"):
        make_config(seed=2 ** 32)
    assert MAX_SEED * 1_000_003 + 10 ** 6 < 2 ** 63  # room for a million epochs in a signed 64-bit seed


def test_nesterov_with_adam_is_refused():
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_parameters({**BASE_RECIPE, "nesterov": True, "optimizer": "adam"})
    message = str(info.value)
    assert "nesterov = True" in message and "sgd" in message


def test_nesterov_without_momentum_is_refused():
    with pytest.raises(ConfigError, match="nesterov = True"):
        make_config(nesterov=True, optimizer="sgd", momentum=0.0)
    make_config(nesterov=False, optimizer="sgd", momentum=0.0)


def test_batch_size_larger_than_subset():
    with pytest.raises(ConfigError, match=r"batch_size = 300 .* 200 training images"):
        make_config(batch_size=300, train_subset=200)
    make_config(batch_size=200, train_subset=200)


def test_check_dataset_against_smaller_dataset():
    config = make_config(batch_size=50, train_subset=600)
    config.check_dataset(50_000, 10_000)
    with pytest.raises(ConfigError, match=r"train_subset = 600 is out of range; it must be >= 0 and <= 500 "
                                          r"\(0 means all 500 training images\)"):
        config.check_dataset(n_train=500, n_test=100)
    with pytest.raises(ConfigError, match=r"test_subset = 200 .* \(0 means all 100 test images\)"):
        make_config(test_subset=200).check_dataset(n_train=500, n_test=100)
    with pytest.raises(ConfigError, match=r"batch_size = 50 is larger than the 40 training images"):
        make_config(batch_size=50).check_dataset(n_train=40, n_test=10)


def test_range_message_states_bounds():
    with pytest.raises(ConfigError, match=r"momentum = 1\.0 is out of range; it must be >= 0 and < 1"):
        make_config(momentum=1.0)
    with pytest.raises(ConfigError, match=r"0 means all 10,000 test images"):
        make_config(test_subset=20_000)


def test_valid_configs_pass():
    make_config()
    make_config(model="baseline", optimizer="adam", lr=1, momentum=0, dropout=0.5, epochs=1, batch_size=1,
                schedule="onecycle", warmup=0.2, precision="bf16", device="cpu", crop_pad=16,
                train_subset=50_000, test_subset=10_000)
    make_config(nesterov=True)


def test_from_parameters_takes_only_fields():
    params = {**BASE_RECIPE, "model": "alexnet", "epochs": 3, "data_dir": "/somewhere", "retrain": True,
              "Markdown": object()}
    config = ExperimentConfig.from_parameters(params)
    assert config == make_config(model="alexnet", epochs=3)
    assert config.to_dict()["epochs"] == 3
    assert config.to_dict() == {**BASE_RECIPE, "model": "alexnet", "epochs": 3}


@pytest.mark.parametrize("missing", [["lr"], ["device"], ["model", "seed"]])
def test_from_parameters_names_missing_fields(missing):
    params = {k: v for k, v in BASE_RECIPE.items() if k not in missing}
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_parameters(params)
    message = str(info.value)
    assert message.startswith(f"the parameters {', '.join(missing)} are missing"), message


def test_from_parameters_lists_every_missing_field():
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_parameters({"lr": 0.1})
    assert all(f.name in str(info.value) for f in dataclasses.fields(ExperimentConfig) if f.name != "lr")


def test_no_field_has_a_default():
    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(ExperimentConfig))
    with pytest.raises(TypeError):
        ExperimentConfig()
    assert set(BASE_RECIPE) == {f.name for f in dataclasses.fields(ExperimentConfig)}


# The defaults ExperimentConfig had before they were removed; a results key computed from them is pinned.
# evaluate_on, ema and test_flips came later: at the value that does what every earlier run did, each
# stays out of the key (KEY_SINCE).
OLD_DEFAULTS = dict(model="alexnet", dropout=0.0, init="default", optimizer="sgd", lr=0.01, momentum=0.9,
                    nesterov=False, weight_decay=0.0, epochs=10, batch_size=256, schedule="constant", warmup=0.0,
                    label_smoothing=0.0, flip=False, crop_pad=0, train_subset=0, test_subset=0, seed=0,
                    precision="auto", device="auto", **KEY_SINCE)


def test_key_stable_and_equal_for_equal_configs():
    a = make_config(model="baseline", lr=0.05, epochs=3)
    b = make_config(epochs=3, lr=0.05, model="baseline")
    assert a == b
    key = a.key()
    assert len(key) == 12 and int(key, 16) >= 0
    assert a.key() == key == b.key()
    # Pinned: the committed results are found by this name, so a change of key orphans them.
    assert ExperimentConfig(**OLD_DEFAULTS).key() == "26fb8aefaa17"


def test_key_changes_with_every_training_parameter():
    base = make_config()
    changed = dict(model="alexnet", dropout=0.1, init="kaiming", optimizer="adam", lr=0.02, momentum=0.8,
                   nesterov=True, weight_decay=1e-4, epochs=11, batch_size=128, schedule="onecycle", warmup=0.1,
                   label_smoothing=0.1, flip=True, crop_pad=2, train_subset=100, test_subset=100, seed=1,
                   precision="bf16", evaluate_on="validation", ema=0.9, test_flips=True)
    assert set(changed) == set(BASE_RECIPE) - {"device"}  # every field in the key
    keys = {base.key()}
    for name, value in changed.items():
        assert BASE_RECIPE[name] != value, name
        other = make_config(**{name: value})
        assert other.key() != base.key(), name
        keys.add(other.key())
    assert len(keys) == len(changed) + 1


def test_fields_added_later_stay_out_of_the_key_at_their_old_value():
    """KEY_SINCE: evaluate_on="test", ema=0 and test_flips=False are what every run did before the fields
    existed, so they leave the key (and the names of stored results) as it was; any other value is another
    configuration with another key."""
    assert KEY_SINCE == {"evaluate_on": "test", "ema": 0.0, "test_flips": False}
    old = ExperimentConfig(**OLD_DEFAULTS)
    assert old.key() == "26fb8aefaa17"
    without_field = {k: v for k, v in old.to_dict().items() if k not in ("device", *KEY_SINCE)}
    assert old.key() == hashlib.sha256(json.dumps(without_field, sort_keys=True).encode()).hexdigest()[:12]
    validation = ExperimentConfig(**{**OLD_DEFAULTS, "evaluate_on": "validation"})
    assert validation.key() != old.key()
    assert validation.to_dict()["evaluate_on"] == "validation" and old.to_dict()["evaluate_on"] == "test"
    for bad in ("Test", "valid", "both", ""):
        with pytest.raises(ConfigError, match=rf"evaluate_on = '{bad}' is not known; use one of 'test', 'validation'"):
            ExperimentConfig(**{**OLD_DEFAULTS, "evaluate_on": bad})
    with pytest.raises(ConfigError, match="the parameters evaluate_on are missing"):
        ExperimentConfig.from_parameters({k: v for k, v in OLD_DEFAULTS.items() if k != "evaluate_on"})
    for name, value in (("ema", 0.99), ("test_flips", True)):
        assert ExperimentConfig(**{**OLD_DEFAULTS, name: value}).key() != old.key()


def test_validation_ranges_use_the_split_sizes():
    """With evaluate_on="validation" the subsets are checked against 45,000 training and 5,000 validation images."""
    make_config(evaluate_on="validation", train_subset=45_000, test_subset=5_000)
    with pytest.raises(ConfigError, match=r"train_subset = 45001 is out of range; it must be >= 0 and <= 45000 "
                                          r"\(0 means all 45,000 training images\)"):
        make_config(evaluate_on="validation", train_subset=45_001)
    with pytest.raises(ConfigError, match=r"test_subset = 5001 .* \(0 means all 5,000 validation images\)"):
        make_config(evaluate_on="validation", test_subset=5_001)
    make_config(evaluate_on="test", train_subset=50_000, test_subset=10_000)


def test_key_differs_when_lr_changes():
    assert make_config(lr=0.01).key() != make_config(lr=0.011).key()


def test_key_unchanged_when_only_device_changes():
    keys = {make_config(device=d).key() for d in ("auto", "cpu", "cuda", "mps")}
    assert len(keys) == 1


@pytest.mark.parametrize("name,as_int,as_float", [("dropout", 0, 0.0), ("weight_decay", 0, 0.0), ("lr", 1, 1.0)])
def test_key_equal_for_int_and_float_spelling(name, as_int, as_float):
    a, b = make_config(**{name: as_int}), make_config(**{name: as_float})
    assert a == b
    assert a.key() == b.key()
    assert type(getattr(a, name)) is float
