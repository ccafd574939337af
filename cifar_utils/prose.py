"""The report's sentences that state a result, with every number computed from the stored runs when the notebook
runs (issue: "numbers in prose are computed, never typed").

A notebook writes its sentence as a template and ``say`` fills it from ``Facts``, which reads the study's stored
runs and computes what a template names on first use::

    facts = prose.Facts(the_study, quick_study)
    prose.say("Over {baseline.seeds} seeds the baseline averages {baseline.mean} ...", facts)

A name is a cell of the study (``baseline``, ``adam_dropout``, ...), of the quick study (``quick_baseline``), or
one of the study's questions: ``design`` (the 2 x 2 effects), ``claims``, ``depth``, ``dropout_cost``,
``budget``, ``probe`` and ``faithful`` (the original report's baseline recipe, run once). Each number is written
as the tables write it (``formats``), a difference with a true minus sign; verdict words (``reached``, ``holds``,
``above``, ``raises``) follow from the intervals, so a template holds no number and no verdict of its own.
"""
from __future__ import annotations

import statistics
from functools import cached_property

import numpy as np

from . import claims as claims_module, formats, questions, stats, study, study_results
from .data import VALID_SIZE
from .estimates import (ACCURACY, EVAL_LOSS_GAP, against_original, by_seed, design_effects, direction,
                        mcnemar_counts, reached, seed_of)
from .recipes import original
from .results import accuracy

MINUS = "\u2212"  # a true minus sign: "−0.34", as the report's prose writes it
_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def signed(x: float, digits: int = formats.ACCURACY_DECIMALS) -> str:
    """A difference with its sign: "+1.92", "−0.34"."""
    return f"{x:+.{digits}f}".replace("-", MINUS)


def number_word(n: int) -> str:
    """A small count in words ("five"), a larger one in digits."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else str(n)


def original_number(x: float) -> str:
    """One of the original report's numbers as it printed it: "67%", "71.99%", "74.30%"."""
    return f"{x:.0f}%" if x == int(x) else f"{x:.2f}%"


class Effect:
    """An ``estimates.effect`` (or ``questions``' reason it cannot be estimated yet) in words."""

    def __init__(self, d: dict | str, p_holm: float | None = None, verdict: str | None = None):
        self._found, self._p_holm, self._verdict = d, p_holm, verdict

    @property
    def d(self) -> dict:
        if isinstance(self._found, str):  # why it cannot be estimated yet
            raise ValueError(self._found)
        return self._found

    @property
    def _digits(self) -> int:
        return self.d["digits"]

    @property
    def estimate(self) -> str:
        """Signed: "+1.92", "−0.34"."""
        return signed(self.d["estimate"], self._digits)

    @property
    def size(self) -> str:
        """Without its sign: "1.92"."""
        return f"{abs(self.d['estimate']):.{self._digits}f}"

    @property
    def ci(self) -> str:
        """The 95% interval every verdict reads: "+1.31 to +2.54"."""
        return f"{signed(self.d['low'], self._digits)} to {signed(self.d['high'], self._digits)}"

    @property
    def ci_seeds(self) -> str:
        """The interval over seeds only."""
        s = self.d["seed_only"]
        return f"{signed(s['low'], self._digits)} to {signed(s['high'], self._digits)}"

    @property
    def ci_images(self) -> str:
        """The interval over seeds and test images."""
        c = self.d["combined"]
        if c is None:
            raise ValueError(f"the effect has no interval over test images ({self.d['combined_missing']})")
        return f"{signed(c['low'], self._digits)} to {signed(c['high'], self._digits)}"

    @property
    def ci_size(self) -> str:
        """The interval of the effect's size, for a sentence that says its direction in words: a cost of
        "1.10 points (0.70 to 1.50)"."""
        ends = sorted(abs(x) for x in (self.d["low"], self.d["high"])) if self.d["low"] * self.d["high"] > 0 \
            else (self.d["low"], self.d["high"])
        return f"{ends[0]:.{self._digits}f} to {ends[1]:.{self._digits}f}"

    @property
    def direction(self) -> str:
        """"positive", "negative" or "indistinguishable from zero" (``estimates.direction``)."""
        return direction(self.d)

    @property
    def above(self) -> str:
        return "above" if self.d["estimate"] >= 0 else "below"

    @property
    def raises(self) -> str:
        return "raises" if self.d["estimate"] >= 0 else "lowers"

    @property
    def reached(self) -> str:
        """Against a published number: "reached", "not reached" or "not supported" (``estimates.reached``)."""
        return reached(self.d)

    @property
    def reached_clause(self) -> str:
        """", so reaching it is not supported" (or "... it is not reached") where it is not reached; "" else."""
        verdict = self.reached
        return "" if verdict == "reached" else f", so {'reaching it is not supported' if verdict == 'not supported' else 'it is not reached'}"

    @property
    def compares(self) -> str:
        """b against a in a verb: "beats", "trails" or "does not differ detectably from"."""
        return "beats" if self.d["low"] > 0 else "trails" if self.d["high"] < 0 else "does not differ detectably from"

    @property
    def zero(self) -> str:
        """"excludes zero" or "contains zero"."""
        return "excludes zero" if self.settled else "contains zero"

    @property
    def p_holm(self) -> str:
        return stats.p_text(self._p_holm) if self._p_holm is not None else ""

    @property
    def verdict(self) -> str:
        """A claim's verdict after Holm's correction, or the direction of an effect that is no claim."""
        return self._verdict if self._verdict is not None else self.direction

    @property
    def settled(self) -> bool:
        return self.d["low"] > 0 or self.d["high"] < 0


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


