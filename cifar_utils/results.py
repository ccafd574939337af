"""Stored run results: one JSON file per (experiment, configuration key) in ``results/``.

A result holds everything the report's tables and figures need, so they redraw without the dataset
and without retraining: config, per-epoch history, confusion matrix, the first ten test images with
their predictions, wall time and the environment it ran in.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .evaluate import overall_counts
from .io import atomic_write_json

SCHEMA_VERSION = 1
REQUIRED = ("schema_version", "experiment", "key", "config", "history", "confusion", "classes",
            "first_ten", "train_seconds", "environment")


class ResultError(RuntimeError):
    """A stored result is unreadable, hand-edited into an invalid shape, or from another schema."""


def result_path(results_dir: str | os.PathLike, experiment: str, key: str) -> Path:
    return Path(results_dir) / f"{experiment}-{key}.json"


def save_result(path: str | os.PathLike, result: dict) -> Path:
    check_result(result, path)
    return atomic_write_json(path, result)


def load_result(path: str | os.PathLike) -> dict | None:
    """The stored result at ``path``, None when there is none, ResultError when it is unusable."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultError(f"the stored result {path} is not valid JSON ({exc}); delete it or run with "
                          f"retrain=True to replace it.") from exc
    check_result(result, path)
    return result


def check_result(result, path) -> None:
    """Raise ResultError unless ``result`` has this schema's fields in the shapes plotting needs."""
    try:
        _check_fields(result, path)
    except (TypeError, KeyError, AttributeError, ValueError) as exc:  # a field of the wrong type
        raise ResultError(f"the stored result {path} has a field of the wrong type ({type(exc).__name__}: {exc}); "
                          f"delete it or run with retrain=True to replace it.") from exc


def _check_fields(result, path) -> None:
    def bad(why: str):
        return ResultError(f"the stored result {path} {why}; delete it or run with retrain=True to replace it.")

    if not isinstance(result, dict):
        raise bad("is not a JSON object")
    version = result.get("schema_version")
    if version != SCHEMA_VERSION:
        raise bad(f"has schema_version {version!r}, but this code reads version {SCHEMA_VERSION}")
    missing = [k for k in REQUIRED if k not in result]
    if missing:
        raise bad(f"lacks the fields {missing}")
    n = len(result["classes"])
    confusion = result["confusion"]
    if not (isinstance(confusion, list) and len(confusion) == n
            and all(isinstance(r, list) and len(r) == n and all(isinstance(c, int) and c >= 0 for c in r)
                    for r in confusion)):
        raise bad(f"has a confusion matrix that is not {n} x {n} non-negative integers")
    history = result["history"]
    epochs = result["config"].get("epochs") if isinstance(result["config"], dict) else None
    keys = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds")
    if not (isinstance(history, list) and len(history) == epochs
            and all(isinstance(h, dict) and all(isinstance(h.get(k), (int, float)) for k in keys) for h in history)):
        raise bad(f"has a history that is not one record per epoch ({epochs}) with {', '.join(keys)}")
    first = result["first_ten"]
    fields = ("images_base64", "image_shape", "true", "predicted", "confidence")
    if not (isinstance(first, dict) and all(k in first for k in fields)
            and len({len(first["true"]), len(first["predicted"]), len(first["confidence"])}) == 1):
        raise bad("has first-ten predictions without images, labels, predictions and confidences")


def overall_accuracy(result: dict) -> tuple[int, int]:
    """(correct, total) over the whole test set of a result."""
    return overall_counts(result["confusion"])
