"""hardware: which device "auto" picks (cuda > mps > cpu), which precision, which optimizer kernel,
the allocator setting, and how a result names the machine. Availability is monkeypatched, so every
branch is tested on any machine."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
import torch

from cifar_utils import hardware
from cifar_utils.config import ConfigError
from cifar_utils.hardware import (autocast, autocast_dtype, dtype_name, fused_for, keep_freed_memory,
                                  resolve_device)

CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda"), torch.device("mps")


@pytest.fixture
def available(monkeypatch):
    """available(cuda=..., mps=...): pretend these devices are (not) there."""
    def set_available(cuda: bool, mps: bool):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    return set_available


@pytest.mark.parametrize("cuda,mps,expected", [(True, True, "cuda"), (True, False, "cuda"),
                                               (False, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(available, cuda, mps, expected):
    available(cuda=cuda, mps=mps)
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device("cpu") == CPU  # always there


def test_auto_without_an_mps_backend_is_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends, "mps", None)  # a torch built without the MPS backend
    assert resolve_device("auto") == CPU


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_named_device_that_is_missing_is_refused(available, name):
    available(cuda=False, mps=False)
    with pytest.raises(ConfigError, match=rf"device = '{name}' is not available on this machine; use device 'auto' "
                                          rf"or 'cpu'\."):
        resolve_device(name)


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_named_device_that_is_there_is_used(available, name):
    available(cuda=True, mps=True)
    assert resolve_device(name) == torch.device(name)


# --- precision -----------------------------------------------------------------------------------

def test_explicit_precisions():
    assert autocast_dtype("fp32", CPU) is None and autocast_dtype("fp32", CUDA) is None
    assert autocast_dtype("bf16", CPU) is torch.bfloat16 and autocast_dtype("bf16", CUDA) is torch.bfloat16
    assert autocast_dtype("fp16", CUDA) is torch.float16
    for device in (CPU, MPS):
        with pytest.raises(ConfigError, match=rf"precision = 'fp16' needs a CUDA device, not {device.type}"):
            autocast_dtype("fp16", device)


@pytest.mark.parametrize("fast", [True, False])
def test_auto_precision_on_cpu_follows_native_bf16(monkeypatch, fast):
    monkeypatch.setattr(hardware, "cpu_has_fast_bf16", lambda: fast)
    assert autocast_dtype("auto", CPU) is (torch.bfloat16 if fast else None)
    assert autocast_dtype("auto", MPS) is None  # never on mps


@pytest.mark.parametrize("bf16,expected", [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_precision_on_cuda(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    assert autocast_dtype("auto", CUDA) is expected


@pytest.mark.parametrize("flags,expected", [("fpu avx2 avx512f avx512_bf16 sse", True),
                                            ("fpu amx_bf16 amx_tile", True), ("fpu avx2 avx512f", False),
                                            (None, False)])
def test_cpu_has_fast_bf16_reads_cpuinfo_flags(monkeypatch, flags, expected):
    class FakePath:
        def __init__(self, path):
            assert str(path) == "/proc/cpuinfo"

        def read_text(self):
            if flags is None:
                raise OSError("no /proc here")
            return f"processor\t: 0\nflags\t\t: {flags}\n"

    monkeypatch.setattr(hardware, "Path", FakePath)
    assert hardware.cpu_has_fast_bf16() is expected


def test_dtype_name():
    assert [dtype_name(d) for d in (None, torch.bfloat16, torch.float16)] == ["fp32", "bfloat16", "float16"]


def test_autocast_context():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast(CPU, None):
        assert (a @ b).dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
    with autocast(CPU, torch.bfloat16):
        assert (a @ b).dtype == torch.bfloat16
    assert (a @ b).dtype == torch.float32


def test_fused_kernels_only_where_torch_has_them():
    assert fused_for(CPU) is True and fused_for(CUDA) is True
    assert fused_for(MPS) is None  # torch's default, not False (its slowest loop)


@pytest.mark.parametrize("device,calls", [(CPU, 1), (CUDA, 0), (MPS, 0)])
def test_prepare_keeps_freed_memory_on_cpu_only(monkeypatch, device, calls):
    seen = []
    monkeypatch.setattr(hardware, "keep_freed_memory", lambda: seen.append(1) or True)
    hardware.prepare(device)
    assert len(seen) == calls


def test_environment_names_the_machine():
    env = hardware.environment(CPU, torch.bfloat16)
    assert set(env) == {"torch", "python", "platform", "cpu", "threads", "device", "autocast"}
    assert env["torch"] == torch.__version__ and env["python"] == platform.python_version()
    assert (env["device"], env["autocast"], env["threads"]) == ("cpu", "bfloat16", torch.get_num_threads())
    assert isinstance(env["cpu"], str) and env["cpu"]
    assert hardware.environment(CPU, None)["autocast"] == "fp32"


MMAP_PROBE = """
import ctypes, sys
from cifar_utils.hardware import keep_freed_memory
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


def test_keep_freed_memory_elsewhere_changes_nothing(monkeypatch):
    monkeypatch.setattr(hardware.platform, "libc_ver", lambda *args, **kwargs: ("musl", "1.2"))
    assert keep_freed_memory() is False


def _wait_policy_after_import(env_changes: dict) -> str:
    """OMP_WAIT_POLICY as a fresh interpreter sees it after importing cifar_utils ("" when unset)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} | env_changes
    code = "import os, cifar_utils; print(os.environ.get('OMP_WAIT_POLICY', ''))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_importing_cifar_utils_makes_waiting_openmp_threads_sleep():
    # Spinning threads made two trainings on one machine slow each other down far more than 2x (README).
    assert _wait_policy_after_import({}) == "PASSIVE"


@pytest.mark.parametrize("env_changes, expected", [({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE"),
                                                   ({"GOMP_SPINCOUNT": "300000"}, "")])
def test_a_users_own_openmp_wait_setting_is_kept(env_changes, expected):
    assert _wait_policy_after_import(env_changes) == expected
