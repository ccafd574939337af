"""conclusions: the study's tables and verdicts, on fake results with known answers (no training); with the
stored runs as study_results reads them and the numbers as estimates computes them."""
from __future__ import annotations

import re

import numpy as np
import pytest
import yaml
from scipy import stats as scipy_stats

from cifar_utils import claims as claims_module
from cifar_utils import conclusions, estimates, stats, study, study_results
from cifar_utils.claims import CLASS_CAVEAT
from cifar_utils.recipes import original
from cifar_utils.results import save_result
from helpers import assert_displayable, confusion_with_diagonal, fake_result, squeezed, write_study

STUDY = study.load()
CELLS = STUDY.cells
BASELINE, SGD, SGD_DROPOUT, ADAM, ADAM_DROPOUT = (STUDY.cell(name) for name in
                                                  ("baseline", "sgd", "sgd_dropout", "adam", "adam_dropout"))


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch):
    """2,000 resamples of the test images instead of 10,000: these tests are about the tables and verdicts, and
    tests/test_stats.py and tests/test_notebooks.py check the report's own."""
    monkeypatch.setattr(stats, "RESAMPLES", 2000)


def study_in(folder) -> study.Study:
    """The study's cells and seeds (profiles/study.yaml), with its runs in ``folder``: what reads the stored
    runs (divergence records, tuning runs) sees only what a test puts there."""
    spec = yaml.safe_load(STUDY.file.read_text())
    return write_study(folder, spec["cells"], seeds=STUDY.seeds, tuning_seeds=STUDY.tuning_seeds)


def results_of(cell: study.Cell, accuracies: list[float], seeds=None) -> list[dict]:
    """Fake final results of a cell with these overall test accuracies (%), one per seed."""
    found = []
    for seed, acc in zip(seeds or range(len(accuracies)), accuracies):
        correct = round(acc * 10)  # of 1,000 images per class, every class the same
        confusion = confusion_with_diagonal([correct] * 10)
        found.append(fake_result(cell.recipe, cell.config(seed), confusion))
    return found


def test_seeds_table_lists_each_run():
    results = results_of(BASELINE, [70.0, 71.5], seeds=[3, 1])
    table = conclusions.seeds_table(results)
    assert list(table.index) == [3, 1]
    assert list(table["test accuracy (%)"]) == ["70.00", "71.50"]
    assert table.loc[1, "correct / test images"] == "7150 / 10,000"
    assert table.loc[1, "training (min)"] == f"{results[1]['train_seconds'] / 60:.1f}"
    assert_displayable(table)
    assert conclusions.seeds_table([]).empty


@pytest.mark.parametrize("accuracies, reached", [
    ([70.0, 71.0, 72.0], "reached"),                # every seed far above 67
    ([66.0, 67.5, 68.1], "not supported"),        # mean 67.2, the interval straddles 67
    ([60.0, 61.0, 62.0], "not reached"),
])
def test_seeds_vs_original_says_whether_the_mean_reached_the_original_number(accuracies, reached):
    results = results_of(BASELINE, accuracies)
    row = conclusions.seeds_vs_original(BASELINE, results).iloc[0]
    theirs = original("baseline")["accuracy"]
    assert row["original report (%)"] == f"{theirs:.2f}" == "67.00" and row["runs"] == 3
    assert row["mean (%)"] == f"{np.mean(accuracies):.2f}"
    assert row["mean minus original (points)"] == f"{np.mean(accuracies) - theirs:+.2f}"
    assert row[conclusions.REACHED_COLUMN] == reached
    # seeds only: Student's t over the seeds' differences from the original number
    diffs = np.array(accuracies) - theirs
    low, high = scipy_stats.t.interval(0.95, len(diffs) - 1, loc=diffs.mean(), scale=scipy_stats.sem(diffs))
    assert row["95% CI, seeds only"] == f"{low:+.2f} to {high:+.2f}"
    # seeds and test images: the test images' bootstrap variance added; "reached" reads the union of the two
    gap = estimates.against_original(BASELINE, results)
    assert row["95% CI, seeds and test images"] == stats.interval_text(gap["combined"])
    assert gap["combined"]["se"] > gap["seed_only"]["se"]
    assert gap["low"] == pytest.approx(min(low, gap["combined"]["low"]))
    assert gap["high"] == pytest.approx(max(high, gap["combined"]["high"]))
    assert estimates.reached(gap) == reached


