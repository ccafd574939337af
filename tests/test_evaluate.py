"""Predictions and what is measured from them: confusion matrix, per-class and overall counts, first ten
images (the tables over results are tested in test_tables)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cifar_utils.evaluate import (class_accuracy, confusion_matrix, decode_images, first_images, overall_counts,
                                  predict)
from helpers import confusion_with_diagonal

DIAGONAL = [762, 853, 619, 449, 697, 628, 801, 813, 792, 785]  # the original report's AlexNet + SGD


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


def test_class_accuracy_and_overall_counts():
    confusion = confusion_with_diagonal(DIAGONAL)
    assert (confusion.sum(axis=1) == 1000).all()
    np.testing.assert_allclose(class_accuracy(confusion), [d / 10 for d in DIAGONAL])
    np.testing.assert_allclose(class_accuracy(confusion.tolist()), [d / 10 for d in DIAGONAL])
    assert overall_counts(confusion) == (7199, 10_000)
    assert overall_counts(confusion.tolist()) == (7199, 10_000)
    assert all(type(v) is int for v in overall_counts(confusion))  # JSON-ready, not numpy ints
    # an empty class (no test images) has accuracy 0, not a division by zero
    np.testing.assert_allclose(class_accuracy([[2, 1], [0, 0]]), [200 / 3, 0.0])


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
