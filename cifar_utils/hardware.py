"""Every decision that depends on the machine: which device, which precision, which optimizer kernel,
the allocator setting, and how the machine is described in a stored result.

Training (``train``), the stored results (``store``) and the benchmarks all ask here, so a choice
such as "bf16 autocast where the CPU has native bf16" is made in one place.
"""
from __future__ import annotations

import contextlib
import ctypes
import platform
from pathlib import Path

import torch

from .config import ConfigError

FUSED_DEVICES = ("cpu", "cuda")  # where torch has fused (one kernel for all parameters) SGD and Adam


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


def dtype_name(dtype: torch.dtype | None) -> str:
    """'bfloat16', 'float16' or 'fp32' (no autocast): how results and benchmarks name a precision."""
    return str(dtype).replace("torch.", "") if dtype else "fp32"


def autocast(device: torch.device, dtype: torch.dtype | None):
    """The autocast context for ``dtype`` on ``device``; a no-op for fp32 (None)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def fused_for(device: torch.device) -> bool | None:
    """``fused`` for make_optimizer on ``device``: True where torch has the fused kernels, else None
    (torch's default choice; False would force its slowest per-tensor loop)."""
    return True if device.type in FUSED_DEVICES else None


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


def prepare(device: torch.device) -> None:
    """Process-wide settings for training on ``device`` (on CPU: ``keep_freed_memory``)."""
    if device.type == "cpu":
        keep_freed_memory()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device, dtype: torch.dtype | None) -> dict:
    """The machine a result was trained on, as stored in the result (without the data's provenance)."""
    return {"torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "cpu": cpu_model(), "threads": torch.get_num_threads(), "device": str(device),
            "autocast": dtype_name(dtype)}
