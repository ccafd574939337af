"""cifar_utils: the library behind the CIFAR-10 report notebooks.

Modules, one concern each: ``data`` (CIFAR-10 as uint8 tensors, batches), ``models``, ``config``
(parameters and their checks), ``train``, ``evaluate``, ``results`` (stored JSON results),
``plots``, ``theory`` (Part 1's worked examples), ``experiment`` (what a notebook calls) and
``report`` (``python -m cifar_utils.report`` runs the notebooks with papermill).
"""
__version__ = "0.1.0"