class Run:
    """One stored run in words: its first ten test images."""

    def __init__(self, result: dict):
        self.result = result

    accuracy = property(lambda self: f"{formats.percent(accuracy(self.result))}%")

    @property
    def _first(self) -> list[tuple[int, int, float]]:
        first = self.result["first_ten"]
        return list(zip(first["predicted"], first["true"], first["confidence"]))

    @property
    def first_ten_right(self) -> str:
        return number_word(sum(p == t for p, t, _ in self._first))

    @property
    def first_ten(self) -> str:
        """"gets all ten right" or "gets eight of the ten right and takes an automobile for a truck at 42.5% ..."."""
        classes = self.result["classes"]
        mistakes = [f"takes {_article(classes[t])} {classes[t]} for {_article(classes[p])} {classes[p]} at {100 * c:.1f}%"
                    for p, t, c in self._first if p != t]
        if not mistakes:
            return f"gets all {number_word(len(self._first))} right"
        return f"gets {self.first_ten_right} of the {number_word(len(self._first))} right and {_listed(mistakes)}"


class Cell:
    """A cell's stored final runs in words: its mean, spread, lowest seed and distance from the original
    report's number."""

    def __init__(self, the_study: study.Study, cell: study.Cell, results: list[dict]):
        if not results:
            raise ValueError(f"the cell {cell.name} has no stored final run yet; train it "
                             f"(python -m cifar_utils.sweep) before publishing a sentence about it.")
        self.study, self.cell, self.results = the_study, cell, results
        self.values = [accuracy(r) for r in results]

    runs = property(lambda self: str(len(self.values)))
    seeds = property(lambda self: number_word(len(self.values)))
    mean = property(lambda self: f"{formats.percent(statistics.fmean(self.values))}%")
    std = property(lambda self: formats.spread(statistics.stdev(self.values)) if len(self.values) > 1 else "")
    lowest = property(lambda self: f"{formats.percent(min(self.values))}%")
    label = property(lambda self: self.cell.label)
    epochs = property(lambda self: str(self.cell.value("epochs")))
    batch_size = property(lambda self: str(self.cell.value("batch_size")))
    final_test_loss = property(lambda self: formats.loss(np.mean([r["history"][-1]["test_loss"] for r in self.results])))

    @property
    def passes(self) -> str:
        """Whether every seed passes the original report's number: "passes" or "does not pass"."""
        return "passes" if min(self.values) > original(self.cell.recipe)["accuracy"] else "does not pass"

    @cached_property
    def _classes(self) -> list[tuple[str, float]]:
        """(class, mean test accuracy over the seeds, %), best first."""
        from .evaluate import class_accuracy
        per_seed = np.mean([class_accuracy(r["confusion"]) for r in self.results], axis=0)
        return sorted(zip(self.results[0]["classes"], map(float, per_seed)), key=lambda item: -item[1])

    @property
    def class_rank(self) -> dict[str, str]:
        """class -> its place by mean accuracy, in words ("second")."""
        return {name: ORDINALS[i] for i, (name, _) in enumerate(self._classes)}

    @property
    def class_mean(self) -> dict[str, str]:
        return {name: f"{formats.percent(value)}%" for name, value in self._classes}

    @property
    def class_order(self) -> str:
        """The classes at both ends: "automobile and ship lead (83.88% and 83.76%), cat trails (55.38%) with bird
        and dog next to it"."""
        c = self._classes
        return (f"{c[0][0]} and {c[1][0]} lead ({formats.percent(c[0][1])}% and {formats.percent(c[1][1])}%), "
                f"{c[-1][0]} trails ({formats.percent(c[-1][1])}%) with {c[-2][0]} and {c[-3][0]} next to it")

    @property
    def seed0(self) -> Run:
        """The run of the seed fixed for figures (the study's figure seed)."""
        runs = [r for r in self.results if r["config"]["seed"] == self.study.figure_seed]
        if not runs:
            raise ValueError(f"the cell {self.cell.name} has no stored run of seed {self.study.figure_seed}.")
        return Run(runs[0])

    @property
    def training_accuracy(self) -> float:
        """The mean last-epoch training accuracy (%), in training mode."""
        return 100 * float(np.mean([r["history"][-1]["train_accuracy"] for r in self.results]))

    @property
    def original(self) -> str:
        return original_number(original(self.cell.recipe)["accuracy"])

    @cached_property
    def vs_original(self) -> Effect:
        """The mean minus the original report's number."""
        return Effect(against_original(self.cell, self.results) or "the mean needs two runs")

    @cached_property
    def _tuning(self) -> tuple[list[dict], float | None]:
        runs, chosen, left_out = study_results.tuning(self.study, self.cell.lr_from or self.cell.name)
        usable = [r for r in runs if not r["diverged"] and r["validation accuracy (%)"] is not None
                  and r["lr"] not in left_out]
        return sorted(usable, key=lambda r: -r["validation accuracy (%)"]), chosen

    @property
    def lr(self) -> str:
        return formats.setting(self.cell.lr)

    @property
    def _ranked(self) -> list[dict]:
        ranked, _ = self._tuning
        if len(ranked) < 2:
            raise ValueError(f"the cell {self.cell.name} has fewer than two tuning runs stored.")
        return ranked

    @property
    def margin(self) -> str:
        """How far the chosen rate's validation accuracy beat the runner-up's, in points."""
        return f"{self._ranked[0]['validation accuracy (%)'] - self._ranked[1]['validation accuracy (%)']:.2f}"

    best_validation = property(lambda self: f"{formats.percent(self._ranked[0]['validation accuracy (%)'])}%")
    runner_up_validation = property(lambda self: f"{formats.percent(self._ranked[1]['validation accuracy (%)'])}%")
    runner_up_lr = property(lambda self: formats.setting(self._ranked[1]["lr"]))

    @property
    def margin_words(self) -> str:
        """Whether the lead is within the noise of one run each: a difference of two validation accuracies of
        ``VALID_SIZE`` images has a standard error of about sqrt(2 p (1 - p) / n)."""
        p = self._ranked[0]["validation accuracy (%)"] / 100
        noise = 1.96 * 100 * np.sqrt(2 * p * (1 - p) / VALID_SIZE)
        lead = self._ranked[0]["validation accuracy (%)"] - self._ranked[1]["validation accuracy (%)"]
        return "a tie within the noise of one run" if lead < noise else "a lead beyond the noise of one run"

    @cached_property
    def unstable(self) -> "Unstable":
        return Unstable(self)