def test_seeds_vs_original_with_one_run_says_it_needs_two():
    row = conclusions.seeds_vs_original(BASELINE, results_of(BASELINE, [80.0])).iloc[0]
    assert row["mean (%)"] == "80.00" and row["runs"] == 1
    assert row["mean minus original (points)"] == "needs 2 runs" == row[conclusions.REACHED_COLUMN]
    assert conclusions.seeds_vs_original(BASELINE, []).iloc[0]["mean (%)"] == "not run yet"


def test_by_seed_pairs_only_common_seeds_in_seed_order():
    a = results_of(SGD, [70.0, 71.0, 72.0], seeds=[0, 1, 2])
    b = results_of(ADAM_DROPOUT, [73.0, 71.5, 80.0], seeds=[2, 1, 7])  # seed 7 has no partner
    pa, pb = estimates.by_seed(a, b)
    assert [estimates.seed_of(r) for r in pa] == [1, 2] == [estimates.seed_of(r) for r in pb]


def test_mcnemar_by_seed_counts_the_discordant_images():
    a = results_of(SGD, [70.0, 71.0])
    b = results_of(ADAM_DROPOUT, [70.0, 72.0])
    table = conclusions.mcnemar_by_seed(a, b)
    assert list(table.index) == [0, 1]
    # predictions_for lists images in the confusion's cell order: with equal diagonals the models agree
    assert table.loc[0, "only the first right"] == 0 == table.loc[0, "only the second right"]
    assert table.loc[0, "exact p"] == "1" and table.loc[0, "significant at 5%"] == "no"
    difference = table[conclusions.DIFFERENCE_COLUMN]  # second minus first, two decimals
    assert (difference[0], difference[1]) == ("+0.00", "+1.00")
    assert table.loc[1, "exact p"] == "<0.001"  # 100 discordant images, all one way


def test_tuning_table_marks_the_chosen_rate(tmp_path):
    the_study = study_in(tmp_path)
    grid = BASELINE.grid
    table = conclusions.tuning_table(the_study, "baseline")
    assert table.index.name == "peak learning rate" and list(table.index) == [f"{lr:g}" for lr in grid]
    assert set(table["validation accuracy (%)"]) == {"not run yet"} and set(table["the rule's choice"]) == {""}
    for i, run in enumerate(the_study.tuning_runs()):  # every run stored; the baseline's best is its third rate
        best = run.cell.name == "baseline" and run.config.lr == grid[2]
        confusion = confusion_with_diagonal([60 if best else 50 + i % 3] * 10, row_total=100)
        result = fake_result(run.cell.recipe, run.config, confusion)
        save_result(run.path, result)
    table = conclusions.tuning_table(the_study, "baseline")
    assert_displayable(table)
    assert list(table["the rule's choice"]) == ["", "", "chosen"] + [""] * (len(grid) - 3)
    assert table["validation accuracy (%)"].iloc[2] == "60.00" and set(table["precision"]) == {"fp32"}
    assert all(re.fullmatch(r"\d+\.\d", minutes) for minutes in table["training (min)"])  # one decimal
    # the best rate diverged in some run of the study: left out, and the next best chosen
    cell = the_study.cell("baseline")
    broke = study.Run(cell, cell.config(the_study.seeds[0], lr=grid[2]), the_study.results_dir)
    study.record_divergence(broke.diverged_path, cell.recipe, broke.config, "the training loss became nan")
    chosen = conclusions.tuning_table(the_study, "baseline")["the rule's choice"]
    assert chosen.iloc[2] == "left out: diverged in a run" and list(chosen).count("chosen") == 1


def three_seed_study() -> dict[study.Cell, list[dict]]:
    """Every cell with three fake seeds, far enough apart for every verdict but the loss gap's."""
    return {BASELINE: results_of(BASELINE, [76.0, 76.5, 77.0]),
            SGD: results_of(SGD, [70.0, 70.4, 70.8]),
            SGD_DROPOUT: results_of(SGD_DROPOUT, [71.0, 71.3, 71.9]),
            ADAM: results_of(ADAM, [70.1, 70.5, 70.6]),
            ADAM_DROPOUT: results_of(ADAM_DROPOUT, [73.0, 73.5, 74.1])}


HEADLINE = ("AlexNet + Adam + Dropout 0.5 beats AlexNet + SGD in test accuracy (this study's recipe, 8 epochs; "
            "npz fake (sha256 000000000000))")


