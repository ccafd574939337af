"""Stored run results: one JSON file per (experiment, configuration key) in ``results/``.

A result holds everything the report's tables and figures need, so they redraw without the dataset
and without retraining: config, per-epoch history, confusion matrix, the first ten test images with
their predictions, wall time and the environment it ran in.
"""
from __future__ import annotations

import binascii
import json
import math
import os
import re
import time
from pathlib import Path

from .config import KEY_SINCE, ExperimentConfig
from .data import CLASSES, SHARED_COPY_SHA256, TRAIN_SIZE
from .evaluate import (confusion_matrix, decode_images, decode_predictions, encode_predictions, first_images,
                       overall_counts)
from .files import atomic_write_json

SCHEMA_VERSION = 2  # 2 added every test prediction ("predictions") and config.evaluate_on
READABLE_VERSIONS = (1, 2)
REQUIRED = ("schema_version", "experiment", "key", "config", "history", "confusion", "classes",
            "first_ten", "train_seconds", "environment")


class ResultError(RuntimeError):
    """A stored result is unreadable, hand-edited into an invalid shape, or from another schema."""


class NewerResult(ResultError):
    """A stored result written by a newer cifar-report: kept as it is, never trained over (upgrade to read it)."""


def make_result(experiment: str, config, history: list[dict], test_probs, data, environment: dict,
                wall_seconds: float, evaluations: dict | None = None) -> dict:
    """A result in this schema from a finished training: ``test_probs`` (N, 10) softmax outputs on
    ``data``'s test images, ``environment`` from ``hardware.environment`` (the data's provenance is added),
    ``evaluations`` the test accuracy of each evaluation the run could give (``train.evaluations``)."""
    return {
        "schema_version": SCHEMA_VERSION, "experiment": experiment, "key": config.key(), "config": config.to_dict(),
        "history": history, "classes": list(CLASSES),
        "confusion": confusion_matrix(data.y_test, test_probs.argmax(dim=1)).tolist(),
        "first_ten": first_images(test_probs, data.y_test, data.x_test),
        "predictions": encode_predictions(test_probs, data.y_test),
        "train_seconds": round(sum(h["seconds"] for h in history), 2),
        "wall_seconds": round(wall_seconds, 2),
        **({"evaluations": {k: round(v, 6) for k, v in evaluations.items()}} if evaluations else {}),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": {**environment, "data_source": data.source, "data_sha256": data.sha256,
                        "train_images": len(data.y_train), "test_images": len(data.y_test)},
    }


def result_path(results_dir: str | os.PathLike, experiment: str, key: str) -> Path:
    return Path(results_dir) / f"{experiment}-{key}.json"


def save_result(path: str | os.PathLike, result: dict) -> Path:
    check_result(result, path)
    return atomic_write_json(path, result)


def load_result(path: str | os.PathLike, key: str | None = None) -> dict | None:
    """The stored result at ``path``, None when there is none, ResultError when it is unusable (also
    when ``key`` is given and the result's configuration is another one, when a file named as results are
    (``<experiment>-<key>.json``) holds another experiment's or key's run, and when ``path`` is a link to a file
    outside its folder, which would publish what the folder does not hold)."""
    path = Path(path)
    if not path.is_file():
        return None
    target, folder = path.resolve(), path.parent.resolve()
    if not target.is_relative_to(folder):  # a link (or a link on its way) to a file this folder does not hold
        raise ResultError(f"the stored result {path} is a link to {target}, outside its folder {folder}; replace the "
                          f"link with a copy of that file, or remove it.")
    try:
        result = json.loads(path.read_text(), parse_constant=_refuse_constant)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise ResultError(f"the stored result {path} is not valid JSON ({type(exc).__name__}); delete it or run "
                          f"with retrain=True to replace it.") from exc
    check_result(result, path)
    if key is not None and result["key"] != key:
        raise ResultError(f"the stored result {path} holds the configuration {result['key']}, not {key}; "
                          f"delete it or run with retrain=True to replace it.")
    named = RESULT_NAME.fullmatch(path.name)
    if named and named.groups() != (result["experiment"], result["key"]):  # an edit, or files mixed up
        raise ResultError(f"the stored result {path} holds a run of {result['experiment']!r} with the key "
                          f"{result['key']}, not the one its name says; restore it from git or delete it.")
    return result


