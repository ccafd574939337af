"""Stored results: round trip, refusal of unusable files naming the fix, atomic writes."""
from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import stat

import numpy as np
import pytest

from cifar_utils import files as files_mod
from cifar_utils.files import OutputError, atomic_write_bytes, atomic_write_json, atomic_write_with, ensure_writable_dir
from cifar_utils.config import ExperimentConfig
from cifar_utils.evaluate import confusion_matrix, decode_images, decode_predictions, overall_counts
from cifar_utils.experiment import Experiment
from cifar_utils.recipes import REPO_ROOT
from cifar_utils.results import (SCHEMA_VERSION, ResultError, accuracy, check_result, correctness, load_result,
                                 result_path, save_result)
from helpers import fake_result, make_config


def make_result(epochs: int = 2) -> dict:
    confusion = [[0] * 10 for _ in range(10)]
    for i in range(10):
        confusion[i][i] = 3 + i
        confusion[i][(i + 1) % 10] = 2
    return fake_result("baseline", make_config(epochs=epochs), confusion)


@pytest.fixture
def result():
    return make_result()


def test_save_and_load_round_trip(tmp_path, result):
    path = result_path(tmp_path, "baseline", result["key"])
    assert path == tmp_path / f"baseline-{make_config(epochs=2).key()}.json"
    assert save_result(path, result) == path
    loaded = load_result(path)
    assert loaded == result
    assert json.loads(path.read_text()) == result
    correct, total = sum(3 + i for i in range(10)), sum(5 + i for i in range(10))
    assert overall_counts(loaded["confusion"]) == (correct, total)
    assert accuracy(loaded) == pytest.approx(100 * correct / total)  # percent


def test_load_result_missing_file_is_none(tmp_path):
    assert load_result(tmp_path / "nope.json") is None


@pytest.mark.parametrize("key", [None, "result's"], ids=["any key", "its key"])
def test_a_result_of_another_experiment_than_its_name_says_is_refused(tmp_path, result, key):
    """results/alexnet_sgd-<key>.json holding "experiment": "baseline" (an edit, a mix-up of files)."""
    path = result_path(tmp_path, "alexnet_sgd", result["key"])
    save_result(path, result)
    with pytest.raises(ResultError) as info:
        load_result(path, key=result["key"] if key else None)
    message = str(info.value)
    assert str(path) in message and "'baseline'" in message and "restore it from git or delete it" in message


def test_save_result_refuses_invalid(tmp_path, result):
    del result["history"]
    with pytest.raises(ResultError):
        save_result(tmp_path / "r.json", result)
    assert not (tmp_path / "r.json").exists()


def _assert_names_file_and_fix(exc, path):
    message = str(exc)
    assert str(path) in message
    assert "retrain=True" in message


@pytest.mark.parametrize("text", ["{not json", "", "\xff\xfe"], ids=["broken", "empty", "binary"])
def test_invalid_json(tmp_path, text):
    path = tmp_path / "r.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ResultError) as info:
        load_result(path)
    _assert_names_file_and_fix(info.value, path)


def _set(result, dotted, value):
    target = result
    *parents, last = dotted.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    index = int(last) if isinstance(target, list) else last
    if value is _DELETE:
        del target[index]
    else:
        target[index] = value


_DELETE = object()
BROKEN = {
    "schema 0": ("schema_version", 0, "schema_version 0"),  # a newer schema is told to upgrade instead (below)
    "schema missing": ("schema_version", _DELETE, "schema_version None"),
    "no confusion": ("confusion", _DELETE, "lacks the fields ['confusion']"),
    "no environment": ("environment", _DELETE, "lacks the fields ['environment']"),
    "confusion 9 rows": ("confusion.9", _DELETE, "confusion matrix"),
    "confusion short row": ("confusion.3.9", _DELETE, "confusion matrix"),
    "confusion negative": ("confusion.0.0", -1, "confusion matrix"),
    "confusion float": ("confusion.0.0", 1.5, "confusion matrix"),
    "history too short": ("history.1", _DELETE, "history"),
    "history not number": ("history.0.test_loss", "low", "history"),
    "history missing key": ("history.0.seconds", _DELETE, "history"),
    "first ten lengths": ("first_ten.true", [0], "first-ten"),
    "first ten no images": ("first_ten.images_base64", _DELETE, "first-ten"),
    "evaluation above 1": ("evaluations", {"weights": 1.5}, "evaluations"),
    "evaluations not a dict": ("evaluations", [0.5], "evaluations"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_unusable_result_is_refused(tmp_path, result, case):
    dotted, value, needle = BROKEN[case]
    _set(result, dotted, value)
    _assert_refused(tmp_path, result, needle)


def _assert_refused(tmp_path, result, needle) -> None:
    """Stored as JSON, ``result`` is refused by load_result with a message naming the file, the fix and ``needle``."""
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result))
    with pytest.raises(ResultError) as info:
        load_result(path)
    _assert_names_file_and_fix(info.value, path)
    assert needle in str(info.value)


