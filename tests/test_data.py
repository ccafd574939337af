"""Loading CIFAR-10 (npz, torchvision layout, tensor cache), refusing bad or malicious files,
stratified subsets and batch augmentation."""
from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cifar_utils import data as data_mod
from cifar_utils.data import (CACHE_NAME, CLASSES, PROBE_SEED, PROBE_SIZE, VALID_SEED, DataError, batches, flip_and_crop,
                              load_cifar10, normalise, stratified_indices)
from helpers import write_synthetic_npz

TORCHVISION_FILES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                     "test_batch", "batches.meta"]


class Malicious:
    """Unpickling this creates the folder ``marker``: proof that the pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def small_npz(folder: Path, **kwargs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_synthetic_npz(folder / "cifar10.npz", n_train=kwargs.pop("n_train", 60), n_test=kwargs.pop("n_test", 20),
                        **kwargs)
    return folder / "cifar10.npz"


def arrays(n_train=20, n_test=10):
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
            "y_train": np.resize(np.arange(10, dtype=np.uint8), n_train),
            "x_test": rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
            "y_test": np.resize(np.arange(10, dtype=np.uint8), n_test)}


# --- loading -------------------------------------------------------------------------------------

def test_load_npz_gives_uint8_chw_and_int64_labels(tmp_path):
    path = small_npz(tmp_path / "d")
    data = load_cifar10(tmp_path / "d")
    with np.load(path) as npz:
        for split in ("train", "test"):
            x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
            assert x.dtype == torch.uint8 and y.dtype == torch.int64
            assert x.shape == (len(npz[f"y_{split}"]), 3, 32, 32) and x.is_contiguous()
            assert np.array_equal(x.numpy(), npz[f"x_{split}"].transpose(0, 3, 1, 2))
            assert np.array_equal(y.numpy(), npz[f"y_{split}"].astype(np.int64))
    assert len(data.y_train) == 60 and len(data.y_test) == 20
    assert data.source == f"npz:{path.resolve()}"
    assert data.sha256 == data_mod.sha256_of(path) and len(data.sha256) == 64


def test_synthetic_dir_fixture_loads(synthetic_dir):
    data = load_cifar10(str(synthetic_dir))
    assert data.x_train.shape == (500, 3, 32, 32) and data.x_test.shape == (100, 3, 32, 32)
    assert torch.bincount(data.y_train).tolist() == [50] * 10


@pytest.mark.parametrize("create", [False, True], ids=["missing", "empty"])
def test_missing_or_empty_folder_names_folder_layouts_and_env_var(tmp_path, create):
    folder = tmp_path / "nothing_here"
    if create:
        folder.mkdir()
    with pytest.raises(DataError) as info:
        load_cifar10(folder)
    message = str(info.value)
    for needle in (str(folder.resolve()), "cifar10.npz", "cifar-10-batches-py", "CIFAR10_ROOT"):
        assert needle in message
    assert not (folder / CACHE_NAME).exists()


BAD_ARRAYS = {
    "float images": ("x_train", lambda a: a.astype(np.float32), "dtype float32"),
    "CHW images": ("x_test", lambda a: np.ascontiguousarray(a.transpose(0, 3, 1, 2)), "shape"),
    "label 10": ("y_train", lambda a: np.where(np.arange(len(a)) == 3, 10, a).astype(np.uint8), "0..10"),
    "label -1": ("y_test", lambda a: np.where(np.arange(len(a)) == 0, -1, a.astype(np.int64)), "-1..9"),
    "float labels": ("y_train", lambda a: a.astype(np.float64), "labels"),
    "label count": ("y_train", lambda a: a[:-1], "labels"),
}


@pytest.mark.parametrize("case", BAD_ARRAYS)
def test_npz_with_wrong_arrays_is_refused(tmp_path, case):
    name, change, needle = BAD_ARRAYS[case]
    content = arrays()
    content[name] = change(content[name])
    np.savez(tmp_path / "cifar10.npz", **content)
    with pytest.raises(DataError) as info:
        load_cifar10(tmp_path)
    assert str(tmp_path / "cifar10.npz") in str(info.value)
    assert needle in str(info.value)
    assert not (tmp_path / CACHE_NAME).exists()


def test_npz_lacking_an_array_is_refused(tmp_path):
    content = arrays()
    del content["y_test"]
    np.savez(tmp_path / "cifar10.npz", **content)
    with pytest.raises(DataError, match=r"lacks the arrays \['y_test'\]"):
        load_cifar10(tmp_path)


def test_truncated_npz_is_refused(tmp_path):
    path = small_npz(tmp_path)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError) as info:
        load_cifar10(tmp_path)
    assert str(path) in str(info.value) and "cannot be read" in str(info.value)


def test_npz_with_pickled_object_array_is_not_executed(tmp_path):
    marker, control = tmp_path / "npz_was_unpickled", tmp_path / "control"
    content = arrays()
    content["x_train"] = np.array([Malicious(marker), 1], dtype=object)
    np.savez(tmp_path / "cifar10.npz", **content)
    with pytest.raises(DataError) as info:
        load_cifar10(tmp_path)
    assert "cifar10.npz" in str(info.value)
    assert not marker.exists()
    # Control: the crafted payload really does run when pickles are allowed.
    content["x_train"] = np.array([Malicious(control), 1], dtype=object)
    np.savez(tmp_path / "control.npz", **content)
    with np.load(tmp_path / "control.npz", allow_pickle=True) as npz:
        npz["x_train"]
    assert control.is_dir()


def test_raw_pickle_named_npz_is_not_executed(tmp_path):
    marker = tmp_path / "raw_pickle_ran"
    (tmp_path / "cifar10.npz").write_bytes(pickle.dumps({"x_train": Malicious(marker)}))
    with pytest.raises(DataError):
        load_cifar10(tmp_path)
    assert not marker.exists()


def test_torchvision_files_with_wrong_md5_are_never_unpickled(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    markers = []
    for name in TORCHVISION_FILES:
        marker = tmp_path / f"ran_{name}"
        markers.append(marker)
        (folder / name).write_bytes(pickle.dumps({"data": Malicious(marker), "labels": [0]}))
    with pytest.raises(DataError) as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    assert "md5" in message and str(folder) in message
    assert [m for m in markers if m.exists()] == []
    # Control: these files would run code if unpickled.
    pickle.loads((folder / "data_batch_1").read_bytes())
    assert markers[0].is_dir()


def test_torchvision_layout_is_read_when_md5_checks_pass(tmp_path, monkeypatch):
    """The torchvision path converts (N, 3072) rows to the same tensors as the npz path."""
    import torchvision.datasets.cifar as tv_cifar
    monkeypatch.setattr(tv_cifar.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)
    content = arrays(n_train=25, n_test=10)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rows = content["x_train"].transpose(0, 3, 1, 2).reshape(25, 3072)
    for i in range(5):
        with open(folder / f"data_batch_{i + 1}", "wb") as fh:
            pickle.dump({"data": rows[5 * i:5 * i + 5], "labels": content["y_train"][5 * i:5 * i + 5].tolist()}, fh)
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({"data": content["x_test"].transpose(0, 3, 1, 2).reshape(10, 3072),
                     "labels": content["y_test"].tolist()}, fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": list(CLASSES)}, fh)
    data = load_cifar10(tmp_path)
    assert data.source == f"torchvision:{folder.resolve()}"
    assert np.array_equal(data.x_train.numpy(), content["x_train"].transpose(0, 3, 1, 2))
    assert np.array_equal(data.x_test.numpy(), content["x_test"].transpose(0, 3, 1, 2))
    assert data.y_train.tolist() == content["y_train"].tolist() and data.y_train.dtype == torch.int64
    assert data.sha256 == data_mod.sha256_of(*[folder / n for n in TORCHVISION_FILES[:6]])


def test_tensor_cache_is_written_and_used(tmp_path):
    path = small_npz(tmp_path)
    first = load_cifar10(tmp_path)
    cache = tmp_path / CACHE_NAME
    assert cache.is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    path.unlink()
    second = load_cifar10(tmp_path)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(first, name), getattr(second, name))
        assert getattr(second, name).dtype == getattr(first, name).dtype
    assert (second.source, second.sha256) == (first.source, first.sha256)


def test_unreadable_cache_is_a_data_error(tmp_path):
    (tmp_path / CACHE_NAME).write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="delete it"):
        load_cifar10(tmp_path)


def test_cache_with_pickled_code_is_not_executed(tmp_path):
    marker = tmp_path / "cache_ran"
    torch.save({"x_train": Malicious(marker)}, tmp_path / CACHE_NAME)
    with pytest.raises(DataError):
        load_cifar10(tmp_path)
    assert not marker.exists()


def test_read_only_data_folder_loads_without_cache(tmp_path, monkeypatch):
    folder = tmp_path / "readonly"
    small_npz(folder)
    real_access = os.access

    def access(path, mode, *args, **kwargs):  # what a read-only mount reports, even to root
        if Path(path).resolve() == folder.resolve() and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    folder.chmod(0o555)
    try:
        data = load_cifar10(folder)
    finally:
        folder.chmod(0o755)
    assert len(data.y_train) == 60
    assert not (folder / CACHE_NAME).exists()


def test_env_var_is_used_when_data_dir_is_none(tmp_path, monkeypatch):
    small_npz(tmp_path / "from_env")
    monkeypatch.setenv("CIFAR10_ROOT", str(tmp_path / "from_env"))
    assert data_mod.default_data_dir() == tmp_path / "from_env"
    for data_dir in (None, ""):
        data = load_cifar10(data_dir)
        assert data.source == f"npz:{(tmp_path / 'from_env' / 'cifar10.npz').resolve()}"
        assert len(data.y_test) == 20


def test_default_data_dir_without_env_var(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAR10_ROOT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_mod.default_data_dir() == tmp_path / "cifar-report" / "cifar10"
    with pytest.raises(DataError, match="cifar-report"):
        load_cifar10(None)


# --- subsets -----------------------------------------------------------------------------------

@pytest.fixture
def labels():
    return torch.arange(10).repeat_interleave(30)[torch.randperm(300, generator=torch.Generator().manual_seed(5))]


def test_stratified_indices_balanced_sorted_deterministic(labels):
    idx = stratified_indices(labels, 50, seed=3)
    assert idx.dtype == torch.int64 and len(idx) == 50
    assert len(set(idx.tolist())) == 50
    assert torch.equal(idx, torch.sort(idx).values)
    assert torch.bincount(labels[idx], minlength=10).tolist() == [5] * 10
    assert torch.equal(idx, stratified_indices(labels, 50, seed=3))
    assert not torch.equal(idx, stratified_indices(labels, 50, seed=4))


def test_stratified_indices_uneven_n(labels):
    counts = torch.bincount(labels[stratified_indices(labels, 23)], minlength=10)
    assert counts.sum() == 23 and counts.max() - counts.min() <= 1


def test_stratified_indices_all(labels):
    assert torch.equal(stratified_indices(labels, 300), torch.arange(300))


@pytest.mark.parametrize("n", [0, -1, 301])
def test_stratified_indices_out_of_range(labels, n):
    with pytest.raises(ValueError, match=f"subset size {n} is outside 1..300"):
        stratified_indices(labels, n)


def test_subset_keeps_order_and_balance(synthetic_dir):
    data = load_cifar10(str(synthetic_dir))
    sub = data.subset(100, 20, seed=0)
    idx = stratified_indices(data.y_train, 100, 0)
    assert torch.equal(sub.x_train, data.x_train[idx]) and torch.equal(sub.y_train, data.y_train[idx])
    assert torch.bincount(sub.y_test).tolist() == [2] * 10
    same = data.subset(0, None)
    assert same.x_train is data.x_train and same.x_test is data.x_test


# --- batches and augmentation --------------------------------------------------------------------

@pytest.fixture
def images():
    return torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_flip_and_crop_identity(images):
    out = flip_and_crop(images, torch.Generator().manual_seed(0), flip=False, pad=0)
    assert torch.equal(out, images)


@pytest.mark.parametrize("flip,pad", [(True, 0), (False, 2), (True, 4)])
def test_flip_and_crop_shape_dtype_and_determinism(images, flip, pad):
    out = flip_and_crop(images, torch.Generator().manual_seed(7), flip=flip, pad=pad)
    assert out.shape == images.shape and out.dtype == torch.uint8
    again = flip_and_crop(images, torch.Generator().manual_seed(7), flip=flip, pad=pad)
    assert torch.equal(out, again)


def test_flip_gives_original_or_mirror(images):
    out = flip_and_crop(images, torch.Generator().manual_seed(1), flip=True, pad=0)
    kinds = []
    for original, result in zip(images, out):
        assert torch.equal(result, original) or torch.equal(result, original.flip(2))
        kinds.append(torch.equal(result, original))
    assert len(set(kinds)) == 2  # with this seed both cases occur


def test_crop_is_a_window_of_the_padded_image(images):
    pad = 2
    out = flip_and_crop(images, torch.Generator().manual_seed(2), flip=False, pad=pad)
    padded = torch.nn.functional.pad(images, (pad,) * 4)
    offsets = []
    for i in range(len(images)):
        found = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                 if torch.equal(out[i], padded[i, :, dy:dy + 32, dx:dx + 32])]
        assert found, f"image {i} is not a crop"
        offsets.append(found[0])
    assert len(set(offsets)) > 1


def test_batches_cover_data_and_depend_only_on_seed_and_epoch():
    x = torch.arange(25, dtype=torch.uint8).view(25, 1, 1, 1).expand(25, 3, 32, 32).contiguous()
    y = torch.arange(25)
    plain = list(batches(x, y, 10))
    assert [len(b[1]) for b in plain] == [10, 10, 5]
    assert torch.equal(torch.cat([b[1] for b in plain]), y)
    shuffled = [b[1] for b in batches(x, y, 10, shuffle=True, seed=1, epoch=2)]
    assert sorted(torch.cat(shuffled).tolist()) == list(range(25))
    assert all(torch.equal(a, b) for a, b in zip(shuffled, [b[1] for b in batches(x, y, 10, shuffle=True,
                                                                                    seed=1, epoch=2)]))
    other_epoch = torch.cat([b[1] for b in batches(x, y, 10, shuffle=True, seed=1, epoch=3)])
    assert not torch.equal(torch.cat(shuffled), other_epoch)
    for xb, yb in batches(x, y, 10, shuffle=True, seed=1, epoch=2):
        assert torch.equal(xb[:, 0, 0, 0].long(), yb)  # images stay with their labels


def test_normalise_uses_training_statistics():
    images = torch.tensor(data_mod.MEAN).mul(255).view(1, 3, 1, 1).expand(2, 3, 32, 32).round().to(torch.uint8)
    out = normalise(images)
    assert out.dtype == torch.float32 and out.shape == images.shape
    assert out.abs().max() < 0.01
    assert normalise(images, channels_last=True).is_contiguous(memory_format=torch.channels_last)


def test_no_cache_is_written_into_a_folder_without_write_permission(tmp_path):
    """A shared read-only copy (like ../shared/cifar10) is left as it is, even when running as root."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    write_synthetic_npz(folder / "cifar10.npz", n_train=20, n_test=10)
    folder.chmod(0o555)
    try:
        data = load_cifar10(folder)
        assert len(data.y_train) == 20
        assert sorted(p.name for p in folder.iterdir()) == ["cifar10.npz"]
    finally:
        folder.chmod(0o755)


