"""What a published notebook keeps of the run that executed it (``report.publish``, ``webpages``).

Removed: papermill's injected-parameters cell (the cells after it numbered as a run without it numbers them)
and its and nbclient's timestamps (re-running unchanged work leaves no diff), the split of one stream into
several outputs (a kernel flushes stdout when it likes, so under load one print can arrive as two messages:
consecutive outputs of one stream are joined), and
every progress bar: tqdm's ipywidgets outputs (a widget view whose ``text/plain``
fallback reads ``epoch 1/9:   0%|          | 0/98 ...``), the notebook's widget state, and tqdm's text
bars in stdout/stderr (``\\r``-overwritten lines). A static report cannot show a widget, and a bar frozen
at some step says nothing about the result.

Kept: ``metadata.language_info`` exactly as the kernel reported it, version included, because
JupyterLab writes the kernel's ``language_info`` into a notebook when it connects: a notebook without
the version would be modified by merely opening it. The cost: publishing with another Python version
changes that one line.
"""
from __future__ import annotations

import re

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# One tqdm bar as tqdm.format_meter writes it: "desc:  40%|####      | 2/5 [00:01<00:01, 2.0it/s]", or
# without a total "desc: 7it [00:01, 6.5it/s]".
TQDM_BAR = re.compile(r"\d{1,3}%\|.*\|\s*[\d.]+[kMGTP]?/[\d.?]+[kMGTP]?\s*\[|[\d.]+[kMGTP]?it \[\d+:\d\d")


def strip_volatile(nb) -> None:
    """Drop papermill's injected-parameters cell (only data_dir/download/retrain can be there when
    publishing: re-running the published notebook must load results, not retrain) and the execution count it
    took from every cell after it, papermill's and nbclient's timestamps, and progress bars (``strip_progress``)."""
    def injected(cell) -> bool:
        return "injected-parameters" in cell.metadata.get("tags", [])

    taken_counts = [c.get("execution_count") for c in nb.cells if injected(c) and c.get("execution_count")]
    nb.cells = [c for c in nb.cells if not injected(c)]
    for taken in sorted(taken_counts, reverse=True):
        for cell in nb.cells:  # the cells run after it: one count less, their results' counts too
            for item in [cell, *cell.get("outputs", [])]:
                if (item.get("execution_count") or 0) > taken:
                    item["execution_count"] -= 1
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    strip_progress(nb)


def strip_progress(nb) -> None:
    """Remove widget outputs, the notebook's widget state and tqdm's text bars, in place."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if WIDGET_VIEW in output.get("data", {}):
                continue
            if output.output_type == "stream":
                output.text = without_bars(output.text)
                if not output.text:
                    continue
                if kept and kept[-1].output_type == "stream" and kept[-1].name == output.name:
                    kept[-1].text += output.text  # one stream, split by when the kernel flushed it
                    continue
            kept.append(output)
        cell.outputs = kept


def without_bars(text: str) -> str:
    """``text`` less its tqdm bars: each ``\\r``-separated piece of a line that is a bar or blank goes; a
    line left with other pieces keeps the last of them (what a terminal shows at the end)."""
    lines = []
    for line in text.splitlines(keepends=True):
        body, end = (line[:-1], "\n") if line.endswith("\n") else (line, "")
        if "\r" not in body and not TQDM_BAR.search(body):
            lines.append(line)
            continue
        pieces = [p for p in body.split("\r") if p.strip() and not TQDM_BAR.search(p)]
        if pieces:
            lines.append(pieces[-1] + end)
    return "".join(lines)
