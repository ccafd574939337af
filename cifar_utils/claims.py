"""The original report's claims, each stated once: what it compares, which way, its caveat, its verdict.

A claim "holds" only when the 95% interval of its effect excludes zero in the claimed direction; it is
"not supported" when the interval contains zero and "contradicted" when it excludes zero the other
way (``stats.verdict``). ``of_study`` lists the claims on the study's cells; ``conclusions`` renders them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from . import stats, study
from .estimates import class_accuracy_of, loss_gap
from .results import accuracy

CLASS_CLAIM = "cat"  # the class whose gain the original report names, with a number (+4%)
OTHER_CLASS_CLAIMS = ("bird", "deer")  # classes it says "show improved recognition" (its confusion-matrix insights)

LOSS_GAP_CAVEAT = ("biased towards 'holds': the training loss is recorded with dropout active, which raises it "
                   "towards the test loss whatever the network learns")
_RECIPES = "compares the two recipes as tuned, which differ in {}epochs, batch, initialisation and dropout, not depth alone"
RECIPES_CAVEAT = _RECIPES.format("")
ADAM_RECIPES_CAVEAT = _RECIPES.format("optimizer, ")
CLASS_CAVEAT = "one of three classes the original report named after seeing its results, out of ten"

# The measures of the claims, as a paired comparison of two cells takes them: (name, value of a run, unit).
PAIRED_MEASURES = (("test accuracy", accuracy, "points"), ("test minus train loss", loss_gap, ""),
                   (f"{CLASS_CLAIM} accuracy", partial(class_accuracy_of, name=CLASS_CLAIM), "points"))


@dataclass(frozen=True)
class Claim:
    """One claim: that ``value`` is higher ("greater") or lower ("less") in configuration b than in a."""
    statement: str                    # the claim as the tables print it
    a: study.Cell
    b: study.Cell
    value: Callable[[dict], float]    # the measure of one run
    direction: str                    # "greater" or "less": how b's value compares with a's, as claimed
    unit: str = "points"
    caveat: str = ""

    def effect(self, cells: dict[study.Cell, list[dict]]) -> dict:
        """b minus a over the stored seeds, with Welch's interval (``stats.difference``); ValueError while a
        side has fewer than 2 runs or the runs have no spread at all."""
        return stats.difference([self.value(r) for r in cells[self.a]], [self.value(r) for r in cells[self.b]])

    def verdict(self, effect: dict) -> str:
        return stats.verdict(effect["low"], effect["high"], self.direction)


def of_study(cells) -> list[Claim]:
    """The original report's claims on the study's cells (its three experiments are the cells that are a
    notebook's own recipe)."""
    own = {cell.recipe: cell for cell in cells if cell.own_recipe}
    base, sgd, adam = own["baseline"], own["alexnet_sgd"], own["alexnet_adam_dropout"]
    return [
        Claim("AlexNet + Adam + Dropout beats AlexNet + SGD (test accuracy)", sgd, adam, accuracy, "greater"),
        Claim("with Adam + Dropout the train and test losses stay closer (test minus train loss)",
              sgd, adam, loss_gap, "less", unit="", caveat=LOSS_GAP_CAVEAT),
        *(Claim(f"the {name} class improves with Adam + Dropout (its test accuracy)", sgd, adam,
                partial(class_accuracy_of, name=name), "greater", caveat=CLASS_CAVEAT)
          for name in (CLASS_CLAIM, *OTHER_CLASS_CLAIMS)),
        Claim("AlexNet + SGD beats the baseline CNN (test accuracy)", base, sgd, accuracy, "greater",
              caveat=RECIPES_CAVEAT),
        Claim("AlexNet + Adam + Dropout beats the baseline CNN (test accuracy)", base, adam, accuracy, "greater",
              caveat=ADAM_RECIPES_CAVEAT),
    ]
