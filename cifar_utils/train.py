"""One training function for every experiment of the report, and the one training step it repeats.

``train(config, data)`` seeds everything, builds the model, and trains it on whole-tensor batches
(see ``data.batches``) with ``channels_last`` and the device, precision, optimizer kernel and
allocator setting that ``hardware`` chooses. After every epoch it records train loss, train
accuracy (as trained: augmented batches, dropout active), the loss and accuracy of the network in
evaluation mode on the training probe (``Cifar10.training_probe``), test loss, test accuracy and seconds, and, when given a checkpoint path, saves model,
optimizer, schedule, RNG state and history atomically so that a killed run resumes where it stopped.
With ``ema`` > 0 it keeps a moving average of the weights (updated after every step) and evaluates that; with
``test_flips`` every evaluation averages the logits of each image and its mirror image. A finished run also
measures the test accuracy of each evaluation it can give (``evaluations``), so that one tuning run compares them.
``setup`` and ``train_step`` are what the benchmarks time: exactly the step ``train`` runs.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import hardware
from .config import ExperimentConfig
from .data import Cifar10, batches, normalise
from .evaluate import predict
from .files import OutputError, atomic_write_with, failure_reason
from .models import build_model


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def make_optimizer(config: ExperimentConfig, params, fused: bool | None = None) -> torch.optim.Optimizer:
    """SGD or Adam as configured. ``fused=True`` updates all parameters in one kernel instead of several
    passes over memory per tensor (the same update, rounded differently in the last bits); None is
    torch's default implementation."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
                               weight_decay=config.weight_decay, fused=fused)
    return torch.optim.Adam(params, lr=config.lr, betas=(config.momentum, 0.999),
                            weight_decay=config.weight_decay, fused=fused)


MIN_WARMUP_STEPS = 100  # a network without normalisation layers diverges when the full lr comes at once


def lr_factor(config: ExperimentConfig, step: int, total_steps: int) -> float:
    """Multiplier of the peak lr at ``step``: constant, or linear warm-up then linear decay to 0.

    A warm-up (warmup > 0) lasts at least MIN_WARMUP_STEPS steps (or the whole run, if shorter), so
    that short runs (a few hundred images, one epoch) do not diverge."""
    if config.schedule == "constant":
        return 1.0
    warm = 1
    if config.warmup > 0:
        warm = max(round(config.warmup * total_steps), min(MIN_WARMUP_STEPS, total_steps))
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (total_steps - step) / max(1, total_steps - warm))


@dataclass
class Trainer:
    """What one training step needs: model, optimizer, schedule, loss scaler, device and precision."""
    config: ExperimentConfig
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    device: torch.device
    dtype: torch.dtype | None
    steps_per_epoch: int
    averaged: torch.optim.swa_utils.AveragedModel | None = None  # the weights' moving average (ema > 0)

    @property
    def evaluated(self) -> torch.nn.Module:
        """The network evaluation uses: the moving average of the weights where there is one."""
        return self.averaged if self.averaged is not None else self.model


def setup(config: ExperimentConfig, steps_per_epoch: int, device: torch.device,
          dtype: torch.dtype | None) -> Trainer:
    """Seed, build the model (channels_last) and its optimizer and schedule for ``config``."""
    hardware.prepare(device)
    torch.manual_seed(config.seed)
    model = build_model(config.model, config.dropout, config.init).to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(config, model.parameters(), fused=hardware.fused_for(device))
    total_steps = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(config, s, total_steps))
    scaler = torch.amp.GradScaler("cuda", enabled=dtype is torch.float16)
    averaged = None
    if config.ema > 0:
        averaged = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(config.ema))
    return Trainer(config, model, optimizer, scheduler, scaler, device, dtype, steps_per_epoch, averaged)


def train_step(t: Trainer, x: torch.Tensor, y: torch.Tensor, epoch: int = 0, step: int = 0) -> torch.Tensor:
    """One optimizer step on a uint8 batch ``x`` (normalised here); returns the batch's fp32 logits.

    Raises NonFiniteLossError (naming ``epoch`` and ``step``, counted from 0) when the loss is NaN or inf."""
    x = normalise(x, channels_last=True)
    with hardware.autocast(t.device, t.dtype):
        logits = t.model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=t.config.label_smoothing)
    if not torch.isfinite(loss):
        raise NonFiniteLossError(  # fp32 is the fix only where the run was in a 16-bit precision
            f"the training loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}; lower lr (now "
            f"{t.config.lr})" + (" or use precision 'fp32'." if t.dtype in (torch.bfloat16, torch.float16) else "."))
    t.optimizer.zero_grad(set_to_none=True)
    t.scaler.scale(loss).backward()
    t.scaler.step(t.optimizer)
    t.scaler.update()
    t.scheduler.step()
    if t.averaged is not None:
        t.averaged.update_parameters(t.model)
    return logits.detach().float()


