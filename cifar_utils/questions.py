"""The two questions the first study left open, answered from the stored runs of the cells that ask them.

- **Depth at a matched recipe.** The baseline network trained with the AlexNet cells' recipe, in the same
  optimizer x dropout design (``study.design(cells, "baseline", 8)``): at each of the four cells, AlexNet
  minus the baseline network; and what Dropout 0.5 does to each network (``dropout_by_network``). The two networks differ in width and in the layers they have, not in depth
  alone, so an effect here is the network's, with the recipe held fixed.
- **Dropout at a longer budget.** AlexNet + Adam with and without Dropout 0.5 at each budget the study
  trains (8 and 16 epochs): Dropout's effect at each, and how much it changes between them (a contrast of
  four independent groups, Welch-Satterthwaite).
- **The generalisation gap measured fairly.** Runs stored since the training probe existed also hold the
  loss and accuracy of the network in evaluation mode on 5,000 training images (``train_eval_*`` in the
  history, ``data.Cifar10.training_probe``): test minus that loss, without the bias of a training loss
  recorded with dropout active on augmented batches. Older runs lack it, and are left out, not guessed.

Every function takes ``cells`` (cell -> its stored final results, as ``study_results.cell_results`` reads
them) and computes from them; the effects are ``stats`` dicts with a 95% interval, or the reason there is
none.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import stats, study
from .estimates import direction
from .results import accuracy

NETWORK_EPOCHS = 8  # the budget of the design both networks are trained in
NO_INTERVAL = "cannot be estimated yet"


def _estimate(compute, groups: dict[str, list]) -> dict | str:
    """``compute()``, or why it cannot be: a group (label -> values) with fewer than 2 runs, or no spread."""
    few = {label: len(values) for label, values in groups.items() if len(values) < 2}
    if few:
        return f"{NO_INTERVAL}: needs 2 runs of each, has " + ", ".join(f"{n} of {label}" for label, n in few.items())
    try:
        return compute()
    except ValueError as exc:  # no spread at all
        return f"{NO_INTERVAL}: {str(exc).rstrip('.')}"


def _factors(optimizer: str, dropout: float) -> str:
    return f"{study.OPTIMIZER_NAMES[optimizer]}, " + (f"Dropout {dropout:g}" if dropout else "no dropout")


def depth_effects(cells: dict) -> dict[tuple[str, float], dict | str]:
    """(optimizer, dropout) -> AlexNet minus the baseline network in test accuracy (points), at the matched
    recipe, for every cell of the design both networks have."""
    alexnet = study.design(cells, "alexnet", NETWORK_EPOCHS)
    baseline = study.design(cells, "baseline", NETWORK_EPOCHS)
    found = {}
    for factors in (f for f in alexnet if f in baseline):
        small, large = ([accuracy(r) for r in cells[design[factors]]] for design in (baseline, alexnet))
        found[factors] = _estimate(lambda a=small, b=large: stats.difference(a, b),
                                   {baseline[factors].label: small, alexnet[factors].label: large})
    return found


def dropout_by_network(cells: dict) -> dict[tuple[str, str], dict | str]:
    """(network, optimizer) -> Dropout 0.5 minus none in test accuracy (points) at the matched recipe, for
    each network whose design has both dropout levels: what Dropout costs or gives each network."""
    found = {}
    for model in ("baseline", "alexnet"):
        design = study.design(cells, model, NETWORK_EPOCHS)
        for optimizer in ("sgd", "adam"):
            if {(optimizer, 0.0), (optimizer, 0.5)} <= set(design):
                plain, dropout = ([accuracy(r) for r in cells[design[optimizer, p]]] for p in (0.0, 0.5))
                found[model, optimizer] = _estimate(lambda a=plain, b=dropout: stats.difference(a, b),
                                                    {design[optimizer, 0.0].label: plain,
                                                     design[optimizer, 0.5].label: dropout})
    return found


def budgets(cells: dict) -> list[int]:
    """The AlexNet budgets (epochs) at which the study has Adam both with and without Dropout 0.5."""
    epochs = sorted({c.value("epochs") for c in cells if c.value("model") == "alexnet"})
    return [e for e in epochs if {("adam", 0.0), ("adam", 0.5)} <= set(study.design(cells, "alexnet", e))]


def dropout_by_budget(cells: dict) -> dict[int | str, dict | str]:
    """Dropout 0.5 minus none with Adam, in test accuracy (points), at each budget (epochs -> effect), and
    under "change" the difference between the longest and the shortest budget's effects."""
    found: dict[int | str, dict | str] = {}
    groups = {}
    labels = {}
    for epochs in budgets(cells):
        design = study.design(cells, "alexnet", epochs)
        plain, dropout = ([accuracy(r) for r in cells[design["adam", p]]] for p in (0.0, 0.5))
        found[epochs] = _estimate(lambda a=plain, b=dropout: stats.difference(a, b),
                                  {design["adam", 0.0].label: plain, design["adam", 0.5].label: dropout})
        groups[epochs, 0.0], groups[epochs, 0.5] = plain, dropout
        labels[epochs, 0.0], labels[epochs, 0.5] = design["adam", 0.0].label, design["adam", 0.5].label
    if len(found) >= 2:
        short, long = min(found), max(found)
        weights = {(long, 0.5): 1.0, (long, 0.0): -1.0, (short, 0.5): -1.0, (short, 0.0): 1.0}
        found["change"] = _estimate(lambda: stats.contrast(groups, weights),
                                    {labels[key]: groups[key] for key in weights})
    return found


