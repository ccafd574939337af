"""The two networks: output shapes, exact parameter counts, dropout, lookup by name."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from cifar_utils.models import AlexNet, BaselineNet, MODELS, build_model, count_parameters


def conv(c_in, c_out, k):
    return c_out * c_in * k * k + c_out


def linear(n_in, n_out):
    return n_out * n_in + n_out


BASELINE_LAYERS = [conv(3, 16, 3), conv(16, 32, 3), conv(32, 64, 3), linear(64 * 4 * 4, 500), linear(500, 10)]
ALEXNET_LAYERS = [conv(3, 96, 5), conv(96, 256, 5), conv(256, 384, 3), conv(384, 384, 3), conv(384, 384, 3),
                  linear(384 * 2 * 2, 4096), linear(4096, 4096), linear(4096, 10)]


@pytest.fixture(scope="module")
def alexnet():
    torch.manual_seed(0)
    return AlexNet(dropout=0.0)


def test_layer_by_layer_counts_are_the_documented_totals():
    assert BASELINE_LAYERS == [448, 4_640, 18_496, 512_500, 5_010]
    assert sum(BASELINE_LAYERS) == 541_094
    assert ALEXNET_LAYERS[0] == 96 * 3 * 25 + 96 == 7_296
    assert sum(ALEXNET_LAYERS) == 27_279_882


def test_baseline_parameter_count():
    model = BaselineNet()
    assert count_parameters(model) == 541_094
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [sum(p.numel() for p in m.parameters()) for m in layers] == BASELINE_LAYERS


def test_alexnet_parameter_count(alexnet):
    assert count_parameters(alexnet) == 27_279_882
    layers = [m for m in alexnet.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [sum(p.numel() for p in m.parameters()) for m in layers] == ALEXNET_LAYERS


def test_count_parameters_skips_frozen():
    model = BaselineNet()
    for p in model.features.parameters():
        p.requires_grad_(False)
    assert count_parameters(model) == sum(BASELINE_LAYERS[3:])


@pytest.mark.parametrize("name", ["baseline", "alexnet"])
def test_output_shape(name, alexnet):
    model = alexnet if name == "alexnet" else build_model(name, 0.0)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def active_dropout(model):
    return [m.p for m in model.modules() if isinstance(m, nn.Dropout) and m.p > 0]


def test_alexnet_dropout_present_per_argument(alexnet):
    assert active_dropout(alexnet) == []
    with_dropout = build_model("alexnet", 0.5)
    assert isinstance(with_dropout, AlexNet)
    assert active_dropout(with_dropout) == [0.5, 0.5]
    x = torch.randn(2, 3, 32, 32)
    torch.manual_seed(0)
    alexnet.train()
    with torch.no_grad():
        # Without dropout, training mode is deterministic; with it, two passes differ.
        torch.testing.assert_close(alexnet(x), alexnet(x), rtol=0, atol=0)
        with_dropout.train()
        assert not torch.equal(with_dropout(x), with_dropout(x))
        with_dropout.eval()
        torch.testing.assert_close(with_dropout(x), with_dropout(x), rtol=0, atol=0)


def test_baseline_dropout_argument():
    assert active_dropout(BaselineNet()) == [0.25, 0.25]
    assert active_dropout(build_model("baseline", 0.0)) == []
    assert active_dropout(build_model("baseline", 0.3)) == [0.3, 0.3]


def test_build_model_by_name():
    assert set(MODELS) == {"baseline", "alexnet"}
    assert isinstance(build_model("baseline", 0.0), BaselineNet)


def test_build_model_unknown_name():
    with pytest.raises(ValueError, match="vgg16"):
        build_model("vgg16", 0.0)