def class_claim(name: str) -> str:
    return (f"the {name} class gains more than the overall accuracy with AlexNet + Adam + Dropout 0.5 over AlexNet "
            f"+ SGD (8 epochs; npz fake (sha256 000000000000))")


def test_claims_give_a_verdict_after_holm_from_each_interval():
    cells = three_seed_study()
    claims = conclusions.claims(cells)
    assert list(claims.index) == [HEADLINE] + [class_claim(name) for name in ("cat", "bird", "deer")]
    assert list(claims.columns) == ["estimate", "95% CI, seeds and test images", "95% CI, seeds only", "runs", "p",
                                    "p, Holm-adjusted", "verdict", "caveat"]
    head = claims.loc[HEADLINE]
    assert head["verdict"] == "holds" and head["estimate"] == "+3.13 points" and head["runs"] == "3 per group"
    seeds = stats.difference([70.0, 70.4, 70.8], [73.0, 73.5, 74.1])
    assert head["95% CI, seeds only"] == stats.interval_text(seeds)
    found = claims_module.judge(cells)[0].effect
    assert head["95% CI, seeds and test images"] == stats.interval_text(found["combined"])
    assert found["combined"]["se"] > found["seed_only"]["se"]  # the test images add variance
    # every class as accurate as the whole in the fake runs: a class's gain beyond the overall has no spread
    for name in ("cat", "bird", "deer"):
        row = claims.loc[class_claim(name)]
        assert row["verdict"] == "not supported" and row["caveat"] == CLASS_CAVEAT
        assert row["estimate"].startswith("cannot be estimated yet: ") and row["p"] == row["p, Holm-adjusted"] == ""
    # Holm over the family of four, the three that cannot be estimated counting with p = 1
    judged = claims_module.judge(cells)
    assert [j.p for j in judged][1:] == [1.0, 1.0, 1.0]
    assert judged[0].p_holm == pytest.approx(min(1.0, 4 * judged[0].p))
    design = conclusions.two_by_two(cells)
    assert list(design.index) == list(estimates.TWO_BY_TWO_EFFECTS)
    assert list(design.columns) == [*estimates.EFFECT_COLUMNS, "direction"]
    assert list(design["direction"]) == ["positive"] * 3
    assert design["estimate"].iloc[0].startswith("+")  # Adam's main effect is positive here
    text = conclusions.findings(cells)
    for name, d in estimates.design_effects(cells).items():
        assert f"- 2 x 2 design, *{name}*: {estimates.effect_text(d)}; **positive**." in text


def full_study(bird_extra: float = 0.0, probe_gap: tuple[float, float] = (0.50, 0.40)) -> dict:
    """Every cell of profiles/study.yaml with five fake seeds (the 16-epoch ones three, with the training probe):
    AlexNet + Adam + Dropout well ahead of SGD, bird ``bird_extra`` points further in it, the baseline CNN as
    good as AlexNet with SGD and far behind with Adam + Dropout, the eval-mode loss gap ``probe_gap`` (Adam,
    Adam + Dropout) at 16 epochs."""
    accuracy = {"baseline": 77.0, "sgd": 70.0, "sgd_dropout": 69.0, "adam": 74.0, "adam_dropout": 73.0,
                "baseline_net_sgd": 70.0, "baseline_net_sgd_dropout": 62.0, "baseline_net_adam": 74.0,
                "baseline_net_adam_dropout": 68.0, "adam_16_epochs": 78.0, "adam_dropout_16_epochs": 78.0}
    cells = {}
    for cell in CELLS:
        found = []
        for seed in cell.seeds:
            correct = round(10 * (accuracy[cell.name] + (0.3, -0.2, 0.1, -0.4, 0.2)[seed]))
            diagonal = [correct] * 10
            if cell.name == "adam_dropout":
                diagonal[2] += round(10 * bird_extra) + (5, -3, 0, 2, -4)[seed]  # bird, with its own noise
            result = fake_result(cell.recipe, cell.config(seed), confusion_with_diagonal(diagonal))
            if cell.value("epochs") == 16:
                gap = probe_gap[cell.value("dropout") > 0] + 0.01 * seed
                result["history"][-1].update(train_eval_loss=result["history"][-1]["test_loss"] - gap,
                                             train_eval_accuracy=0.97)
            found.append(result)
        cells[cell] = found
    return cells


