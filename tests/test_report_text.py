"""What the notebooks' prose states, recomputed from the stored results by other code than ``prose``'s.

The report's sentences state their numbers, so that a reader reads numbers, not pointers to tables; those
numbers are computed when the notebook runs (``cifar_utils.prose``, shown by cells whose source is hidden).
Each test here recomputes, its own way, what one notebook's sentences state and checks that the published
notebook says it: a wrong computation in ``prose``, or a notebook not republished since a run was stored, fails.
"""
from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest

from cifar_utils import claims, estimates, evaluate, questions, study, study_results
from cifar_utils.experiment import stored_profiles
from cifar_utils.recipes import REPO_ROOT
from cifar_utils.results import accuracy
from helpers import reader_text

NOTEBOOKS = REPO_ROOT / "notebooks"


def prose(name: str) -> str:
    """What a reader of a committed notebook reads: its Markdown cells and the Markdown its code cells show (the
    computed sentences), one string, whitespace folded."""
    return re.sub(r"\s+", " ", reader_text(nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)))


def assert_states(name: str, *phrases: str) -> None:
    text = prose(name)
    missing = [p for p in phrases if p not in text]
    assert not missing, f"{name} no longer states {missing}: the stored results changed it; rewrite the sentence"


@pytest.fixture(scope="module")
def cells():
    the_study = study.load()
    every = study_results.cell_results(the_study)
    return {cell.name: every[cell] for cell in the_study.cells}


def test_notebook_01_states_the_faithful_runs_numbers():
    faithful = stored_profiles("baseline")["faithful"]
    history = faithful["history"]
    test_accuracy = [100 * e["test_accuracy"] for e in history]
    first = next(i for i, a in enumerate(test_accuracy) if a >= 67.0)
    assert min(test_accuracy[first:]) >= 67.0  # "stays above 67% from epoch N on"
    lowest = int(np.argmin([e["test_loss"] for e in history]))
    final_train = 100 * history[-1]["train_accuracy"]
    wrong = [f"{100 * c:.1f}%" for t, p, c in zip(faithful["first_ten"]["true"], faithful["first_ten"]["predicted"],
                                                   faithful["first_ten"]["confidence"]) if t != p]
    assert_states("01_baseline", f"{accuracy(faithful):.2f}%", f"epoch {first + 1} ", f"epoch {lowest + 1} of {len(history)}",
                  f"{final_train:.2f}%", *wrong)


def signed(x: float, digits: int = 2) -> str:
    return f"{x:+.{digits}f}"


def interval(d: dict, which: str = "combined") -> str:
    part = d[which] or d["seed_only"]
    return f"{signed(part['low'])} to {signed(part['high'])}"


def test_every_notebook_states_each_original_number_it_judges_with_its_interval(cells):
    the_study = study.load()
    for name, cell_name in (("01_baseline", "baseline"), ("02_alexnet_sgd", "sgd"), ("03_alexnet_adam_dropout", "adam_dropout")):
        cell, runs = the_study.cell(cell_name), cells[cell_name]
        gap = estimates.against_original(cell, runs)
        values = [accuracy(r) for r in runs]
        numbers = (f"{np.mean(values):.2f}% ± {np.std(values, ddof=1):.2f}", f"{abs(gap['estimate']):.2f} points",
                   interval(gap), f"{min(values):.2f}%")
        assert_states(name, *numbers)
        assert_states("03_alexnet_adam_dropout", interval(gap))  # the Conclusions repeat each interval


def test_notebook_01_states_the_tuning_margin_and_the_statistics_family():
    the_study = study.load()
    assert len(claims.judge(study_results.cell_results(the_study))) == 7
    scores = {row["lr"]: row["validation accuracy (%)"] for row in the_study.tuning_log() if row["cell"] == "baseline"}
    assert_states("01_baseline", "one family of seven", f"{scores[0.2] - scores[0.1]:.2f} points ahead of 0.1")


