"""Helpers shared by the tests (imported as ``from helpers import ...``; pytest puts tests/ on sys.path).

- ``write_synthetic_npz``: a small CIFAR-shaped dataset in the shared copy's format;
- ``BASE_RECIPE`` / ``make_config``: ExperimentConfig has no defaults, so tests start from one whole
  recipe (a small fp32 CPU baseline) and override what they are about;
- ``without_seconds``: a training history without its wall times (what two identical runs share);
- ``fake_result``, ``confusion_with_diagonal``: a valid stored result for a configuration, without training;
- ``predictions_for``: per-image predictions (``evaluate.encode_predictions``) that agree with a confusion matrix;
- ``write_study``: a small study of its own, in a folder of its own (what the sweep's tests run).
- ``squeezed``: a Markdown table with tabulate's padding collapsed, so that a test reads its cells, not its widths;
- ``reader_text``: what a reader of a notebook reads, its Markdown and the sentences its code cells compute;
- ``assert_displayable``: a table as the notebooks show it holds no float, only preformatted strings and
  ints (``cifar_utils.formats``).
"""
from __future__ import annotations

import base64
import re

import numpy as np
import torch

from cifar_utils.config import ExperimentConfig
from cifar_utils.data import CLASSES
from cifar_utils.evaluate import encode_predictions
from cifar_utils.results import SCHEMA_VERSION

# Every field of ExperimentConfig: a small baseline that trains on the CPU in fp32.
BASE_RECIPE = dict(model="baseline", dropout=0.25, init="default", optimizer="sgd", lr=0.05, momentum=0.9,
                   nesterov=False, weight_decay=0.0, epochs=1, batch_size=50, schedule="constant", warmup=0.0,
                   label_smoothing=0.0, flip=False, crop_pad=0, train_subset=0, test_subset=0, seed=0,
                   precision="fp32", device="cpu", evaluate_on="test", ema=0.0, test_flips=False)


