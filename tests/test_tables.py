"""tables: what the notebooks and the README print about stored results, every number from the result."""
from __future__ import annotations

import numpy as np
import pytest

from cifar_utils import tables
from cifar_utils.data import CLASSES, SHARED_COPY_SHA256
from cifar_utils.recipes import original, original_report
from cifar_utils.results import accuracy, data_label
from helpers import assert_displayable, confusion_with_diagonal, fake_result, make_config

SGD_DIAGONAL = [762, 853, 619, 449, 697, 628, 801, 813, 792, 785]  # the original report's AlexNet + SGD


@pytest.fixture
def sgd():
    """A result with the original report's AlexNet + SGD per-class counts (rows of 1000)."""
    config = make_config(model="alexnet", dropout=0.0, epochs=2)
    return fake_result("alexnet_sgd", config, confusion_with_diagonal(SGD_DIAGONAL))


@pytest.fixture
def adam():
    """A result with the original report's AlexNet + Adam + Dropout counts, its losses closer together."""
    config = make_config(model="alexnet", dropout=0.5, optimizer="adam", lr=0.001, epochs=2)
    counts = original("alexnet_adam_dropout")["correct"]
    result = fake_result("alexnet_adam_dropout", config, confusion_with_diagonal([counts[c] for c in CLASSES]))
    result["history"][-1]["test_loss"] = result["history"][-1]["train_loss"] + 0.05
    return result


def test_per_class_table_values(sgd):
    table = tables.per_class_table(sgd)
    assert list(table.index) == list(CLASSES) + ["Overall"]
    assert list(table.columns) == ["correct", "total", "accuracy (%)"]
    assert table["correct"].tolist() == SGD_DIAGONAL + [7199]
    assert table["total"].tolist() == [1000] * 10 + ["10,000"]  # thousands commas above 9,999
    assert table.loc["cat", "accuracy (%)"] == "44.90"  # two decimals in every row
    assert table.loc["Overall", "accuracy (%)"] == "71.99"
    assert_displayable(table)


def test_per_class_table_rounds_and_says_when_a_class_has_no_test_images():
    table = tables.per_class_table({"confusion": [[2, 1], [0, 0]], "classes": ["a", "b"]})
    assert table.loc["a", "accuracy (%)"] == "66.67"
    assert table.loc["b", "accuracy (%)"] == "no test images"
    assert table.loc["Overall", "accuracy (%)"] == "66.67"
    counts = tables.class_counts({"confusion": [[2, 1], [0, 0]], "classes": ["a", "b"]})
    assert counts.loc["a", "accuracy (%)"] == pytest.approx(200 / 3) and np.isnan(counts.loc["b", "accuracy (%)"])


def test_original_format_exact(sgd):
    expected = "\n".join([
        "Test Accuracy of airplane: 76% (762/1000)",
        "Test Accuracy of automobile: 85% (853/1000)",
        "Test Accuracy of bird: 61% (619/1000)",
        "Test Accuracy of cat: 44% (449/1000)",
        "Test Accuracy of deer: 69% (697/1000)",
        "Test Accuracy of dog: 62% (628/1000)",
        "Test Accuracy of frog: 80% (801/1000)",
        "Test Accuracy of horse: 81% (813/1000)",
        "Test Accuracy of ship: 79% (792/1000)",
        "Test Accuracy of truck: 78% (785/1000)",
        "",
        "Test Accuracy (Overall): 71% (7199/10000)",
    ])
    assert tables.original_format(sgd) == expected
    assert tables.original_format({**sgd, "confusion": np.asarray(sgd["confusion"])}) == expected


def test_original_format_rounds_down_and_handles_empty_class():
    confusion = np.zeros((3, 3), dtype=int)
    confusion[0] = [2, 1, 0]   # 66.7% -> 66%
    confusion[1] = [0, 999, 1]  # 99.9% -> 99%
    text = tables.original_format({"confusion": confusion.tolist(), "classes": ["a", "b", "c"]})
    assert text.splitlines() == ["Test Accuracy of a: 66% (2/3)", "Test Accuracy of b: 99% (999/1000)",
                                 "Test Accuracy of c: 0% (0/0)", "", "Test Accuracy (Overall): 99% (1001/1003)"]