@dataclass
class Trained:
    model: torch.nn.Module
    history: list[dict]       # one record per epoch
    test_logits: torch.Tensor  # fp32 (N, 10) logits of the test set after the last epoch
    evaluations: dict          # test accuracy of each evaluation the run can give (``evaluations``)


def train(config: ExperimentConfig, data: Cifar10, *, device: torch.device | None = None,
          dtype: torch.dtype | None | str = "auto", checkpoint_path: str | Path | None = None,
          checkpoint_every_s: float = 0.0, progress: bool = True, log=print) -> Trained:
    """Train the configured model on ``data``. ``device``/``dtype`` default to what ``hardware`` picks
    for ``config.device``/``config.precision`` (a caller that resolved them already passes them).
    With ``checkpoint_path``, a checkpoint is written after an epoch once ``checkpoint_every_s`` seconds
    have passed since the last one (0: after every epoch). One that cannot be written (a full disk) stops the run
    with an OutputError naming its folder and about the space it needs, unless training has finished: then it is
    only warned about, and the finished run is not lost."""
    device = device or hardware.resolve_device(config.device)
    dtype = hardware.autocast_dtype(config.precision, device) if dtype == "auto" else dtype
    steps_per_epoch = -(-len(data.y_train) // config.batch_size)
    t = setup(config, steps_per_epoch, device, dtype)
    history: list[dict] = []
    checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
    if checkpoint_path and checkpoint_path.is_file():
        history = _resume(t, checkpoint_path, data.sha256, log)

    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    x_probe, y_probe = data.training_probe()
    test_logits, saved_at = None, time.perf_counter()
    for epoch in range(len(history), config.epochs):
        start = time.perf_counter()
        t.model.train()
        loss_sum, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
        steps = batches(x_train, y_train, config.batch_size, shuffle=True, seed=config.seed, epoch=epoch,
                        flip=config.flip, crop_pad=config.crop_pad)
        bar = tqdm(steps, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}",
                   leave=False, disable=not progress)
        for step, (x, y) in enumerate(bar):
            logits = train_step(t, x, y, epoch, step)
            with torch.no_grad():  # plain cross-entropy (no smoothing), comparable with the test loss
                loss_sum += F.cross_entropy(logits, y, reduction="sum")
                correct += (logits.argmax(1) == y).sum()
                seen += len(y)
        test_logits = predict(t.evaluated, data.x_test, device=device, dtype=dtype, flips=config.test_flips)
        probe_logits = predict(t.evaluated, x_probe, device=device, dtype=dtype, flips=config.test_flips)
        history.append({"epoch": epoch + 1, "train_loss": loss_sum.item() / seen,
                        "train_accuracy": correct.item() / seen,
                        "train_eval_loss": F.cross_entropy(probe_logits, y_probe).item(),
                        "train_eval_accuracy": (probe_logits.argmax(1) == y_probe).float().mean().item(),
                        "test_loss": F.cross_entropy(test_logits, data.y_test).item(),
                        "test_accuracy": (test_logits.argmax(1) == data.y_test).float().mean().item(),
                        "lr": t.scheduler.get_last_lr()[0], "seconds": time.perf_counter() - start})
        h = history[-1]
        log(f"epoch {epoch + 1:3d}/{config.epochs}  train loss {h['train_loss']:.4f} acc {h['train_accuracy']:.2%}"
            f"  {config.evaluate_on} loss {h['test_loss']:.4f} acc {h['test_accuracy']:.2%}  {h['seconds']:.1f} s")
        if checkpoint_path and time.perf_counter() - saved_at >= checkpoint_every_s:
            try:
                _save_checkpoint(t, checkpoint_path, data.sha256, history)
            except OutputError as exc:  # a full disk; the last checkpoint written, if any, stays to resume from
                if epoch + 1 < config.epochs:
                    raise OutputError(f"{exc}: free that much space there and run the same command again.") from None
                log(f"Warning: {exc}, but training has finished, so the run goes on without it.")  # its result is kept
            saved_at = time.perf_counter()
    if test_logits is None:  # resumed from a checkpoint that had every epoch
        test_logits = predict(t.evaluated, data.x_test, device=device, dtype=dtype, flips=config.test_flips)
    return Trained(t.evaluated, history, test_logits, evaluations(t, data.x_test, data.y_test, test_logits))