def test_a_result_of_a_newer_schema_is_told_to_upgrade_not_to_delete_or_retrain(tmp_path, result):
    result["schema_version"] = SCHEMA_VERSION + 1
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result))
    with pytest.raises(ResultError) as info:
        load_result(path)
    message = str(info.value)
    assert str(path) in message and f"schema_version {SCHEMA_VERSION + 1}" in message
    assert "newer version of cifar-report" in message and "git pull" in message
    assert "delete" not in message and "retrain" not in message


def test_result_not_an_object(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("[1, 2]")
    with pytest.raises(ResultError, match="not a JSON object") as info:
        load_result(path)
    _assert_names_file_and_fix(info.value, path)


@pytest.mark.parametrize("dotted,value", [("classes", None), ("first_ten.true", 3)])
def test_wrong_typed_field_is_a_result_error(tmp_path, result, dotted, value):
    _set(result, dotted, value)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result))
    with pytest.raises(ResultError):
        load_result(path)


# --- atomic writes -------------------------------------------------------------------------------

def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_failure_midway_keeps_old_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old contents")

    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"new, half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write_with(path, write)
    assert path.read_bytes() == b"old contents"
    assert leftovers(tmp_path) == []

    def interrupted(tmp):
        open(tmp, "wb").close()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write_with(path, interrupted)
    assert path.read_bytes() == b"old contents"
    assert leftovers(tmp_path) == []


def test_save_result_failure_during_write_keeps_old_result(tmp_path, result, monkeypatch):
    path = tmp_path / "r.json"
    save_result(path, result)
    old = path.read_bytes()
    newer = copy.deepcopy(result)
    newer["train_seconds"] = 99.0

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_mod.os, "fsync", broken_fsync)
    with pytest.raises(OutputError, match="free space or choose another folder"):
        save_result(path, newer)
    assert path.read_bytes() == old
    assert leftovers(tmp_path) == []
    monkeypatch.undo()
    save_result(path, newer)
    assert load_result(path)["train_seconds"] == 99.0


def test_save_result_failure_in_json_dumps_keeps_old_result(tmp_path, result, monkeypatch):
    path = tmp_path / "r.json"
    save_result(path, result)
    old = path.read_bytes()

    def broken(*args, **kwargs):
        raise TypeError("not serialisable")

    monkeypatch.setattr(files_mod.json, "dumps", broken)
    with pytest.raises(TypeError):
        save_result(path, make_result(epochs=1))
    assert path.read_bytes() == old
    assert leftovers(tmp_path) == []


def test_atomic_write_bytes_leaves_unchanged_file_alone(tmp_path):
    path = tmp_path / "f.png"
    atomic_write_bytes(path, b"\x89PNG same")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    inode = path.stat().st_ino
    atomic_write_bytes(path, b"\x89PNG same")
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert path.stat().st_ino == inode
    atomic_write_bytes(path, b"\x89PNG different")
    assert path.read_bytes() == b"\x89PNG different"
    assert path.stat().st_mtime_ns != 1_000_000_000


