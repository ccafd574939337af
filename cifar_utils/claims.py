"""The original report's claims as this study can test them: one family, judged after Holm's correction.

The family (``of_study``; 7 claims on the cells of profiles/study.yaml, fewer on a study without some cells):

a. AlexNet + Adam + Dropout 0.5 beats AlexNet + SGD in test accuracy (this study's recipe: the AlexNet notebooks'
   epochs and batch size, ``study.matched_recipe``).
b. The cat, bird and deer classes improve with Adam + Dropout beyond the overall gain (three claims): per
   run, the class's accuracy minus the overall accuracy, Adam + Dropout minus SGD. Nine of ten classes
   improve with the overall gain, so a class's own gain says nothing about that class.
c. Depth: AlexNet beats the baseline CNN at a matched recipe (the AlexNet cells' recipe) in the two
   configurations the original report ran: SGD without dropout, and Adam + Dropout 0.5 (two claims). The
   other two cells of the 2 x 2 x 2 are context (``questions.depth_effects``), not claims.
d. Dropout narrows the generalisation gap, measured fairly: test loss minus the loss in evaluation mode
   (dropout off, no augmentation) on the training probe's 5,000 images at the last epoch
   (``estimates.eval_loss_gap``), AlexNet + Adam + Dropout 0.5 against AlexNet + Adam at the longest budget: the one
   Dropout comparison whose both sides measured it (the 8-epoch AlexNet runs predate the probe). The
   training loss recorded with dropout active on augmented batches is not used: it is biased towards the
   claim by construction.

The p-value of each claim (two-sided, ``estimates.effect``): for a-c the larger of two t-tests, over seeds
and test images (``stats.seeds_and_images``: the seeds' Welch variance plus the variance over 10,000
bootstrap resamples of the shared test images, Satterthwaite's degrees of freedom) and over seeds only
(Welch), so a claim holds only where it holds on both counts; for d Welch's over the seeds alone (per-image
losses are not stored, so the test images cannot be resampled). Holm's step-down correction (``stats.holm``)
adjusts the family's p-values together; a claim "holds" when its adjusted p < 0.05 with the estimate on the
claimed side, is "contradicted" when adjusted p < 0.05 on the other side, and is "not supported" otherwise
(``stats.verdict_from_p``). A claim that cannot be estimated yet counts with p = 1, so the family keeps its
size. The intervals printed beside them are unadjusted 95% intervals.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import stats, study
from .estimates import ACCURACY, EVAL_LOSS_GAP, Measure, class_beyond_overall, data_of, effect

CLASS_CLAIM = "cat"  # the class whose gain the original report names, with a number (+4%)
OTHER_CLASS_CLAIMS = ("bird", "deer")  # classes it says "show improved recognition" (its confusion-matrix insights)
CLASS_CAVEAT = "one of three classes the original report named after seeing its results, out of ten"
DEPTH_CAVEAT = "the networks differ in width and in the layers they have, not in depth alone"
EVAL_GAP_CAVEAT = "over seeds only: per-image losses are not stored, so the test images are not resampled"
ALPHA = 0.05  # the family-wise error rate Holm's correction keeps


@dataclass(frozen=True)
class Claim:
    """One claim: that ``measure`` is higher ("greater") or lower ("less") in cell b than in cell a."""
    statement: str                    # the claim with its scope (networks, recipe, epochs, data copy)
    a: study.Cell
    b: study.Cell
    measure: Measure
    direction: str                    # "greater" or "less": how b's value compares with a's, as claimed
    caveat: str = ""

    def effect(self, cells: dict[study.Cell, list[dict]]) -> dict:
        """b minus a (``estimates.effect``); ValueError while it cannot be estimated."""
        return effect(cells, {self.a: -1.0, self.b: 1.0}, self.measure)


@dataclass(frozen=True)
class Judged:
    """A claim of the family with its effect (None: cannot be estimated yet, ``why`` says so), its raw and
    Holm-adjusted p-values and its verdict."""
    claim: Claim
    effect: dict | None
    why: str
    p: float
    p_holm: float
    verdict: str


def of_study(cells) -> list[Claim]:
    """The family of claims on the study's cells (a claim whose cells the study lacks is left out)."""
    def scope(recipe: str, *pair: study.Cell) -> str:  # the recipe, and the data copy of the stored runs
        data = data_of([r for cell in pair for r in cells[cell]])
        return f"({recipe}" + (f"; {data})" if data else ")")

    epochs, batch = study.matched_recipe()
    alexnet, net = study.design(cells, "alexnet", epochs, batch), study.design(cells, "baseline", epochs, batch)
    budgets = [e for e in study.budgets(cells) if e > epochs]
    longer = study.design(cells, "alexnet", budgets[-1]) if budgets else {}
    found = []
    if {("sgd", 0.0), ("adam", 0.5)} <= set(alexnet):
        sgd, adam_dropout = alexnet["sgd", 0.0], alexnet["adam", 0.5]
        found.append(Claim("AlexNet + Adam + Dropout 0.5 beats AlexNet + SGD in test accuracy "
                           + scope(f"this study's recipe, {epochs} epochs", sgd, adam_dropout),
                           sgd, adam_dropout, ACCURACY, "greater"))
        found += [Claim(f"the {name} class gains more than the overall accuracy with AlexNet + Adam + Dropout 0.5 "
                        f"over AlexNet + SGD " + scope(f"{epochs} epochs", sgd, adam_dropout),
                        sgd, adam_dropout, class_beyond_overall(name), "greater", CLASS_CAVEAT)
                  for name in (CLASS_CLAIM, *OTHER_CLASS_CLAIMS)]
    for factors, words in ((("sgd", 0.0), "SGD without dropout"), (("adam", 0.5), "Adam + Dropout 0.5")):
        if factors in alexnet and factors in net:
            found.append(Claim(f"AlexNet beats the baseline CNN in test accuracy, both trained with {words} "
                               + scope(f"matched recipe: the AlexNet recipe, {epochs} epochs", net[factors],
                                     alexnet[factors]),
                               net[factors], alexnet[factors], ACCURACY, "greater", DEPTH_CAVEAT))
    if {("adam", 0.0), ("adam", 0.5)} <= set(longer):
        plain, dropout = longer["adam", 0.0], longer["adam", 0.5]
        found.append(Claim("Dropout 0.5 narrows the gap of test loss over eval-mode training loss, AlexNet + Adam "
                           + scope(f"{budgets[-1]} epochs", plain, dropout), plain, dropout, EVAL_LOSS_GAP, "less",
                           EVAL_GAP_CAVEAT))
    return found


def judge(cells: dict[study.Cell, list[dict]]) -> list[Judged]:
    """Every claim of the family (``of_study``) with its effect, its p-value before and after Holm's
    correction over the whole family, and its verdict after it."""
    claims = of_study(cells)
    found = []
    for claim in claims:
        try:
            found.append((claim.effect(cells), ""))
        except ValueError as exc:
            found.append((None, str(exc).rstrip(".")))
    raw = [d["p_value"] if d else 1.0 for d, _ in found]
    adjusted = stats.holm(raw) if raw else []
    return [Judged(claim, d, why, p, q, "not supported" if d is None
                   else stats.verdict_from_p(d["estimate"], q, claim.direction, ALPHA))
            for claim, (d, why), p, q in zip(claims, found, raw, adjusted)]