EVALUATIONS = {"weights": (False, False), "weights + test flips": (False, True),
               "EMA": (True, False), "EMA + test flips": (True, True)}  # name -> (moving average, flips)


def evaluations(t: Trainer, images: torch.Tensor, labels: torch.Tensor, done: torch.Tensor) -> dict[str, float]:
    """name -> test accuracy of each evaluation of ``EVALUATIONS`` this run can give (the moving average only
    where ``ema`` > 0); ``done`` are the logits of the configured evaluation, not computed again."""
    chosen = (t.averaged is not None, t.config.test_flips)
    out = {}
    for name, (average, flips) in EVALUATIONS.items():
        if average and t.averaged is None:
            continue
        logits = done if (average, flips) == chosen else predict(
            t.averaged if average else t.model, images, device=t.device, dtype=t.dtype, flips=flips)
        out[name] = (logits.argmax(1) == labels).float().mean().item()
    return out


def _save_checkpoint(t: Trainer, path: Path, data_sha256: str, history: list[dict]) -> None:
    """Write the checkpoint atomically. When it cannot be (a full disk), OutputError naming its folder and about
    the space it needs, without torch's chained tracebacks (``train`` adds what to do)."""
    state = {"key": t.config.key(), "data_sha256": data_sha256, "model": t.model.state_dict(),
             "optimizer": t.optimizer.state_dict(), "scheduler": t.scheduler.state_dict(),
             "rng": torch.get_rng_state(), "history": history,
             "averaged": t.averaged.state_dict() if t.averaged is not None else None,
             "cuda_rng": torch.cuda.get_rng_state_all() if t.device.type == "cuda" else None}
    try:
        atomic_write_with(path, lambda tmp: torch.save(state, tmp))
    except OutputError as exc:
        reason = failure_reason(exc.__cause__ or exc)
        raise OutputError(f"the checkpoint cannot be written into {path.parent} ({reason}); it needs about "
                          f"{max(1, round(_nbytes(state) / 1e6))} MB") from None


def _nbytes(state) -> int:
    """The bytes of the tensors in ``state`` (nested dicts and lists): about the size of its checkpoint file."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(map(_nbytes, state.values()))
    if isinstance(state, (list, tuple)):
        return sum(map(_nbytes, state))
    return 0


class _Unusable(Exception):
    """A checkpoint that loads but does not belong to this run."""


def _resume(t: Trainer, path: Path, data_sha256: str, log) -> list[dict]:
    """Load the checkpoint at ``path`` into ``t`` and return its history, when it is this configuration's
    on this data; otherwise (another configuration or dataset, or a file that cannot be used) set it
    aside as ``<path>.unusable``, say so, and return an empty history: training starts over."""
    try:
        state = torch.load(path, map_location=t.device, weights_only=True)
        if state.get("key") != t.config.key() or state.get("data_sha256") != data_sha256:
            raise _Unusable("it was written for other parameters or other data")
        t.model.load_state_dict(state["model"])
        t.optimizer.load_state_dict(state["optimizer"])
        for group in t.optimizer.param_groups:  # a checkpoint's groups carry its writer's implementation
            group["fused"] = hardware.fused_for(t.device)
        t.scheduler.load_state_dict(state["scheduler"])
        if t.averaged is not None:
            t.averaged.load_state_dict(state["averaged"])
        rng, cuda_rng, history = state["rng"], state.get("cuda_rng"), state["history"]
        if not (isinstance(history, list) and len(history) <= t.config.epochs):
            raise _Unusable(f"its history is not a list of at most {t.config.epochs} epochs")
    except Exception as exc:  # truncated, another model's weights, a refused pickle, a wrong shape
        why = str(exc) if isinstance(exc, _Unusable) else type(exc).__name__
        aside = path.with_name(path.name + ".unusable")
        os.replace(path, aside)
        log(f"Warning: the checkpoint {path} cannot be used ({why}); moved it to {aside.name} and training "
            f"starts over.")
        # The model and optimizer may hold part of the checkpoint: build them afresh.
        fresh = setup(t.config, t.steps_per_epoch, t.device, t.dtype)
        t.model, t.optimizer, t.scheduler, t.scaler, t.averaged = (fresh.model, fresh.optimizer, fresh.scheduler,
                                                                   fresh.scaler, fresh.averaged)
        return []
    torch.set_rng_state(rng.cpu())
    if t.device.type == "cuda" and cuda_rng is not None:
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_rng])
    log(f"Resuming from {path} after epoch {len(history)} of {t.config.epochs}.")
    return history