def test_the_family_is_seven_claims_judged_after_holm():
    cells = full_study(bird_extra=6.0)
    judged = claims_module.judge(cells)
    assert len(judged) == 7
    names = [j.claim.statement.split(" (")[0] for j in judged]
    assert names[4:] == ["AlexNet beats the baseline CNN in test accuracy, both trained with SGD without dropout",
                         "AlexNet beats the baseline CNN in test accuracy, both trained with Adam + Dropout 0.5",
                         "Dropout 0.5 narrows the gap of test loss over eval-mode training loss, AlexNet + Adam"]
    assert [j.p_holm for j in judged] == [pytest.approx(q) for q in stats.holm([j.p for j in judged])]
    verdicts = {name: j.verdict for name, j in zip(names, judged)}
    assert verdicts[names[0]] == "holds"                        # +3 points over SGD
    assert verdicts["the bird class gains more than the overall accuracy with AlexNet + Adam + Dropout 0.5 over "
                    "AlexNet + SGD"] == "holds"                 # +5.4 points beyond the overall gain
    assert verdicts[names[4]] == "not supported"                # the same accuracy
    assert verdicts[names[5]] == "holds"                        # +5 points
    assert verdicts[names[6]] == "holds"                        # 0.40 against 0.50, seeds only
    gap = judged[6].effect
    assert gap["combined"] is None and gap["n"] == {
        cell: 3 for cell in (STUDY.cell("adam_16_epochs"), STUDY.cell("adam_dropout_16_epochs"))}
    assert gap["p_value"] == judged[6].p == gap["seed_only"]["p_value"]  # Welch's: no per-image losses
    assert gap["estimate"] == pytest.approx(-0.10)
    table = conclusions.claims(cells)
    assert table["95% CI, seeds and test images"].iloc[6] == "per-image values not stored"
    assert table.loc[judged[6].claim.statement, "estimate"] == "-0.100"  # a loss: no unit, three decimals
    assert table["95% CI, seeds only"].iloc[6] == stats.interval_text(gap["seed_only"], digits=3)
    verdicts = squeezed(conclusions.verdicts_markdown(cells))  # the README's: the unit beside each estimate
    assert verdicts[0] == ("| the original report's number or claim, as tested here | estimate | 95% CI | p, Holm "
                           "| verdict |")
    assert verdicts[2].startswith(f"| {BASELINE.label} reaches 67.00% (mean over seeds) | +10.00 points | ")
    assert f" | -0.100 | {stats.interval_text(gap['seed_only'], digits=3)} (seeds only) | " in verdicts[-1]
    # a claim whose raw p is below 0.05 but whose Holm-adjusted one is not is not supported
    weak = claims_module.judge(full_study(bird_extra=1.5))
    bird = weak[2]
    assert bird.p < 0.05 <= bird.p_holm and bird.verdict == "not supported", (bird.p, bird.p_holm)


def test_a_claim_whose_runs_predate_the_training_probe_cannot_be_estimated():
    cells = full_study()
    for result in cells[STUDY.cell("adam_16_epochs")]:
        del result["history"][-1]["train_eval_loss"]
    last = claims_module.judge(cells)[-1]
    assert last.effect is None and last.verdict == "not supported" and last.p == 1.0
    assert last.why.startswith("the run alexnet_adam_dropout-")
    assert last.why.endswith("did not measure the training probe (trained before it existed)")


def test_direction_reads_an_interval():
    assert estimates.direction({"low": 0.1, "high": 2.0}) == "positive"
    assert estimates.direction({"low": -2.0, "high": -0.1}) == "negative"
    assert estimates.direction({"low": -0.5, "high": 0.5}) == "indistinguishable from zero"
    assert estimates.direction({"low": 0.0, "high": 0.5}) == "indistinguishable from zero"  # touches zero


def test_claims_with_too_few_runs_are_not_supported():
    cells = {cell: results_of(cell, [70.0]) for cell in CELLS}
    assert set(conclusions.claims(cells)["verdict"]) == {"not supported"}


