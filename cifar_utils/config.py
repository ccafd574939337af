"""An experiment's hyperparameters, checked when they are built, and the key that names its result.

The fields have no defaults: a recipe comes whole from a notebook's ``parameters`` cell plus a
profile's differences (``recipes``), and a missing field is an error, never a silent default.
Every field changes what training produces, so together they form the results key; ``device``
is the one exception (a stored CPU result is reused on a GPU machine and the other way round).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import math
import json
from dataclasses import asdict, dataclass, fields

from .data import TEST_SIZE, TRAIN_SIZE, VALID_SIZE
from .models import INITS, MODELS

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "onecycle")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")
NOT_IN_KEY = ("device",)
SPLITS = ("test", "validation")
# Fields added after results were first stored, with the value that behaves as before: at that value
# they stay out of the key, so the results stored earlier keep their names.
KEY_SINCE = {"evaluate_on": "test", "ema": 0.0, "test_flips": False}
# Shuffling seeds its generator with seed * 1_000_003 + epoch, which must fit in 64 bits: 2**32 - 1 leaves room.
MAX_SEED = 2 ** 32 - 1


class ConfigError(ValueError):
    """A parameter has the wrong type or an invalid value. Raised for one parameter, it also says which (``key``,
    ``value``), what is wrong with it (``problem``) and how to fix it in a file (``fix``), so that a value read
    from a recipe or profile file can be reported naming that file (``in_file``)."""

    def __init__(self, message: str, key: str | None = None, value=None, problem: str = "", fix: str = ""):
        super().__init__(message)
        self.key, self.value, self.problem, self.fix = key, value, problem, fix

    def in_file(self, path) -> "ConfigError":
        """The same error as one sentence naming the file ``path`` that set the value (itself no longer
        attributable to another file)."""
        return ConfigError(f"{path} sets {self.key}: {self.value!r}, which {self.problem}; {self.fix} in that file.")


@dataclass(frozen=True)
class ExperimentConfig:
    model: str              # "baseline" or "alexnet"
    dropout: float          # dropout probability after each hidden FC layer
    init: str               # weight initialisation: "default" (PyTorch's) or "kaiming" (He normal)
    optimizer: str          # "sgd" or "adam"
    lr: float               # peak learning rate
    momentum: float         # SGD momentum (Adam: beta1)
    nesterov: bool          # SGD only
    weight_decay: float     # L2 penalty added to the gradient
    epochs: int             # passes over the training set
    batch_size: int         # training minibatch size
    schedule: str           # "constant" or "onecycle" (linear warm-up, then linear decay to 0)
    warmup: float           # fraction of all steps spent warming up (onecycle only)
    label_smoothing: float  # cross-entropy label smoothing
    flip: bool              # random horizontal flips of training images
    crop_pad: int           # random crops of images zero-padded by this many pixels (0 = none)
    ema: float              # evaluate a moving average of the weights, this decay per step (0 = the weights themselves)
    test_flips: bool        # evaluate each image and its mirror image, averaging their logits
    train_subset: int       # stratified subset of the training set (0 = all 50,000)
    test_subset: int        # stratified subset of the test set (0 = all 10,000)
    seed: int               # seed for initialisation, shuffling, augmentation and dropout
    evaluate_on: str        # "test", or "validation": train without data.VALID_SIZE held-out training images, evaluate on them
    precision: str          # "auto" (bf16 where fast, else fp32), "fp32", "bf16", "fp16" (CUDA)
    device: str             # "auto" (cuda, else mps, else cpu), "cpu", "cuda", "mps"

    def __post_init__(self):
        # 0 and 0.0 are the same value to a user (papermill reads "-p dropout 0" as an int): store
        # float fields as floats so that equal configurations have equal keys.
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
        self._validate()

    @classmethod
    def from_parameters(cls, params: dict, sources: dict[str, str] | None = None) -> "ExperimentConfig":
        """Build from a notebook's globals (or any dict) holding every field; extra names are ignored.
        ``sources`` maps a name to the file its value was read from: an error in that value names the file."""
        missing = [f.name for f in fields(cls) if f.name not in params]
        if missing:
            raise ConfigError(f"the parameters {', '.join(missing)} are missing; give every field of "
                              f"ExperimentConfig (a notebook's parameters cell has them all).")
        try:
            return cls(**{f.name: params[f.name] for f in fields(cls)})
        except ConfigError as exc:
            if exc.key in (sources or {}) and exc.problem:
                raise exc.in_file(sources[exc.key]) from None
            raise

    def key(self) -> str:
        """12 hex digits naming this configuration's result."""
        relevant = {k: v for k, v in asdict(self).items()
                    if k not in NOT_IN_KEY and not (k in KEY_SINCE and v == KEY_SINCE[k])}
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def to_dict(self) -> dict:
        return asdict(self)

    def check_dataset(self, n_train: int, n_test: int) -> None:
        """The checks that depend on the dataset's size: subsets and batch size against ``n_train`` training
        and ``n_test`` evaluation images (construction checked them against the full CIFAR-10)."""
        where = "validation" if self.evaluate_on == "validation" else "test"
        _number("train_subset", self.train_subset, int, low=0, high=n_train,
                hint=f"0 means all {n_train:,} training images")
        _number("test_subset", self.test_subset, int, low=0, high=n_test,
                hint=f"0 means all {n_test:,} {where} images")
        usable = self.train_subset or n_train
        if self.batch_size > usable:
            raise ConfigError(f"batch_size = {self.batch_size} is larger than the {usable:,} training images; "
                              f"use a batch_size of at most {usable:,}.", "batch_size", self.batch_size,
                              f"is larger than the {usable:,} training images", f"make it at most {usable:,}")

    def _validate(self) -> None:
        """Raise ConfigError with one sentence naming the first bad value and the fix."""
        _choice("model", self.model, tuple(MODELS))
        _choice("init", self.init, INITS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("precision", self.precision, PRECISIONS)
        _choice("device", self.device, DEVICES)
        _choice("evaluate_on", self.evaluate_on, SPLITS)
        for name in ("nesterov", "flip", "test_flips"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} = {getattr(self, name)!r} is not a boolean; use True or False.",
                                  name, getattr(self, name), "is not a boolean", "write true or false")
        _number("epochs", self.epochs, int, low=1)
        _number("batch_size", self.batch_size, int, low=1)
        _number("crop_pad", self.crop_pad, int, low=0, high=16)
        _number("seed", self.seed, int, low=0, high=MAX_SEED)
        _number("lr", self.lr, float, low=0, low_open=True)
        _number("momentum", self.momentum, float, low=0, high=1, high_open=True)
        _number("dropout", self.dropout, float, low=0, high=1, high_open=True)
        _number("weight_decay", self.weight_decay, float, low=0, high=1, hint="the recipes use 0.0005")
        _number("label_smoothing", self.label_smoothing, float, low=0, high=1, high_open=True)
        _number("warmup", self.warmup, float, low=0, high=1, high_open=True)
        _number("ema", self.ema, float, low=0, high=1, high_open=True,
                hint="0 for none; 0.99 averages about the last 100 steps")
        self.check_dataset(TRAIN_SIZE - VALID_SIZE if self.evaluate_on == "validation" else TRAIN_SIZE,
                           VALID_SIZE if self.evaluate_on == "validation" else TEST_SIZE)
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ConfigError("nesterov = True needs optimizer 'sgd' with momentum > 0; set nesterov = False.",
                              "nesterov", True, "needs optimizer 'sgd' with momentum > 0", "set it to false")


def _choice(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        use = f"use one of {', '.join(map(repr, allowed))}"
        raise ConfigError(f"{name} = {value!r} is not known; {use}.", name, value, "is not known", use)


def _number(name, value, kind, low=None, high=None, low_open=False, high_open=False, hint=""):
    ok_types = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        wanted, example = ("an integer", "10") if kind is int else ("a number", "0.01")
        raise ConfigError(f"{name} = {value!r} is not {wanted}; pass {wanted} such as -p {name} {example}.",
                          name, value, f"is not {wanted}", f"write {wanted} such as {example}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high or not math.isfinite(value):
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high}")
        extra = f" ({hint})" if hint else ""
        raise ConfigError(f"{name} = {value!r} is out of range; it must be {' and '.join(bounds)}{extra}.",
                          name, value, "is out of range", f"make it {' and '.join(bounds)}{extra}")


class Parser(argparse.ArgumentParser):
    """The command lines' parser: a bad option or value is one line, ``error: ...`` (exit 2), without argparse's
    usage block above it (``--help`` shows the usage)."""

    def error(self, message: str):
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)
