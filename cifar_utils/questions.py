"""The two questions the first study left open, answered from the stored runs of the cells that ask them.

- **Depth at a matched recipe.** The baseline network trained with the AlexNet cells' recipe, in the same
  optimizer x dropout design (``study.design(cells, "baseline", *study.matched_recipe())``): at each of the four cells, AlexNet
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

from . import formats, stats, study
from .estimates import ACCURACY, EFFECT_COLUMNS, Measure, direction, effect, effect_columns, effect_text
from .results import plain_accuracy

NO_INTERVAL = "cannot be estimated yet"


def _estimate(cells: dict, weights: dict, measure: Measure = ACCURACY) -> dict | str:
    """``estimates.effect`` of ``measure`` (test accuracy) with these weights, or why it cannot be: a cell with
    fewer than 2 runs, or no spread."""
    few = {cell.label: len(cells[cell]) for cell in weights if len(cells[cell]) < 2}
    if few:
        return f"{NO_INTERVAL}: needs 2 runs of each, has " + ", ".join(f"{n} of {label}" for label, n in few.items())
    try:
        return effect(cells, weights, measure)
    except ValueError as exc:  # no spread at all
        return f"{NO_INTERVAL}: {str(exc).rstrip('.')}"


def _factors(optimizer: str, dropout: float) -> str:
    return f"{study.OPTIMIZER_NAMES[optimizer]}, " + (f"Dropout {dropout:g}" if dropout else "no dropout")


def depth_effects(cells: dict) -> dict[tuple[str, float], dict | str]:
    """(optimizer, dropout) -> AlexNet minus the baseline network in test accuracy (points), at the matched
    recipe, for every cell of the design both networks have."""
    alexnet = study.design(cells, "alexnet", *study.matched_recipe())
    baseline = study.design(cells, "baseline", *study.matched_recipe())
    return {factors: _estimate(cells, {baseline[factors]: -1.0, alexnet[factors]: 1.0})
            for factors in alexnet if factors in baseline}


def dropout_by_network(cells: dict, models=("baseline", "alexnet")) -> dict[tuple[str, str], dict | str]:
    """(network, optimizer) -> Dropout 0.5 minus none in test accuracy (points) at the matched recipe, for
    each of the ``models`` whose design has both dropout levels: what Dropout costs or gives each network."""
    found = {}
    for model in models:
        design = study.design(cells, model, *study.matched_recipe())
        for optimizer in ("sgd", "adam"):
            if {(optimizer, 0.0), (optimizer, 0.5)} <= set(design):
                found[model, optimizer] = _estimate(cells, {design[optimizer, 0.0]: -1.0, design[optimizer, 0.5]: 1.0})
    return found


def dropout_by_budget(cells: dict) -> dict[int | str, dict | str]:
    """Dropout 0.5 minus none with Adam, in test accuracy (points), at each budget (epochs -> effect), and
    under "change" the difference between the longest and the shortest budget's effects."""
    found: dict[int | str, dict | str] = {}
    designs = {epochs: study.design(cells, "alexnet", epochs) for epochs in study.budgets(cells)}
    for epochs, design in designs.items():
        found[epochs] = _estimate(cells, {design["adam", 0.0]: -1.0, design["adam", 0.5]: 1.0})
    if len(found) >= 2:
        short, long = designs[min(found)], designs[max(found)]
        found["change"] = _estimate(cells, {long["adam", 0.5]: 1.0, long["adam", 0.0]: -1.0,
                                            short["adam", 0.5]: -1.0, short["adam", 0.0]: 1.0})
    return found


def last_epoch(result: dict, field: str) -> float | None:
    return result["history"][-1].get(field)


def probe_means(results: list[dict]) -> dict[str, float] | None:
    """Means over ``results`` at the last epoch: the evaluation-mode training probe's loss and accuracy (%) and
    the test set's; None unless every run measured the probe."""
    if not results or any(last_epoch(r, "train_eval_loss") is None for r in results):
        return None
    mean = lambda field, scale=1: scale * float(np.mean([last_epoch(r, field) for r in results]))  # noqa: E731
    return {"train_loss": mean("train_eval_loss"), "test_loss": mean("test_loss"),
            "train_acc": mean("train_eval_accuracy", 100), "test_acc": mean("test_accuracy", 100)}


def measured_gap(cells: dict) -> pd.DataFrame:
    """Per cell whose every stored run measured the training probe (``probe_means``): the losses and accuracies
    at the last epoch and the gaps between them (test minus training loss; training minus test accuracy)."""
    rows = {}
    for cell, results in cells.items():
        m = probe_means(results)
        if m is None:
            continue
        rows[cell.label] = {"runs": len(results), "epochs": cell.value("epochs"),
                            "training loss, eval mode": formats.loss(m["train_loss"]),
                            "test loss": formats.loss(m["test_loss"]),
                            "test minus training loss": formats.loss_difference(m["test_loss"] - m["train_loss"]),
                            "training accuracy, eval mode (%)": formats.percent(m["train_acc"]),
                            "test accuracy (%)": formats.percent(m["test_acc"]),
                            "training minus test accuracy (points)": formats.points(m["train_acc"] - m["test_acc"])}
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
                                 f"{study.OPTIMIZER_NAMES[optimizer]}, {study.matched_recipe()[0]} epochs*", found))
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


