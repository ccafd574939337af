"""Training: the learning-rate schedule, the optimizer, the one training step, the loop, checkpoint resume.

(Device and precision choices are tested in test_hardware.)"""
from __future__ import annotations

import dataclasses
import errno
import math
import re

import pytest
import torch
import torch.nn.functional as F

from cifar_utils import train as train_mod
from cifar_utils.config import MAX_SEED
from cifar_utils.data import batches, load_cifar10
from cifar_utils.evaluate import predict
from cifar_utils.files import OutputError
from cifar_utils.train import (EVALUATIONS, NonFiniteLossError, Trained, Trainer, lr_factor, make_optimizer, setup,
                               train, train_step)
from helpers import make_config, without_seconds, write_synthetic_npz

CPU = torch.device("cpu")


# --- schedule ------------------------------------------------------------------------------------

def test_onecycle_rises_linearly_then_decays_to_zero():
    config = make_config(schedule="onecycle", warmup=0.2)
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
    config = make_config(schedule="onecycle", warmup=0.2)
    assert [lr_factor(config, s, 50) for s in range(50)] == pytest.approx([(s + 1) / 50 for s in range(50)])
    assert lr_factor(config, 50, 50) == 0.0
    factors = [lr_factor(config, s, 300) for s in range(301)]
    assert factors[99] == 1.0 and factors[:99] == pytest.approx([(s + 1) / 100 for s in range(99)])
    assert factors[300] == 0.0


def test_onecycle_without_warmup_starts_at_peak():
    config = make_config(schedule="onecycle", warmup=0.0)
    assert lr_factor(config, 0, 20) == 1.0
    assert lr_factor(config, 19, 20) == pytest.approx(1 / 19)
    assert lr_factor(config, 25, 20) == 0.0


def test_constant_schedule_is_one():
    config = make_config(schedule="constant", warmup=0.5)
    assert {lr_factor(config, s, 30) for s in range(31)} == {1.0}


# --- optimizer -----------------------------------------------------------------------------------

def test_make_optimizer():
    params = [torch.nn.Parameter(torch.zeros(2))]
    sgd = make_optimizer(make_config(optimizer="sgd", lr=0.1, momentum=0.8, nesterov=True, weight_decay=1e-3),
                         params)
    assert isinstance(sgd, torch.optim.SGD)
    group = sgd.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (0.1, 0.8, True, 1e-3)
    adam = make_optimizer(make_config(optimizer="adam", lr=0.001, momentum=0.85), params)
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["betas"] == (0.85, 0.999)
    assert sgd.param_groups[0]["fused"] is None and adam.param_groups[0]["fused"] is None  # torch's default
    for optimizer in ("sgd", "adam"):
        fused = make_optimizer(make_config(optimizer=optimizer), params, fused=True)
        assert fused.param_groups[0]["fused"] is True


# --- setup and the training step -----------------------------------------------------------------

def tiny_batch(n=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen),
            torch.randint(0, 10, (n,), generator=gen))


