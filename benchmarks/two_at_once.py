"""Benchmark: how much two trainings on one machine slow each other, with OpenMP's default wait policy
and with the one cifar_utils sets (OMP_WAIT_POLICY=PASSIVE, see cifar_utils/__init__.py).

    python benchmarks/two_at_once.py --data-dir ../shared/cifar10

Each training is a separate process running ``cifar_utils.train.train`` on a stratified subset with
the report recipe of a notebook (2 epochs; the second epoch's seconds are reported, the first warms
up). For each wait policy it runs one training alone, then two at once, and prints seconds per epoch
and the slow-down of running two at once.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = """
import dataclasses, json, sys
from cifar_utils.data import load_cifar10
from cifar_utils.recipes import profile_config
from cifar_utils.train import train
name, data_dir, n_train = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = dataclasses.replace(profile_config("report", name), epochs=2, train_subset=n_train, test_subset=500)
data = load_cifar10(data_dir).subset(config.train_subset, config.test_subset)
history = train(config, data, progress=False, log=lambda message: None).history
print(json.dumps(history[-1]["seconds"]))
"""


def epoch_seconds(policy: str | None, copies: int, name: str, data_dir: str, n_train: int) -> list[float]:
    """Start ``copies`` trainings at once under OMP_WAIT_POLICY ``policy``; their epoch seconds. None:
    libgomp's behaviour when no policy is given (GOMP_SPINCOUNT=300000, its documented default, which
    cifar_utils leaves alone since the user chose a spin count)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update({"OMP_WAIT_POLICY": policy} if policy else {"GOMP_SPINCOUNT": "300000"})
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, name, data_dir, str(n_train)], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(copies)]
    return [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True, help="CIFAR-10 folder")
    args = parser.parse_args()
    from cifar_utils.hardware import autocast_dtype, cpu_model, dtype_name, resolve_device
    device = resolve_device("auto")
    print(f"# python benchmarks/two_at_once.py --data-dir {args.data_dir}   ({time.strftime('%Y-%m-%d')})")
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical cores, device {device}, "
          f"autocast {dtype_name(autocast_dtype('auto', device))}\n")
    print("| notebook recipe | training images | OMP_WAIT_POLICY | alone (s/epoch) | two at once (s/epoch, each) | slow-down |")
    print("|---|---:|---|---:|---:|---:|")
    for name, n_train in (("baseline", 2_560), ("alexnet_sgd", 1_024)):
        for policy in (None, "PASSIVE"):
            alone = epoch_seconds(policy, 1, name, args.data_dir, n_train)[0]
            both = epoch_seconds(policy, 2, name, args.data_dir, n_train)
            print(f"| {name} | {n_train:,} | {policy or 'unset (OpenMP default)'} | {alone:.2f} | "
                  f"{', '.join(f'{s:.2f}' for s in both)} | {max(both) / alone:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
