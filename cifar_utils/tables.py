"""What the notebooks and the README print about stored results: tables and a few lines of prose.

Every function here takes result dicts (``results`` schema) and computes its numbers from them, so
the text stays true when parameters change; none of them trains, loads or draws.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .evaluate import overall_counts
from .results import accuracy, data_label, machine, markdown_text
from .recipes import EXPERIMENTS, original, original_report


def title(result: dict) -> str:
    return EXPERIMENTS[result["experiment"]].title


def per_class_table(result: dict) -> pd.DataFrame:
    """One row per class of a result: correct, total and accuracy (%), with an 'Overall' row last."""
    confusion, classes = np.asarray(result["confusion"]), result["classes"]
    correct, total = np.diag(confusion), confusion.sum(axis=1)
    frame = pd.DataFrame({"class": list(classes) + ["Overall"],
                          "correct": list(correct) + [correct.sum()],
                          "total": list(total) + [total.sum()]})
    frame["accuracy (%)"] = (100 * frame["correct"] / frame["total"].where(frame["total"] > 0)).round(2)
    return frame.set_index("class")


def original_format(result: dict) -> str:
    """The per-class accuracy lines exactly as the original report prints them (percent rounded down)."""
    lines = []
    for name, row in per_class_table(result).iterrows():
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
    for column in ("train_accuracy", "test_accuracy"):
        frame[column] = 100 * frame[column]
    frame = frame.round({"train_loss": 4, "test_loss": 4, "train_accuracy": 2, "test_accuracy": 2,
                         "lr": 6, "seconds": 1})
    return frame.rename(columns=HISTORY_COLUMNS)


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
    """The original report's recipe for one experiment, each entry we assumed marked "(assumed)"."""
    return {name: f"{value} (assumed)" if name in theirs.get("assumed", ()) else value
            for name, value in theirs["recipe"].items()}


def result_vs_original(result: dict) -> pd.DataFrame:
    """This run's accuracy and recipe beside the original report's."""
    theirs, cfg = original(result["experiment"]), result["config"]
    recipe = _stated(theirs)
    rows = {
        "test accuracy (%)": (f"{theirs['accuracy']:.2f}", f"{accuracy(result):.2f}"),
        "epochs": (recipe["epochs"], cfg["epochs"]),
        "batch size": (recipe["batch_size"], cfg["batch_size"]),
        "optimizer": (recipe["optimizer"], cfg["optimizer"]),
        "learning rate": (recipe["lr"] or "not given", f"{cfg['lr']} peak, {cfg['schedule']}"),
        "momentum (Adam: beta1)": (recipe.get("momentum", "not given"), cfg["momentum"]),
        "dropout": (recipe.get("dropout", "not given"), cfg["dropout"]),
        "training time (s)": ("not reported", f"{result['train_seconds']:.0f} on {result['environment']['device']}"),
        "test images": (10000, result["environment"]["test_images"]),
    }
    return pd.DataFrame(rows, index=["original report", "this run"]).T


def observations(result: dict) -> str:
    """A few sentences of Markdown about one result, every number computed from it (classes without
    test images are left out of the ranking)."""
    table = per_class_table(result).drop(index="Overall")
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
    acc_a, acc_b = per_class_table(a)["accuracy (%)"], per_class_table(b)["accuracy (%)"]
    return pd.DataFrame({f"{title(a)} (%)": acc_a, f"{title(b)} (%)": acc_b,
                         "difference (points)": (acc_b - acc_a).round(2)})


def profiles_table(experiment: str, stored: dict[str, dict | None]) -> pd.DataFrame:
    """The original report beside an experiment's stored results under several profiles (None: not run)."""
    theirs = original(experiment)
    recipe = _stated(theirs)
    columns = {"original report": {"test accuracy (%)": f"{theirs['accuracy']:.2f}",
                                   "epochs": recipe["epochs"], "batch size": recipe["batch_size"],
                                   "training time": "not reported", "trained on": original_report()["data"]}}
    for profile, result in stored.items():
        label = f"{profile} profile"
        if result is None:
            columns[label] = {"test accuracy (%)": "not run"}  # the notebooks' text gives the command
            continue
        env = result["environment"]
        columns[label] = {"test accuracy (%)": f"{accuracy(result):.2f}", "epochs": result["config"]["epochs"],
                          "batch size": result["config"]["batch_size"],
                          "training time": f"{result['train_seconds'] / 60:.1f} min on {env['device']} "
                                           f"({env['autocast']})",
                          "trained on": data_label(env)}
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
