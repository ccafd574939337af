"""Benchmark: training throughput of the naive loop vs ours, time-to-accuracy, faithful projection.

    python benchmarks/throughput.py --data-dir ../shared/cifar10 [--images 3000]
    python benchmarks/throughput.py --download            # a machine with internet: CIFAR-10 via torchvision

1. images/s of one training step loop, for both networks, at batch 10 (the original report's) and at the report
   profile's batch size:
   - naive: a torchvision-style dataset (PIL image -> RandomCrop/RandomHorizontalFlip -> ToTensor ->
     Normalize per image) through a DataLoader, fp32, contiguous (NCHW) tensors;
   - ours: ``cifar_utils.data.batches`` (uint8 tensors, augmentation and normalisation on whole
     batches), channels_last, the autocast dtype the report profile uses on this machine, and the
     fused optimizer kernel and (on CPU) the allocator setting that ``train()`` uses.
   Both run the same model, optimizer settings and loss; the input pipeline, memory format, precision,
   optimizer implementation and allocator setting differ.
2. time-to-accuracy of the report and faithful profiles, read from the stored results in results/
   (what each run measured): seconds until the test accuracy first reached the original report's number.
3. the faithful profile's projected wall time: measured seconds per image at batch 10 with the
   faithful settings (fp32), times 50,000 images x 300 epochs.
4. this CPU's ceiling: GFLOP/s of a large bf16 matrix product, against the rate a 3x speed-up over
   the naive loop would need.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from cifar_utils.data import MEAN, STD, DataError, batches, load_cifar10
from cifar_utils.experiment import stored_profiles
from cifar_utils.hardware import (autocast_dtype, cpu_model, dtype_name, fused_for, keep_freed_memory,
                                  resolve_device)
from cifar_utils.models import build_model
from cifar_utils.recipes import EXPERIMENTS, original, profile_config
from cifar_utils.train import make_optimizer, setup, train_step


class NaiveCifar(Dataset):
    """What torchvision.datasets.CIFAR10 does per item: a PIL image through the transforms."""

    def __init__(self, images_hwc: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images_hwc, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def time_steps(step, batch_iter, steps: int, warmup: int = 2) -> float:
    """images/s over ``steps`` steps after ``warmup`` untimed ones (data loading included)."""
    for _ in range(warmup):
        step(*next(batch_iter))
    seen, start = 0, time.perf_counter()
    for _ in range(steps):
        x, y = next(batch_iter)
        step(x, y)
        seen += len(y)
    return seen / (time.perf_counter() - start)


def naive_rate(data, config, batch_size, steps, device) -> float:
    torch.manual_seed(0)
    model = build_model(config.model, config.dropout).to(device)
    optimizer = make_optimizer(config, model.parameters())
    tf = transforms.Compose([transforms.RandomCrop(32, padding=config.crop_pad), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    dataset = NaiveCifar(data.x_train.permute(0, 2, 3, 1).numpy(), data.y_train.numpy(), tf)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)

    def stream():
        while True:
            for x, y in loader:
                yield x.to(device), y.to(device)

    def step(x, y):  # the textbook loop: fp32, torch's default optimizer, no schedule
        loss = F.cross_entropy(model(x), y, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time_steps(step, stream(), steps)


def fast_rate(data, config, batch_size, steps, device, dtype) -> float:
    """images/s of train()'s own step (cifar_utils.train.train_step: normalisation, autocast, loss check,
    fused optimizer, schedule) on whole-tensor batches."""
    config = dataclasses.replace(config, batch_size=batch_size)
    trainer = setup(config, -(-len(data.y_train) // batch_size), device, dtype)
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)

    def stream():
        epoch = 0
        while True:
            for x, y in batches(x_train, y_train, batch_size, shuffle=True, epoch=epoch,
                                flip=config.flip, crop_pad=config.crop_pad):
                if len(y) == batch_size:
                    yield x, y
            epoch += 1
    return time_steps(lambda x, y: train_step(trainer, x, y), stream(), steps)


def flops_per_image(config) -> float:
    """FLOPs of one training step (forward + backward) per image, counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode
    model = build_model(config.model, config.dropout)
    x, y = torch.randn(10, 3, 32, 32), torch.randint(0, 10, (10,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / 10


def matmul_gflops(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """GFLOP/s of an n x n by n x n matrix product in ``dtype``."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(2):
        a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="CIFAR-10 folder (default: $CIFAR10_ROOT or the cache)")
    parser.add_argument("--download", action="store_true",
                        help="let torchvision download CIFAR-10 into the folder when it has none")
    parser.add_argument("--images", type=int, default=3000, help="images timed per measurement (at least 3 steps)")
    args = parser.parse_args()

    try:
        data = load_cifar10(args.data_dir, download=args.download)
    except DataError as exc:  # one sentence in this script's options, not a traceback
        message = str(exc).replace("data_dir", "--data-dir").replace("allow download=True", "add --download")
        parser.exit(2, f"error: {message}\n")
    device = resolve_device("auto")
    report = {name: profile_config("report", name) for name in EXPERIMENTS}
    dtype = autocast_dtype(report["alexnet_sgd"].precision, device)
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), device {device}, python {platform.python_version()}")
    print(f"ours: autocast {dtype_name(dtype)}, channels_last, "
          f"{'fused' if fused_for(device) else 'default'} optimizer"
          f"{', glibc malloc keeping freed memory' if device.type == 'cpu' else ''}; "
          f"naive: fp32, DataLoader(num_workers=0) with PIL transforms, default optimizer")
    print(f"data: {data.source} (sha256 {data.sha256[:12]}...; JPEG-degraded pixels if it is the shared copy)\n")

    print("GFLOP/s: training-step FLOPs per image (torch FlopCounterMode) x images/s, the arithmetic rate achieved\n")
    print("| network | batch | naive (img/s) | ours (img/s) | speed-up | naive GFLOP/s | ours GFLOP/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    # All naive loops first: ours then turns on train()'s allocator setting (keep_freed_memory), which
    # lasts for the whole process.
    runs = [(report[name], batch_size) for name in ("baseline", "alexnet_sgd")
            for batch_size in (10, report[name].batch_size)]
    slow = [naive_rate(data, config, batch_size, max(3, args.images // batch_size), device)
            for config, batch_size in runs]
    if device.type == "cpu":
        keep_freed_memory()
    needed = {}
    for (config, batch_size), naive in zip(runs, slow):
        flops = flops_per_image(config)
        fast = fast_rate(data, config, batch_size, max(3, args.images // batch_size), device, dtype)
        print(f"| {config.model} | {batch_size} | {naive:,.0f} | {fast:,.0f} | {fast / naive:.2f}x | "
              f"{naive * flops / 1e9:,.0f} | {fast * flops / 1e9:,.0f} |", flush=True)
        needed[config.model] = (batch_size, 3 * naive * flops / 1e9)  # the last run: the report's batch

    if device.type == "cpu":
        print("\nCeiling: a 2048 x 2048 bf16 matrix product (oneDNN), the fastest arithmetic this CPU offers,"
              " against the rate that 3x the naive loop needs:\n")
        print(f"bf16 matmul: {matmul_gflops(torch.bfloat16):,.0f} GFLOP/s")
        for model, (batch_size, rate) in needed.items():
            print(f"{model} at batch {batch_size}: 3x the naive loop needs {rate:,.0f} GFLOP/s")

    print("\nTime to the original report's accuracy, from the stored results in results/ (what each run measured;"
          " seconds include the test evaluation after each epoch):\n")
    print("| notebook | profile | original accuracy | reached at epoch | seconds to reach | final accuracy | epochs |"
          " training seconds |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, info in EXPERIMENTS.items():
        goal = original(name)["accuracy"]
        for profile, result in stored_profiles(name).items():
            if result is None:
                print(f"| {info.notebook} | {profile} | {goal}% | no stored result | | | | |")
                continue
            elapsed, reached = 0.0, None
            for h in result["history"]:
                elapsed += h["seconds"]
                if reached is None and h["test_accuracy"] >= goal / 100:
                    reached = (h["epoch"], elapsed)
            final = result["history"][-1]["test_accuracy"]
            at = f"{reached[0]} | {reached[1]:.0f}" if reached else "not reached | -"
            print(f"| {info.notebook} | {profile} | {goal}% | {at} | {100 * final:.2f}% | "
                  f"{len(result['history'])} | {result['train_seconds']:.0f} |")

    print("\nFaithful profile (batch 10, 300 epochs, fp32), projected from measured throughput:\n")
    print("| notebook | measured img/s | s/epoch | projected 300 epochs |")
    print("|---|---:|---:|---:|")
    for name, info in EXPERIMENTS.items():
        config = profile_config("faithful", name)
        rate = fast_rate(data, config, config.batch_size, max(3, args.images // config.batch_size), device,
                         autocast_dtype(config.precision, device))
        per_epoch = len(data.y_train) / rate
        print(f"| {info.notebook} | {rate:,.0f} | {per_epoch:,.0f} | {per_epoch * config.epochs / 3600:.1f} h |",
              flush=True)


if __name__ == "__main__":
    main()