RESULT_NAME = re.compile(r"(\w+)-([0-9a-f]{12})\.json")  # ``result_path``'s names: <experiment>-<key>.json


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number this schema allows")


def check_result(result, path) -> None:
    """Raise ResultError unless ``result`` is whole: this schema's fields, typed, finite, consistent."""
    try:
        _check_fields(result, path)
    except ResultError:
        raise
    except Exception as exc:  # a field of the wrong type that a check below tripped over
        raise ResultError(f"the stored result {path} has a field of the wrong type ({type(exc).__name__}); "
                          f"delete it or run with retrain=True to replace it.") from exc


def _number(value, low=0.0, high=math.inf) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and low <= value <= high)


def _count(value, high) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= high


def _check_fields(result, path) -> None:
    def require(holds: bool, why: str) -> None:
        if not holds:
            raise ResultError(f"the stored result {path} {why}; delete it or run with retrain=True to replace it.")

    require(isinstance(result, dict), "is not a JSON object")
    version, readable = result.get("schema_version"), ", ".join(map(str, READABLE_VERSIONS))
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:  # keep the file
        raise NewerResult(f"the stored result {path} has schema_version {version}, written by a newer version of "
                          f"cifar-report than this one (it reads versions {readable}); upgrade this copy (git pull, "
                          f"then make install) to read it.")
    require(version in READABLE_VERSIONS, f"has schema_version {version!r}, but this code reads versions {readable}")
    missing = [k for k in REQUIRED + (("predictions",) if version >= 2 else ()) if k not in result]
    require(not missing, f"lacks the fields {missing}")
    if isinstance(result["config"], dict):  # fields added since, at the value that behaves as before
        result["config"] = {**KEY_SINCE, **result["config"]}
    require(result["classes"] == list(CLASSES), f"does not name the {len(CLASSES)} CIFAR-10 classes in order")
    n = len(CLASSES)
    try:
        config = ExperimentConfig(**result["config"])
    except (TypeError, ValueError) as exc:
        raise ResultError(f"the stored result {path} has a config that is not a valid recipe ({exc}); "
                          f"delete it or run with retrain=True to replace it.") from exc
    require(result["key"] == config.key(), f"has the key {result['key']!r}, but its config's key is {config.key()!r}")

    env = result["environment"]
    texts = ("torch", "python", "platform", "cpu", "device", "autocast", "data_source", "data_sha256")
    require(isinstance(env, dict) and all(isinstance(env.get(k), str) and len(env[k]) < 1000 for k in texts)
            and all(_count(env.get(k), TRAIN_SIZE) for k in ("threads", "train_images", "test_images")),
            f"has an environment without {', '.join(texts)} as text and threads, train_images, test_images as counts")
    tested = env["test_images"]
    confusion = result["confusion"]
    require(isinstance(confusion, list) and len(confusion) == n
            and all(isinstance(r, list) and len(r) == n and all(_count(c, tested) for c in r) for r in confusion)
            and sum(map(sum, confusion)) == tested > 0,
            f"has a confusion matrix that is not {n} x {n} counts adding up to its {tested} test images")

    history = result["history"]
    require(isinstance(history, list) and len(history) == config.epochs
            and all(isinstance(h, dict) and h.get("epoch") == i + 1
                    and all(_number(h.get(k)) for k in ("train_loss", "test_loss", "lr", "seconds"))
                    and all(_number(h.get(k), high=1.0) for k in ("train_accuracy", "test_accuracy"))
                    and all(_number(h[k], high=1.0 if k.endswith("accuracy") else math.inf)
                            for k in ("train_eval_loss", "train_eval_accuracy") if k in h)
                    for i, h in enumerate(history)),
            f"has a history that is not one record per epoch ({config.epochs}) with finite losses, accuracies "
            f"in 0..1, lr and seconds")
    require(_number(result["train_seconds"]), "has a train_seconds that is not a finite number of seconds")
    evaluated = result.get("evaluations", {})
    require(isinstance(evaluated, dict) and all(isinstance(k, str) and _number(v, high=1.0) for k, v in evaluated.items()),
            "has evaluations that are not names with accuracies in 0..1")

    first = result["first_ten"]
    shown = len(first["true"]) if isinstance(first, dict) and isinstance(first.get("true"), list) else -1
    require(isinstance(first, dict) and 0 < shown <= min(10, tested) and isinstance(first.get("images_base64"), str)
            and first.get("image_shape") == [shown, 32, 32, 3]
            and all(isinstance(first.get(k), list) and len(first[k]) == shown for k in ("predicted", "confidence"))
            and all(_count(c, n - 1) for c in first["true"] + first["predicted"])
            and all(_number(c, high=1.0) for c in first["confidence"]),
            "has first-ten predictions without base64 images, labels 0-9, predictions 0-9 and confidences in 0..1")
    try:
        decode_images(first)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ResultError(f"the stored result {path} has first-ten images that do not decode to "
                          f"{first['image_shape']} pixels; delete it or run with retrain=True to replace it.") from exc
    if version >= 2:
        try:
            true, predicted, probability = decode_predictions(result["predictions"])
        except (ValueError, TypeError, KeyError, binascii.Error) as exc:
            why = f"are not valid base64 ({exc})" if isinstance(exc, binascii.Error) else \
                f"do not decode ({type(exc).__name__})"
            raise ResultError(f"the stored result {path} has predictions that {why}; "
                              f"delete it or run with retrain=True to replace it.") from exc
        require(len(true) == tested and true.max(initial=0) < n and predicted.max(initial=0) < n
                and confusion_matrix(true, predicted, n).tolist() == confusion
                and bool(((probability >= 0) & (probability <= 1)).all()),
                "has predictions that do not agree with its confusion matrix")