# --- Does the verdict survive the recipe? (docs/recipe_plan.md) ----------------------------------------------

PLAIN = Measure("test accuracy, plain weights", plain_accuracy)  # seeds only: per-image values may be flipped ones


def _plain_predictions(result: dict) -> bool:
    return not result["config"].get("test_flips") and not result["config"].get("ema")


def primary_effect(cells: dict, weights: dict) -> dict | str:
    """A contrast on the plan's primary measure, test accuracy of the plain weights: with both intervals where
    every run stored plain per-image predictions, over seeds only where some stored flipped ones, and the
    precisions its runs trained in ("precisions"); or why it cannot be estimated."""
    runs = [r for cell in weights for r in cells[cell]]
    found = _estimate(cells, weights, ACCURACY if runs and all(_plain_predictions(r) for r in runs) else PLAIN)
    return found if isinstance(found, str) else {**found, "precisions": sorted({r["environment"]["autocast"]
                                                                                for r in runs})}


def recipe_designs(cells: dict, recipes) -> dict[str, dict[str, dict]]:
    """recipe name -> network -> its optimizer x dropout design (``study.design``) at that recipe's epochs and
    batch size."""
    return {name: {model: study.design(cells, model, epochs, batch) for model in ("alexnet", "baseline")}
            for name, epochs, batch in recipes}


OPTIMIZER_EFFECTS = {
    "Adam minus SGD (mean over both dropout levels)": {("adam", 0.0): 0.5, ("adam", 0.5): 0.5,
                                                       ("sgd", 0.0): -0.5, ("sgd", 0.5): -0.5},
    "Dropout 0.5 minus none (mean over both optimizers)": {("sgd", 0.5): 0.5, ("adam", 0.5): 0.5,
                                                           ("sgd", 0.0): -0.5, ("adam", 0.0): -0.5},
    "interaction: Dropout's effect with Adam minus with SGD": {("adam", 0.5): 1.0, ("adam", 0.0): -1.0,
                                                               ("sgd", 0.5): -1.0, ("sgd", 0.0): 1.0},
    "Adam + Dropout 0.5 minus SGD (the original report's comparison)": {("adam", 0.5): 1.0, ("sgd", 0.0): -1.0},
}


def _on(design: dict, factor_weights: dict) -> dict | None:
    """The cell weights of a contrast given by factors, or None where the design lacks a cell."""
    if not set(factor_weights) <= set(design):
        return None
    return {design[f]: w for f, w in factor_weights.items()}


def design_by_recipe(cells: dict, recipes) -> dict[tuple[str, str], dict | str]:
    """(contrast, recipe) -> AlexNet's 2 x 2 effects on the primary measure at each recipe, and under the recipe
    "change" each effect at the last recipe minus at the first (the recipe x factor interaction)."""
    designs = recipe_designs(cells, recipes)
    names = [name for name, _, _ in recipes]
    found = {}
    for what, factors in OPTIMIZER_EFFECTS.items():
        for name in names:
            weights = _on(designs[name]["alexnet"], factors)
            found[what, name] = primary_effect(cells, weights) if weights else f"{NO_INTERVAL}: cells missing"
        first, last = (_on(designs[n]["alexnet"], factors) for n in (names[0], names[-1]))
        found[what, "change"] = (primary_effect(cells, {**{c: -w for c, w in first.items()}, **last})
                                 if first and last else f"{NO_INTERVAL}: cells missing")
    return found


def depth_by_recipe(cells: dict, recipes) -> dict[tuple[tuple, str], dict | str]:
    """((optimizer, dropout), recipe) -> AlexNet minus the baseline network on the primary measure at each
    recipe, and under "change" the last recipe's effect minus the first's."""
    designs = recipe_designs(cells, recipes)
    names = [name for name, _, _ in recipes]
    found = {}
    for factors in (("sgd", 0.0), ("sgd", 0.5), ("adam", 0.0), ("adam", 0.5)):
        weights = {}
        for name in names:
            big, small = designs[name]["alexnet"].get(factors), designs[name]["baseline"].get(factors)
            weights[name] = {small: -1.0, big: 1.0} if big and small else None
            found[factors, name] = (primary_effect(cells, weights[name]) if weights[name]
                                    else f"{NO_INTERVAL}: cells missing")
        first, last = weights[names[0]], weights[names[-1]]
        found[factors, "change"] = (primary_effect(cells, {**{c: -w for c, w in first.items()}, **last})
                                    if first and last else f"{NO_INTERVAL}: cells missing")
    return found