def test_notebook_02_states_the_class_order_it_describes(cells):
    values = {name: np.mean([evaluate.class_accuracy(r["confusion"])[i] for r in cells["sgd"]])
              for i, name in enumerate(cells["sgd"][0]["classes"])}
    order = sorted(values, key=values.get, reverse=True)
    assert_states("02_alexnet_sgd", f"{order[0]} and {order[1]} lead ({values[order[0]]:.2f}% and {values[order[1]]:.2f}%)",
                  f"{order[-1]} trails ({values[order[-1]]:.2f}%)", f"horse ranks {ORDINALS[order.index('horse')]} "
                  f"({values['horse']:.2f}%)")


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


def test_notebook_03_states_the_comparison_the_design_and_depth(cells):
    every = study_results.cell_results(study.load())
    judged = {j.claim.statement.split(" (")[0]: j for j in claims.judge(every)}
    main = judged["AlexNet + Adam + Dropout 0.5 beats AlexNet + SGD in test accuracy"]
    assert_states("03_alexnet_adam_dropout", f"{signed(main.effect['estimate'])} points (95% CI {interval(main.effect)}")
    design = list(estimates.design_effects(study_results.cell_results(study.load())).values())
    adam, dropout, interaction = design
    assert_states("03_alexnet_adam_dropout", f"{abs(adam['estimate']):.2f} points", interval(adam),
                  f"{abs(dropout['estimate']):.2f} points", interval(dropout),
                  f"{signed(interaction['estimate'])} points ({interval(interaction)})")
    depth = questions.depth_effects(every)
    assert_states("03_alexnet_adam_dropout", *(f"{signed(d['estimate'])}" for d in depth.values()),
                  *(interval(d) for d in depth.values()))
    cost = questions.dropout_by_network(every)
    for key in (("baseline", "sgd"), ("baseline", "adam")):  # a cost: "9.53 points with SGD (8.34 to 10.71)"
        d = cost[key]
        assert_states("03_alexnet_adam_dropout", f"{-d['estimate']:.2f}", f"({-d['combined']['high']:.2f} to {-d['combined']['low']:.2f})")
    for name, j in judged.items():
        if name.startswith("the "):  # the class claims: "cat (−0.44, −3.31 to +2.42"
            assert_states("03_alexnet_adam_dropout", f"{name.split()[1]} ({signed(j.effect['estimate'])}, {interval(j.effect)}")


def test_notebook_03_states_the_longer_budget(cells):
    every = study_results.cell_results(study.load())
    budget = questions.dropout_by_budget(every)
    long = study.budgets(every)[-1]
    effect, change = budget[long], budget["change"]
    design = study.design(every, "alexnet", long)
    runs = {dropout: every[design["adam", dropout]] for dropout in (0.0, 0.5)}
    gaps = {dropout: np.mean([r["history"][-1]["test_loss"] - r["history"][-1]["train_eval_loss"] for r in rs])
            for dropout, rs in runs.items()}
    assert_states("03_alexnet_adam_dropout", *(f"{np.mean([accuracy(r) for r in runs[d]]):.2f}%" for d in (0.0, 0.5)),
                  f"{signed(effect['estimate'])} points (95% CI {interval(effect)} over seeds and test images; "
                  f"{interval(effect, 'seed_only')} over seeds only", f"{signed(change['estimate'])} ({interval(change)})",
                  *(f"{gaps[d]:.3f}" for d in (0.0, 0.5)),
                  *(f"{np.mean([100 * r['history'][-1]['train_eval_accuracy'] for r in runs[d]]):.2f}%" for d in (0.0, 0.5)))


def test_readme_states_the_findings_of_the_stored_runs():
    text = re.sub(r"\s+", " ", (REPO_ROOT / "README.md").read_text()).replace("\u2212", "-")
    every = study_results.cell_results(study.load())
    the_study = study.load()
    for cell_name in ("baseline", "sgd", "adam_dropout"):
        gap = estimates.against_original(the_study.cell(cell_name), every[the_study.cell(cell_name)])
        assert f"{signed(gap['estimate'])} points against" in text or f"{signed(gap['estimate'])} against" in text
        assert interval(gap) in text
    main = next(j for j in claims.judge(every) if j.claim.statement.startswith("AlexNet + Adam + Dropout 0.5 beats"))
    assert f"{signed(main.effect['estimate'])} points ({interval(main.effect)}" in text


