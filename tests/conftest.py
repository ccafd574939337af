"""Shared fixtures: a small synthetic CIFAR-shaped dataset (the tests never need the real one)."""
from __future__ import annotations

import pytest

from helpers import write_synthetic_npz


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifar")
    write_synthetic_npz(folder / "cifar10.npz")
    return folder
