"""Stored results: round trip, refusal of unusable files naming the fix, atomic writes."""
from __future__ import annotations

import copy
import json
import os
import stat

import pytest

from cifar_utils import io as io_mod
from cifar_utils.io import OutputError, atomic_write_bytes, atomic_write_json, atomic_write_with, ensure_writable_dir
from cifar_utils.evaluate import overall_counts
from cifar_utils.results import ResultError, accuracy, check_result, load_result, result_path, save_result
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
    "schema 2": ("schema_version", 2, "schema_version 2"),
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
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_unusable_result_is_refused(tmp_path, result, case):
    dotted, value, needle = BROKEN[case]
    _set(result, dotted, value)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result))
    with pytest.raises(ResultError) as info:
        load_result(path)
    _assert_names_file_and_fix(info.value, path)
    assert needle in str(info.value)


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

    monkeypatch.setattr(io_mod.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
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

    monkeypatch.setattr(io_mod.json, "dumps", broken)
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
    monkeypatch.setattr(io_mod.os, "access", lambda path, mode: False)
    with pytest.raises(OutputError) as info:
        ensure_writable_dir(folder)
    assert str(folder) in str(info.value) and "not writable" in str(info.value)


def test_check_result_accepts_valid(result):
    check_result(result, "somewhere.json")
