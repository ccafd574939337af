"""Test-set predictions and the tables the report prints: per-class accuracy in the seed's format,
a pandas table, the confusion matrix, and the first ten test images with their predictions."""
from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import torch

from .data import CLASSES, normalise


@torch.inference_mode()
def predict(model: torch.nn.Module, images: torch.Tensor, *, device: torch.device | str = "cpu",
            dtype: torch.dtype | None = None, batch_size: int = 1000) -> torch.Tensor:
    """fp32 logits (N, 10) on the CPU for uint8 images (N, 3, 32, 32), in eval mode and large batches."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = normalise(images[start:start + batch_size].to(device), channels_last=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out.append(model(x).float().cpu())
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


def per_class_table(confusion, classes=CLASSES) -> pd.DataFrame:
    """One row per class: correct, total and accuracy (%), with an 'Overall' row last."""
    confusion = np.asarray(confusion)
    correct, total = np.diag(confusion), confusion.sum(axis=1)
    frame = pd.DataFrame({"class": list(classes) + ["Overall"],
                          "correct": list(correct) + [correct.sum()],
                          "total": list(total) + [total.sum()]})
    frame["accuracy (%)"] = (100 * frame["correct"] / frame["total"].where(frame["total"] > 0)).round(2)
    return frame.set_index("class")


def seed_format_table(confusion, classes=CLASSES) -> str:
    """The per-class accuracy lines exactly as the seed report prints them (percent rounded down)."""
    lines = []
    for name, row in per_class_table(confusion, classes).iterrows():
        pct = 100 * int(row["correct"]) // int(row["total"]) if row["total"] else 0
        label = "Test Accuracy (Overall)" if name == "Overall" else f"Test Accuracy of {name}"
        if name == "Overall":
            lines.append("")
        lines.append(f"{label}: {pct}% ({int(row['correct'])}/{int(row['total'])})")
    return "\n".join(lines)


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
