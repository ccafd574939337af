"""Does the verdict survive the recipe? The answer's contrasts on a small pair of studies of known effects."""
from __future__ import annotations

import pytest
import yaml

from cifar_utils import conclusions, questions, study, study_results
from cifar_utils.claims import judge
from cifar_utils.results import save_result
from helpers import confusion_with_diagonal, fake_result, write_study

DESIGN = {"sgd": ("alexnet_sgd", {}), "sgd_dropout": ("alexnet_sgd", {"dropout": 0.5}),
          "adam": ("alexnet_adam_dropout", {"dropout": 0.0}), "adam_dropout": ("alexnet_adam_dropout", {})}
# plain-weights accuracy (%) of each cell: Adam +4 points at recipe A, -4 at recipe B (so -8 between them)
PLAIN = {"A": {"sgd": 70, "sgd_dropout": 70, "adam": 74, "adam_dropout": 74},
         "B": {"sgd": 76, "sgd_dropout": 76, "adam": 72, "adam_dropout": 72}}


def store(run, plain: int, seed_offset: int, flips: int | None = None, autocast: str = "fp32") -> None:
    """A result of ``run`` whose plain-weights accuracy is about ``plain``% (+0.1 point per ``seed_offset``);
    ``flips``: the run evaluated with test-time flips, scoring that (its stored predictions are the flipped ones)."""
    shown = plain if flips is None else flips
    result = fake_result(run.cell.recipe, run.config,
                         confusion_with_diagonal([shown] * 9 + [shown + seed_offset], row_total=100))
    result["environment"]["autocast"] = autocast
    if flips is not None:
        result["evaluations"] = {"weights": (plain + seed_offset / 10) / 100, "weights + test flips": (flips + seed_offset / 10) / 100}
    save_result(run.path, result)


