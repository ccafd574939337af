"""Shared fixtures: a small synthetic CIFAR-shaped dataset (the tests never need the real one)."""
from __future__ import annotations

import numpy as np
import pytest

from cifar_utils.data import CLASSES


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


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifar")
    write_synthetic_npz(folder / "cifar10.npz")
    return folder
