"""The two networks of the report, looked up by name.

- ``BaselineNet``: the original report does not show its baseline. We assume the classic course CNN
  it was built from (three 3x3 conv layers 16/32/64, each ReLU + 2x2 max-pool, dropout 0.25,
  FC 1024 -> 500 -> 10): an assumption, not a fact of the original.
- ``AlexNet``: exactly the layers of the original report's appendix, with optional dropout after each hidden
  FC ReLU (the original report's second listing uses p=0.5).
"""
from __future__ import annotations

import torch
from torch import nn


class BaselineNet(nn.Module):
    def __init__(self, dropout: float = 0.25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 16 x 16
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 8 x 8
            nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 64 x 4 x 4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                   # 64 * 4 * 4 = 1024 features
            nn.Dropout(dropout),
            nn.Linear(64 * 4 * 4, 500), nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(500, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class AlexNet(nn.Module):
    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=5, stride=2, padding=2), nn.ReLU(),    # 96 x 16 x 16
            nn.MaxPool2d(kernel_size=2, stride=2),                              # 96 x 8 x 8
            nn.Conv2d(96, 256, kernel_size=5, stride=1, padding=2), nn.ReLU(),  # 256 x 8 x 8
            nn.MaxPool2d(kernel_size=2, stride=2),                              # 256 x 4 x 4
            nn.Conv2d(256, 384, kernel_size=3, stride=1, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, stride=1, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, stride=1, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),                              # 384 x 2 x 2
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                   # 384 * 2 * 2 = 1536 features (the original report's x.view(-1, 384*2*2))
            nn.Linear(384 * 2 * 2, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


MODELS = {"baseline": BaselineNet, "alexnet": AlexNet}
INITS = ("default", "kaiming")


def kaiming_init_(model: nn.Module) -> nn.Module:
    """He et al. (2015) normal initialisation for ReLU networks, zero biases.

    PyTorch's default (uniform with a = sqrt(5)) shrinks the signal at every layer of a network without
    normalisation layers, which makes plain SGD start slowly on the 8-layer AlexNet."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return model


def build_model(name: str, dropout: float, init: str = "default") -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; use one of {sorted(MODELS)}.")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; use one of {list(INITS)}.")
    model = MODELS[name](dropout=dropout)
    return kaiming_init_(model) if init == "kaiming" else model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def shapes_only(name: str, dropout: float = 0.0) -> nn.Module:
    """The network ``name`` on PyTorch's meta device: its layers and their shapes, no weights allocated (what
    printing it and counting its parameters need; a 27M-parameter AlexNet costs no memory)."""
    with torch.device("meta"):
        return build_model(name, dropout)