class Unstable:
    """A rate the rule first chose and then left out because one of its final runs diverged."""

    def __init__(self, cell: Cell):
        runs = study_results.unstable_final_runs(cell.study, cell.cell.name)
        if not runs:
            raise ValueError(f"no final run of {cell.cell.name} diverged.")
        self.cell, self.runs = cell, runs
        tuning_runs, _, _ = study_results.tuning(cell.study, cell.cell.lr_from or cell.cell.name)
        self._validation = {r["lr"]: r["validation accuracy (%)"] for r in tuning_runs if not r["diverged"]}

    lr = property(lambda self: formats.setting(self.runs[0]["lr"]))
    diverged_seeds = property(lambda self: ", ".join(str(r["seed"]) for r in self.runs if r["result"] is None))
    survivors = property(lambda self: [r for r in self.runs if r["result"] is not None])
    survivor_seeds = property(lambda self: _listed([str(r["seed"]) for r in self.survivors]))
    survivor_accuracies = property(lambda self: _listed([f"{formats.percent(accuracy(r['result']))}%"
                                                         for r in self.survivors]))
    survivors_mean = property(lambda self: f"{formats.percent(self._survivors_mean)}%")
    _survivors_mean = property(lambda self: statistics.fmean(accuracy(r["result"]) for r in self.survivors))

    @property
    def margin(self) -> str:
        """Its validation lead over the rate adopted instead."""
        return f"{self._validation[self.runs[0]['lr']] - self._validation[self.cell.cell.lr]:.2f}"

    @property
    def survivors_compare(self) -> str:
        """"below" or "above" the adopted rate's mean: the survivors' mean against it."""
        return "below" if self._survivors_mean < statistics.fmean(self.cell.values) else "above"

    @property
    def amendment_effect(self) -> str:
        """What leaving the rate out did to the reported number, as its finished runs say."""
        return ("did not raise the reported number" if self.survivors_compare == "below"
                else "lowered the reported number: the finished runs at the rate left out average higher")