@pytest.fixture
def studies(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_study(tmp_path / "a", {name: {"recipe": recipe, **changes, "epochs": 2, "batch_size": 64,
                                                "grid": [0.1], "lr": 0.1}
                                         for name, (recipe, changes) in DESIGN.items()})
    cells = {f"b_{name}": {"recipe": recipe, **changes, "epochs": 1, "batch_size": 32, "test_flips": True,
                           "grid": [0.1], "lr": 0.1} for name, (recipe, changes) in DESIGN.items()}
    cells["b_net_sgd"] = {"recipe": "alexnet_sgd", "model": "baseline", "epochs": 1, "batch_size": 32,
                          "test_flips": True, "grid": [0.1], "lr": 0.1}
    cells["base"] = {"recipe": "baseline", "epochs": 1, "grid": [0.1], "lr": 0.1}
    cells["base_bf16"] = {"recipe": "baseline", "epochs": 1, "precision": "bf16", "lr_from": "base"}
    cells["try_sgd"] = {"recipe": "alexnet_sgd", "epochs": 2, "batch_size": 16, "grid": [0.05, 0.1], "lr": None,
                        "seeds": []}
    second = write_study(tmp_path / "b", cells)
    spec = yaml.safe_load(second.file.read_text())
    spec.update({"compare_with": str(first.file), "recipes": {"recipe A": [2, 64], "recipe B": [1, 32]}})
    second.file.write_text(yaml.safe_dump(spec, sort_keys=False))
    second = study.load(second.file)
    for run in first.final_runs():
        store(run, PLAIN["A"][run.cell.name], run.config.seed, autocast="bfloat16")
    for run in second.final_runs():
        name = run.cell.name
        if name.startswith("b_net"):
            store(run, 66, run.config.seed, flips=67)
        elif name.startswith("b_"):
            flips_gain = 3 if "adam" in name else 1  # flips help Adam more: the flipped effect is -2, the plain -4
            store(run, PLAIN["B"][name[2:]], run.config.seed, flips=PLAIN["B"][name[2:]] + flips_gain)
        elif name == "base":
            store(run, 60, run.config.seed)
        else:
            store(run, 62, run.config.seed, autocast="bfloat16")
    return first, second


def merged(first, second) -> dict:
    cells = {c: r for c, r in study_results.cell_results(first).items() if c.seeds}
    cells.update({c: r for c, r in study_results.cell_results(second).items() if c.seeds})
    return cells


def test_the_optimizer_effect_is_read_at_each_recipe_and_its_change_between_them(studies):
    first, second = studies
    found = questions.design_by_recipe(merged(first, second), second.recipes)
    main = "Adam minus SGD (mean over both dropout levels)"
    assert found[main, "recipe A"]["estimate"] == pytest.approx(4.0)
    assert found[main, "recipe B"]["estimate"] == pytest.approx(-4.0)  # the plain weights, not the flipped (-2)
    assert found[main, "change"]["estimate"] == pytest.approx(-8.0)
    assert found[main, "change"]["high"] < 0
    # within recipe A every run stored plain predictions: both intervals; recipe B stored flipped ones: seeds only
    assert found[main, "recipe A"]["combined"] is not None
    assert found[main, "recipe B"]["combined"] is None and found[main, "change"]["combined"] is None
    assert found[main, "change"]["precisions"] == ["bfloat16", "fp32"]  # recipe A's runs trained in bf16


def test_depth_reads_both_networks_at_a_recipe_and_says_what_is_missing(studies):
    first, second = studies
    found = questions.depth_by_recipe(merged(first, second), second.recipes)
    assert found[("sgd", 0.0), "recipe B"]["estimate"] == pytest.approx(76 - 66)
    assert found[("sgd", 0.0), "recipe A"].startswith(questions.NO_INTERVAL)  # no baseline network at A
    assert found[("adam", 0.5), "change"].startswith(questions.NO_INTERVAL)


def test_the_precision_effect_pairs_cells_that_differ_in_precision_alone(studies):
    first, second = studies
    effects = questions.precision_effects(merged(first, second))
    assert list(effects) == [second.cell("base_bf16").label]
    assert effects[second.cell("base_bf16").label]["estimate"] == pytest.approx(2.0)


def test_the_plan_s_contrasts_join_the_report_s_holm_family(studies):
    first, second = studies
    cells = merged(first, second)
    report_p = [j.p for j in judge({c: r for c, r in cells.items() if c in first.cells})]
    judged = questions.judge_recipe_family(cells, second.recipes, report_p)
    assert len(judged) == 5 and {j["family size"] for j in judged} == {len(report_p) + 5}
    verdicts = [j["verdict"] for j in judged]
    assert verdicts[0] == "contradicted" and verdicts[1] == "contradicted"  # Adam loses at recipe B
    assert verdicts[2] == "holds"                                          # the optimizer effect depends on the recipe
    assert verdicts[3] == "holds" and verdicts[4] == "not supported"       # depth: one cell stored, one not
    assert all(j["p_holm"] >= j["p"] for j in judged)


def test_a_batch_size_try_is_set_against_the_compared_study_s_choice(studies):
    first, second = studies
    for run in first.tuning_runs():
        if run.cell.name == "sgd":
            store(run, 70, 0)
    tries = conclusions.batch_size_tries(second, first)
    assert tries.loc[second.cell("try_sgd").label, "batch 16: lr, validation (%)"] == "tuning"
    for run in second.tuning_runs():
        if run.cell.name == "try_sgd":
            store(run, 71 if run.config.lr == 0.1 else 69, 0)
    row = conclusions.batch_size_tries(second, first).loc[second.cell("try_sgd").label]
    assert row["batch 16: lr, validation (%)"] == "0.1, 71.00"
    assert row["batch 64: lr, validation (%)"] == "0.1, 70.00"
    assert (row["difference (points)"], row["beyond the margin"]) == ("+1.00", "yes")


def test_the_summary_of_a_recipe_study_prints_the_answer(studies, capsys):
    from cifar_utils import sweep
    first, second = studies
    assert sweep.main(["--study", str(second.file), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "-8.00 points" in out and "recipe A" in out and "recipe B" in out
    assert "Holm over the report's family and these" in out
    assert "crosses precisions" in out
    assert "Interim" not in out  # every cell has its seeds
    second.final_runs()[0].path.unlink()
    assert sweep.main(["--study", str(second.file), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "Interim" in out and "Runs still missing" in out  # a verdict from fewer runs than planned says so


def test_the_cells_table_shows_the_flips_lever_beside_the_plain_weights(studies):
    first, second = studies
    table = conclusions.recipe_cells_table(merged(first, second), second.recipes)
    row = table.loc[second.cell("b_adam").label]
    assert (row["plain weights (%)"], row["with test-time flips (%)"], row["flips minus plain (points)"]) == \
        ("72.05 +- 0.07", "75.05", "+3.00")
    assert table.loc[first.cell("adam").label, "flips minus plain (points)"] == ""  # recipe A evaluated no flips


def test_the_plan_s_rule_says_whether_the_verdict_depends_on_the_recipe(studies):
    first, second = studies
    cells = merged(first, second)
    judged = questions.judge_recipe_family(cells, second.recipes, [])
    assert questions.recipe_verdict(cells, second.recipes, judged).startswith(
        "The verdict depends on the recipe: the recipe x optimizer interaction (H3) holds")
    small = [dict(j) for j in judged]
    small[2]["effect"] = {**small[2]["effect"], "estimate": -1.0}  # smaller than the precision effect (+2)
    assert "confounds it" in questions.recipe_verdict(cells, second.recipes, small)
    small[2]["effect"] = "cannot be estimated yet: needs 2 runs"
    assert questions.recipe_verdict(cells, second.recipes, small).startswith("Whether the verdict depends on the "
                                                                             "recipe cannot be judged yet")


def test_a_pinned_precision_cell_not_run_yet_is_paired_and_says_so(studies):
    first, second = studies
    cells = merged(first, second)
    bf16 = second.cell("base_bf16")
    cells[bf16] = []
    assert questions.precision_effects(cells)[bf16.label].startswith(questions.NO_INTERVAL)
    mixed = second.cell("base")  # its runs in two precisions: no longer the fp32 side of a pair
    cells[mixed] = [*cells[mixed], {**cells[mixed][0], "environment": {**cells[mixed][0]["environment"],
                                                                        "autocast": "bfloat16"}}]
    assert questions.precision_effects(cells) == {}