def make_config(**overrides) -> ExperimentConfig:
    """BASE_RECIPE with ``overrides``; unknown names are a TypeError, as for the dataclass itself."""
    return ExperimentConfig(**{**BASE_RECIPE, **overrides})


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def write_synthetic_npz(path, n_train: int = 500, n_test: int = 100, seed: int = 0) -> None:
    """A cifar10.npz in the shared copy's format: each class a noisy colour, balanced, shuffled."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(30, 225, size=(len(CLASSES), 3))

    def split(n):
        y = np.resize(np.arange(len(CLASSES)), n)
        rng.shuffle(y)
        x = colours[y][:, None, None, :] + rng.normal(0, 40, size=(n, 32, 32, 3))
        return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.uint8)

    x_train, y_train = split(n_train)
    x_test, y_test = split(n_test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
             label_names=np.array(CLASSES))


def predictions_for(confusion, top: float = 0.55) -> dict:
    """``encode_predictions`` of images in the order of ``confusion``'s cells (row by row): confusion[i][j]
    images of class i predicted as j, each with top probability ``top`` (the rest spread evenly)."""
    n = len(confusion)
    true = [i for i, row in enumerate(confusion) for j, count in enumerate(row) for _ in range(int(count))]
    predicted = [j for i, row in enumerate(confusion) for j, count in enumerate(row) for _ in range(int(count))]
    probs = torch.full((len(true), n), (1 - top) / (n - 1), dtype=torch.float64)
    probs[torch.arange(len(true)), torch.tensor(predicted, dtype=torch.int64)] = top
    return encode_predictions(probs, torch.tensor(true, dtype=torch.int64))


def fake_result(experiment: str, config: ExperimentConfig, confusion) -> dict:
    """A valid stored result (``results`` schema) for ``config`` with the given confusion matrix, not trained:
    a history of ``config.epochs`` records, ten black first images, the fourth predicted wrongly, and
    per-image predictions that agree with the confusion matrix (``predictions_for``)."""
    confusion = [[int(c) for c in row] for row in confusion]
    history = [{"epoch": e + 1, "train_loss": 2.0 - 0.1 * e, "train_accuracy": 0.3 + 0.01 * e,
                "test_loss": 2.1 - 0.1 * e, "test_accuracy": 0.3 + 0.01 * e, "lr": config.lr, "seconds": 1.5}
               for e in range(config.epochs)]
    true = list(range(10))
    predicted = [5 if t == 3 else t for t in true]
    return {
        "schema_version": SCHEMA_VERSION, "experiment": experiment, "key": config.key(), "config": config.to_dict(),
        "history": history, "confusion": confusion, "classes": list(CLASSES),
        "first_ten": {"images_base64": base64.b64encode(bytes(10 * 32 * 32 * 3)).decode("ascii"),
                      "image_shape": [10, 32, 32, 3], "true": true, "predicted": predicted,
                      "confidence": [0.9 - 0.05 * i for i in range(10)]},
        "predictions": predictions_for(confusion),
        "train_seconds": 1.5 * config.epochs,
        "environment": {"torch": "2.0", "python": "3.11", "platform": "test", "cpu": "test CPU", "threads": 1,
                        "device": "cpu", "autocast": "fp32", "data_source": "npz:fake", "data_sha256": "0" * 64,
                        "train_images": 500, "test_images": sum(map(sum, confusion))},
    }


def confusion_with_diagonal(diagonal, row_total: int = 1000) -> np.ndarray:
    """A confusion matrix with this diagonal, each row summing to ``row_total``, its errors spread evenly."""
    n = len(diagonal)
    confusion = np.zeros((n, n), dtype=np.int64)
    for i, correct in enumerate(diagonal):
        confusion[i, i] = correct
        share, extra = divmod(row_total - correct, n - 1)
        for rank, j in enumerate(j for j in range(n) if j != i):
            confusion[i, j] = share + (1 if rank < extra else 0)
    return confusion


def write_study(folder, cells: dict, seeds=(0, 1), tuning_seeds=(7,)):
    """A study file ``folder/study.yaml`` with ``cells`` (as profiles/study.yaml names them) whose results,
    tuning results and sweep logs stay under ``folder``; returns it loaded (``study.load``)."""
    import yaml

    from cifar_utils import study
    spec = {"seeds": list(seeds), "figure_seed": seeds[0], "tuning_seeds": list(tuning_seeds),
            "results_dir": str(folder / "results"), "tuning_dir": str(folder / "results" / "tuning"),
            "logs_dir": str(folder / "build" / "sweep-logs"), "cells": cells}
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return study.load(path)


def assert_displayable(table) -> None:
    """Every value of the table, its index included, is a string or an int (not a bool): no float, whose
    decimals pandas would choose, and no NaN."""
    assert not table.empty, "an empty table shows nothing to check"
    for name, values in [("the index", table.index), *((f"column {c!r}", table[c]) for c in table.columns)]:
        assert values.dtype.kind != "f", f"{name} is of type {values.dtype}: {list(values)}"
        odd = [v for v in values if isinstance(v, (bool, np.bool_)) or not isinstance(v, (str, int, np.integer))]
        assert not odd, f"{name} holds {odd}, neither a string nor an int"


def reader_text(nb) -> str:
    """What a reader of the notebook ``nb`` reads: its Markdown cells and the Markdown its code cells show (the
    report's computed sentences, ``cifar_utils.prose``), in order, minus signs as "-"."""
    parts = [c.source if c.cell_type == "markdown" else
             "\n".join(o.get("data", {}).get("text/markdown", "") for o in c.get("outputs", [])) for c in nb.cells]
    return "\n".join(parts).replace("\u2212", "-")


def squeezed(markdown: str) -> list[str]:
    """The lines of Markdown with every run of spaces made one (tabulate pads cells to a column's width) and the
    dashes of a table's alignment row made three ("|:---|---:|"), whatever the widths."""
    return [re.sub(r"-{3,}", "---", re.sub(r" {2,}", " ", line)) for line in markdown.splitlines()]
