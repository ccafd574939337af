"""questions: depth at a matched recipe, Dropout at two budgets, and the gap measured in evaluation mode, on a
study of fake stored runs whose accuracies are known."""
from __future__ import annotations

import pytest

from cifar_utils import estimates, questions, stats, study, study_results
from cifar_utils.results import save_result
from helpers import assert_displayable, confusion_with_diagonal, fake_result, write_study

ALEXNET = {"sgd": {"recipe": "alexnet_sgd", "grid": [0.02, 0.04]},
           "sgd_dropout": {"recipe": "alexnet_sgd", "dropout": 0.5, "lr_from": "sgd"},
           "adam": {"recipe": "alexnet_adam_dropout", "dropout": 0.0, "lr_from": "adam_dropout"},
           "adam_dropout": {"recipe": "alexnet_adam_dropout", "grid": [0.0016, 0.0032]}}
BASELINE_NET = {"net_sgd": {"recipe": "alexnet_sgd", "model": "baseline", "grid": [0.04, 0.08], "lr": 0.08},
                "net_sgd_dropout": {"recipe": "alexnet_sgd", "model": "baseline", "dropout": 0.5, "lr_from": "net_sgd"},
                "net_adam": {"recipe": "alexnet_adam_dropout", "model": "baseline", "dropout": 0.0,
                             "lr_from": "net_adam_dropout"},
                "net_adam_dropout": {"recipe": "alexnet_adam_dropout", "model": "baseline", "grid": [0.01, 0.02],
                                     "lr": 0.01}}
LONGER = {"adam_16": {"recipe": "alexnet_adam_dropout", "dropout": 0.0, "epochs": 16, "lr_from": "adam_dropout"},
          "adam_dropout_16": {"recipe": "alexnet_adam_dropout", "epochs": 16, "lr_from": "adam_dropout"}}
# test accuracy (%) of each cell's seed 0; seed s adds s points
ACCURACY = {"sgd": 70, "sgd_dropout": 69, "adam": 76, "adam_dropout": 75, "net_sgd": 71, "net_sgd_dropout": 64,
            "net_adam": 74, "net_adam_dropout": 66, "adam_16": 77, "adam_dropout_16": 79}


@pytest.fixture
def cells(tmp_path):
    the_study = write_study(tmp_path, {**ALEXNET, **BASELINE_NET, **LONGER}, seeds=(0, 1, 2))
    for run in the_study.final_runs():
        result = fake_result(run.cell.recipe, run.config,
                             confusion_with_diagonal([ACCURACY[run.cell.name] + run.config.seed] * 10, row_total=100))
        if run.cell.value("epochs") == 16:  # measured the training probe: eval-mode loss 0.3, accuracy 95%
            result["history"][-1].update(train_eval_loss=0.3, train_eval_accuracy=0.95)
        save_result(run.path, result)
    return study_results.cell_results(the_study)


def test_depth_is_alexnet_minus_the_baseline_network_at_each_cell_of_the_matched_recipe(cells):
    effects = questions.depth_effects(cells)
    assert set(effects) == {("sgd", 0.0), ("sgd", 0.5), ("adam", 0.0), ("adam", 0.5)}
    # each seed adds one point to every cell, so each estimate is the difference of the seed-0 accuracies
    expected = {("sgd", 0.0): -1, ("sgd", 0.5): 5, ("adam", 0.0): 2, ("adam", 0.5): 9}
    for factors, effect in effects.items():
        assert effect["estimate"] == pytest.approx(expected[factors])
        assert effect["low"] < expected[factors] < effect["high"]
    # over seeds and test images (all three seeds of each cell), beside the interval over seeds only: a verdict
    # reads their union and the larger p-value
    for factors, effect in effects.items():
        both = (effect["combined"], effect["seed_only"])
        assert effect["low"] == min(d["low"] for d in both) and effect["high"] == max(d["high"] for d in both)
        assert effect["p_value"] == max(d["p_value"] for d in both)
    table = questions.depth_table(cells)
    assert list(table.index) == ["SGD, no dropout", "SGD, Dropout 0.5", "Adam, no dropout", "Adam, Dropout 0.5"]
    assert list(table.columns) == [*estimates.EFFECT_COLUMNS, "direction"]
    row = table.loc["Adam, Dropout 0.5"]
    assert row["direction"] == "positive" and row["estimate"] == "+9.00 points" and row["runs"] == "3 per group"
    assert row["95% CI, seeds only"] == stats.interval_text(effects["adam", 0.5]["seed_only"])
    assert row["95% CI, seeds and test images"] == stats.interval_text(effects["adam", 0.5]["combined"])


