"""Shared fixtures: a small synthetic CIFAR-shaped dataset (the tests never need the real one); the slow tier."""
from __future__ import annotations

import pytest

from helpers import write_synthetic_npz


@pytest.fixture(autouse=True)
def readme_copy(tmp_path_factory, monkeypatch):
    """A publishing run rewrites README.md's blocks of results (``report.write_readme``): in a test, a copy's."""
    from cifar_utils import report
    copy = tmp_path_factory.mktemp("readme") / "README.md"
    copy.write_bytes(report.README_FILE.read_bytes())
    monkeypatch.setattr(report, "README_FILE", copy)
    return copy


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
