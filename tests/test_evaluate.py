"""Tables and predictions: the seed's per-class lines, confusion matrix, first ten images."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cifar_utils.data import CLASSES
from cifar_utils.evaluate import (confusion_matrix, decode_images, first_images, per_class_table, predict,
                                  seed_format_table)

DIAGONAL = [762, 853, 619, 449, 697, 628, 801, 813, 792, 785]


@pytest.fixture
def seed_confusion():
    """A 10 x 10 confusion matrix with the seed report's AlexNet + SGD diagonal, rows of 1000."""
    confusion = np.zeros((10, 10), dtype=np.int64)
    for i, correct in enumerate(DIAGONAL):
        confusion[i, i] = correct
        wrong = 1000 - correct
        others = [j for j in range(10) if j != i]
        share, extra = divmod(wrong, 9)
        for rank, j in enumerate(others):
            confusion[i, j] = share + (1 if rank < extra else 0)
    assert (confusion.sum(axis=1) == 1000).all()
    return confusion


def test_seed_format_table_exact(seed_confusion):
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
    assert seed_format_table(seed_confusion) == expected
    assert seed_format_table(seed_confusion.tolist()) == expected


def test_seed_format_table_rounds_down_and_handles_empty_class():
    confusion = np.zeros((3, 3), dtype=int)
    confusion[0] = [2, 1, 0]   # 66.7% -> 66%
    confusion[1] = [0, 999, 1]  # 99.9% -> 99%
    text = seed_format_table(confusion, classes=("a", "b", "c"))
    assert text.splitlines() == ["Test Accuracy of a: 66% (2/3)", "Test Accuracy of b: 99% (999/1000)",
                                 "Test Accuracy of c: 0% (0/0)", "", "Test Accuracy (Overall): 99% (1001/1003)"]


def test_confusion_matrix_counts():
    y_true = [0, 0, 1, 2, 2, 2, 9]
    y_pred = [0, 1, 1, 2, 0, 2, 3]
    counts = confusion_matrix(y_true, y_pred)
    assert counts.shape == (10, 10)
    expected = np.zeros((10, 10), dtype=int)
    for t, p in zip(y_true, y_pred):
        expected[t, p] += 1
    assert np.array_equal(counts, expected)
    assert counts.sum() == 7 and counts[2, 2] == 2 and counts[9, 3] == 1
    assert np.array_equal(confusion_matrix(torch.tensor(y_true), torch.tensor(y_pred)), expected)
    assert np.array_equal(confusion_matrix([0, 1], [1, 1], n_classes=2), [[0, 1], [0, 1]])


def test_per_class_table_values(seed_confusion):
    table = per_class_table(seed_confusion)
    assert list(table.index) == list(CLASSES) + ["Overall"]
    assert list(table.columns) == ["correct", "total", "accuracy (%)"]
    assert table["correct"].tolist() == DIAGONAL + [7199]
    assert table["total"].tolist() == [1000] * 10 + [10_000]
    assert table.loc["cat", "accuracy (%)"] == pytest.approx(44.9)
    assert table.loc["Overall", "accuracy (%)"] == pytest.approx(71.99)


def test_per_class_table_rounds_and_empty_class_is_nan():
    table = per_class_table([[2, 1], [0, 0]], classes=("a", "b"))
    assert table.loc["a", "accuracy (%)"] == pytest.approx(66.67)
    assert np.isnan(table.loc["b", "accuracy (%)"])
    assert table.loc["Overall", "accuracy (%)"] == pytest.approx(66.67)


def test_first_images_and_decode_round_trip():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8, generator=gen)
    probs = torch.softmax(torch.randn(12, 10, generator=gen), dim=1)
    labels = torch.randint(0, 10, (12,), generator=gen)
    first = first_images(probs, labels, images)
    assert first["image_shape"] == [10, 32, 32, 3]
    assert first["true"] == labels[:10].tolist()
    assert first["predicted"] == probs[:10].argmax(1).tolist()
    assert first["confidence"] == pytest.approx(probs[:10].max(1).values.tolist(), abs=1e-6)
    assert len(first["probabilities"]) == 10 and all(len(r) == 10 for r in first["probabilities"])
    decoded = decode_images(first)
    assert decoded.dtype == np.uint8 and decoded.shape == (10, 32, 32, 3)
    assert np.array_equal(decoded, images[:10].permute(0, 2, 3, 1).numpy())
    assert np.array_equal(decode_images(first_images(probs, labels, images, n=3)),
                          images[:3].permute(0, 2, 3, 1).numpy())


def test_predict_eval_mode_batches_and_restores_training():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(3 * 32 * 32, 10))
    model.train()
    images = torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8)
    a = predict(model, images, batch_size=3)
    b = predict(model, images, batch_size=1000)
    assert a.shape == (7, 10) and a.dtype == torch.float32
    torch.testing.assert_close(a, b)  # eval mode: no dropout, batching does not matter
    assert model.training
