"""cifar_utils: the library behind the CIFAR-10 report notebooks.

Modules, one concern each: ``data`` (CIFAR-10 as uint8 tensors, batches, the validation split),
``models``, ``config`` (a recipe's fields and their checks, the results key), ``recipes`` (the
experiments, where each recipe lives, output folders, the original report's numbers), ``hardware``
(device, precision, optimizer kernel, allocator), ``train`` (the training step and loop),
``evaluate`` (predictions and accuracy), ``results`` (stored JSON results), ``store`` (a stored result,
or a training run that stores one; headless), ``tables`` (results beside the original report's), ``stats``
(intervals and tests over seeds), ``plots`` (drawing) and ``figures`` (the figure registry), ``theory``
(Part 1's parameter checks, AlexNet's layer table and receptive fields, the profiles' label smoothing),
``references`` (the report's one bibliography), ``experiment`` (what a notebook calls), ``study`` (the study's cells and
runs) with ``study_results`` (its stored runs, read), ``estimates`` (their numbers), ``claims`` (the
original report's claims) and ``conclusions`` (their tables and Markdown), ``sweep`` (the study's
runner), ``report`` (``python -m cifar_utils.report`` runs the notebooks with papermill) and
``webpages`` (``make html``: the notebooks as offline pages).
"""
import os

__version__ = "0.1.0"

# OpenMP threads that spin while they wait make two trainings on one machine fight for the cores:
# each ran many times slower than alone (docs/troubleshooting.md; benchmarks/two_at_once.py).
# Sleeping instead costs a run alone nothing measurable. libgomp reads this when torch is imported,
# so it is set here, before any module of ours imports torch; a user's own setting is kept.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