class QuickCell(Cell):
    """A quick-profile cell: a ``Cell`` and the tries its recipe was chosen by."""

    @cached_property
    def _chosen(self) -> dict[str, float]:
        from . import quick
        choice = quick.choice(self.study, self.cell.recipe)
        if choice is None:
            raise ValueError(f"the quick tries of {self.cell.recipe} are not all stored yet.")
        return {r["evaluation"]: r["validation accuracy (%)"] for r in quick.tries(self.study, self.cell.recipe)
                if r["cell"] == choice["cell"] and r["lr"] == choice["lr"]}

    @property
    def flips_gain(self) -> str:
        """What test-time flips add on validation at the chosen try, in points (one run)."""
        v = self._chosen
        return f"{v['weights + test flips'] - v['weights']:.2f}"

    @property
    def ema_change(self) -> float:
        v = self._chosen
        return v["EMA"] - v["weights"]

    @property
    def ema_words(self) -> str:
        """"takes 0.38 away" or "adds 0.12": what the moving average of the weights does, one run."""
        change = self.ema_change
        return f"takes {abs(change):.2f} away" if change < 0 else f"adds {change:.2f}"

    batch_size = property(lambda self: str(self.cell.value("batch_size")))
    epochs = property(lambda self: str(self.cell.value("epochs")))


class Faithful(Run):
    """The original report's own baseline recipe, run once (seed 0)."""

    def __init__(self, result: dict):
        super().__init__(result)
        self.history, self.target = result["history"], original(result["experiment"])["accuracy"]

    passes = property(lambda self: "passes" if accuracy(self.result) > self.target else "does not pass")
    gap = property(lambda self: f"{abs(accuracy(self.result) - self.target):.0f}")
    epochs = property(lambda self: str(len(self.history)))
    best_loss_epoch = property(lambda self: str(min(self.history, key=lambda h: h["test_loss"])["epoch"]))
    training_accuracy = property(lambda self: f"{formats.percent(100 * self.history[-1]['train_accuracy'])}%")

    @property
    def above_from(self) -> str:
        """The epoch from which test accuracy stays above the original report's number."""
        epoch = None
        for h in self.history:
            if 100 * h["test_accuracy"] > self.target:
                epoch = h["epoch"] if epoch is None else epoch
            else:
                epoch = None
        if epoch is None:
            raise ValueError("the faithful run ends below the original report's number.")
        return str(epoch)



def _claim_name(claim: claims_module.Claim) -> str:
    """A claim's name in the templates, from what it compares (not from its place in the family, which a missing
    cell shifts): "optimizer", a class ("cat"), "depth_sgd" / "depth_adam_dropout", "loss_gap"."""
    if claim.measure is EVAL_LOSS_GAP:
        return "loss_gap"
    if claim.measure is not ACCURACY:  # a class's gain beyond the overall gain: "cat accuracy minus overall ..."
        return claim.measure.name.split()[0]
    if claim.a.value("model") != claim.b.value("model"):
        return f"depth_{claim.b.value('optimizer')}" + ("_dropout" if claim.b.value("dropout") else "")
    return "optimizer"