def test_atomic_write_json_and_permissions(tmp_path):
    path = tmp_path / "sub" / "dir" / "x.json"
    atomic_write_json(path, {"b": 1, "a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    assert path.read_text().endswith("\n")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_ensure_writable_dir_creates(tmp_path):
    folder = tmp_path / "a" / "b"
    assert ensure_writable_dir(folder) == folder
    assert folder.is_dir()


def test_ensure_writable_dir_under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError) as info:
        ensure_writable_dir(tmp_path / "file" / "sub")
    assert str(tmp_path / "file" / "sub") in str(info.value)
    with pytest.raises(OutputError):
        ensure_writable_dir(tmp_path / "file")


def test_ensure_writable_dir_read_only(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("chmod does not stop this user (root) from writing")
        with pytest.raises(OutputError) as info:
            ensure_writable_dir(folder)
        assert str(folder) in str(info.value)
    finally:
        folder.chmod(0o755)


def test_ensure_writable_dir_not_writable_simulated(tmp_path, monkeypatch):
    """What a read-only mount reports (even to root), simulated through os.access."""
    folder = tmp_path / "ro"
    folder.mkdir()
    monkeypatch.setattr(files_mod.os, "access", lambda path, mode: False)
    with pytest.raises(OutputError) as info:
        ensure_writable_dir(folder)
    assert str(folder) in str(info.value) and "not writable" in str(info.value)


def test_check_result_accepts_valid(result):
    check_result(result, "somewhere.json")


# --- schema 2: every evaluated image's prediction ---------------------------------------------------

@pytest.fixture(scope="module")
def trained_result(tmp_path_factory, synthetic_dir):
    """A result of a real (tiny) training: 1 epoch of the baseline on 200 synthetic images, 50 evaluated."""
    folder = tmp_path_factory.mktemp("trained")
    config = make_config(train_subset=200, test_subset=50, seed=3)
    exp = Experiment("baseline", config, data_dir=str(synthetic_dir), results_dir=str(folder / "results"),
                     figures_dir=str(folder / "figures"))
    exp.checkpoint = folder / "runs" / f"baseline-{exp.key}" / "checkpoint.pt"  # keep runs/ out of the repo
    exp.run(log=lambda *_: None, progress=False)
    return exp.path, load_result(exp.path)


def test_trained_result_predictions_agree_with_its_confusion(trained_result):
    path, result = trained_result
    assert result["schema_version"] == SCHEMA_VERSION == 2
    assert result["config"]["evaluate_on"] == "test"
    true, predicted, probability = decode_predictions(result["predictions"])
    assert len(true) == result["predictions"]["n"] == result["environment"]["test_images"] == 50
    assert confusion_matrix(true, predicted).tolist() == result["confusion"]
    assert ((probability >= 0.1 - 1e-4) & (probability <= 1)).all()  # a top probability of 10 classes is >= 1/10
    first = result["first_ten"]  # the first ten images are the first ten of the predictions
    assert first["true"] == true[:10].tolist() and first["predicted"] == predicted[:10].tolist()
    np.testing.assert_allclose(first["confidence"], probability[:10], atol=1e-4)
    right = correctness(result)
    assert right.dtype == bool and right.shape == (50,)
    assert int(right.sum()) == overall_counts(result["confusion"])[0]
    assert right.tolist() == (true == predicted).tolist()
    assert accuracy(result) == pytest.approx(100 * right.mean())


def _encode(array, dtype) -> str:
    return base64.b64encode(np.asarray(array).astype(dtype).tobytes()).decode("ascii")


def _flip_class(result, field):
    stored = result["predictions"]
    values = np.frombuffer(base64.b64decode(stored[field]), dtype=np.uint8).copy()
    values[0] = (values[0] + 1) % 10
    stored[field] = _encode(values, np.uint8)


def _class_ten(result):
    stored = result["predictions"]
    values = np.frombuffer(base64.b64decode(stored["predicted_base64"]), dtype=np.uint8).copy()
    values[0] = 10
    stored["predicted_base64"] = _encode(values, np.uint8)


def _drop_last_image(result):
    """Consistent arrays, but one image fewer than the result evaluated."""
    stored = result["predictions"]
    for field, dtype in (("true_base64", np.uint8), ("predicted_base64", np.uint8), ("probability_base64", "<u2")):
        stored[field] = _encode(np.frombuffer(base64.b64decode(stored[field]), dtype=dtype)[:-1], dtype)
    stored["n"] -= 1


def _set_field(name, value):
    def change(result):
        result["predictions"][name] = value
    return change


def _delete_predictions(result):
    del result["predictions"]


# A top probability above 1 (or below 0) cannot be stored: it is a uint16 over 65535 (test_evaluate).
CORRUPTED = {
    "predictions missing": (_delete_predictions, "lacks the fields ['predictions']"),
    "predicted class flipped": (lambda r: _flip_class(r, "predicted_base64"), "do not agree with its confusion"),
    "true class flipped": (lambda r: _flip_class(r, "true_base64"), "do not agree with its confusion"),
    "class 10": (_class_ten, "do not agree with its confusion"),
    "one image missing": (_drop_last_image, "do not agree with its confusion"),
    "bad base64": (_set_field("predicted_base64", "not base64!"), "are not valid base64 ("),
    "wrong n": (_set_field("n", 49), "do not decode (ValueError)"),
    "n as text": (_set_field("n", "50"), "do not decode (ValueError)"),
    "field missing": (lambda r: r["predictions"].pop("probability_base64"), "do not decode (KeyError)"),
    "not an object": (lambda r: r.__setitem__("predictions", ["x"]), "do not decode (TypeError)"),
}


@pytest.mark.parametrize("case", list(CORRUPTED))
def test_corrupted_predictions_are_refused(tmp_path, trained_result, case):
    change, needle = CORRUPTED[case]
    result = copy.deepcopy(trained_result[1])
    change(result)
    _assert_refused(tmp_path, result, needle)
    with pytest.raises(ResultError):  # and never stored
        save_result(tmp_path / "new.json", result)
    assert not (tmp_path / "new.json").exists()


def test_load_result_with_another_key_is_refused(trained_result, tmp_path):
    path, result = trained_result
    assert load_result(path, key=result["key"]) == result
    other = make_config(train_subset=200, test_subset=50, seed=4).key()
    with pytest.raises(ResultError) as info:
        load_result(path, key=other)
    _assert_names_file_and_fix(info.value, path)
    assert f"holds the configuration {result['key']}, not {other}" in str(info.value)
    # the key is checked against the config too: a result copied under another name is still itself
    copied = tmp_path / f"baseline-{other}.json"
    shutil.copy(path, copied)
    with pytest.raises(ResultError, match=f"holds the configuration {result['key']}, not {other}"):
        load_result(copied, key=other)


# --- schema 1: results stored before predictions were kept ---------------------------------------

def _schema_version(path):
    try:
        return json.loads(path.read_text()).get("schema_version")
    except ValueError:
        return None


COMMITTED_SCHEMA_1 = sorted(p for p in (REPO_ROOT / "results").rglob("*.json") if _schema_version(p) == 1)


def _schema_1_copy(result: dict) -> dict:
    """``result`` as schema 1 wrote it: no predictions, no evaluate_on in its config."""
    old = copy.deepcopy(result)
    old["schema_version"] = 1
    del old["predictions"]
    del old["config"]["evaluate_on"]
    return old


def _check_schema_1(path, name):
    stored_text = path.read_text()
    key = name.rsplit("-", 1)[1]
    result = load_result(path, key=key)
    assert result["schema_version"] == 1 and "predictions" not in result
    assert result["config"]["evaluate_on"] == "test"  # filled in: what every run did before the field
    assert ExperimentConfig(**result["config"]).key() == result["key"] == key  # so the file keeps its name
    assert path.read_text() == stored_text  # loading does not rewrite the file
    with pytest.raises(ResultError) as info:
        correctness(result)
    assert f"{result['experiment']}-{key}" in str(info.value) and "schema 1" in str(info.value)
    assert 0 < accuracy(result) < 100  # everything else still reads
    decode_images(result["first_ten"])


@pytest.mark.parametrize("path", COMMITTED_SCHEMA_1, ids=lambda p: p.name)
def test_committed_schema_1_result_still_loads(path, tmp_path):
    copied = tmp_path / path.name
    shutil.copy(path, copied)
    _check_schema_1(copied, path.stem)


def test_schema_1_result_still_loads(trained_result, tmp_path):
    result = trained_result[1]
    path = tmp_path / f"baseline-{result['key']}.json"
    path.write_text(json.dumps(_schema_1_copy(result)))
    _check_schema_1(path, path.stem)


def test_schema_1_with_evaluate_on_validation_gets_no_test_filled_over_it(trained_result, tmp_path):
    """The filled-in evaluate_on only supplies a missing field; a key computed without it must still match."""
    old = _schema_1_copy(trained_result[1])
    old["config"]["evaluate_on"] = "validation"  # a hand-edited file: its key no longer matches its config
    path = tmp_path / "r.json"
    path.write_text(json.dumps(old))
    with pytest.raises(ResultError, match="but its config's key is"):
        load_result(path)


def test_schema_2_result_needs_predictions_schema_1_does_not(trained_result, tmp_path):
    result = copy.deepcopy(trained_result[1])
    del result["predictions"]
    with pytest.raises(ResultError, match=r"lacks the fields \['predictions'\]"):
        check_result(result, tmp_path / "r.json")
    result["schema_version"] = 1
    check_result(result, tmp_path / "r.json")


def test_a_result_linked_from_outside_its_folder_is_refused_naming_link_and_target(tmp_path, result):
    outside = save_result(tmp_path / "elsewhere" / "baseline-x.json", result)
    link = tmp_path / "results" / result_path("", "baseline", result["key"]).name
    link.parent.mkdir()
    link.symlink_to(outside)
    with pytest.raises(ResultError) as refused:
        load_result(link, key=result["key"])
    assert str(link) in str(refused.value) and str(outside) in str(refused.value)
    assert link.is_symlink() and outside.is_file()  # refused, neither followed nor deleted
    (tmp_path / "results" / "hop").symlink_to(outside.parent, target_is_directory=True)  # a link inside that leads out
    link.unlink()
    link.symlink_to(link.parent / "hop" / outside.name)
    with pytest.raises(ResultError, match="outside"):
        load_result(link)


def test_a_result_linked_within_its_folder_loads(tmp_path, result):
    stored = save_result(tmp_path / "results" / "kept" / "baseline-x.json", result)
    link = tmp_path / "results" / "baseline-x.json"
    link.symlink_to(stored)
    assert load_result(link) == load_result(stored)
    linked_folder = tmp_path / "linked-results"  # a results folder that is itself a link keeps working
    linked_folder.symlink_to(tmp_path / "results", target_is_directory=True)
    assert load_result(linked_folder / "baseline-x.json") == load_result(stored)