# --- the report's shape: its length, its sentences, its numbering -------------------------------------------

BUDGETS = {"00_theory": 1400, "01_baseline": 1950, "02_alexnet_sgd": 700, "03_alexnet_adam_dropout": 1900}  # 6,000 in all (issue 20)
ORDER = list(BUDGETS)


def words(text: str) -> int:
    return len(text.split())


def sentences(text: str) -> list[str]:
    """Sentences of prose: tables, code blocks and comments left out, a display formula counted as one word of
    its sentence; a heading, list item or paragraph ends one, and so does a full stop, ! or ? (inside bold too)
    before a space."""
    text = re.sub(r"```.*?```|<!--.*?-->", "\n\n", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " FORMULA ", text, flags=re.S)
    blocks = re.split(r"\n\s*\n|\n(?=\s*(?:[-*#]|\d+\.)\s)", text)
    found = []
    for block in blocks:
        if block.lstrip().startswith("|"):
            continue
        found += [s for s in re.split(r"(?<=[.!?])\**\s+", " ".join(block.split())) if s.strip()]
    return found


@pytest.mark.parametrize("name", ORDER)
def test_each_notebook_keeps_to_its_word_budget_with_no_sentence_of_50_words(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    markdown = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert words(markdown) <= BUDGETS[name]
    long = [s for s in sentences(markdown) if words(s) >= 50]
    assert not long, long


def test_the_report_and_the_readme_keep_to_their_budgets():
    total = sum(words("\n".join(c.source for c in nbformat.read(NOTEBOOKS / f"{n}.ipynb", as_version=4).cells
                                if c.cell_type == "markdown")) for n in ORDER)
    assert total <= 6000
    readme = re.sub(r"```.*?```|<!--.*?-->", " ", (REPO_ROOT / "README.md").read_text(), flags=re.S)
    readme = "\n".join(line for line in readme.splitlines() if not line.lstrip().startswith("|"))  # tables aside
    assert words(readme) <= 1000
    assert not [s for s in sentences(readme) if words(s) >= 50]


def test_figures_are_numbered_in_reading_order_across_the_report():
    shown = []
    for name in ORDER:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        for cell in (c for c in nb.cells if c.cell_type == "code"):
            for output in cell.outputs:
                caption = output.get("data", {}).get("text/markdown", "")
                found = re.match(r"\*\*Fig\. (\d+)\.\*\*", caption)
                if found:
                    shown.append(int(found.group(1)))
    assert shown == list(range(1, len(shown) + 1))


def test_citations_follow_the_registry_in_order_of_first_citation_across_the_report():
    from cifar_utils import references
    first: list[int] = []
    for name in ORDER:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        for number in references.cited("\n".join(c.source for c in nb.cells if c.cell_type == "markdown")):
            if number not in first:
                first.append(number)
    assert first == list(range(1, len(references.entries()) + 1))  # every entry cited, numbered as first cited


def test_tables_are_numbered_in_order_and_every_reference_names_one_that_exists():
    captions, cited = [], set()
    for name in ORDER:
        text = prose(name)
        captions += re.findall(r"\*\*Table (\d+(?:\.\d+)+)\.\*\*", text)
        cited |= set(re.findall(r"Table (\d+(?:\.\d+)+)", text))
    for part in {c.rsplit(".", 1)[0] for c in captions}:  # 1, 2, 3.1, 3.2: numbered 1, 2, 3... within each part
        numbers = [int(c.rsplit(".", 1)[1]) for c in captions if c.rsplit(".", 1)[0] == part]
        assert numbers == list(range(1, len(numbers) + 1)), (part, numbers)
    assert cited <= set(captions), sorted(cited - set(captions))


def test_readme_states_the_study_s_training_time():
    the_study = study.load()
    hours = sum(r["train_seconds"] for r in study.stored(the_study.recorded_runs()).values() if r) / 3600
    assert f"its runs record {hours:.1f} hours of training" in (REPO_ROOT / "README.md").read_text(), \
        "README's total training time is stale: rewrite it"
