"""CIFAR-10 as whole uint8 tensors, and batches made from them.

The dataset is held as four tensors (images N x 3 x 32 x 32 uint8, labels N int64) and never goes
through PIL or a DataLoader: normalisation and augmentation run on whole batches (the approach of
KellerJordan/cifar10-airbench).

Where the data comes from, in order, inside ``data_dir``:

1. ``cifar10_uint8.pt``: a tensor cache this module writes after the first load (loaded with
   ``torch.load(weights_only=True)``, which cannot run code). It records the path, size and mtime of
   each source file it was built from, and is rebuilt when these differ from the files there now (a
   file replaced by an older one with ``cp -p`` or ``tar x`` too); an unreadable cache is rebuilt
   over when a source is there, and used alone only when none is;
2. the torchvision layout ``cifar-10-batches-py/`` (downloaded by ``torchvision.datasets.CIFAR10``
   when ``download=True``); every file's md5 must equal the official one before it is unpickled;
3. ``cifar10.npz``: an array copy (x_train, y_train, x_test, y_test as in ``../shared/cifar10``),
   loaded with ``allow_pickle=False``.

``data_dir`` is the argument, else the ``CIFAR10_ROOT`` environment variable, else
``~/.cache/cifar-report/cifar10``.

``Cifar10.validation_split`` holds out a fixed, class-stratified part of the training set
(``VALID_SIZE`` images chosen with ``VALID_SEED``) and puts it where the test set was, so code that
evaluates on ``x_test``/``y_test`` evaluates on validation; ``split`` records which one it is.
"""
from __future__ import annotations

import hashlib
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .files import OutputError, atomic_write_with, remove_stale_temps

CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")
TRAIN_SIZE, TEST_SIZE = 50_000, 10_000
# The validation set: VALID_SIZE training images, stratified by class with this fixed seed, so that
# every run (whatever its own seed or subset) holds out the same images.
VALID_SIZE, VALID_SEED = 5_000, 20261128
# The training probe: PROBE_SIZE training images outside the validation set, stratified by class with
# PROBE_SEED, on which every run measures its network in evaluation mode (no dropout, no augmentation)
# after each epoch: the same images for every run, whether it trains on all 50,000 or on the 45,000
# that tuning leaves.
PROBE_SIZE, PROBE_SEED = 5_000, 20261202
CACHE_NAME = "cifar10_uint8.pt"
NPZ_NAME = "cifar10.npz"
TORCHVISION_FOLDER = "cifar-10-batches-py"
ENV_VAR = "CIFAR10_ROOT"
# sha256 of ../shared/cifar10/cifar10.npz, the rebuilt copy with JPEG-degraded pixels (see its README)
SHARED_COPY_SHA256 = "52f7749ca600734f28bbdad1673425fedd5a7d6efa2ce1f46554456138460fa2"
# Per-channel mean and standard deviation of the training images, in [0, 1] units.
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


class DataError(RuntimeError):
    """The dataset is missing, unreadable or not CIFAR-10 shaped."""


