"""Training: the learning-rate schedule, device and precision checks, checkpoint resume."""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest
import torch

from cifar_utils.config import ConfigError, ExperimentConfig
from cifar_utils.data import load_cifar10
from cifar_utils.train import (NonFiniteLossError, autocast_dtype, keep_freed_memory, lr_factor, make_optimizer,
                               resolve_device, train)


def without_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


# --- schedule ------------------------------------------------------------------------------------

def test_onecycle_rises_linearly_then_decays_to_zero():
    config = ExperimentConfig(schedule="onecycle", warmup=0.2)
    total = 1000
    factors = [lr_factor(config, s, total) for s in range(total + 1)]
    warm = 200
    assert factors[:warm] == pytest.approx([(s + 1) / warm for s in range(warm)])
    assert max(factors) == pytest.approx(1.0)
    assert factors[warm - 1] == pytest.approx(1.0)
    decay = factors[warm - 1:]
    assert all(a >= b for a, b in zip(decay, decay[1:]))
    steps = [a - b for a, b in zip(decay[1:], decay[2:])]
    assert steps == pytest.approx([1 / (total - warm)] * len(steps))  # linear
    assert factors[total - 1] == pytest.approx(1 / (total - warm))    # last optimiser step: nearly 0
    assert factors[total] == 0.0
    assert all(0.0 <= f <= 1.0 for f in factors)


def test_short_runs_warm_up_for_at_least_min_steps():
    """20% of 50 steps would be 10; a network without normalisation can diverge that fast, so the
    warm-up lasts MIN_WARMUP_STEPS (100), and a run shorter than that warms up throughout."""
    config = ExperimentConfig(schedule="onecycle", warmup=0.2)
    assert [lr_factor(config, s, 50) for s in range(50)] == pytest.approx([(s + 1) / 50 for s in range(50)])
    assert lr_factor(config, 50, 50) == 0.0
    factors = [lr_factor(config, s, 300) for s in range(301)]
    assert factors[99] == 1.0 and factors[:99] == pytest.approx([(s + 1) / 100 for s in range(99)])
    assert factors[300] == 0.0


def test_onecycle_without_warmup_starts_at_peak():
    config = ExperimentConfig(schedule="onecycle", warmup=0.0)
    assert lr_factor(config, 0, 20) == 1.0
    assert lr_factor(config, 19, 20) == pytest.approx(1 / 19)
    assert lr_factor(config, 25, 20) == 0.0


def test_constant_schedule_is_one():
    config = ExperimentConfig(schedule="constant", warmup=0.5)
    assert {lr_factor(config, s, 30) for s in range(31)} == {1.0}


# --- device and precision ------------------------------------------------------------------------

def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_resolve_device_cuda_missing():
    with pytest.raises(ConfigError, match="device = 'cuda' is not available"):
        resolve_device("cuda")
    assert resolve_device("auto") != torch.device("cuda")


def test_autocast_dtype():
    cpu = torch.device("cpu")
    with pytest.raises(ConfigError, match="precision = 'fp16' needs a CUDA device, not cpu"):
        autocast_dtype("fp16", cpu)
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    assert autocast_dtype("auto", cpu) in (None, torch.bfloat16)


def test_make_optimizer():
    params = [torch.nn.Parameter(torch.zeros(2))]
    sgd = make_optimizer(ExperimentConfig(optimizer="sgd", lr=0.1, momentum=0.8, nesterov=True,
                                          weight_decay=1e-3), params)
    assert isinstance(sgd, torch.optim.SGD)
    group = sgd.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (0.1, 0.8, True, 1e-3)
    adam = make_optimizer(ExperimentConfig(optimizer="adam", lr=0.001, momentum=0.85), params)
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["betas"] == (0.85, 0.999)
    assert sgd.param_groups[0]["fused"] is None and adam.param_groups[0]["fused"] is None  # torch's default
    for optimizer in ("sgd", "adam"):
        fused = make_optimizer(ExperimentConfig(optimizer=optimizer), params, fused=True)
        assert fused.param_groups[0]["fused"] is True


