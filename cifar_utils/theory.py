"""Part 1's worked examples: each returns the value computed by hand next to PyTorch's.

- ``convolution_example``: a 2x2 kernel K on a 4x4 feature map F,
  F'(x, y) = sum_{i=0}^{k-1} sum_{j=0}^{k-1} F(x + i, y + j) K(i, j)   (no kernel flip: PyTorch's
  "convolution" is a cross-correlation), against ``torch.nn.functional.conv2d``.
- ``cross_entropy_example``: L = -(1/N) sum_n log softmax(x_n)[t_n], against ``nn.CrossEntropyLoss``
  and ``F.nll_loss(F.log_softmax(x), t)``, both with PyTorch's default ``reduction='mean'``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# The worked example's numbers: small integers so every product can be checked by hand.
FEATURE_MAP = [[1, 2, 0, 3],
               [4, 1, 2, 1],
               [0, 3, 1, 2],
               [2, 1, 4, 0]]
KERNEL = [[2, 0],
          [1, -1]]
LOGITS = [[2.0, 1.0, 0.1],    # example 1: true class 0
          [0.5, 2.5, 0.3],    # example 2: true class 1
          [1.2, 0.2, 3.0],    # example 3: true class 2
          [1.5, 1.4, 0.2]]    # example 4: true class 1 (a near miss)
TARGETS = [0, 1, 2, 1]


def conv2d_manual(feature_map, kernel) -> list[list[float]]:
    """Valid (no padding), stride-1 cross-correlation of a 2-D map with a k x k kernel, by loops."""
    h, w, k = len(feature_map), len(feature_map[0]), len(kernel)
    return [[sum(feature_map[x + i][y + j] * kernel[i][j] for i in range(k) for j in range(k))
             for y in range(w - k + 1)] for x in range(h - k + 1)]


def convolution_example(feature_map=FEATURE_MAP, kernel=KERNEL, at=(1, 1)) -> dict:
    """The output map by hand and by F.conv2d, and the four terms of F'(at) written out."""
    manual = conv2d_manual(feature_map, kernel)
    f = torch.tensor(feature_map, dtype=torch.float64).view(1, 1, len(feature_map), -1)
    k = torch.tensor(kernel, dtype=torch.float64).view(1, 1, len(kernel), -1)
    torch_out = F.conv2d(f, k).squeeze().tolist()
    x, y = at
    terms = [(f"F({x + i},{y + j})·K({i},{j})", feature_map[x + i][y + j], kernel[i][j])
             for i in range(len(kernel)) for j in range(len(kernel))]
    expansion = " + ".join(f"{a}·({b})" if b < 0 else f"{a}·{b}" for _, a, b in terms)
    return {"manual": manual, "torch": torch_out, "equal": manual == torch_out, "at": at,
            "terms": terms, "expansion": f"F'{at} = {expansion} = {manual[x][y]}"}


def cross_entropy_manual(logits, targets) -> dict:
    """Softmax, log-probabilities and the mean negative log-likelihood, with plain math."""
    probs, nll = [], []
    for row, t in zip(logits, targets):
        top = max(row)  # subtract the maximum before exp, as PyTorch does, to avoid overflow
        log_z = top + math.log(sum(math.exp(v - top) for v in row))
        log_p = [v - log_z for v in row]
        probs.append([math.exp(v) for v in log_p])
        nll.append(-log_p[t])
    return {"probabilities": probs, "per_example": nll, "mean": sum(nll) / len(nll), "sum": sum(nll)}


def cross_entropy_example(logits=LOGITS, targets=TARGETS) -> dict:
    """The manual loss next to nn.CrossEntropyLoss, F.nll_loss(F.log_softmax), and the one-hot formula."""
    x = torch.tensor(logits, dtype=torch.float64)
    t = torch.tensor(targets)
    manual = cross_entropy_manual(logits, targets)
    one_hot = F.one_hot(t, x.shape[1]).to(x.dtype)
    return {
        **manual,
        "cross_entropy_loss": nn.CrossEntropyLoss()(x, t).item(),
        "nll_of_log_softmax": F.nll_loss(F.log_softmax(x, dim=1), t).item(),
        "one_hot_formula": (-(one_hot * torch.log(F.softmax(x, dim=1))).sum(dim=1).mean()).item(),
        "sum_reduction": nn.CrossEntropyLoss(reduction="sum")(x, t).item(),
    }
