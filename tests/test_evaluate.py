"""Predictions and what is measured from them: confusion matrix, per-class and overall counts, first ten
images, every image's stored prediction (the tables over results are tested in test_tables)."""
from __future__ import annotations

import base64

import numpy as np
import pytest
import torch
from torch import nn

from cifar_utils.evaluate import (PROBABILITY_SCALE, class_accuracy, confusion_matrix, decode_images,
                                  decode_predictions, encode_predictions, first_images, overall_counts, predict)
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


# --- every image's prediction (schema 2 results) -------------------------------------------------

def random_predictions(n: int = 1000, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    probs = torch.softmax(3 * torch.randn(n, 10, generator=gen), dim=1)
    labels = torch.randint(0, 10, (n,), generator=gen)
    return probs, labels


def test_encode_decode_round_trip():
    probs, labels = random_predictions()
    stored = encode_predictions(probs, labels)
    assert set(stored) == {"n", "true_base64", "predicted_base64", "probability_base64"}
    assert stored["n"] == 1000 and type(stored["n"]) is int
    assert all(isinstance(stored[k], str) for k in stored if k != "n")  # JSON-ready text, no pickle
    true, predicted, probability = decode_predictions(stored)
    assert true.dtype == predicted.dtype == np.int64 and probability.dtype == np.float64
    assert np.array_equal(true, labels.numpy())  # classes exact
    assert np.array_equal(predicted, probs.argmax(dim=1).numpy())
    top = probs.max(dim=1).values.double().numpy()
    assert np.abs(probability - top).max() <= 0.5 / PROBABILITY_SCALE + 1e-12  # rounded to the nearest step
    assert ((probability >= 0) & (probability <= 1)).all()
    # the extremes are exact: a certain prediction is stored as 1.0 (uint16 65535), so a decoded
    # probability can never leave 0..1
    certain = torch.zeros(2, 10)
    certain[0, 3] = certain[1, 7] = 1.0
    assert decode_predictions(encode_predictions(certain, torch.tensor([3, 1])))[2].tolist() == [1.0, 1.0]
    assert PROBABILITY_SCALE == np.iinfo(np.uint16).max


def test_encoded_predictions_are_compact():
    """About 4 bytes an image before base64: 10,000 test images fit in ~55 kB of JSON text."""
    probs, labels = random_predictions(10_000)
    stored = encode_predictions(probs, labels)
    assert sum(len(v) for k, v in stored.items() if k != "n") < 56_000


def test_empty_predictions_round_trip():
    true, predicted, probability = decode_predictions(encode_predictions(torch.zeros(0, 10), torch.zeros(0, dtype=torch.int64)))
    assert len(true) == len(predicted) == len(probability) == 0


@pytest.mark.parametrize("field", ["true_base64", "predicted_base64", "probability_base64"])
@pytest.mark.parametrize("text", ["not base64!", "QUJD*", "QUJ"], ids=["bad-chars", "bad-char-end", "bad-padding"])
def test_bad_base64_is_a_value_error(field, text):
    stored = encode_predictions(*random_predictions(12))
    stored[field] = text
    with pytest.raises(ValueError):  # binascii.Error is a ValueError
        decode_predictions(stored)


@pytest.mark.parametrize("change", ["n", "true", "predicted", "probability", "odd bytes"])
def test_length_mismatch_is_a_value_error(change):
    stored = encode_predictions(*random_predictions(12))
    if change == "n":
        stored["n"] = 13
    elif change == "odd bytes":  # half a uint16
        raw = base64.b64decode(stored["probability_base64"])
        stored["probability_base64"] = base64.b64encode(raw[:-1]).decode("ascii")
    else:
        field = f"{change}_base64"
        raw = base64.b64decode(stored[field])
        stored[field] = base64.b64encode(raw[: -(2 if change == "probability" else 1)]).decode("ascii")
    with pytest.raises(ValueError) as info:
        decode_predictions(stored)
    if change != "odd bytes":
        assert "for 12 images" in str(info.value) or "for 13 images" in str(info.value)