def test_dropout_s_effect_on_each_network_at_the_matched_recipe(cells):
    found = questions.dropout_by_network(cells)
    expected = {("baseline", "sgd"): -7, ("baseline", "adam"): -8, ("alexnet", "sgd"): -1, ("alexnet", "adam"): -1}
    assert {key: round(effect["estimate"]) for key, effect in found.items()} == expected
    lines = questions.findings(cells)
    assert "- *Dropout 0.5 minus none, baseline CNN + SGD, 8 epochs*: -7.00 points" in "\n".join(lines)


def test_dropout_at_each_budget_and_the_change_between_them(cells):
    assert study.budgets(cells) == [8, 16]
    found = questions.dropout_by_budget(cells)
    assert found[8]["estimate"] == pytest.approx(-1) and found[16]["estimate"] == pytest.approx(2)
    groups = {(8, 0.0): [76, 77, 78], (8, 0.5): [75, 76, 77], (16, 0.0): [77, 78, 79], (16, 0.5): [79, 80, 81]}
    weights = {(16, 0.5): 1.0, (16, 0.0): -1.0, (8, 0.5): -1.0, (8, 0.0): 1.0}
    seeds = stats.contrast(groups, weights)  # +3 points: Dropout pays at the longer budget
    change = found["change"]
    for key in ("estimate", "low", "high", "p_value", "df"):
        assert change["seed_only"][key] == pytest.approx(seeds[key]), key
    assert change["high"] >= max(seeds["high"], change["combined"]["high"])  # the union of the two intervals
    assert change["p_value"] == max(seeds["p_value"], change["combined"]["p_value"])
    lines = questions.findings(cells)
    assert lines[-1] == ("- *change of Dropout's effect from the shortest to the longest budget*: "
                         f"{estimates.effect_text(change)}; **{estimates.direction(change)}**.")
    assert lines[-1].startswith("- *change of Dropout's effect from the shortest to the longest budget*: +3.00 points "
                                "(95% CI ")


def test_the_measured_gap_uses_only_runs_that_measured_the_training_probe(cells):
    table = questions.measured_gap(cells)
    assert list(table.index) == ["AlexNet + Adam (16 epochs)", "AlexNet + Adam + Dropout 0.5 (16 epochs)"]
    row = table.loc["AlexNet + Adam (16 epochs)"]
    assert (row["runs"], row["epochs"]) == (3, 16)  # ints, not 3.0 and 16.0
    assert row["training loss, eval mode"] == "0.300" and row["training accuracy, eval mode (%)"] == "95.00"
    last = next(results for c, results in cells.items() if c.label == "AlexNet + Adam (16 epochs)")[0]["history"][-1]
    assert row["test loss"] == f"{last['test_loss']:.3f}" and row["test minus training loss"] == \
        f"{last['test_loss'] - 0.3:+.3f}"  # the same history in every fake result
    assert row["test accuracy (%)"] == f"{100 * last['test_accuracy']:.2f}"
    assert row["training minus test accuracy (points)"] == f"{95 - 100 * last['test_accuracy']:+.2f}"
    assert_displayable(table)


def test_every_number_the_answers_show_is_a_preformatted_string_or_an_int(cells):
    for table in (questions.depth_table(cells), questions.dropout_table(cells), questions.measured_gap(cells)):
        assert_displayable(table)
    assert questions.measured_gap(cells)["runs"].dtype.kind == "i"


def test_too_few_runs_say_so_instead_of_an_interval(tmp_path):
    the_study = write_study(tmp_path, {**ALEXNET, **BASELINE_NET}, seeds=(0, 1))
    run = the_study.final_runs([the_study.cell("net_sgd")])[0]
    save_result(run.path, fake_result(run.cell.recipe, run.config, confusion_with_diagonal([50] * 10, row_total=100)))
    effects = questions.depth_effects(study_results.cell_results(the_study))
    assert all(e.startswith("cannot be estimated yet: needs 2 runs of each, has ") for e in effects.values())
    assert effects["sgd", 0.0] == ("cannot be estimated yet: needs 2 runs of each, has 1 of baseline CNN + SGD "
                                   "(AlexNet recipe), 0 of AlexNet + SGD")
    assert questions.findings(study_results.cell_results(the_study))[0].startswith(
        "- depth at a matched recipe, *AlexNet minus baseline CNN, SGD, no dropout*: cannot be estimated yet")
    assert questions.dropout_by_budget(study_results.cell_results(the_study))[8].startswith("cannot be estimated")
