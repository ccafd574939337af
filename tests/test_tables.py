"""tables: what the notebooks and the README print about stored results, every number from the result."""
from __future__ import annotations

import pytest

from cifar_utils import tables
from cifar_utils.data import SHARED_COPY_SHA256
from cifar_utils.recipes import original_report
from cifar_utils.results import accuracy, data_label
from helpers import assert_displayable, confusion_with_diagonal, fake_result, make_config, squeezed

SGD_DIAGONAL = [762, 853, 619, 449, 697, 628, 801, 813, 792, 785]  # the original report's AlexNet + SGD


@pytest.fixture
def sgd():
    """A result with the original report's AlexNet + SGD per-class counts (rows of 1000)."""
    config = make_config(model="alexnet", dropout=0.0, epochs=2)
    return fake_result("alexnet_sgd", config, confusion_with_diagonal(SGD_DIAGONAL))


def test_profiles_table(sgd):
    stored = {"report": sgd, "faithful": None}
    table = tables.profiles_table("alexnet_sgd", stored)
    assert list(table.columns) == ["original report", "report profile", "faithful profile"]
    assert table.loc["test accuracy (%)", "original report"] == "71.99"
    assert (table.loc["epochs", "original report"], table.loc["batch size", "original report"]) == \
        ("300 (assumed)", "10 (assumed)")
    assert table.loc["trained on", "original report"] == original_report()["data"]
    assert table.loc["test accuracy (%)", "report profile"] == f"{accuracy(sgd):.2f}"
    assert (table.loc["epochs", "report profile"], table.loc["batch size", "report profile"]) == (2, 50)
    assert table.loc["training time", "report profile"] == "0.1 min on cpu (fp32)"
    assert table.loc["trained on", "report profile"] == f"npz fake (sha256 {'0' * 12})"
    assert table.loc["test accuracy (%)", "faithful profile"] == "not run"
    assert table.loc["epochs", "faithful profile"] == ""
    sgd["environment"]["data_sha256"] = SHARED_COPY_SHA256
    assert tables.profiles_table("alexnet_sgd", stored).loc["trained on", "report profile"] == \
        "shared copy, JPEG-degraded"
    # pandas cuts a cell longer than its default display.max_colwidth with "...": every cell fits whole
    assert max(len(str(v)) for v in table.to_numpy().ravel()) <= 50
    assert_displayable(table)


def test_data_label_names_no_path_of_the_machine_that_trained():
    env = {"data_source": "npz:/home/someone/data/cifar10.npz", "data_sha256": "ab" * 32}
    assert data_label(env) == f"npz cifar10.npz (sha256 {'ab' * 6})"
    assert data_label({**env, "data_sha256": SHARED_COPY_SHA256}) == "shared copy, JPEG-degraded"


def test_results_markdown(sgd):
    text = tables.results_markdown({"baseline": None, "alexnet_sgd": sgd})
    assert squeezed(text) == [
        "| notebook | original report | this repo | epochs | batch | training time | machine |",
        "|:---|---:|---:|---:|---:|---:|:---|",
        "| 01_baseline | 67.00% | not run | | | | |",
        "| 02_alexnet_sgd | 71.99% | 71.99% (7199/10000) | 2 | 50 | 3 s | test CPU, 1 threads, cpu, fp32 |"]