def test_setup_builds_what_the_config_says():
    config = make_config(model="baseline", optimizer="adam", lr=0.01, schedule="onecycle", warmup=0.5, epochs=2)
    t = setup(config, steps_per_epoch=5, device=CPU, dtype=None)
    assert isinstance(t, Trainer) and t.config is config and t.device == CPU and t.dtype is None
    assert isinstance(t.optimizer, torch.optim.Adam) and t.optimizer.param_groups[0]["fused"] is True  # fused on CPU
    assert not t.scaler.is_enabled()  # loss scaling only for fp16
    conv = next(m for m in t.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert t.scheduler.get_last_lr()[0] == pytest.approx(0.01 * lr_factor(config, 0, 10))  # 10 steps in all
    again = setup(config, steps_per_epoch=5, device=CPU, dtype=None)  # seeded: the same initial weights
    assert all(torch.equal(a, b) for a, b in zip(t.model.state_dict().values(), again.model.state_dict().values()))


def test_train_step_updates_the_model_and_returns_fp32_logits():
    t = setup(make_config(dropout=0.0), steps_per_epoch=1, device=CPU, dtype=None)
    before = [p.detach().clone() for p in t.model.parameters()]
    x, y = tiny_batch()
    logits = train_step(t, x, y)
    assert logits.shape == (8, 10) and logits.dtype == torch.float32 and not logits.requires_grad
    assert any(not torch.equal(a, b) for a, b in zip(before, t.model.parameters()))
    assert t.scheduler.last_epoch == 1  # one scheduler step per training step


def test_train_step_nan_loss_names_epoch_and_step_and_does_not_step():
    """A NaN loss raises NonFiniteLossError (epoch and step counted from 1 in the message) before any update."""
    t = setup(make_config(dropout=0.0, lr=0.05), steps_per_epoch=1, device=CPU, dtype=None)
    t.model.register_forward_hook(lambda module, args, out: out * float("nan"))
    before = [p.detach().clone() for p in t.model.parameters()]
    with pytest.raises(NonFiniteLossError) as info:
        train_step(t, *tiny_batch(), epoch=2, step=4)
    assert str(info.value).startswith("the training loss became nan at epoch 3, step 5; lower lr (now 0.05)")
    assert "fp32" not in str(info.value)  # it ran in fp32: only the rate is left to lower
    assert all(torch.equal(a, b) for a, b in zip(before, t.model.parameters()))
    assert t.scheduler.last_epoch == 0


# --- training ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train_data")
    write_synthetic_npz(folder / "cifar10.npz", n_train=100, n_test=20)
    return load_cifar10(folder)


def tiny_config(**overrides):
    values = dict(model="baseline", dropout=0.25, epochs=2, batch_size=25, lr=0.05, schedule="onecycle",
                  warmup=0.2, flip=True, crop_pad=2, label_smoothing=0.1, precision="fp32", device="cpu", seed=3)
    values.update(overrides)
    return make_config(**values)


def quiet(*_):
    pass


def test_train_history_fields_and_lr(tiny_data):
    logs = []
    trained = train(tiny_config(), tiny_data, progress=False, log=logs.append)
    assert isinstance(trained, Trained)
    history = trained.history
    assert [h["epoch"] for h in history] == [1, 2]
    for h in history:
        assert set(h) == {"epoch", "train_loss", "train_accuracy", "train_eval_loss", "train_eval_accuracy",
                          "test_loss", "test_accuracy", "lr", "seconds"}
        assert 0 <= h["train_accuracy"] <= 1 and 0 <= h["test_accuracy"] <= 1
        assert h["train_loss"] > 0 and h["test_loss"] > 0 and h["seconds"] >= 0
        # 20 test images: accuracy is a multiple of 1/20.
        assert h["test_accuracy"] * 20 == pytest.approx(round(h["test_accuracy"] * 20), abs=1e-5)
    assert history[0]["lr"] == pytest.approx(0.05 * 5 / 8)  # 8 steps in all, all warm-up: after 4, 5/8
    assert history[1]["lr"] == 0.0                        # the schedule ends at 0
    assert len(logs) == 2 and logs[0].startswith("epoch   1/2") and logs[1].startswith("epoch   2/2")
    assert isinstance(trained.model, torch.nn.Module)
    # The last epoch's eval-mode measure is the trained network's, in eval mode, on the training probe.
    x_probe, y_probe = tiny_data.training_probe()
    logits = predict(trained.model, x_probe)
    assert history[-1]["train_eval_loss"] == pytest.approx(F.cross_entropy(logits, y_probe).item(), rel=1e-5)
    assert history[-1]["train_eval_accuracy"] == pytest.approx((logits.argmax(1) == y_probe).float().mean().item())
    # test_logits are the last epoch's: their accuracy and loss are the history's
    assert trained.test_logits.shape == (20, 10) and trained.test_logits.dtype == torch.float32
    accuracy = (trained.test_logits.argmax(1) == tiny_data.y_test).float().mean().item()
    assert accuracy == pytest.approx(history[-1]["test_accuracy"])
    loss = torch.nn.functional.cross_entropy(trained.test_logits, tiny_data.y_test).item()
    assert loss == pytest.approx(history[-1]["test_loss"])


@pytest.mark.parametrize("n_train,batch_size,epochs", [(100, 30, 2), (100, 25, 1), (100, 100, 3)])
def test_train_runs_train_step_once_per_batch(tiny_data, monkeypatch, n_train, batch_size, epochs):
    """train() runs the benchmarks' train_step: ceil(n / batch) calls per epoch, epoch and step counted from 0."""
    calls = []
    real = train_mod.train_step

    def counting(t, x, y, epoch=0, step=0):
        calls.append((epoch, step, len(y)))
        return real(t, x, y, epoch, step)

    monkeypatch.setattr(train_mod, "train_step", counting)
    data = tiny_data.subset(n_train, None)
    train(tiny_config(batch_size=batch_size, epochs=epochs), data, progress=False, log=quiet)
    steps = math.ceil(n_train / batch_size)
    assert len(calls) == steps * epochs
    assert [(e, s) for e, s, _ in calls] == [(e, s) for e in range(epochs) for s in range(steps)]
    sizes = [n for _, _, n in calls[:steps]]
    assert sum(sizes) == n_train and all(n == batch_size for n in sizes[:-1])


def test_train_with_the_largest_seed(tiny_data):
    """seed = MAX_SEED: the shuffling generator's seed (seed * 1_000_003 + epoch) still fits in 64 bits."""
    config = tiny_config(seed=MAX_SEED, epochs=2, train_subset=50, batch_size=25)
    trained = train(config, tiny_data.subset(50, None, seed=config.seed), progress=False, log=quiet)
    assert len(trained.history) == 2
    x, y = tiny_data.x_train, tiny_data.y_train
    first = list(batches(x, y, 30, shuffle=True, seed=MAX_SEED, epoch=5, flip=True, crop_pad=2))
    again = list(batches(x, y, 30, shuffle=True, seed=MAX_SEED, epoch=5, flip=True, crop_pad=2))
    other = list(batches(x, y, 30, shuffle=True, seed=MAX_SEED, epoch=6, flip=True, crop_pad=2))
    assert [len(b) for b, _ in first] == [30, 30, 30, 10]
    assert all(torch.equal(a, b) and torch.equal(la, lb) for (a, la), (b, lb) in zip(first, again))
    assert not all(torch.equal(la, lb) for (_, la), (_, lb) in zip(first, other))
    assert sorted(torch.cat([lb for _, lb in first]).tolist()) == sorted(y.tolist())  # a permutation


def interrupt_at_epoch_2(line):
    """A training log that stops a 3-epoch run as epoch 2 ends. The checkpoint is written after each epoch's
    line, so this leaves the checkpoint of epoch 1 (stopping on epoch 1's line would leave none)."""
    if line.startswith("epoch   2/3"):
        raise KeyboardInterrupt


def test_checkpoint_resume_equals_uninterrupted(tiny_data, tmp_path):
    config = tiny_config(epochs=3)
    reference = train(config, tiny_data, progress=False, log=quiet)

    checkpoint = tmp_path / "run" / "checkpoint.pt"

    with pytest.raises(KeyboardInterrupt):
        train(config, tiny_data, checkpoint_path=checkpoint, progress=False, log=interrupt_at_epoch_2)
    assert checkpoint.is_file()
    assert [p.name for p in checkpoint.parent.iterdir()] == ["checkpoint.pt"]
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["key"] == config.key() and len(saved["history"]) == 1

    logs = []
    resumed = train(config, tiny_data, checkpoint_path=checkpoint, progress=False, log=logs.append)
    assert logs[0] == f"Resuming from {checkpoint} after epoch 1 of 3."
    assert len(logs) == 3  # epochs 2 and 3 only
    assert without_seconds(resumed.history) == without_seconds(reference.history)
    torch.testing.assert_close(resumed.test_logits, reference.test_logits, rtol=0, atol=0)


def test_resume_of_a_finished_run_only_predicts(tiny_data, tmp_path, monkeypatch):
    checkpoint = tmp_path / "checkpoint.pt"
    first = train(tiny_config(epochs=1), tiny_data, checkpoint_path=checkpoint, progress=False, log=quiet)
    monkeypatch.setattr(train_mod, "train_step", lambda *args: pytest.fail("a finished run trained again"))
    again = train(tiny_config(epochs=1), tiny_data, checkpoint_path=checkpoint, progress=False, log=quiet)
    assert again.history == first.history
    torch.testing.assert_close(again.test_logits, first.test_logits, rtol=0, atol=0)


def test_checkpoint_of_another_config_is_ignored(tiny_data, tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    train(tiny_config(epochs=1, seed=1), tiny_data, checkpoint_path=checkpoint, progress=False, log=quiet)
    logs = []
    trained = train(tiny_config(epochs=1, seed=2), tiny_data, checkpoint_path=checkpoint, progress=False,
                    log=logs.append)
    assert not any(line.startswith("Resuming") for line in logs)
    assert len(trained.history) == 1
    assert torch.load(checkpoint, weights_only=True)["key"] == tiny_config(epochs=1, seed=2).key()


def test_non_finite_loss_names_epoch_and_step(tiny_data):
    with pytest.raises(NonFiniteLossError, match=r"at epoch 1, step 2; lower lr \(now 1e\+30\)"):
        train(tiny_config(lr=1e30, schedule="constant", dropout=0.0), tiny_data, progress=False, log=quiet)


def test_checkpoint_from_other_data_is_not_resumed(tiny_data, tmp_path):
    """Same parameters but another dataset (another sha256): start afresh instead of resuming."""
    checkpoint = tmp_path / "checkpoint.pt"
    train(tiny_config(epochs=1), tiny_data, checkpoint_path=checkpoint, progress=False, log=quiet)
    other = dataclasses.replace(tiny_data, sha256="0" * 64)
    lines = []
    train(tiny_config(epochs=1), other, checkpoint_path=checkpoint, progress=False, log=lines.append)
    assert not any(line.startswith("Resuming") for line in lines)
    lines.clear()
    train(tiny_config(epochs=1), other, checkpoint_path=checkpoint, progress=False, log=lines.append)
    assert lines[0].startswith("Resuming")  # the checkpoint now belongs to the other data


# --- the moving average of the weights and test-time flips --------------------------------------------

def test_predict_with_flips_averages_the_logits_of_each_image_and_its_mirror_image():
    torch.manual_seed(0)
    model = setup(make_config(), 1, CPU, None).model
    images = torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8)
    both = predict(model, images, flips=True, batch_size=3)
    expected = (predict(model, images) + predict(model, images.flip(3))) / 2
    torch.testing.assert_close(both, expected)
    assert not torch.allclose(both, predict(model, images))


def test_the_moving_average_follows_every_step_with_its_decay():
    t = setup(make_config(ema=0.9, lr=0.1), 10, CPU, None)
    x, y = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8), torch.arange(8) % 10
    start = [p.detach().clone() for p in t.model.parameters()]
    train_step(t, x, y)
    first = [p.detach().clone() for p in t.model.parameters()]
    train_step(t, x, y)
    # The first update copies the weights; each later one moves 1 - decay of the way towards them.
    for a, w0, w1, w2 in zip(t.averaged.module.parameters(), start, first, t.model.parameters()):
        torch.testing.assert_close(a, 0.9 * w1 + 0.1 * w2.detach())
    assert not all(torch.equal(w0, w2) for w0, w2 in zip(start, t.model.parameters()))
    assert t.evaluated is t.averaged and setup(make_config(), 10, CPU, None).evaluated is not None