def test_summary_table_names_the_original_number_only_for_the_notebook_cells():
    cells = {cell: results_of(cell, [70.0, 71.0]) for cell in CELLS}
    table = conclusions.summary_table(cells)
    assert table.loc[BASELINE.label, "original report (%)"] == "67.00"
    assert table.loc[SGD.label, "original report (%)"] == f"{original('alexnet_sgd')['accuracy']:.2f}" == "71.99"
    assert table.loc[SGD_DROPOUT.label, "original report (%)"] == ""
    assert table.loc[ADAM.label, "runs"] == 2 and table.loc[ADAM.label, "mean (%)"] == "70.50"
    assert table.loc[ADAM.label, "std (points)"] == f"{np.std([70.0, 71.0], ddof=1):.2f}" == "0.71"
    last = cells[ADAM][0]["history"][-1]["train_accuracy"]  # the same history in every fake result
    assert table.loc[ADAM.label, "training accuracy, last epoch (%)"] == f"{100 * last:.2f}"
    assert table.loc[ADAM.label, "parameters"] == "27,279,882"
    assert table.loc[ADAM.label, "training (min, mean)"] == f"{cells[ADAM][0]['train_seconds'] / 60:.1f}"
    assert_displayable(table)


def test_study_markdown_gives_a_column_only_to_what_differs_between_machines():
    cells = {cell: [] for cell in CELLS}
    cells[BASELINE] = results_of(BASELINE, [76.0, 77.0])
    cells[SGD] = results_of(SGD, [72.0, 73.0])
    cells[SGD][1]["environment"]["autocast"] = "bfloat16"
    lines = squeezed(conclusions.study_markdown(cells))
    assert lines[0].endswith("| training time (mean) | precision |")
    assert lines[2].endswith("| fp32 |") and lines[3].endswith("| bfloat16; fp32 |")  # the column's cells
    assert lines[-1] == "Every run trained on: test CPU, 1 threads, cpu; the precision column says in which arithmetic."
    cells[SGD][1]["environment"]["cpu"] = "other CPU"
    lines = squeezed(conclusions.study_markdown(cells))
    assert lines[0].endswith("| trained on |") and lines[3].endswith("| other CPU, 1 threads, cpu, bfloat16; "
                                                                     "test CPU, 1 threads, cpu, fp32 |")
    assert not lines[-1].startswith("Every run")


def test_study_markdown_shows_mean_std_n_beside_the_original():
    cells = {cell: [] for cell in CELLS}
    cells[BASELINE] = results_of(BASELINE, [76.0, 77.0, 78.0])
    cells[SGD] = results_of(SGD, [72.5])
    lines = squeezed(conclusions.study_markdown(cells))
    assert len(lines) == 2 + len(CELLS) + 2  # one machine: no column, a line under the table instead
    assert lines[-1].startswith("Every run trained on: ") and "trained on" not in lines[0]
    baseline, sgd, sgd_dropout = lines[2:5]
    assert baseline.startswith(f"| {BASELINE.label} | 67.00% | 77.00% +- 1.00 (3) | 74.52 to 79.48% |")
    assert "| 72.50% (1) | needs 2 runs |" in sgd and "| not run (0) |" in sgd_dropout
    assert "| not in it |" in sgd_dropout


def test_cell_results_leave_out_runs_without_predictions(tmp_path):
    the_study = study_in(tmp_path)
    runs = the_study.final_runs()[:2]
    for run in runs:
        result = fake_result(run.cell.recipe, run.config, confusion_with_diagonal([700] * 10))
        if run is runs[1]:
            del result["predictions"]
            result["schema_version"] = 1
        save_result(run.path, result)
    found = study_results.cell_results(the_study)
    assert [len(found[run.cell]) for run in runs] == [1, 0]
    assert sum(map(len, found.values())) == 1


def test_per_class_summary_over_seeds():
    results = results_of(SGD, [70.0, 72.0])
    results[1]["confusion"] = confusion_with_diagonal([900] + [700] * 9).tolist()  # airplane best in seed 1
    table = conclusions.per_class_summary(results, "alexnet_sgd")
    assert table.index[0] == "airplane" and table.loc["airplane", "mean (%)"] == "80.00"
    assert table.loc["airplane", "std (points)"] == f"{np.std([70.0, 90.0], ddof=1):.2f}" == "14.14"
    low, high = scipy_stats.t.interval(0.95, 1, loc=80.0, scale=scipy_stats.sem([70.0, 90.0]))
    assert table.loc["airplane", "95% interval (%)"] == f"{low:.2f} to {high:.2f}"
    assert table.loc["cat", "original report (%)"] == "44.90"
    assert (table.loc["horse", "mean (%)"], table.loc["horse", "std (points)"]) == ("70.00", "0.00")
    assert_displayable(table)
    assert "original report (%)" not in conclusions.per_class_summary(results).columns
    assert conclusions.per_class_summary([]).empty  # no run stored yet


