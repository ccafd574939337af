"""A training process killed mid-run resumes from its last checkpoint and ends where an
uninterrupted run ends (same seed, same CPU)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from cifar_utils.data import load_cifar10
from cifar_utils.train import train
from helpers import BASE_RECIPE, make_config, without_seconds

pytestmark = pytest.mark.slow  # trains in a subprocess, kills it, trains twice more

CONFIG = {**BASE_RECIPE, **dict(model="baseline", dropout=0.25, optimizer="sgd", lr=0.05, nesterov=True, epochs=4,
                                batch_size=50, schedule="onecycle", warmup=0.2, flip=True, crop_pad=2,
                                train_subset=200, test_subset=50, precision="fp32", device="cpu")}


def test_killed_training_resumes_from_checkpoint(synthetic_dir, tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    script = textwrap.dedent(f"""
        import time, torch
        from cifar_utils.config import ExperimentConfig
        from cifar_utils.data import load_cifar10
        from cifar_utils.train import train
        torch.set_num_threads(1)
        data = load_cifar10({str(synthetic_dir)!r}).subset(200, 50)
        def slow_log(line):  # gives the test time to kill the process between epochs
            print(line, flush=True)
            time.sleep(3)
        train(ExperimentConfig(**{CONFIG!r}), data, checkpoint_path={str(checkpoint)!r}, progress=False, log=slow_log)
        print("FINISHED", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    output = proc.communicate()[0]
    assert checkpoint.exists() and "FINISHED" not in output, output
    saved = torch.load(checkpoint, weights_only=True)
    assert 1 <= len(saved["history"]) < CONFIG["epochs"]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the killed process: the same kernels, so the same numbers
    try:
        data = load_cifar10(synthetic_dir).subset(200, 50)
        lines = []
        resumed = train(make_config(**CONFIG), data, checkpoint_path=checkpoint, progress=False,
                        log=lines.append).history
        uninterrupted = train(make_config(**CONFIG), data, progress=False, log=lambda line: None).history
    finally:
        torch.set_num_threads(threads)
    assert lines[0].startswith(f"Resuming from {checkpoint} after epoch {len(saved['history'])}")
    assert without_seconds(resumed) == without_seconds(uninterrupted)
