"""What the notebooks and the README print about stored results: tables and a few lines of prose.

Every function here takes result dicts (``results`` schema) and computes its numbers from them, so
the text stays true when parameters change; none of them trains, loads or draws. A table holds each number as
``formats`` writes it (``class_counts`` keeps the per-class numbers as numbers, for what computes with them).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import formats
from .evaluate import overall_counts
from .results import accuracy, data_label, machine, markdown_text
from .recipes import EXPERIMENTS, original, original_report


def title(result: dict) -> str:
    return EXPERIMENTS[result["experiment"]].title


def class_counts(result: dict) -> pd.DataFrame:
    """One row per class of a result, with an 'Overall' row last: correct and total (ints) and accuracy (%, a
    float, NaN for a class without test images), the numbers ``per_class_table`` prints."""
    confusion, classes = np.asarray(result["confusion"]), result["classes"]
    correct, total = np.diag(confusion), confusion.sum(axis=1)
    frame = pd.DataFrame({"class": list(classes) + ["Overall"],
                          "correct": list(correct) + [correct.sum()],
                          "total": list(total) + [total.sum()]})
    frame["accuracy (%)"] = 100 * frame["correct"] / frame["total"].where(frame["total"] > 0)
    return frame.set_index("class")


def _percent(x: float) -> str:
    """An accuracy cell: ``formats.percent``, or "no test images" for NaN."""
    return "no test images" if np.isnan(x) else formats.percent(x)


def per_class_table(result: dict) -> pd.DataFrame:
    """One row per class of a result: correct, total and accuracy (%), with an 'Overall' row last."""
    counts = class_counts(result)
    return pd.DataFrame({"correct": counts["correct"].map(formats.count), "total": counts["total"].map(formats.count),
                         "accuracy (%)": counts["accuracy (%)"].map(_percent)})


def original_format(result: dict) -> str:
    """The per-class accuracy lines exactly as the original report prints them (percent rounded down)."""
    lines = []
    for name, row in class_counts(result).iterrows():
        pct = 100 * int(row["correct"]) // int(row["total"]) if row["total"] else 0
        label = "Test Accuracy (Overall)" if name == "Overall" else f"Test Accuracy of {name}"
        if name == "Overall":
            lines.append("")
        lines.append(f"{label}: {pct}% ({int(row['correct'])}/{int(row['total'])})")
    return "\n".join(lines)


HISTORY_COLUMNS = {"train_loss": "train loss", "train_accuracy": "train accuracy (%)", "test_loss": "test loss",
                   "test_accuracy": "test accuracy (%)", "lr": "learning rate (end of epoch)", "seconds": "seconds"}


def history_table(result: dict) -> pd.DataFrame:
    """One row per epoch: losses (plain cross-entropy), accuracies in %, the learning rate, the seconds it took."""
    frame = pd.DataFrame(result["history"]).set_index("epoch")[list(HISTORY_COLUMNS)]
    shown = {"train_loss": formats.loss, "test_loss": formats.loss,
             "train_accuracy": lambda x: formats.percent(100 * x), "test_accuracy": lambda x: formats.percent(100 * x),
             "lr": "{:.6f}".format, "seconds": "{:.1f}".format}
    return pd.DataFrame({HISTORY_COLUMNS[name]: frame[name].map(shown[name]) for name in HISTORY_COLUMNS})


def loss_minimum(result: dict) -> str:
    """Markdown bullets on where a run's test loss was lowest and how far it and the training accuracy
    moved after that (the evidence for or against "the loss stabilised")."""
    history = result["history"]
    low = min(history, key=lambda h: h["test_loss"])
    last = history[-1]
    return (f"- Lowest test loss: **{low['test_loss']:.3f} at epoch {low['epoch']}** of {last['epoch']} "
            f"(test accuracy {100 * low['test_accuracy']:.2f}% there, training accuracy "
            f"{100 * low['train_accuracy']:.2f}%).\n"
            f"- At the last epoch: test loss **{last['test_loss']:.3f}** ({last['test_loss'] - low['test_loss']:+.3f}), "
            f"test accuracy **{100 * last['test_accuracy']:.2f}%** ({100 * (last['test_accuracy'] - low['test_accuracy']):+.2f} "
            f"points), training accuracy **{100 * last['train_accuracy']:.2f}%**.")


def _stated(theirs: dict) -> dict:
    """The original report's recipe for one experiment (``formats.setting``), each entry we assumed marked
    "(assumed)"."""
    return {name: f"{formats.setting(value)} (assumed)" if name in theirs.get("assumed", ()) else formats.setting(value)
            for name, value in theirs["recipe"].items()}


def _training_time(result: dict) -> str:
    """How long a run trained, where and at which precision: "12.4 min on cuda (bfloat16)"."""
    env = result["environment"]
    return f"{formats.minutes(result['train_seconds'])} min on {env['device']} ({env['autocast']})"


def result_vs_original(result: dict) -> pd.DataFrame:
    """This run's accuracy and recipe beside the original report's."""
    theirs, cfg = original(result["experiment"]), result["config"]
    recipe = _stated(theirs)
    rows = {
        "test accuracy (%)": (formats.percent(theirs["accuracy"]), formats.percent(accuracy(result))),
        "epochs": (recipe["epochs"], cfg["epochs"]),
        "batch size": (recipe["batch_size"], cfg["batch_size"]),
        "optimizer": (recipe["optimizer"], cfg["optimizer"]),
        "learning rate": (recipe["lr"] or "not given", f"{formats.setting(cfg['lr'])} peak, {cfg['schedule']}"),
        "momentum (Adam: beta1)": (recipe.get("momentum", "not given"), formats.setting(cfg["momentum"])),
        "dropout": (recipe.get("dropout", "not given"), formats.setting(cfg["dropout"])),
        "training time": ("not reported", _training_time(result)),
        "test images": (formats.count(10000), formats.count(result["environment"]["test_images"])),
    }
    return pd.DataFrame(rows, index=["original report", "this run"]).T


def observations(result: dict) -> str:
    """A few sentences of Markdown about one result, every number computed from it (classes without
    test images are left out of the ranking)."""
    table = class_counts(result).drop(index="Overall")
    ranked = table[table["total"] > 0].sort_values("accuracy (%)", ascending=False)
    confusion = np.asarray(result["confusion"])
    off = confusion - np.diag(np.diag(confusion))
    true_i, pred_i = np.unravel_index(off.argmax(), off.shape)
    classes, first = result["classes"], result["first_ten"]
    right = sum(p == t for p, t in zip(first["predicted"], first["true"]))
    low = min(range(len(first["confidence"])), key=first["confidence"].__getitem__)

    def fmt(rows):
        return ", ".join(f"{name} ({acc:.1f}%)" for name, acc in rows["accuracy (%)"].items())

    count = int(off[true_i, pred_i])
    confusion_line = (f"- Most frequent confusion: {count} test image{'s' if count != 1 else ''} of *{classes[true_i]}* "
                      f"predicted as *{classes[pred_i]}*.\n" if off.max() > 0
                      else "- No test image was misclassified.\n")
    return (f"- Overall test accuracy: **{accuracy(result):.2f}%** (original report: "
            f"{original(result['experiment'])['accuracy']}%).\n"
            f"- Best classes: {fmt(ranked.head(3))}; hardest: {fmt(ranked.tail(3).iloc[::-1])}.\n"
            f"{confusion_line}"
            f"- First {len(first['true'])} test images: {right}/{len(first['true'])} correct; the least confident "
            f"prediction is image {low + 1}, *{classes[first['predicted'][low]]}* at "
            f"{100 * first['confidence'][low]:.1f}% (true class *{classes[first['true'][low]]}*).")


def comparison(a: dict, b: dict) -> pd.DataFrame:
    """Per-class and overall accuracy of two results and the difference b - a (percentage points)."""
    acc_a, acc_b = class_counts(a)["accuracy (%)"], class_counts(b)["accuracy (%)"]
    return pd.DataFrame({f"{title(a)} (%)": acc_a.map(_percent), f"{title(b)} (%)": acc_b.map(_percent),
                         f"{title(b)} minus {title(a)} (points)":
                             (acc_b - acc_a).map(lambda x: "" if np.isnan(x) else formats.points(x))})


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
    lines = ["| notebook | original report | this repo | epochs | batch | training time | machine |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, result in stored.items():
        notebook, theirs = EXPERIMENTS[name].notebook, original(name)["accuracy"]
        if result is None:
            lines.append(f"| {notebook} | {theirs:.2f}% | not run | | | | |")
            continue
        correct, total = overall_counts(result["confusion"])
        lines.append(f"| {notebook} | {theirs:.2f}% | {accuracy(result):.2f}% ({correct}/{total}) | "
                     f"{result['config']['epochs']} | {result['config']['batch_size']} | "
                     f"{result['train_seconds']:.0f} s | {markdown_text(machine(result['environment']))} |")
    return "\n".join(lines)