@pytest.mark.parametrize("ema,flips", [(0.0, False), (0.0, True), (0.8, False), (0.8, True)])
def test_a_finished_run_measures_each_evaluation_it_can_give(tiny_data, ema, flips):
    trained = train(tiny_config(ema=ema, test_flips=flips), tiny_data, progress=False, log=quiet)
    names = [n for n, (average, _) in EVALUATIONS.items() if ema or not average]
    assert list(trained.evaluations) == names
    configured = next(n for n, (average, f) in EVALUATIONS.items() if average == (ema > 0) and f == flips)
    accuracy = (trained.test_logits.argmax(1) == tiny_data.y_test).float().mean().item()
    assert trained.evaluations[configured] == accuracy == trained.history[-1]["test_accuracy"]
    model = trained.model.module if ema else trained.model  # the network evaluated: the average, where there is one
    torch.testing.assert_close(trained.test_logits, predict(model, tiny_data.x_test, flips=flips))


def test_checkpoint_resume_keeps_the_moving_average(tiny_data, tmp_path):
    config = tiny_config(epochs=3, ema=0.8, test_flips=True)
    reference = train(config, tiny_data, progress=False, log=quiet)
    checkpoint = tmp_path / "checkpoint.pt"

    with pytest.raises(KeyboardInterrupt):
        train(config, tiny_data, checkpoint_path=checkpoint, progress=False, log=interrupt_at_epoch_2)
    resumed = train(config, tiny_data, checkpoint_path=checkpoint, progress=False, log=quiet)
    assert without_seconds(resumed.history) == without_seconds(reference.history)
    torch.testing.assert_close(resumed.test_logits, reference.test_logits, rtol=0, atol=0)
    assert resumed.evaluations == reference.evaluations


