#!/usr/bin/env bash
# The study's sweep on a GPU machine, timed: tuning on the validation split, adoption of the chosen
# learning rates, then every cell x seed on the test set (python -m cifar_utils.sweep --stage all).
#
#   bash benchmarks/sweep_gpu.sh DATA_DIR LOG_FILE [JOBS]
#
# JOBS runs at once share the GPU (default 6): each run is a short process whose start, data loading
# and Python overhead would otherwise leave the GPU idle. Prints the GPU, the versions, one line per
# run and the sweep's wall time.
set -euo pipefail
data_dir=$1 log=$2 jobs=${3:-6}
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}   # the project environment; PYTHON=python3 where packages are installed system-wide
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$python" -c "import torch, platform; print('torch', torch.__version__, 'python', platform.python_version(), torch.cuda.get_device_name())"
  start=$(date +%s)
  PYTHONUNBUFFERED=1 "$python" -m cifar_utils.sweep --stage all --jobs "$jobs" -p data_dir "$data_dir" || echo "sweep exit $?"
  echo "sweep wall time: $(( $(date +%s) - start )) s ($jobs runs at once)"
} 2>&1 | tee "$log"
