"""What the notebooks and the README print about stored results beside the original report's: tables.

Every function here takes result dicts (``results`` schema) and computes its numbers from them, so
the text stays true when parameters change; none of them trains, loads or draws. A table holds each number as
``formats`` writes it.
"""
from __future__ import annotations

import pandas as pd

from . import formats
from .evaluate import overall_counts
from .results import accuracy, data_label, machine, markdown_text
from .recipes import EXPERIMENTS, original, original_report


def _stated(theirs: dict) -> dict:
    """The original report's recipe for one experiment (``formats.setting``), each entry we assumed marked
    "(assumed)"."""
    return {name: f"{formats.setting(value)} (assumed)" if name in theirs.get("assumed", ()) else formats.setting(value)
            for name, value in theirs["recipe"].items()}


def _training_time(result: dict) -> str:
    """How long a run trained, where and at which precision: "12.4 min on cuda (bfloat16)"."""
    env = result["environment"]
    return f"{formats.minutes(result['train_seconds'])} min on {env['device']} ({env['autocast']})"


def profiles_table(experiment: str, stored: dict[str, dict | None]) -> pd.DataFrame:
    """The original report beside an experiment's stored results under several profiles (None: not run)."""
    theirs = original(experiment)
    recipe = _stated(theirs)
    columns = {"original report": {"test accuracy (%)": formats.percent(theirs["accuracy"]),
                                   "epochs": recipe["epochs"], "batch size": recipe["batch_size"],
                                   "training time": "not reported", "trained on": original_report()["data"]}}
    for profile, result in stored.items():
        label = f"{profile} profile"
        if result is None:
            columns[label] = {"test accuracy (%)": "not run"}  # the notebooks' text gives the command
            continue
        columns[label] = {"test accuracy (%)": formats.percent(accuracy(result)), "epochs": result["config"]["epochs"],
                          "batch size": result["config"]["batch_size"], "training time": _training_time(result),
                          "trained on": data_label(result["environment"])}
    return pd.DataFrame(columns).fillna("")


def results_markdown(stored: dict[str, dict | None]) -> str:
    """Markdown table of stored results (experiment -> result or None) beside the original report's numbers."""
    rows = []
    for name, result in stored.items():
        row = {"notebook": EXPERIMENTS[name].notebook, "original report": f"{original(name)['accuracy']:.2f}%",
               "this repo": "not run", "epochs": "", "batch": "", "training time": "", "machine": ""}
        if result is not None:
            correct, total = overall_counts(result["confusion"])
            row.update({"this repo": f"{accuracy(result):.2f}% ({correct}/{total})",
                        "epochs": str(result["config"]["epochs"]), "batch": str(result["config"]["batch_size"]),
                        "training time": f"{result['train_seconds']:.0f} s",
                        "machine": markdown_text(machine(result["environment"]))})
        rows.append(row)
    return formats.markdown_table(pd.DataFrame(rows, columns=list(row) if rows else None), index=False, align="lrrrrrl")