# --- a full disk while a checkpoint is written (issue 31) ---------------------------------------------

def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def torch_full(*args, **kwargs):  # what torch.save raises when the disk fills under it
    raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1280 vs 1174")


def checkpoints_fail(monkeypatch, failure) -> None:
    """torch.save fails as on a full disk, for checkpoints only (the data cache is written as before)."""
    real = train_mod.torch.save
    monkeypatch.setattr(train_mod.torch, "save", lambda obj, f, *args, **kwargs: failure() if "checkpoint" in str(f)
                        else real(obj, f, *args, **kwargs))


@pytest.mark.parametrize("failure", [enospc, torch_full])
def test_a_full_disk_mid_run_names_the_checkpoint_folder_and_the_space_it_needs(tiny_data, tmp_path, monkeypatch,
                                                                               failure):
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    checkpoints_fail(monkeypatch, failure)
    with pytest.raises(OutputError) as info:
        train(tiny_config(epochs=2), tiny_data, checkpoint_path=checkpoint, progress=False, log=quiet)
    message = str(info.value)
    assert str(checkpoint.parent) in message and re.search(r"about [\d.]+ MB", message) and "free" in message
    assert "\n" not in message
    assert list(checkpoint.parent.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize("failure", [enospc, torch_full])
def test_a_full_disk_at_the_last_checkpoint_keeps_the_finished_run(synthetic_dir, tmp_path, monkeypatch, failure):
    from cifar_utils import store
    monkeypatch.setattr(store, "CHECKPOINT_EVERY_S", 0)  # a checkpoint after every epoch, the last one too
    run = store.ExperimentRun("baseline", make_config(epochs=1), data_dir=str(synthetic_dir),
                              results_dir=str(tmp_path / "results"), figures_dir=str(tmp_path / "figures"))
    run.checkpoint = tmp_path / "runs" / "baseline-x" / "checkpoint.pt"
    checkpoints_fail(monkeypatch, failure)
    logs = []
    result = run.run(log=logs.append, progress=False)
    assert run.path.is_file() and len(result["history"]) == 1  # the finished run is stored
    (warning,) = [line for line in logs if line.startswith("Warning: ")]
    assert str(run.checkpoint.parent) in warning and "\n" not in warning
    assert not run.checkpoint.parent.exists()