def correctness(result: dict):
    """Per evaluated image, in order: True where the prediction was right (schema 2 results only)."""
    if "predictions" not in result:
        raise ResultError(f"the result {result['experiment']}-{result['key']} was stored before predictions were "
                          f"kept (schema 1); train it again to compare it image by image.")
    true, predicted, _ = decode_predictions(result["predictions"])
    return true == predicted


def accuracy(result: dict) -> float:
    """Overall test accuracy of a result, in percent."""
    correct, total = overall_counts(result["confusion"])
    return 100 * correct / total


def plain_accuracy(result: dict) -> float:
    """Test accuracy of the plain weights, in percent: no test-time flips, no moving average (the ``weights``
    evaluation; a run that stored none evaluated only its plain weights)."""
    if "evaluations" in result:
        return 100 * result["evaluations"]["weights"]
    config = result["config"]
    if config.get("test_flips") or config.get("ema"):
        raise ValueError(f"the run {result['experiment']}-{result['key']} stored no plain-weights evaluation")
    return accuracy(result)


_MARKDOWN_SPECIALS = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\n": " ", "\r": " ",
                                    **{c: "\\" + c for c in "\\`*_[]|#"}})


def markdown_text(text: str) -> str:
    """Text from a stored file as it enters Markdown (and through it HTML): every HTML and Markdown special
    escaped, so it shows as written and never becomes markup (a result received from someone else may hold any)."""
    return str(text).translate(_MARKDOWN_SPECIALS)


def data_label(environment: dict) -> str:
    """Which data a result was trained on (its ``environment``), without the path of the machine that trained it."""
    if environment["data_sha256"] == SHARED_COPY_SHA256:
        return "shared copy, JPEG-degraded"
    layout, _, path = environment["data_source"].partition(":")
    return f"{layout} {Path(path).name} (sha256 {environment['data_sha256'][:12]})"


def machine(environment: dict) -> str:
    """Where a result trained, as the README's tables print it: CPU, threads, device, precision."""
    return f"{environment['cpu']}, {environment['threads']} threads, {environment['device']}, {environment['autocast']}"