MMAP_PROBE = """
import ctypes, sys
from cifar_utils.train import keep_freed_memory
class MallInfo2(ctypes.Structure):  # glibc >= 2.33
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype, libc.malloc.restype = MallInfo2, ctypes.c_void_p
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
before = libc.mallinfo2().hblkhd
block = libc.malloc(64 * 2 ** 20)
print(applied, libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.skipif(not (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"), reason="glibc only")
def test_keep_freed_memory_stops_glibc_from_mmapping_large_blocks():
    """In a fresh process (the setting lasts for the process): a 64 MB malloc is mmapped by default,
    taken from the heap after keep_freed_memory()."""
    def mmapped(mode):
        out = subprocess.run([sys.executable, "-c", MMAP_PROBE, mode], capture_output=True, text=True, check=True)
        applied, grown = out.stdout.split()
        return applied, int(grown)
    applied, grown = mmapped("default")
    assert applied == "None" and grown >= 64 * 2 ** 20  # the block plus a page of bookkeeping
    assert mmapped("keep") == ("True", 0)


# --- training ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from conftest import write_synthetic_npz
    folder = tmp_path_factory.mktemp("train_data")
    write_synthetic_npz(folder / "cifar10.npz", n_train=100, n_test=20)
    return load_cifar10(folder)


def tiny_config(**overrides):
    values = dict(model="baseline", dropout=0.25, epochs=2, batch_size=25, lr=0.05, schedule="onecycle",
                  warmup=0.2, flip=True, crop_pad=2, label_smoothing=0.1, precision="fp32", device="cpu", seed=3)
    values.update(overrides)
    return ExperimentConfig(**values)


def test_train_history_fields_and_lr(tiny_data):
    logs = []
    model, history = train(tiny_config(), tiny_data, progress=False, log=logs.append)
    assert [h["epoch"] for h in history] == [1, 2]
    for h in history:
        assert set(h) == {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds"}
        assert 0 <= h["train_accuracy"] <= 1 and 0 <= h["test_accuracy"] <= 1
        assert h["train_loss"] > 0 and h["test_loss"] > 0 and h["seconds"] >= 0
        # 20 test images: accuracy is a multiple of 1/20.
        assert h["test_accuracy"] * 20 == pytest.approx(round(h["test_accuracy"] * 20), abs=1e-5)
    assert history[0]["lr"] == pytest.approx(0.05 * 5 / 8)  # 8 steps in all, all warm-up: after 4, 5/8
    assert history[1]["lr"] == 0.0                        # the schedule ends at 0
    assert len(logs) == 2 and logs[0].startswith("epoch   1/2") and logs[1].startswith("epoch   2/2")
    assert isinstance(model, torch.nn.Module)


def test_train_refuses_config_larger_than_data(tiny_data):
    with pytest.raises(ConfigError, match="train_subset = 200"):
        train(tiny_config(train_subset=200), tiny_data, progress=False, log=lambda *_: None)


def test_checkpoint_resume_equals_uninterrupted(tiny_data, tmp_path):
    config = tiny_config(epochs=3)
    _, reference = train(config, tiny_data, progress=False, log=lambda *_: None)

    checkpoint = tmp_path / "run" / "checkpoint.pt"

    def interrupt_at_epoch_2(line):
        # The checkpoint is written after each epoch's line, so interrupting on epoch 2's line
        # leaves the checkpoint of epoch 1 (interrupting on epoch 1's line would leave none).
        if line.startswith("epoch   2/3"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tiny_data, checkpoint_path=checkpoint, progress=False, log=interrupt_at_epoch_2)
    assert checkpoint.is_file()
    assert [p.name for p in checkpoint.parent.iterdir()] == ["checkpoint.pt"]
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["key"] == config.key() and len(saved["history"]) == 1

    logs = []
    _, resumed = train(config, tiny_data, checkpoint_path=checkpoint, progress=False, log=logs.append)
    assert logs[0] == f"Resuming from {checkpoint} after epoch 1 of 3."
    assert len(logs) == 3  # epochs 2 and 3 only
    assert without_seconds(resumed) == without_seconds(reference)


def test_checkpoint_of_another_config_is_ignored(tiny_data, tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    train(tiny_config(epochs=1, seed=1), tiny_data, checkpoint_path=checkpoint, progress=False, log=lambda *_: None)
    logs = []
    _, history = train(tiny_config(epochs=1, seed=2), tiny_data, checkpoint_path=checkpoint, progress=False,
                       log=logs.append)
    assert not any(line.startswith("Resuming") for line in logs)
    assert len(history) == 1
    assert torch.load(checkpoint, weights_only=True)["key"] == tiny_config(epochs=1, seed=2).key()


def test_non_finite_loss_names_epoch_and_step(tiny_data):
    with pytest.raises(NonFiniteLossError, match=r"at epoch 1, step 2; lower lr \(now 1e\+30\)"):
        train(tiny_config(lr=1e30, schedule="constant", dropout=0.0), tiny_data, progress=False,
              log=lambda *_: None)


def test_checkpoint_from_other_data_is_not_resumed(tiny_data, tmp_path):
    """Same parameters but another dataset (another sha256): start afresh instead of resuming."""
    import dataclasses
    checkpoint = tmp_path / "checkpoint.pt"
    train(tiny_config(epochs=1), tiny_data, checkpoint_path=checkpoint, progress=False, log=lambda *_: None)
    other = dataclasses.replace(tiny_data, sha256="0" * 64)
    lines = []
    train(tiny_config(epochs=1), other, checkpoint_path=checkpoint, progress=False, log=lines.append)
    assert not any(line.startswith("Resuming") for line in lines)
    lines.clear()
    train(tiny_config(epochs=1), other, checkpoint_path=checkpoint, progress=False, log=lines.append)
    assert lines[0].startswith("Resuming")  # the checkpoint now belongs to the other data