def test_study_figures_are_fig20_and_fig21(tmp_path):
    from cifar_utils.experiment import study_figures
    cells = {cell: results_of(cell, [70.0 + i, 71.0 + i]) for i, cell in enumerate(CELLS)}
    assert [estimates.original_accuracy(c) for c in CELLS[:5]] == [67.0, 71.99, None, None, 74.3]
    assert {estimates.original_accuracy(c) for c in CELLS[5:]} <= {None}  # the cells the original report never ran
    drawn = study_figures(cells, tmp_path)
    assert [f.figure.number for f in drawn] == [20, 21] and all(f.path.is_file() for f in drawn)


def test_every_number_a_table_shows_is_a_preformatted_string_or_an_int():
    """No table holds a float, whose decimals pandas would choose (72.0 beside 88.82, 5.0 runs): accuracies and
    points with two decimals, losses with three, counts as ints (``formats``). tuning_table and unstable_finals:
    tested with their stored runs above."""
    cells = full_study(bird_extra=6.0)
    sgd, adam_dropout = cells[SGD], cells[ADAM_DROPOUT]
    for table in (conclusions.seeds_table(sgd), conclusions.seeds_vs_original(SGD, sgd),
                  conclusions.per_class_summary(sgd, "alexnet_sgd"), conclusions.summary_table(cells),
                  conclusions.two_by_two(cells), conclusions.claims(cells),
                  conclusions.mcnemar_by_seed(sgd, adam_dropout)):
        assert_displayable(table)
    assert conclusions.mcnemar_by_seed(sgd, adam_dropout)["only the first right"].dtype.kind == "i"
    assert conclusions.summary_table(cells)["runs"].dtype.kind == "i"


def test_tables_with_no_runs_stored_say_so_instead_of_failing():
    cells = {cell: [] for cell in CELLS}
    assert conclusions.two_by_two(cells)["estimate"].iloc[0].startswith("cannot be estimated yet")
    assert conclusions.mcnemar_by_seed([], []).empty
    assert set(conclusions.claims(cells)["verdict"]) == {"not supported"}
    assert conclusions.summary_table(cells)["runs"].tolist() == [0] * len(CELLS)
    assert set(conclusions.summary_table(cells)["mean (%)"]) == {"not run yet"}


def test_status_says_how_many_runs_are_stored_and_whether_the_study_is_complete(tmp_path):
    the_study = study_in(tmp_path)
    cells = {cell: results_of(cell, [70.0] * len(cell.seeds)) for cell in the_study.cells}
    assert conclusions.status(the_study, cells).endswith("The study is complete.")
    adam = the_study.cell("adam")
    cells[adam] = cells[adam][:1]
    line = conclusions.status(the_study, cells)
    assert f"{adam.label} 1," in line and "still running" in line
    for run in the_study.final_runs([adam])[1:]:  # every seed but the first diverged
        study.record_divergence(run.diverged_path, adam.recipe, run.config, "the training loss became nan")
    line = conclusions.status(the_study, cells)
    assert f"{adam.label} 1 (and {len(adam.seeds) - 1} diverged)," in line and "adopts the next rate" in line
    assert "complete" not in line


def test_status_warns_when_the_stored_runs_were_trained_on_different_copies_of_the_data(tmp_path):
    the_study = study_in(tmp_path)
    cells = {cell: results_of(cell, [70.0] * len(cell.seeds)) for cell in the_study.cells}
    assert "Mixed data" not in conclusions.status(the_study, cells)
    sgd = the_study.cell("sgd")
    official = dict(cells[sgd][0]["environment"], data_source="torchvision:/data/cifar-10-batches-py",
                    data_sha256="cd" * 32)
    cells[sgd][0] = dict(cells[sgd][0], environment=official)
    line = conclusions.status(the_study, cells)
    assert line.endswith("every mean, interval and verdict below mixes them; train the whole study on one copy "
                         "(docs/reproducing.md).")
    runs = sum(len(cell.seeds) for cell in the_study.cells) - 1
    assert f"copies of CIFAR-10 (npz fake (sha256 {'0' * 12}): {runs} runs; torchvision cifar-10-batches-py " \
           f"(sha256 {'cd' * 6}): 1 run)" in line