def test_cache_is_rebuilt_when_the_source_is_replaced(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write_synthetic_npz(folder / "cifar10.npz", n_train=20, n_test=10, seed=1)
    first = load_cifar10(folder)
    assert (folder / "cifar10_uint8.pt").is_file()
    write_synthetic_npz(folder / "cifar10.npz", n_train=30, n_test=10, seed=2)
    later = (folder / "cifar10_uint8.pt").stat().st_mtime + 10
    os.utime(folder / "cifar10.npz", (later, later))
    second = load_cifar10(folder)
    assert len(second.y_train) == 30 and second.sha256 != first.sha256


# --- the cache follows the files it was built from -----------------------------------------------

def set_mtime_ns(path: Path, mtime_ns: int) -> None:
    os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.mark.parametrize("change", ["older mtime, same size", "same mtime, other size"])
def test_cache_is_rebuilt_when_the_source_is_replaced_by_an_older_file(tmp_path, change):
    """cp -p, mv, rsync -a and tar x keep a file's old time: the cache must notice all the same."""
    path = small_npz(tmp_path, seed=1)
    first_mtime = path.stat().st_mtime_ns
    first = load_cifar10(tmp_path)
    cache = tmp_path / CACHE_NAME
    assert cache.is_file()
    n_train = 60 if change.endswith("same size") else 70
    small_npz(tmp_path / "b", n_train=n_train, seed=2)
    os.replace(tmp_path / "b" / "cifar10.npz", path)
    if change.startswith("older"):
        set_mtime_ns(path, cache.stat().st_mtime_ns - 3600 * 10**9)
    else:
        set_mtime_ns(path, first_mtime)
    second = load_cifar10(tmp_path)
    with np.load(path) as npz:
        assert np.array_equal(second.x_train.numpy(), npz["x_train"].transpose(0, 3, 1, 2))
    assert second.sha256 == data_mod.sha256_of(path) != first.sha256
    path.unlink()  # the cache now holds B
    third = load_cifar10(tmp_path)
    assert torch.equal(third.x_train, second.x_train) and third.sha256 == second.sha256


def test_cache_is_used_while_its_sources_are_unchanged(tmp_path, monkeypatch):
    small_npz(tmp_path)
    first = load_cifar10(tmp_path)
    monkeypatch.setattr(data_mod, "_load_npz", lambda path: pytest.fail("the cache was rebuilt"))
    assert load_cifar10(tmp_path).sha256 == first.sha256


def test_cache_copied_with_its_folder_names_the_new_source(tmp_path):
    small_npz(tmp_path / "a")
    load_cifar10(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # copy2 keeps the times, so the cache looks newer
    data = load_cifar10(tmp_path / "b")
    assert data.source == f"npz:{(tmp_path / 'b' / 'cifar10.npz').resolve()}"


def test_cache_without_fingerprint_is_rebuilt(tmp_path):
    small_npz(tmp_path / "old", seed=1)
    old = load_cifar10(tmp_path / "old")
    path = small_npz(tmp_path, seed=2)
    fields = {k: getattr(old, k) for k in ("x_train", "y_train", "x_test", "y_test", "source", "sha256")}
    torch.save(fields, tmp_path / CACHE_NAME)  # the format before built_from was stored
    data = load_cifar10(tmp_path)
    assert data.sha256 == data_mod.sha256_of(path) != old.sha256
    assert "built_from" in torch.load(tmp_path / CACHE_NAME, weights_only=True)


@pytest.mark.parametrize("event", ["appears", "disappears"])
def test_cache_is_rebuilt_when_a_source_appears_or_disappears(tmp_path, monkeypatch, event):
    npz = small_npz(tmp_path, seed=1)
    other = small_npz(tmp_path / "other", seed=2)
    monkeypatch.setattr(data_mod, "_load_torchvision", lambda root, download: data_mod._load_npz(other))
    if event == "disappears":
        (tmp_path / "cifar-10-batches-py").mkdir()
    assert load_cifar10(tmp_path).sha256 == data_mod.sha256_of(npz if event == "appears" else other)
    if event == "appears":
        (tmp_path / "cifar-10-batches-py").mkdir()
    else:
        (tmp_path / "cifar-10-batches-py").rmdir()
    assert load_cifar10(tmp_path).sha256 == data_mod.sha256_of(other if event == "appears" else npz)


def test_stale_temp_files_beside_the_cache_are_removed(tmp_path):
    small_npz(tmp_path)
    stale, fresh = tmp_path / f".{CACHE_NAME}.k1ll3d99.tmp", tmp_path / f".{CACHE_NAME}.wr1t1ng0.tmp"
    stale.write_bytes(b"half a cache")
    fresh.write_bytes(b"another process is writing this")
    set_mtime_ns(stale, stale.stat().st_mtime_ns - 2 * 86400 * 10**9)
    load_cifar10(tmp_path)
    assert not stale.exists() and fresh.exists() and (tmp_path / CACHE_NAME).is_file()



@pytest.mark.parametrize("cached", [True, False], ids=["cache there", "no cache yet"])
def test_the_temp_of_a_killed_cache_writer_is_gone_after_the_next_load(cached, tmp_path):
    """A cache write killed with kill -9 leaves up to ~185 MB: the next load removes it at once, not an hour later;
    a temp of a writer still at work stays."""
    small_npz(tmp_path)
    if cached:
        load_cifar10(tmp_path)
    writer = subprocess.Popen([sys.executable, "-c", "pass"])
    writer.wait()  # its pid now names no process
    killed = tmp_path / f".{CACHE_NAME}.{writer.pid}.k1ll3d99.tmp"
    working = tmp_path / f".{CACHE_NAME}.{os.getpid()}.wr1t1ng0.tmp"
    for temp in (killed, working):
        temp.write_bytes(b"half a cache")
    load_cifar10(tmp_path)
    assert not killed.exists() and working.exists() and (tmp_path / CACHE_NAME).is_file()


# --- messages and bad caches ---------------------------------------------------------------------

def test_data_dir_that_is_a_file_says_so(tmp_path):
    path = small_npz(tmp_path)
    with pytest.raises(DataError) as info:
        load_cifar10(path)
    message = str(info.value)
    assert str(path.resolve()) in message and "is a file" in message
    assert f"the folder that holds it ({tmp_path.resolve()})" in message


def test_bad_cache_message_is_short(tmp_path):
    torch.save({"x_train": Malicious(tmp_path / "ran")}, tmp_path / CACHE_NAME)
    with pytest.raises(DataError) as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    assert str(tmp_path / CACHE_NAME) in message and "UnpicklingError" in message
    assert len(message) < 250 + len(str(tmp_path)) and "\n" not in message and "weights_only" not in message


@pytest.mark.parametrize("cache_bytes", [b"not a torch file", "wrong arrays"])
def test_bad_cache_beside_a_good_npz_is_rebuilt(tmp_path, cache_bytes):
    path = small_npz(tmp_path)
    cache = tmp_path / CACHE_NAME
    if cache_bytes == "wrong arrays":
        torch.save({"x_train": torch.zeros(2, 3, 8, 8), "y_train": torch.zeros(2), "x_test": torch.zeros(1),
                    "y_test": torch.zeros(1), "source": "x", "sha256": "y"}, cache)
    else:
        cache.write_bytes(cache_bytes)
    data = load_cifar10(tmp_path)
    assert data.sha256 == data_mod.sha256_of(path) and len(data.y_train) == 60
    path.unlink()
    assert load_cifar10(tmp_path).sha256 == data.sha256  # the cache was rebuilt over the bad one


def test_bad_cache_beside_a_torchvision_folder_is_rebuilt(tmp_path, monkeypatch):
    path = small_npz(tmp_path / "npz")
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / CACHE_NAME).write_bytes(b"not a torch file")
    monkeypatch.setattr(data_mod, "_load_torchvision", lambda root, download: data_mod._load_npz(path))
    assert load_cifar10(tmp_path).sha256 == data_mod.sha256_of(path)


# --- validation split ----------------------------------------------------------------------------

def test_validation_split_holds_out_a_fixed_balanced_part_of_the_training_set(synthetic_dir):
    data = load_cifar10(synthetic_dir)
    split = data.validation_split(100)
    valid = stratified_indices(data.y_train, 100, seed=VALID_SEED)
    rest = torch.tensor(sorted(set(range(500)) - set(valid.tolist())))
    assert torch.equal(split.x_test, data.x_train[valid]) and torch.equal(split.y_test, data.y_train[valid])
    assert torch.equal(split.x_train, data.x_train[rest]) and torch.equal(split.y_train, data.y_train[rest])
    assert len(split.y_train) == 400 and len(split.y_test) == 100
    assert torch.bincount(split.y_test).tolist() == [10] * 10
    assert torch.bincount(split.y_train).tolist() == [40] * 10
    assert (split.split, data.split) == ("validation", "test")
    assert (split.source, split.sha256) == (data.source, data.sha256)
    again = data.validation_split(100)
    assert torch.equal(again.x_test, split.x_test) and torch.equal(again.x_train, split.x_train)


def test_validation_split_is_the_same_whatever_subset_follows(synthetic_dir):
    data = load_cifar10(synthetic_dir)
    held_out = {tuple(x.flatten()[:64].tolist()) for x in data.validation_split(100).x_test}
    for seed in (0, 1, 2):
        sub = data.validation_split(100).subset(80, None, seed=seed)
        assert sub.split == "validation"
        assert {tuple(x.flatten()[:64].tolist()) for x in sub.x_test} == held_out
        assert not held_out & {tuple(x.flatten()[:64].tolist()) for x in sub.x_train}


def test_training_probe_is_the_same_images_whichever_split_the_run_trains_on(synthetic_dir):
    data = load_cifar10(synthetic_dir)  # 500 training images: a probe of 50, a validation split of 50
    x_probe, y_probe = data.training_probe()
    assert len(y_probe) == 50 and torch.bincount(y_probe).tolist() == [5] * 10
    x_again, y_again = data.validation_split().training_probe()
    assert torch.equal(x_again, x_probe) and torch.equal(y_again, y_probe)
    held_out = {tuple(x.flatten()[:64].tolist()) for x in data.validation_split().x_test}
    assert not held_out & {tuple(x.flatten()[:64].tolist()) for x in x_probe}
    assert PROBE_SIZE == 5000 and PROBE_SEED != VALID_SEED


@pytest.mark.parametrize("n", [0, -3, 500])
def test_validation_split_size_out_of_range(synthetic_dir, n):
    with pytest.raises(ValueError, match=f"validation size {n} is outside 1..499"):
        load_cifar10(synthetic_dir).validation_split(n)


def test_cache_round_trips_without_the_split_field(tmp_path):
    small_npz(tmp_path)
    load_cifar10(tmp_path)
    blob = torch.load(tmp_path / CACHE_NAME, weights_only=True)
    assert "split" not in blob
    assert load_cifar10(tmp_path).split == "test"