def test_history_table(sgd):
    sgd["history"][0]["train_loss"] = 1.234567
    table = tables.history_table(sgd)
    assert table.index.tolist() == [1, 2] and table.index.name == "epoch"
    assert list(table.columns) == ["train loss", "train accuracy (%)", "test loss", "test accuracy (%)",
                                   "learning rate (end of epoch)", "seconds"]
    assert table.loc[1, "train loss"] == "1.235"  # losses with three decimals
    assert table.loc[2, "test accuracy (%)"] == f"{100 * sgd['history'][1]['test_accuracy']:.2f}" == "31.00"
    assert table.loc[1, "learning rate (end of epoch)"] == "0.050000" and table.loc[1, "seconds"] == "1.5"
    assert_displayable(table)


def test_loss_minimum_names_the_epoch_of_the_lowest_test_loss(sgd):
    for h, loss, acc in zip(sgd["history"], (0.9, 1.1), (0.60, 0.62)):
        h["test_loss"], h["test_accuracy"], h["train_accuracy"] = loss, acc, acc + 0.1
    text = tables.loss_minimum(sgd)
    assert "Lowest test loss: **0.900 at epoch 1** of 2 (test accuracy 60.00% there" in text
    assert "test loss **1.100** (+0.200), test accuracy **62.00%** (+2.00 points), training accuracy **72.00%**" in text


def test_result_vs_original(sgd, adam):
    table = tables.result_vs_original(sgd)
    assert list(table.columns) == ["original report", "this run"]
    assert tuple(table.loc["test accuracy (%)"]) == ("71.99", f"{accuracy(sgd):.2f}") == ("71.99", "71.99")
    # the original report states batch size and epochs for its baseline only: ours are marked as assumed
    assert tuple(table.loc["epochs"]) == ("300 (assumed)", 2) and tuple(table.loc["batch size"]) == ("10 (assumed)", 50)
    baseline = dict(sgd, experiment="baseline")
    assert tables.result_vs_original(baseline).loc["epochs", "original report"] == 300
    assert tuple(table.loc["optimizer"]) == ("sgd", "sgd")
    assert tuple(table.loc["learning rate"]) == ("0.0001", "0.05 peak, constant")
    assert tuple(table.loc["dropout"]) == ("0", "0")
    assert tuple(table.loc["training time"]) == ("not reported", "0.1 min on cpu (fp32)")
    assert tuple(table.loc["test images"]) == ("10,000", "10,000")
    assert_displayable(table)
    assert tables.result_vs_original(adam).loc["learning rate", "original report"] == "not given"  # Adam's lr: null


def test_observations(sgd):
    text = tables.observations(sgd)
    lines = text.splitlines()
    assert lines[0] == "- Overall test accuracy: **71.99%** (original report: 71.99%)."
    assert lines[1] == ("- Best classes: automobile (85.3%), horse (81.3%), frog (80.1%); "
                        "hardest: cat (44.9%), bird (61.9%), dog (62.8%).")
    confusion = np.asarray(sgd["confusion"])
    off = np.where(np.eye(10, dtype=bool), -1, confusion)
    i, j = np.unravel_index(off.argmax(), off.shape)  # the first largest, row by row
    assert lines[2] == (f"- Most frequent confusion: {off.max()} test images of *{CLASSES[i]}* predicted as "
                        f"*{CLASSES[j]}*.")
    # fake_result's first ten: image 4 wrong, confidence falling from 90% to 45% (image 10, a truck)
    assert lines[3] == ("- First 10 test images: 9/10 correct; the least confident prediction is image 10, "
                        "*truck* at 45.0% (true class *truck*).")


def test_comparison(sgd, adam):
    table = tables.comparison(sgd, adam)
    difference = "AlexNet + Adam + Dropout 0.5 minus AlexNet + SGD (points)"
    assert list(table.columns) == ["AlexNet + SGD (%)", "AlexNet + Adam + Dropout 0.5 (%)", difference]
    assert table.loc["cat", "AlexNet + SGD (%)"] == "44.90" and table.loc["Overall", "AlexNet + SGD (%)"] == "71.99"
    assert table.loc["Overall", difference] == f"{74.30 - 71.99:+.2f}" == "+2.31"
    assert table.loc["cat", difference] == "+3.80"
    assert table.loc["horse", difference] == "-8.20"
    assert_displayable(table)


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
    assert text.splitlines() == [
        "| notebook | original report | this repo | epochs | batch | training time | machine |",
        "|---|---:|---:|---:|---:|---:|---|",
        "| 01_baseline | 67.00% | not run | | | | |",
        "| 02_alexnet_sgd | 71.99% | 71.99% (7199/10000) | 2 | 50 | 3 s | test CPU, 1 threads, cpu, fp32 |"]