@dataclass
class Cifar10:
    """The two splits as uint8 image tensors (N, 3, 32, 32) and int64 label tensors (N,)."""
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: str   # which layout the arrays came from, e.g. "npz:/path/cifar10.npz"
    sha256: str   # sha256 of the source file (of the concatenated batch files for torchvision)
    split: str = "test"  # what x_test/y_test hold: "test", or "validation" after validation_split

    def subset(self, train_subset: int | None, test_subset: int | None, seed: int = 0) -> "Cifar10":
        """Return a copy restricted to deterministic class-stratified subsets (None = all)."""
        tr = stratified_indices(self.y_train, train_subset, seed) if train_subset else None
        te = stratified_indices(self.y_test, test_subset, seed) if test_subset else None
        return Cifar10(
            self.x_train if tr is None else self.x_train[tr], self.y_train if tr is None else self.y_train[tr],
            self.x_test if te is None else self.x_test[te], self.y_test if te is None else self.y_test[te],
            self.source, self.sha256, self.split)

    def validation_split(self, n_valid: int | None = None) -> "Cifar10":
        """Return a copy whose test tensors are ``n_valid`` training images (class-stratified, chosen
        with ``VALID_SEED``) and whose training tensors are the other training images; both keep the
        original order. By default a tenth of the training images: VALID_SIZE of CIFAR-10's 50,000."""
        total = len(self.y_train)
        n_valid = max(1, total * VALID_SIZE // TRAIN_SIZE) if n_valid is None else n_valid
        if not 1 <= n_valid <= total - 1:
            raise ValueError(f"validation size {n_valid} is outside 1..{total - 1}; pick a size that leaves "
                             f"training images, e.g. {VALID_SIZE} of the full training set.")
        valid = stratified_indices(self.y_train, n_valid, seed=VALID_SEED)
        rest = torch.ones(total, dtype=torch.bool)
        rest[valid] = False
        return Cifar10(self.x_train[rest], self.y_train[rest], self.x_train[valid], self.y_train[valid],
                       self.source, self.sha256, "validation")

    def training_probe(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, labels) of the training probe: a tenth of the training set as it was before any
        validation split (PROBE_SIZE of CIFAR-10's 50,000), class-stratified with PROBE_SEED from the
        training images outside the default validation split, in their original order."""
        total = len(self.y_train) + (len(self.y_test) if self.split == "validation" else 0)
        pool = torch.arange(len(self.y_train))
        if self.split != "validation":  # leave out the images that validation_split() would hold out
            held_out = stratified_indices(self.y_train, max(1, total * VALID_SIZE // TRAIN_SIZE), seed=VALID_SEED)
            keep = torch.ones(len(self.y_train), dtype=torch.bool)
            keep[held_out] = False
            pool = pool[keep]
        n = min(len(pool), max(1, total * PROBE_SIZE // TRAIN_SIZE))
        pick = pool[stratified_indices(self.y_train[pool], n, seed=PROBE_SEED)]
        return self.x_train[pick], self.y_train[pick]


def default_data_dir() -> Path:
    """The folder used when no data_dir is given: $CIFAR10_ROOT, else the user cache folder."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "cifar-report" / "cifar10"


def sha256_of(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def stratified_indices(labels: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``n`` examples with (as nearly as possible) equal counts per class.

    The choice depends only on ``labels``, ``n`` and ``seed``; the returned indices are sorted, so
    a subset keeps the original order (the test set's first images stay first).
    """
    total = len(labels)
    if not 1 <= n <= total:
        raise ValueError(f"subset size {n} is outside 1..{total}; pick a size in that range or 0 for all data.")
    classes = torch.unique(labels)
    generator = torch.Generator().manual_seed(seed)
    base, extra = divmod(n, len(classes))
    chosen = []
    for rank, cls in enumerate(classes.tolist()):
        members = torch.nonzero(labels == cls).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        chosen.append(members[: base + (1 if rank < extra else 0)])
    return torch.sort(torch.cat(chosen)).values


def _check_arrays(x: np.ndarray, y: np.ndarray, name: str, where: Path) -> None:
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3):
        raise DataError(f"{where}: {name} images have dtype {x.dtype} and shape {x.shape}, expected uint8 "
                        f"(N, 32, 32, 3); rebuild the file in the format of the shared copy's README.")
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{where}: {name} labels have dtype {y.dtype} and shape {y.shape}, expected "
                        f"{len(x)} integers; rebuild the file in the format of the shared copy's README.")
    if not len(x):
        raise DataError(f"{where}: the {name} split holds no images; rebuild the file in the format of the shared "
                        f"copy's README.")
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"{where}: {name} labels range over {y.min()}..{y.max()}, expected 0..9; "
                        f"rebuild the file in the format of the shared copy's README.")


def _from_arrays(x_train, y_train, x_test, y_test, source: str, sha: str, where: Path) -> Cifar10:
    _check_arrays(x_train, y_train, "training", where)
    _check_arrays(x_test, y_test, "test", where)

    def images(x):  # HWC -> CHW, contiguous uint8
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

    def labels(y):
        return torch.from_numpy(y.astype(np.int64))

    return Cifar10(images(x_train), labels(y_train), images(x_test), labels(y_test), source, sha)


def _load_npz(path: Path) -> Cifar10:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(archive.files)
            if missing:
                raise DataError(f"{path} lacks the arrays {sorted(missing)}; rebuild it with x_train, y_train, "
                                f"x_test and y_test as described in the shared copy's README.")
            arrays = [archive[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    except DataError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled arrays), OSError (truncated)
        raise DataError(f"{path} cannot be read as a NumPy archive ({type(exc).__name__}: {exc}); "
                        f"replace it with an intact copy.") from exc
    return _from_arrays(*arrays, source=f"npz:{path}", sha=sha256_of(path), where=path)


def _load_torchvision(root: Path, download: bool) -> Cifar10:
    """Load through torchvision, which checks every file's md5 before unpickling it."""
    from torchvision.datasets import CIFAR10

    try:
        train = CIFAR10(str(root), train=True, download=download)
        test = CIFAR10(str(root), train=False, download=False)
    except RuntimeError as exc:  # "Dataset not found or corrupted." (md5 mismatch or missing files)
        raise DataError(f"{root / TORCHVISION_FOLDER} is missing files or their md5 does not match the official "
                        f"CIFAR-10 release, so they were not unpickled; delete the folder and download again.") from exc
    except OSError as exc:  # no network
        raise DataError(f"downloading CIFAR-10 into {root} failed ({exc}); connect to the internet, or pass a folder "
                        f"with {NPZ_NAME} or {TORCHVISION_FOLDER}/ as -p data_dir FOLDER (or set {ENV_VAR}).") from exc
    folder = root / TORCHVISION_FOLDER
    files = [folder / name for name, _ in CIFAR10.train_list + CIFAR10.test_list]
    return _from_arrays(train.data, np.asarray(train.targets), test.data, np.asarray(test.targets),
                        source=f"torchvision:{folder}", sha=sha256_of(*files), where=folder)


CACHE_FIELDS = ("x_train", "y_train", "x_test", "y_test", "source", "sha256")  # not split: always "test"


def _fingerprint(root: Path) -> list[list]:
    """[path, size, mtime_ns] of each source in ``root`` (the torchvision folder and each file in it):
    what a cache built now is built from."""
    files = [root / NPZ_NAME] if (root / NPZ_NAME).is_file() else []
    if (root / TORCHVISION_FOLDER).is_dir():
        files += [root / TORCHVISION_FOLDER, *sorted(p for p in (root / TORCHVISION_FOLDER).iterdir() if p.is_file())]
    return [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def _read_cache(path: Path) -> tuple[Cifar10, list | None]:
    """The cached data and the fingerprint it was built from (None in a cache written before it was kept)."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        data = Cifar10(**{name: blob[name] for name in CACHE_FIELDS})
        for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
            if x.dtype != torch.uint8 or x.shape[1:] != (3, 32, 32) or y.shape != (len(x),) or \
                    (len(y) and not 0 <= int(y.min()) <= int(y.max()) <= 9):
                raise ValueError("arrays of the wrong shape, dtype or label range")
        if not isinstance(data.source, str) or not isinstance(data.sha256, str):
            raise TypeError("source or sha256 is not a string")
    except Exception as exc:
        raise DataError(f"the tensor cache {path} is unreadable ({type(exc).__name__}) and there is no {NPZ_NAME} "
                        f"or {TORCHVISION_FOLDER}/ beside it to rebuild it from; delete it and put one there, "
                        f"or allow download=True.") from exc
    return data, blob.get("built_from")


def _load_cache(path: Path, built_from: list, download: bool) -> Cifar10 | None:
    """The cached data, or None when it is to be rebuilt: it was built from other files than those in
    ``built_from``, or it is unreadable and there is a source (or a download) to rebuild it from."""
    try:
        data, cached_from = _read_cache(path)
    except DataError:
        if built_from or download:
            return None
        raise
    if built_from and cached_from != built_from:
        return None
    return data


def _write_cache(data: Cifar10, path: Path, built_from: list) -> None:
    """Best effort: a read-only data folder (like ../shared/cifar10) simply gets no cache.

    Read-only is judged by the folder's permission bits too, since root may write anywhere."""
    if not path.parent.stat().st_mode & stat.S_IWUSR:
        return
    blob = {name: getattr(data, name) for name in CACHE_FIELDS} | {"built_from": built_from}
    try:
        atomic_write_with(path, lambda tmp: torch.save(blob, tmp))
    except OutputError as exc:  # a full disk: said, and the data loads without a cache
        warnings.warn(f"{str(exc).rstrip('.')}; CIFAR-10 loads without its cache this time.", stacklevel=3)


def _load_source(root: Path, download: bool) -> Cifar10:
    if (root / TORCHVISION_FOLDER).is_dir():
        return _load_torchvision(root, download)
    if (root / NPZ_NAME).is_file():
        return _load_npz(root / NPZ_NAME)
    if download:
        return _load_torchvision(root, download)
    raise _no_data(root)


def _no_data(root: Path) -> DataError:
    return DataError(
        f"no CIFAR-10 data in {root}: expected {CACHE_NAME}, {TORCHVISION_FOLDER}/ (torchvision layout) or "
        f"{NPZ_NAME}; pass data_dir (-p data_dir FOLDER), set {ENV_VAR}, or allow download=True on a machine "
        f"with internet.")


def check_available(data_dir: str | os.PathLike | None = None, download: bool = False) -> None:
    """Raise the DataError that ``load_cifar10`` would for a folder holding none of its layouts, without
    loading anything (what a notebook checks in its first cell, before any work, when it will train)."""
    root = (Path(data_dir).expanduser() if data_dir else default_data_dir()).resolve()
    if not download and not any((root / name).exists() for name in (CACHE_NAME, TORCHVISION_FOLDER, NPZ_NAME)):
        raise _no_data(root)


def load_cifar10(data_dir: str | os.PathLike | None = None, download: bool = False) -> Cifar10:
    """Load CIFAR-10 from ``data_dir`` (see the module docstring for the accepted layouts)."""
    root = (Path(data_dir).expanduser() if data_dir else default_data_dir()).resolve()
    if root.is_file():
        raise DataError(f"{root} is a file, not a folder; pass the folder that holds it ({root.parent}) "
                        f"as data_dir or {ENV_VAR}.")
    cache = root / CACHE_NAME
    built_from = _fingerprint(root)  # taken before reading, so a file replaced meanwhile is seen next time
    if cache.is_file():
        remove_stale_temps(root, CACHE_NAME)  # a cache write killed before (the next write would remove it)
        data = _load_cache(cache, built_from, download)
        if data is not None:
            return data
    data = _load_source(root, download)
    if _fingerprint(root) == built_from:  # not when files changed while being read (or were downloaded)
        _write_cache(data, cache, built_from)
    return data


# ---------------------------------------------------------------------------------------------
# Batches: normalisation and augmentation on whole tensors.

def normalise(images: torch.Tensor, dtype: torch.dtype = torch.float32,
              channels_last: bool = False) -> torch.Tensor:
    """uint8 (N, 3, 32, 32) -> float, standardised per channel with the training-set statistics."""
    mean = torch.tensor(MEAN, device=images.device, dtype=dtype).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=images.device, dtype=dtype).view(1, 3, 1, 1) * 255
    out = (images.to(dtype) - mean) / std
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


def flip_and_crop(images: torch.Tensor, generator: torch.Generator, flip: bool, pad: int) -> torch.Tensor:
    """Random horizontal flips and/or random crops (zero padding of ``pad`` pixels) of a uint8 batch."""
    n, dev = len(images), images.device
    if flip:
        flipped = (torch.rand(n, generator=generator) < 0.5).to(dev)
        images = torch.where(flipped.view(-1, 1, 1, 1), images.flip(3), images)
    if pad == 0:
        return images
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
    # Gather each image's 32x32 window with one advanced-indexing call (no Python loop per image).
    window = torch.arange(32, device=dev)
    rows = (dy.view(n, 1) + window).view(n, 1, 32, 1)
    cols = (dx.view(n, 1) + window).view(n, 1, 1, 32)
    return padded[torch.arange(n, device=dev).view(n, 1, 1, 1), torch.arange(3, device=dev).view(1, 3, 1, 1),
                  rows, cols]


def batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int, *, shuffle: bool = False,
            seed: int = 0, epoch: int = 0, flip: bool = False, crop_pad: int = 0):
    """Yield (uint8 images, labels) batches. Shuffling and augmentation depend only on seed and epoch,
    so a resumed run sees the same batches as an uninterrupted one."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(len(images), generator=generator) if shuffle else torch.arange(len(images))
    for start in range(0, len(images), batch_size):
        idx = order[start:start + batch_size]
        x = images[idx]
        if flip or crop_pad:
            x = flip_and_crop(x, generator, flip, crop_pad)
        yield x, labels[idx]
