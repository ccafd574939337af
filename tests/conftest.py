"""Shared fixtures: a small synthetic CIFAR-shaped dataset (the tests never need the real one); the slow tier."""
from __future__ import annotations

import pytest

from helpers import write_synthetic_npz


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cifar")
    write_synthetic_npz(folder / "cifar10.npz")
    return folder


def pytest_collection_modifyitems(items):
    """nbval's cells of the committed notebooks are slow (each notebook runs in a kernel): marked so that
    ``-m "not slow"`` (`make test-fast`) leaves them out although addopts turns nbval on."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