def _listed(words: list[str]) -> str:
    """"0, 1, 3 and 4"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


class Facts:
    """Everything a template may name, computed from the stored runs on first use (see the module's text)."""

    def __init__(self, the_study: study.Study | None = None, quick_study: study.Study | None = None,
                 faithful: dict | None = None):
        self._studies = [s for s in (the_study, quick_study) if s is not None]
        self.the_study, self._faithful, self._cache = the_study, faithful, {}

    @classmethod
    def of_report(cls) -> "Facts":
        """The report's facts: the study, the quick study and the baseline's faithful run (None: not stored)."""
        from . import quick
        from .experiment import Experiment
        return cls(study.load(), quick.load(), Experiment.stored("baseline", "faithful", required=False).result)

    @cached_property
    def _results(self) -> dict[str, tuple[study.Study, study.Cell, list[dict]]]:
        found = {}
        for s in self._studies:
            for cell, results in study_results.cell_results(s).items():
                found[cell.name] = (s, cell, results)
        return found

    @cached_property
    def cells(self) -> dict[study.Cell, list[dict]]:
        """The study's cells with seeds and their stored final runs (``claims`` and ``questions`` take these)."""
        return {cell: results for cell, results in study_results.cell_results(self.the_study).items() if cell.seeds}

    def __getitem__(self, name: str):
        """A template's name (``str.format_map``): a cell, or one of the study's questions."""
        if name not in self._cache:
            if name in self._results:
                s, cell, results = self._results[name]
                self._cache[name] = (QuickCell if cell.profile == "quick" else Cell)(s, cell, results)
            elif not name.startswith("_") and hasattr(type(self), name):
                self._cache[name] = getattr(self, name)
            else:
                raise KeyError(f"a template names {name!r}, which is neither a cell of the study nor one of "
                               f"its questions; use a cell name from profiles/study.yaml.")
        return self._cache[name]

    @cached_property
    def fp32_finals(self) -> str:
        """The study's final runs that trained in fp32 (the rest: bfloat16), by cell: "two final runs (seed 2 of
        AlexNet + Adam (16 epochs) and seed 2 of ...)", or "no final run"."""
        parts, n = [], 0
        for cell, results in self.cells.items():
            seeds = [str(seed_of(r)) for r in results if r["environment"]["autocast"] == "fp32"]
            if seeds:
                parts.append(f"seed{'s' * (len(seeds) > 1)} {_listed(seeds)} of {cell.label}")
                n += len(seeds)
        return f"{number_word(n)} final run{'s' * (n != 1)} ({_listed(parts)})" if parts else "no final run"

    @cached_property
    def design(self) -> dict[str, Effect]:
        """The 2 x 2 design's effects at the study's AlexNet recipe: "adam", "dropout", "interaction"."""
        return dict(zip(("adam", "dropout", "interaction"), map(Effect, design_effects(self.cells).values())))

    @cached_property
    def claims(self) -> dict[str, Effect]:
        """The original report's claims, judged after Holm's correction: "optimizer", "cat", "bird", "deer",
        "depth_sgd", "depth_adam_dropout", "loss_gap" (those the study has the cells for)."""
        return {_claim_name(j.claim): Effect(j.effect if j.effect is not None else j.why, j.p_holm, j.verdict)
                for j in claims_module.judge(self.cells)}

    @cached_property
    def depth(self) -> dict[str, Effect]:
        """AlexNet minus the baseline network at the matched recipe: "sgd", "sgd_dropout", "adam",
        "adam_dropout"."""
        return {f"{optimizer}{'_dropout' if dropout else ''}": Effect(found)
                for (optimizer, dropout), found in questions.depth_effects(self.cells).items()}

    @cached_property
    def dropout_cost(self) -> dict[str, Effect]:
        """Dropout 0.5 minus none at the matched recipe: "baseline_sgd", "baseline_adam", "alexnet_sgd", ..."""
        return {f"{model}_{optimizer}": Effect(found)
                for (model, optimizer), found in questions.dropout_by_network(self.cells).items()}

    @cached_property
    def budget(self) -> dict[str, Effect]:
        """Dropout 0.5 minus none with Adam at each budget ("at_8", "at_16") and the change between them."""
        return {(f"at_{key}" if key != "change" else key): Effect(found)
                for key, found in questions.dropout_by_budget(self.cells).items()}

    @cached_property
    def probe(self) -> dict[str, dict[str, str]]:
        """Per cell with the training probe: its eval-mode training accuracy and test minus that loss."""
        found = {}
        for cell, results in self.cells.items():
            m = questions.probe_means(results)
            if m is not None:
                found[cell.name] = {"training_accuracy": f"{formats.percent(m['train_acc'])}%",
                                    "loss_gap": formats.loss(m["test_loss"] - m["train_loss"])}
        return found

    @cached_property
    def training_range(self) -> str:
        """The AlexNet cells' mean last-epoch training accuracy at the matched recipe, lowest to highest, whole
        percent: "78-86"."""
        epochs, batch = study.matched_recipe()
        values = [Cell(self.the_study, cell, self.cells[cell]).training_accuracy
                  for cell in study.design(self.cells, "alexnet", epochs, batch).values() if self.cells[cell]]
        return f"{min(values):.0f}-{max(values):.0f}"

    def _alexnets(self) -> dict[tuple[str, float], study.Cell]:
        return study.design(self.cells, "alexnet", *study.matched_recipe())

    @cached_property
    def mcnemar(self) -> str:
        """For how many seeds McNemar's exact test finds AlexNet + SGD's and AlexNet + Adam + Dropout's
        disagreements too lopsided for chance at 5%: "every seed" or "three of five seeds"."""
        design = self._alexnets()
        pairs = list(zip(*by_seed(self.cells[design["sgd", 0.0]], self.cells[design["adam", 0.5]])))
        hits = sum(mcnemar_counts(a, b)["p_value"] < 0.05 for a, b in pairs)
        return "every seed" if hits == len(pairs) else f"{number_word(hits)} of {number_word(len(pairs))} seeds"

    @cached_property
    def class_gains(self) -> str:
        """How many classes' means are higher with AlexNet + Adam + Dropout than with AlexNet + SGD."""
        design = self._alexnets()
        sgd, adam = (dict(Cell(self.the_study, design[f], self.cells[design[f]])._classes)
                     for f in (("sgd", 0.0), ("adam", 0.5)))
        higher = sum(adam[name] > sgd[name] for name in sgd)
        return ("every class's mean is higher" if higher == len(sgd)
                else f"{number_word(higher)} of the {number_word(len(sgd))} classes' means are higher")

    @cached_property
    def design_best(self) -> str:
        """The AlexNet of the 2 x 2 design with the highest mean: "AlexNet + Adam (76.48%)"."""
        found = [Cell(self.the_study, cell, self.cells[cell]) for cell in self._alexnets().values() if self.cells[cell]]
        best = max(found, key=lambda c: statistics.fmean(c.values))
        return f"{best.label} ({best.mean})"

    @cached_property
    def design_reading(self) -> str:
        """What the 2 x 2 effects say of the original report's comparison, in one clause."""
        adam, dropout, interaction = (self.design[k] for k in ("adam", "dropout", "interaction"))
        if adam.d["low"] > 0 and dropout.d["low"] <= 0 and not interaction.settled:
            return "the original report's gain from \"Adam with dropout\" is Adam's"
        if dropout.d["low"] > 0 and adam.d["low"] <= 0 and not interaction.settled:
            return "the original report's gain from \"Adam with dropout\" is Dropout's"
        return "the design does not credit the original report's gain to one factor alone"

    @cached_property
    def own_recipe_lead(self) -> str:
        """The baseline network with its own recipe against every AlexNet of the design: "higher than every" or
        "not higher than every"."""
        own = statistics.fmean(accuracy(r) for r in self.cells[self.the_study.cell("baseline")])
        means = [statistics.fmean(accuracy(r) for r in self.cells[c]) for c in self._alexnets().values() if self.cells[c]]
        return "higher than every" if all(own > m for m in means) else "not higher than every"

    @cached_property
    def faithful(self) -> Faithful:
        if self._faithful is None:
            raise ValueError("the faithful run is not stored; run the baseline with --profile faithful.")
        return Faithful(self._faithful)


def render(template: str, facts: Facts) -> str:
    """The template with every ``{name.attribute}`` filled from ``facts``."""
    return template.format_map(facts)


def say(template: str, facts: Facts):
    """The template, filled from ``facts``, as the Markdown a notebook cell shows; where a number it names
    cannot be computed yet (its runs are not stored), a line in italics saying so instead of the sentence, so that
    nothing half-filled is published. A name that is not in ``Facts`` is an error in the template: KeyError."""
    from IPython.display import Markdown
    try:
        return Markdown(render(template, facts))
    except ValueError as exc:
        return Markdown(f"*This paragraph states results not stored yet: {str(exc).rstrip('.')}.*")


README_MARKERS = ("<!-- findings: written by `make report` (python -m cifar_utils.report) from results/; do not edit by "
                  "hand -->", "<!-- end of findings -->")
README_FINDINGS = """\
- The study's recipes against the original report's three numbers: the baseline {baseline.vs_original.estimate} points against 67% ({baseline.vs_original.ci}: {baseline.vs_original.reached}), AlexNet + SGD {sgd.vs_original.estimate} against 71.99% ({sgd.vs_original.ci}: {sgd.vs_original.reached}), AlexNet + Adam + Dropout {adam_dropout.vs_original.estimate} against 74.30% ({adam_dropout.vs_original.ci}: {adam_dropout.vs_original.reached}).
- At {adam_dropout.epochs} epochs and batch {adam_dropout.batch_size}, Adam + Dropout minus SGD is {claims[optimizer].estimate} points ({claims[optimizer].ci}; {claims[optimizer].verdict} after Holm's correction); the 2 × 2 design puts Adam's effect at {design[adam].estimate} ({design[adam].ci}) and Dropout 0.5's at {design[dropout].estimate} ({design[dropout].ci}).
- Cat ({claims[cat].estimate}: {claims[cat].verdict}), bird ({claims[bird].estimate}: {claims[bird].verdict}) and deer ({claims[deer].estimate}: {claims[deer].verdict}) gaining more than the overall accuracy.
- At a matched recipe AlexNet minus the baseline network is {claims[depth_sgd].estimate} with SGD ({claims[depth_sgd].ci}: {claims[depth_sgd].verdict}) and {claims[depth_adam_dropout].estimate} with Adam + Dropout ({claims[depth_adam_dropout].ci}: {claims[depth_adam_dropout].verdict}); Dropout 0.5 changes the small network by {dropout_cost[baseline_adam].estimate} with Adam ({dropout_cost[baseline_adam].ci}) and {dropout_cost[baseline_sgd].estimate} with SGD ({dropout_cost[baseline_sgd].ci}).
- At {adam_16_epochs.epochs} epochs Dropout 0.5 changes AlexNet + Adam's accuracy by {budget[at_16].estimate} ({budget[at_16].ci}: {budget[at_16].direction}); that it narrows the test-loss gap over evaluation-mode training loss is {claims[loss_gap].verdict}.
- The quick recipes (half the epochs, test-time flips) against them: {quick_baseline.vs_original.estimate} ({quick_baseline.vs_original.ci}: {quick_baseline.vs_original.reached}), {quick_alexnet_sgd.vs_original.estimate} ({quick_alexnet_sgd.vs_original.ci}: {quick_alexnet_sgd.vs_original.reached}), {quick_alexnet_adam_dropout.vs_original.estimate} ({quick_alexnet_adam_dropout.vs_original.ci}: {quick_alexnet_adam_dropout.vs_original.reached})."""


def readme_findings(facts: Facts | None = None) -> str:
    """README's "What the study found" bullets (``README_FINDINGS``), filled from the stored runs; a bullet whose
    runs are not stored says so instead (as ``say`` does)."""
    facts = facts or Facts.of_report()
    lines = []
    for line in README_FINDINGS.splitlines():
        try:
            lines.append(render(line, facts))
        except ValueError as exc:
            lines.append(f"- *Not stored yet: {str(exc).rstrip('.')}.*")
    return "\n".join(lines)
