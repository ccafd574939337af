"""Benchmark: the training time of one run of each quick recipe against the study's recipe, measured in one run.

    python benchmarks/quick_vs_study.py --data-dir ../shared/cifar10 [--images 3000] [--repeats 2]

For each training notebook, the study's recipe (profiles/report/) and the quick one (profiles/quick/) are
timed alternately in this one process, ``--repeats`` times each, and the median taken:
- the training rate (images/s) of ``train.train_step`` at the recipe's batch size (the moving average of the
  weights updated after each step where the recipe keeps one), over ``--images`` images;
- the evaluation after each epoch (the 10,000 test images and the 5,000 of the training probe, with test-time
  flips where the recipe uses them), timed on 2,000 images and scaled.
A run's time is then epochs x (50,000 / rate + evaluation), plus the evaluations a finished run measures
(``train.evaluations``). Machines of one kind differ up to 2x, so only the ratios carry from one machine to
another; the absolute times are this machine's.
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import fast_rate  # noqa: E402  (the benchmark beside this one: train()'s own step)

from cifar_utils.config import ConfigError  # noqa: E402
from cifar_utils.data import TEST_SIZE, TRAIN_SIZE, load_cifar10  # noqa: E402
from cifar_utils.evaluate import predict  # noqa: E402
from cifar_utils.hardware import autocast_dtype, cpu_model, dtype_name, resolve_device  # noqa: E402
from cifar_utils.recipes import EXPERIMENTS, profile_config  # noqa: E402
from cifar_utils.train import EVALUATIONS, setup  # noqa: E402

PROBE_IMAGES = 5_000  # data.Cifar10.training_probe: evaluated after every epoch with the test set
EVAL_SAMPLE = 2_000


def evaluation_seconds_per_image(data, config, device, dtype) -> float:
    trainer = setup(config, 1, device, dtype)
    images = data.x_train[:EVAL_SAMPLE]
    predict(trainer.evaluated, images[:200], device=device, dtype=dtype, flips=config.test_flips)  # warm-up
    start = time.perf_counter()
    predict(trainer.evaluated, images, device=device, dtype=dtype, flips=config.test_flips)
    return (time.perf_counter() - start) / len(images)


def run_seconds(config, rate: float, eval_per_image: float, plain_eval_per_image: float) -> float:
    """One run's time: epochs x (training + evaluation) + the evaluations measured at the end."""
    per_epoch = TRAIN_SIZE / rate + (TEST_SIZE + PROBE_IMAGES) * eval_per_image
    others = [flips for average, flips in EVALUATIONS.values()
              if (config.ema or not average) and (average, flips) != (config.ema > 0, config.test_flips)]
    return config.epochs * per_epoch + sum(TEST_SIZE * plain_eval_per_image * (2 if f else 1) for f in others)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="CIFAR-10 folder (default: $CIFAR10_ROOT or the cache)")
    parser.add_argument("--images", type=int, default=3000, help="images timed per training-rate measurement")
    parser.add_argument("--repeats", type=int, default=2, help="alternating measurements per recipe (median)")
    args = parser.parse_args()
    device = resolve_device("auto")
    data = load_cifar10(args.data_dir).subset(max(args.images * 2, EVAL_SAMPLE), 100, seed=0)
    print(f"# python benchmarks/quick_vs_study.py --images {args.images} --repeats {args.repeats}")
    print(f"# machine: {cpu_model()}, {torch.get_num_threads()} threads, {platform.system()}, torch {torch.__version__}, "
          f"device {device}")
    rows, totals = [], {"report": 0.0, "quick": 0.0}
    for name, info in EXPERIMENTS.items():
        try:
            configs = {profile: profile_config(profile, name) for profile in ("report", "quick")}
        except ConfigError as exc:
            print(f"# {info.title}: skipped ({exc})")
            continue
        measured = {profile: [] for profile in configs}
        for _ in range(args.repeats):
            for profile, config in configs.items():
                dtype = autocast_dtype(config.precision, device)
                steps = max(3, args.images // config.batch_size)
                rate = fast_rate(data, config, config.batch_size, steps, device, dtype)
                evaluation = evaluation_seconds_per_image(data, config, device, dtype)
                plain = evaluation_seconds_per_image(data, dataclasses.replace(config, test_flips=False, ema=0.0),
                                                     device, dtype)
                measured[profile].append((run_seconds(config, rate, evaluation, plain), rate, dtype_name(dtype)))
        row = {"notebook": info.notebook}
        for profile, config in configs.items():
            seconds = statistics.median(s for s, _, _ in measured[profile])
            totals[profile] += seconds
            row[profile] = (config.epochs, config.batch_size, statistics.median(r for _, r, _ in measured[profile]),
                            seconds, measured[profile][0][2])
        rows.append(row)
    print("| notebook | study: epochs, batch | study: images/s | study: s per run | quick: epochs, batch | "
          "quick: images/s | quick: s per run | quick / study |")
    print("|---|---|---:|---:|---|---:|---:|---:|")
    for row in rows:
        (se, sb, sr, ss, sd), (qe, qb, qr, qs, qd) = row["report"], row["quick"]
        print(f"| {row['notebook']} | {se}, {sb} ({sd}) | {sr:.0f} | {ss:.0f} | {qe}, {qb} ({qd}) | {qr:.0f} | {qs:.0f} "
              f"| {qs / ss:.2f} |")
    if rows:
        print(f"| all three | | | {totals['report']:.0f} | | | {totals['quick']:.0f} | "
              f"{totals['quick'] / totals['report']:.2f} |")


if __name__ == "__main__":
    main()
