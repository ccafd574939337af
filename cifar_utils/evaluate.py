"""Test-set predictions and what is measured from them: the confusion matrix, per-class and overall
accuracy, and the first ten test images with their predictions (the tables are in ``tables`` and ``conclusions``)."""
from __future__ import annotations

import base64

import numpy as np
import torch

from .data import CLASSES, normalise


@torch.inference_mode()
def predict(model: torch.nn.Module, images: torch.Tensor, *, device: torch.device | str = "cpu",
            dtype: torch.dtype | None = None, batch_size: int = 1000, flips: bool = False) -> torch.Tensor:
    """fp32 logits (N, 10) on the CPU for uint8 images (N, 3, 32, 32), in eval mode and large batches.

    ``flips``: the mean of the logits of each image and of its mirror image (test-time flips)."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = normalise(images[start:start + batch_size].to(device), channels_last=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(x).float()
            if flips:
                logits = (logits + model(x.flip(3)).float()) / 2
        out.append(logits.cpu())
    model.train(was_training)
    return torch.cat(out)


def confusion_matrix(y_true, y_pred, n_classes: int = len(CLASSES)) -> np.ndarray:
    """counts[i, j] = number of test images of true class i predicted as class j."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def class_accuracy(confusion) -> np.ndarray:
    """Per-class accuracy in percent: the diagonal over each row's total (rows are true classes)."""
    confusion = np.asarray(confusion)
    return 100 * np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)


def overall_counts(confusion) -> tuple[int, int]:
    """(correct, total) over all classes."""
    confusion = np.asarray(confusion)
    return int(np.trace(confusion)), int(confusion.sum())


def first_images(probs: torch.Tensor, labels: torch.Tensor, images: torch.Tensor, n: int = 10) -> dict:
    """The first ``n`` test images (uint8 HWC bytes, base64) with predicted class, its confidence and the true class."""
    probs = probs[:n]
    confidence, predicted = probs.max(dim=1)
    pixels = images[:n].permute(0, 2, 3, 1).contiguous().numpy()
    return {"images_base64": base64.b64encode(pixels.tobytes()).decode("ascii"),
            "image_shape": list(pixels.shape),
            "true": labels[:n].tolist(),
            "predicted": predicted.tolist(),
            "confidence": [round(c, 6) for c in confidence.tolist()],
            "probabilities": [[round(p, 6) for p in row] for row in probs.tolist()]}


def decode_images(first: dict) -> np.ndarray:
    """The uint8 (n, 32, 32, 3) images stored by ``first_images``."""
    raw = base64.b64decode(first["images_base64"])
    return np.frombuffer(raw, dtype=np.uint8).reshape(first["image_shape"])


PROBABILITY_SCALE = 65535  # a top probability is stored as round(p * 65535) in a uint16: exact to 8e-6


def encode_predictions(probs: torch.Tensor, labels: torch.Tensor) -> dict:
    """Every evaluated image's true class, predicted class and top probability, compact and without
    pickle: base64 of uint8 arrays of classes and of a uint16 array of probabilities scaled by
    PROBABILITY_SCALE (about 50 kB for the 10,000 test images)."""
    top, predicted = probs.max(dim=1)
    scaled = torch.round(top.double() * PROBABILITY_SCALE).to(torch.int64).numpy().astype("<u2")

    def b64(array: np.ndarray) -> str:
        return base64.b64encode(array.tobytes()).decode("ascii")
    return {"n": len(predicted), "true_base64": b64(labels.numpy().astype(np.uint8)),
            "predicted_base64": b64(predicted.numpy().astype(np.uint8)), "probability_base64": b64(scaled)}


def decode_predictions(stored: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true classes, predicted classes, top probabilities) of ``encode_predictions``' output."""
    def array(name: str, dtype) -> np.ndarray:
        return np.frombuffer(base64.b64decode(stored[name], validate=True), dtype=dtype)
    true, predicted = array("true_base64", np.uint8), array("predicted_base64", np.uint8)
    scaled = array("probability_base64", "<u2")
    if not len(true) == len(predicted) == len(scaled) == stored["n"]:
        raise ValueError(f"{len(true)} labels, {len(predicted)} classes and {len(scaled)} probabilities "
                         f"for {stored['n']} images")
    return true.astype(np.int64), predicted.astype(np.int64), scaled / PROBABILITY_SCALE