def test_ranking_orders_the_stored_configurations_by_mean():
    cells = {cell: [] for cell in CELLS}
    cells[SGD] = results_of(SGD, [72.0, 74.0])
    cells[BASELINE] = results_of(BASELINE, [78.0])
    sentence = conclusions.ranking(cells)
    assert sentence.index(BASELINE.label) < sentence.index(SGD.label)
    assert f"{BASELINE.label} 78.00% (1 run);" in sentence and f"{SGD.label} 73.00% (2 runs)." in sentence
    assert ADAM.label not in sentence  # nothing stored: not ranked
    assert conclusions.ranking({cell: [] for cell in CELLS}) == "No final run of the study is stored yet."


def test_findings_state_each_bar_and_claim_with_its_verdict():
    cells = three_seed_study()
    text = conclusions.findings(cells)
    bars = [line for line in text.splitlines() if "against the original report's" in line]
    assert len(bars) == 3  # the three configurations the original report ran
    gap = estimates.against_original(BASELINE, cells[BASELINE])
    assert bars[0] == (f"- {BASELINE.label} against the original report's single run, 67.00%: mean 76.50% over 3 runs "
                       f"(lowest seed 76.00%); mean minus original: {estimates.effect_text(gap)}; **reached**.")
    assert "over seeds and test images; " in bars[0] and " over seeds only; n = 3)" in bars[0]
    assert "-2.58 to -0.60 over seeds only" in bars[1] and bars[1].endswith("**not reached**.")  # 70.4 < 71.99
    for judged in claims_module.judge(cells):
        caveat = f" ({judged.claim.caveat})" if judged.claim.caveat else ""
        found = (f"cannot be estimated yet: {judged.why}" if judged.effect is None else
                 f"{estimates.effect_text(judged.effect)}, {stats.p_text(judged.p)}, "
                 f"Holm-adjusted {stats.p_text(judged.p_holm)}")
        assert f"- *{judged.claim.statement}*: {found}; **{judged.verdict}**{caveat}." in text
    assert f"- *{HEADLINE}*: +3.13 points (95% CI " in text
    too_few = conclusions.findings({cell: results_of(cell, [70.0]) for cell in CELLS})
    assert "needs 2 runs." in too_few and "**not supported**" in too_few and ".;" not in too_few
    assert too_few.splitlines()[-1].startswith("- 2 x 2 design: cannot be estimated yet: ") and "..;" not in too_few



def test_unstable_finals_list_the_runs_of_a_rate_that_diverged(tmp_path):
    the_study = study_in(tmp_path)
    assert conclusions.unstable_finals(the_study, "baseline").empty
    cell, lr = the_study.cell("baseline"), 9.0
    ran, broke = (study.Run(cell, cell.config(seed, lr=lr), the_study.results_dir) for seed in (0, 2))
    save_result(ran.path, results_of(cell, [75.5])[0] | {"key": ran.config.key(), "config": ran.config.to_dict()})
    study.record_divergence(broke.diverged_path, cell.recipe, broke.config,
                            "the training loss became nan at epoch 3, step 18; lower lr (now 9.0) or ...")
    table = conclusions.unstable_finals(the_study, "baseline")
    assert table.index.name == "seed" and table.to_dict("index") == {
        0: {"peak learning rate": "9", "test accuracy (%)": "75.50", "what happened": "trained to the end"},
        2: {"peak learning rate": "9", "test accuracy (%)": "diverged",
            "what happened": "the training loss became nan at epoch 3, step 18"}}
    assert_displayable(table)
    assert conclusions.unstable_finals(the_study, "sgd").empty  # another cell's rates are not its own


@pytest.mark.parametrize("values, n, mean, missing", [
    ([], 0, None, "not run"),
    ([72.5], 1, 72.5, "needs 2 runs"),
    ([70.0, 71.0, 72.0], 3, 71.0, None),
])
def test_over_seeds_gives_a_cell_s_numbers_or_why_there_is_no_interval(values, n, mean, missing):
    found = estimates.over_seeds(values)
    assert (found.n, found.mean, found.missing) == (n, mean, missing)
    if missing:
        assert found.std is found.low is found.high is found.summary is None
    else:
        low, high = scipy_stats.t.interval(0.95, n - 1, loc=np.mean(values), scale=scipy_stats.sem(values))
        assert found.std == pytest.approx(np.std(values, ddof=1))
        assert (found.low, found.high) == (pytest.approx(low), pytest.approx(high))
