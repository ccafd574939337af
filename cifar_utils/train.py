"""One training function for every experiment of the report.

``train(config, data)`` seeds everything, builds the model, and trains it on whole-tensor batches
(see ``data.batches``) with ``channels_last`` and autocast where the hardware makes them pay off, a
fused optimizer on CPU and CUDA, and, on CPU, ``keep_freed_memory()`` (for the whole process).
After every epoch it records train loss, train accuracy, test loss, test accuracy and seconds,
and, when given a checkpoint path, saves model, optimizer, schedule, RNG state and history
atomically so that a killed run resumes where it stopped.
"""
from __future__ import annotations

import contextlib
import ctypes
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .config import ConfigError, ExperimentConfig
from .data import Cifar10, batches, normalise
from .evaluate import predict
from .io import atomic_write_with
from .models import build_model


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda, else mps, else cpu; a named device that is not there is an error."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise ConfigError(f"device = {name!r} is not available on this machine; use device 'auto' or 'cpu'.")
    return torch.device(name)


def cpu_has_fast_bf16() -> bool:
    """True where the CPU has native bfloat16 matrix instructions (AVX512-BF16 or AMX-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a precision name on a device; None means plain fp32."""
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise ConfigError(f"precision = 'fp16' needs a CUDA device, not {device.type}; use 'bf16', 'fp32' or 'auto'.")
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    # auto
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return None


def keep_freed_memory() -> bool:
    """Make glibc's malloc reuse freed memory for large blocks instead of returning it to the system.

    By default glibc serves every block over 32 MB (AlexNet's weight copies, gradients, activations)
    with a fresh mmap, so each training step page-faults in and zeroes hundreds of MB again (about
    25,000 faults and 8% system time per AlexNet step at batch 512). Turning mmap and trimming off
    (mallopt M_MMAP_MAX=0, M_TRIM_THRESHOLD=max) keeps freed blocks for reuse: the process keeps its
    peak memory until it exits. Returns True when both settings took; False where the C library is
    not glibc (nothing changed) or glibc refused one of them."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # from <malloc.h>
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2 ** 31 - 1))


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


FUSED_DEVICES = ("cpu", "cuda")  # where torch has fused (one kernel for all parameters) SGD and Adam


def fused_for(device: torch.device) -> bool | None:
    """``fused`` for make_optimizer on ``device``: True where torch has the fused kernels, else None
    (torch's default choice; False would force its slowest per-tensor loop)."""
    return True if device.type in FUSED_DEVICES else None


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


def train(config: ExperimentConfig, data: Cifar10, *, checkpoint_path: str | Path | None = None,
          progress: bool = True, log=print) -> tuple[torch.nn.Module, list[dict]]:
    """Train the configured model on ``data``; return the model and the per-epoch history."""
    config.validate(n_train=len(data.y_train), n_test=len(data.y_test))
    device = resolve_device(config.device)
    dtype = autocast_dtype(config.precision, device)
    if device.type == "cpu":
        keep_freed_memory()
    torch.manual_seed(config.seed)
    model = build_model(config.model, config.dropout, config.init).to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(config, model.parameters(), fused=fused_for(device))
    steps_per_epoch = -(-len(data.y_train) // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(config, s, total_steps))
    scaler = torch.amp.GradScaler("cuda", enabled=dtype is torch.float16)
    history: list[dict] = []

    checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
    if checkpoint_path and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location=device, weights_only=True)
        if state.get("key") == config.key() and state.get("data_sha256") == data.sha256:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            for group in optimizer.param_groups:  # a checkpoint's groups carry its writer's implementation
                group["fused"] = fused_for(device)
            scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"].cpu())
            if device.type == "cuda" and state.get("cuda_rng") is not None:
                torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
            history = state["history"]
            log(f"Resuming from {checkpoint_path} after epoch {len(history)} of {config.epochs}.")

    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    for epoch in range(len(history), config.epochs):
        start = time.perf_counter()
        model.train()
        loss_sum, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
        steps = batches(x_train, y_train, config.batch_size, shuffle=True, seed=config.seed, epoch=epoch,
                        flip=config.flip, crop_pad=config.crop_pad)
        bar = tqdm(steps, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}",
                   leave=False, disable=not progress)
        for step, (x, y) in enumerate(bar):
            x = normalise(x, channels_last=True)
            with _autocast(device, dtype):
                logits = model(x)
                loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"the training loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}; "
                    f"lower lr (now {config.lr}) or use precision 'fp32'.")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            with torch.no_grad():  # plain cross-entropy (no smoothing), comparable with the test loss
                logits = logits.float()
                loss_sum += F.cross_entropy(logits, y, reduction="sum")
                correct += (logits.argmax(1) == y).sum()
                seen += len(y)
        test_logits = predict(model, data.x_test, device=device, dtype=dtype)
        test_loss = F.cross_entropy(test_logits, data.y_test).item()
        test_acc = (test_logits.argmax(1) == data.y_test).float().mean().item()
        history.append({"epoch": epoch + 1, "train_loss": loss_sum.item() / seen,
                        "train_accuracy": correct.item() / seen, "test_loss": test_loss,
                        "test_accuracy": test_acc, "lr": scheduler.get_last_lr()[0],
                        "seconds": time.perf_counter() - start})
        h = history[-1]
        log(f"epoch {epoch + 1:3d}/{config.epochs}  train loss {h['train_loss']:.4f} acc {h['train_accuracy']:.2%}"
            f"  test loss {h['test_loss']:.4f} acc {h['test_accuracy']:.2%}  {h['seconds']:.1f} s")
        if checkpoint_path:
            state = {"key": config.key(), "data_sha256": data.sha256, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                     "rng": torch.get_rng_state(), "history": history,
                     "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else None}
            atomic_write_with(checkpoint_path, lambda tmp: torch.save(state, tmp))
    return model, history