def precision_pairs(cells: dict) -> list[tuple]:
    """(fp32 cell, other-precision cell) for every two cells that differ in their precision alone: the one their
    stored runs all trained in, or, for a cell not run yet, the one it pins (a cell whose runs mix precisions,
    or that pins none and has no runs, pairs with nothing)."""
    def trained(cell):
        names = {r["environment"]["autocast"] for r in cells[cell]}
        if len(names) == 1:
            return names.pop()
        return None if names or cell.value("precision") == "auto" else cell.value("precision")
    found = []
    for a in cells:
        for b in cells:
            rest_a = {k: v for k, v in a.settings if k != "precision"}
            rest_b = {k: v for k, v in b.settings if k != "precision"}
            if a is not b and rest_a == rest_b and trained(a) == "fp32" and trained(b) not in (None, "fp32"):
                found.append((a, b))
    return found


def precision_effects(cells: dict) -> dict[str, dict | str]:
    """label of the other-precision cell -> its mean minus the fp32 cell's, on the primary measure."""
    return {b.label: primary_effect(cells, {a: -1.0, b: 1.0}) for a, b in precision_pairs(cells)}


def recipe_family(cells: dict, recipes) -> list[tuple[str, dict | str]]:
    """The plan's five contrasts that join the report's Holm family (H1-H5), as (statement, effect)."""
    names = [name for name, _, _ in recipes]
    first, last = names[0], names[-1]
    optimizer = design_by_recipe(cells, recipes)
    depth = depth_by_recipe(cells, recipes)
    main, original = list(OPTIMIZER_EFFECTS)[0], list(OPTIMIZER_EFFECTS)[3]
    return [(f"Adam beats SGD, AlexNet, mean over both dropout levels ({last})", optimizer[main, last]),
            (f"AlexNet + Adam + Dropout 0.5 beats AlexNet + SGD ({last})", optimizer[original, last]),
            (f"the optimizer effect differs between recipes: Adam minus SGD at {last} minus at {first}",
             optimizer[main, "change"]),
            (f"AlexNet beats the baseline CNN, both with SGD without dropout ({last})", depth[("sgd", 0.0), last]),
            (f"AlexNet beats the baseline CNN, both with Adam + Dropout 0.5 ({last})", depth[("adam", 0.5), last])]


def recipe_verdict(cells: dict, recipes, judged: list[dict]) -> str:
    """The plan's rule for "the verdict depends on the recipe", in one sentence: H3 holds (Holm), or the optimizer
    effect has opposite signs at the two recipes with both unadjusted intervals clear of zero; a precision effect
    clear of zero and at least as large as H3 makes H3 confounded, not a recipe effect."""
    names = [name for name, _, _ in recipes]
    main = list(OPTIMIZER_EFFECTS)[0]
    optimizer = design_by_recipe(cells, recipes)
    first, last, h3 = optimizer[main, names[0]], optimizer[main, names[-1]], judged[2]
    if not isinstance(h3["effect"], dict):
        return f"Whether the verdict depends on the recipe cannot be judged yet: H3 {h3['effect']}."
    precision = [d for d in precision_effects(cells).values() if isinstance(d, dict)]
    confounded = [d for d in precision if direction(d) != "indistinguishable from zero"
                  and abs(d["estimate"]) >= abs(h3["effect"]["estimate"])]
    opposite = (isinstance(first, dict) and isinstance(last, dict) and "zero" not in direction(first)
                and "zero" not in direction(last) and direction(first) != direction(last))
    if h3["verdict"] == "holds" or opposite:
        if confounded:
            return ("The optimizer effect differs between the recipes, but a precision effect as large as it, clear "
                    "of zero, confounds it: not shown to be the recipe's.")
        return ("The verdict depends on the recipe: " + ("the recipe x optimizer interaction (H3) holds after Holm's "
                "correction" if h3["verdict"] == "holds" else "the optimizer effect has opposite signs at the two "
                "recipes") + (" (no precision effect measured yet)" if not precision else "") + ".")
    return "The verdict is not shown to depend on the recipe: H3 does not hold, and the signs do not reverse."


def judge_recipe_family(cells: dict, recipes, report_p_values: list[float]) -> list[dict]:
    """H1-H5 with their p-values adjusted by Holm's correction over the report's family (``report_p_values``,
    the claims' raw p-values) and these five together; a contrast that cannot be estimated counts with p = 1.
    Verdicts as the claims': "holds" / "contradicted" for a claimed direction (H1, H2, H4, H5: greater), and
    for H3, which claims a difference, "holds" when its adjusted p < 0.05 on either side."""
    family = recipe_family(cells, recipes)
    raw = [d["p_value"] if isinstance(d, dict) else 1.0 for _, d in family]
    adjusted = stats.holm(list(report_p_values) + raw)[len(report_p_values):]
    judged = []
    for i, ((statement, d), p, q) in enumerate(zip(family, raw, adjusted)):
        if not isinstance(d, dict):
            verdict = "not supported"
        elif i == 2:  # two-sided: a difference either way
            verdict = "holds" if q < 0.05 else "not supported"
        else:
            verdict = stats.verdict_from_p(d["estimate"], q, "greater")
        judged.append({"statement": statement, "effect": d, "p": p, "p_holm": q, "verdict": verdict,
                       "family size": len(report_p_values) + len(raw)})
    return judged
