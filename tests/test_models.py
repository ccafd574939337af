"""The two networks: shapes through the layers, parameter counts, dropout, initialisation, lookup by name."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cifar_utils.models import AlexNet, BaselineNet, build_model, count_parameters, kaiming_init_


@pytest.fixture(scope="module")
def alexnet():
    torch.manual_seed(0)
    return AlexNet(dropout=0.0)


def weighted_layers(model):
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def parameters_from_shape(layer) -> int:
    """What a layer must hold, from its declared shape (not from its tensors)."""
    if isinstance(layer, nn.Conv2d):
        kh, kw = layer.kernel_size
        return layer.out_channels * layer.in_channels // layer.groups * kh * kw + layer.out_channels
    return layer.out_features * layer.in_features + layer.out_features


def fan_in(layer) -> int:
    if isinstance(layer, nn.Conv2d):
        return layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
    return layer.in_features


@pytest.mark.parametrize("name,features,total", [("baseline", (64, 4, 4), 541_094),
                                                  ("alexnet", (384, 2, 2), 27_279_882)])
def test_parameter_count_follows_the_layer_shapes(name, features, total, alexnet):
    model = alexnet if name == "alexnet" else BaselineNet()
    layers = weighted_layers(model)
    assert count_parameters(model) == sum(parameters_from_shape(m) for m in layers) == total
    assert [sum(p.numel() for p in m.parameters()) for m in layers] == [parameters_from_shape(m) for m in layers]
    # the first FC layer takes exactly the flattened feature map
    first_fc = next(m for m in layers if isinstance(m, nn.Linear))
    assert first_fc.in_features == math.prod(features)
    assert layers[-1].out_features == 10


def test_count_parameters_skips_frozen():
    model = BaselineNet()
    for p in model.features.parameters():
        p.requires_grad_(False)
    fc = [m for m in weighted_layers(model) if isinstance(m, nn.Linear)]
    assert count_parameters(model) == sum(parameters_from_shape(m) for m in fc)


@pytest.mark.parametrize("name,features", [("baseline", (64, 4, 4)), ("alexnet", (384, 2, 2))])
def test_shapes_for_a_batch(name, features, alexnet):
    model = alexnet if name == "alexnet" else build_model(name, 0.0)
    model.eval()
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        assert model.features(x).shape == (5, *features)
        out = model(x)
        assert model(x.contiguous(memory_format=torch.channels_last)).shape == (5, 10)  # how training feeds it
    assert out.shape == (5, 10)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    with torch.no_grad():  # each image is classified on its own: a batch gives the same as single images
        torch.testing.assert_close(model(x[:1]), out[:1], rtol=1e-4, atol=1e-5)


def dropout_layers(model):
    return [m.p for m in model.modules() if isinstance(m, nn.Dropout)]


@pytest.mark.parametrize("name,p", [("baseline", 0.25), ("alexnet", 0.5)])
def test_dropout_active_in_train_mode_only(name, p):
    torch.manual_seed(0)
    model = build_model(name, p)
    assert dropout_layers(model) == [p, p]
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        model.train()
        assert not torch.equal(model(x), model(x))  # a new mask each pass
        model.eval()
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["baseline", "alexnet"])
def test_without_dropout_train_mode_is_deterministic(name, alexnet):
    model = alexnet if name == "alexnet" else build_model(name, 0.0)
    assert all(p == 0 for p in dropout_layers(model))
    x = torch.randn(2, 3, 32, 32)
    model.train()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
        model.eval()
        eval_out = model(x)
        model.train()
        torch.testing.assert_close(model(x), eval_out, rtol=0, atol=0)


def test_baseline_default_dropout_is_the_course_cnn():
    assert dropout_layers(BaselineNet()) == [0.25, 0.25]
    assert dropout_layers(build_model("baseline", 0.3)) == [0.3, 0.3]


@pytest.mark.parametrize("name", ["baseline", "alexnet"])
def test_kaiming_init_zero_biases_and_he_std(name):
    torch.manual_seed(0)
    model = build_model(name, 0.0, "kaiming")
    for layer in weighted_layers(model):
        assert torch.count_nonzero(layer.bias) == 0
        w = layer.weight.detach()
        expected = math.sqrt(2 / fan_in(layer))
        # the sample std of n normal draws is within a few 1/sqrt(2n) of the true one
        assert w.std().item() == pytest.approx(expected, rel=max(0.02, 5 / math.sqrt(2 * w.numel())))
        assert abs(w.mean().item()) < 5 * expected / math.sqrt(w.numel())


def test_default_init_is_pytorchs_and_kaiming_is_wider():
    torch.manual_seed(0)
    default = build_model("baseline", 0.0, "default")
    for layer in weighted_layers(default):
        bound = 1 / math.sqrt(fan_in(layer))  # PyTorch's uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
        assert layer.weight.abs().max() <= bound and torch.count_nonzero(layer.bias) > 0
    torch.manual_seed(0)
    kaiming = build_model("baseline", 0.0, "kaiming")
    assert all(k.weight.std() > d.weight.std() for k, d in zip(weighted_layers(kaiming), weighted_layers(default)))


def test_kaiming_init_returns_the_model_it_changed():
    model = BaselineNet()
    assert kaiming_init_(model) is model


def test_build_model_unknown_name_or_init_is_named():
    with pytest.raises(ValueError, match=r"unknown model 'vgg16'; use one of \['alexnet', 'baseline'\]"):
        build_model("vgg16", 0.0)
    with pytest.raises(ValueError, match=r"unknown init 'xavier'; use one of \['default', 'kaiming'\]"):
        build_model("baseline", 0.0, "xavier")