def last_epoch(result: dict, field: str) -> float | None:
    return result["history"][-1].get(field)


def measured_gap(cells: dict) -> pd.DataFrame:
    """Per cell whose every stored run measured the training probe: at the last epoch, the mean loss and
    accuracy in evaluation mode on the probe's training images, on the test set, and the gaps between them
    (test minus training loss; training minus test accuracy), over its runs."""
    rows = {}
    for cell, results in cells.items():
        if not results or any(last_epoch(r, "train_eval_loss") is None for r in results):
            continue
        train_loss = np.mean([last_epoch(r, "train_eval_loss") for r in results])
        test_loss = np.mean([last_epoch(r, "test_loss") for r in results])
        train_acc = 100 * np.mean([last_epoch(r, "train_eval_accuracy") for r in results])
        test_acc = 100 * np.mean([last_epoch(r, "test_accuracy") for r in results])
        rows[cell.label] = {"runs": len(results), "epochs": cell.value("epochs"),
                            "training loss, eval mode": round(float(train_loss), 3),
                            "test loss": round(float(test_loss), 3),
                            "test minus training loss": round(float(test_loss - train_loss), 3),
                            "training accuracy, eval mode (%)": round(float(train_acc), 2),
                            "test accuracy (%)": round(float(test_acc), 2),
                            "training minus test accuracy (points)": round(float(train_acc - test_acc), 2)}
    return pd.DataFrame(rows).T


def _row(effect: dict | str) -> dict:
    if isinstance(effect, str):
        return {"estimate": effect, "p-value": "", "interval": ""}
    return {"estimate": stats.format_interval(effect), "p-value": f"{effect['p_value']:.3g}",
            "interval": direction(effect)}


def depth_table(cells: dict) -> pd.DataFrame:
    """AlexNet minus the baseline network at each cell of the matched recipe, with 95% intervals."""
    rows = {_factors(*factors): _row(effect) for factors, effect in depth_effects(cells).items()}
    return pd.DataFrame(rows).T.rename_axis("AlexNet minus baseline CNN, same recipe")


def dropout_table(cells: dict) -> pd.DataFrame:
    """Dropout 0.5 minus none with Adam at each budget, and the change between budgets."""
    rows = {(f"{key} epochs" if key != "change" else "change: longest minus shortest budget"): _row(effect)
            for key, effect in dropout_by_budget(cells).items()}
    return pd.DataFrame(rows).T.rename_axis("Dropout 0.5 minus none, AlexNet + Adam")


def findings(cells: dict) -> list[str]:
    """The answers as Markdown bullets for the README's results block (none while no cell asks)."""
    lines = []
    for factors, effect in depth_effects(cells).items():
        lines.append(_bullet(f"depth at a matched recipe, *AlexNet minus baseline CNN, {_factors(*factors)}*", effect))
    if depth_effects(cells):  # what Dropout does to the baseline network (AlexNet's: the 2 x 2 and the budgets)
        for (model, optimizer), effect in dropout_by_network(cells).items():
            if model != "baseline":
                continue
            lines.append(_bullet(f"*Dropout 0.5 minus none, {study.NETWORKS[model]} + "
                                 f"{study.OPTIMIZER_NAMES[optimizer]}, {NETWORK_EPOCHS} epochs*", effect))
    by_budget = dropout_by_budget(cells)
    for key, effect in (by_budget.items() if len(by_budget) > 1 else ()):  # one budget: the 2 x 2 says it
        what = (f"Dropout 0.5 minus none with Adam, {key} epochs" if key != "change"
                else "change of Dropout's effect from the shortest to the longest budget")
        lines.append(_bullet(f"*{what}*", effect))
    return lines


def _bullet(name: str, effect: dict | str) -> str:
    if isinstance(effect, str):
        return f"- {name}: {effect}."
    return f"- {name}: {stats.format_interval(effect).rstrip('.')}; **{direction(effect)}**."
