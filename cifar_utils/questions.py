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
them) and computes from them; the effects are ``estimates.effect`` dicts, with a 95% interval over seeds and
test images (``stats.seeds_and_images``) beside the one over seeds only, or the reason there is none. These are answers with intervals, not claims: the family judged after Holm's
correction is ``claims``'.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import formats, study
from .estimates import EFFECT_COLUMNS, direction, effect, effect_columns, effect_text

NETWORK_EPOCHS = 8  # the budget of the design both networks are trained in
NO_INTERVAL = "cannot be estimated yet"


def _estimate(cells: dict, weights: dict) -> dict | str:
    """``estimates.effect`` of test accuracy with these weights, or why it cannot be: a cell with fewer than 2
    runs, or no spread."""
    few = {cell.label: len(cells[cell]) for cell in weights if len(cells[cell]) < 2}
    if few:
        return f"{NO_INTERVAL}: needs 2 runs of each, has " + ", ".join(f"{n} of {label}" for label, n in few.items())
    try:
        return effect(cells, weights)
    except ValueError as exc:  # no spread at all
        return f"{NO_INTERVAL}: {str(exc).rstrip('.')}"


def _factors(optimizer: str, dropout: float) -> str:
    return f"{study.OPTIMIZER_NAMES[optimizer]}, " + (f"Dropout {dropout:g}" if dropout else "no dropout")


def depth_effects(cells: dict) -> dict[tuple[str, float], dict | str]:
    """(optimizer, dropout) -> AlexNet minus the baseline network in test accuracy (points), at the matched
    recipe, for every cell of the design both networks have."""
    alexnet = study.design(cells, "alexnet", NETWORK_EPOCHS)
    baseline = study.design(cells, "baseline", NETWORK_EPOCHS)
    return {factors: _estimate(cells, {baseline[factors]: -1.0, alexnet[factors]: 1.0})
            for factors in alexnet if factors in baseline}


def dropout_by_network(cells: dict, models=("baseline", "alexnet")) -> dict[tuple[str, str], dict | str]:
    """(network, optimizer) -> Dropout 0.5 minus none in test accuracy (points) at the matched recipe, for
    each of the ``models`` whose design has both dropout levels: what Dropout costs or gives each network."""
    found = {}
    for model in models:
        design = study.design(cells, model, NETWORK_EPOCHS)
        for optimizer in ("sgd", "adam"):
            if {(optimizer, 0.0), (optimizer, 0.5)} <= set(design):
                found[model, optimizer] = _estimate(cells, {design[optimizer, 0.0]: -1.0, design[optimizer, 0.5]: 1.0})
    return found


def budgets(cells: dict) -> list[int]:
    """The AlexNet budgets (epochs) at which the study has Adam both with and without Dropout 0.5."""
    epochs = sorted({c.value("epochs") for c in cells if c.value("model") == "alexnet"})
    return [e for e in epochs if {("adam", 0.0), ("adam", 0.5)} <= set(study.design(cells, "alexnet", e))]


def dropout_by_budget(cells: dict) -> dict[int | str, dict | str]:
    """Dropout 0.5 minus none with Adam, in test accuracy (points), at each budget (epochs -> effect), and
    under "change" the difference between the longest and the shortest budget's effects."""
    found: dict[int | str, dict | str] = {}
    designs = {epochs: study.design(cells, "alexnet", epochs) for epochs in budgets(cells)}
    for epochs, design in designs.items():
        found[epochs] = _estimate(cells, {design["adam", 0.0]: -1.0, design["adam", 0.5]: 1.0})
    if len(found) >= 2:
        short, long = designs[min(found)], designs[max(found)]
        found["change"] = _estimate(cells, {long["adam", 0.5]: 1.0, long["adam", 0.0]: -1.0,
                                            short["adam", 0.5]: -1.0, short["adam", 0.0]: 1.0})
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
                            "training loss, eval mode": formats.loss(train_loss),
                            "test loss": formats.loss(test_loss),
                            "test minus training loss": formats.loss_difference(test_loss - train_loss),
                            "training accuracy, eval mode (%)": formats.percent(train_acc),
                            "test accuracy (%)": formats.percent(test_acc),
                            "training minus test accuracy (points)": formats.points(train_acc - test_acc)}
    return pd.DataFrame.from_dict(rows, orient="index")


def _row(found: dict | str) -> dict:
    if isinstance(found, str):
        return {**dict.fromkeys((*EFFECT_COLUMNS, "direction"), ""), "estimate": found}
    return {**effect_columns(found), "direction": direction(found)}


def depth_table(cells: dict) -> pd.DataFrame:
    """AlexNet minus the baseline network at each cell of the matched recipe: estimate, 95% intervals over seeds
    and test images and over seeds only, runs, p-value and the direction the interval shows."""
    rows = {_factors(*factors): _row(found) for factors, found in depth_effects(cells).items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("AlexNet minus baseline CNN, same recipe")


def dropout_table(cells: dict) -> pd.DataFrame:
    """Dropout 0.5 minus none with Adam at each budget, and the change between budgets, as ``depth_table``'s
    columns."""
    rows = {(f"{key} epochs" if key != "change" else "change: longest minus shortest budget"): _row(found)
            for key, found in dropout_by_budget(cells).items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("Dropout 0.5 minus none, AlexNet + Adam")


def findings(cells: dict) -> list[str]:
    """The answers as Markdown bullets for the README's results block (none while no cell asks)."""
    lines = []
    depth = depth_effects(cells)
    for factors, found in depth.items():
        lines.append(_bullet(f"depth at a matched recipe, *AlexNet minus baseline CNN, {_factors(*factors)}*", found))
    if depth:  # what Dropout does to the baseline network (AlexNet's: the 2 x 2 and the budgets)
        for (model, optimizer), found in dropout_by_network(cells, models=("baseline",)).items():
            lines.append(_bullet(f"*Dropout 0.5 minus none, {study.NETWORKS[model]} + "
                                 f"{study.OPTIMIZER_NAMES[optimizer]}, {NETWORK_EPOCHS} epochs*", found))
    by_budget = dropout_by_budget(cells)
    for key, found in (by_budget.items() if len(by_budget) > 1 else ()):  # one budget: the 2 x 2 says it
        what = (f"Dropout 0.5 minus none with Adam, {key} epochs" if key != "change"
                else "change of Dropout's effect from the shortest to the longest budget")
        lines.append(_bullet(f"*{what}*", found))
    return lines


def _bullet(name: str, found: dict | str) -> str:
    if isinstance(found, str):
        return f"- {name}: {found}."
    return f"- {name}: {effect_text(found)}; **{direction(found)}**."
