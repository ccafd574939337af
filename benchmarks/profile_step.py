"""Where a training step's time goes: torch.profiler's top operators for AlexNet at the report's batch,
both channels_last, synthetic inputs: fp32 with torch's default SGD (the naive loop's precision and
optimizer), then ours: bf16 autocast, fused SGD, and glibc malloc keeping freed memory (as train() does).

    python benchmarks/profile_step.py [--batch 512] [--steps 3]
"""
from __future__ import annotations

import argparse
import os

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from cifar_utils.hardware import cpu_model, keep_freed_memory
from cifar_utils.models import build_model


def main() -> None:
    if not torch.cuda.is_available():  # else torch.profiler's CUDA probe logs "gpuGetDeviceCount failed"
        os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=512, help="minibatch size")
    parser.add_argument("--steps", type=int, default=3, help="profiled steps (after 2 warm-up steps)")
    args = parser.parse_args()
    print(f"machine: {cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    for dtype in (None, torch.bfloat16):
        ours = dtype is not None
        if ours:
            keep_freed_memory()  # lasts for the process: so the fp32 run goes first
        torch.manual_seed(0)
        model = build_model("alexnet", 0.0).to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, fused=ours or None)
        x = torch.randn(args.batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (args.batch,))

        def step():
            with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        step(), step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                step()
        print(f"== {'ours: bf16 autocast, fused SGD, malloc keeping freed memory' if ours else 'fp32, default SGD'}, "
              f"batch {args.batch}, {args.steps} steps")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8, max_name_column_width=36,
                                        max_src_column_width=0))


if __name__ == "__main__":
    main()
