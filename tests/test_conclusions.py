"""conclusions: the study's tables and verdicts, on fake results with known answers (no training)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from cifar_utils import conclusions, study
from cifar_utils.recipes import original
from cifar_utils.results import save_result
from helpers import confusion_with_diagonal, fake_result


def results_of(cell: study.Cell, accuracies: list[float], seeds=None) -> list[dict]:
    """Fake final results of a cell with these overall test accuracies (%), one per seed."""
    found = []
    for seed, acc in zip(seeds or range(len(accuracies)), accuracies):
        correct = round(acc * 10)  # of 1,000 images per class, every class the same
        confusion = confusion_with_diagonal([correct] * 10)
        found.append(fake_result(cell.experiment, cell.config(seed), confusion))
    return found


def test_seeds_table_lists_each_run():
    table = conclusions.seeds_table(results_of(study.BASELINE, [70.0, 71.5], seeds=[3, 1]))
    assert list(table.index) == [3, 1]
    assert list(table["test accuracy (%)"]) == [70.0, 71.5]
    assert table.loc[1, "correct / test images"] == "7150 / 10000"
    assert conclusions.seeds_table([]).empty


@pytest.mark.parametrize("accuracies, mean_ok, verdict", [
    ([70.0, 71.0, 72.0], "yes", "holds"),           # every seed far above 67
    ([66.0, 67.5, 68.1], "yes", "not supported"),   # mean 67.2, the interval straddles 67
    ([60.0, 61.0, 62.0], "no", "contradicted"),
])
def test_versus_original_judges_the_mean_against_the_original_number(accuracies, mean_ok, verdict):
    row = conclusions.versus_original(study.BASELINE, results_of(study.BASELINE, accuracies)).iloc[0]
    theirs = original("baseline")["accuracy"]
    assert row["original report (%)"] == theirs and row["runs"] == 3
    assert row["mean (%)"] == pytest.approx(np.mean(accuracies), abs=0.01)
    assert row["mean >= original"] == mean_ok and row["verdict"] == verdict
    # the interval is Student's t over the seeds' differences from the original number
    diffs = np.array(accuracies) - theirs
    low, high = scipy_stats.t.interval(0.95, len(diffs) - 1, loc=diffs.mean(), scale=scipy_stats.sem(diffs))
    assert f"{low:+.2f} to {high:+.2f}" in row["mean minus original"]


def test_versus_original_with_one_run_says_it_needs_two():
    row = conclusions.versus_original(study.BASELINE, results_of(study.BASELINE, [80.0])).iloc[0]
    assert row["mean minus original"] == "needs 2 runs" and row["verdict"] == "not supported"


def test_paired_uses_only_common_seeds_in_seed_order():
    a = results_of(study.SGD, [70.0, 71.0, 72.0], seeds=[0, 1, 2])
    b = results_of(study.ADAM_DROPOUT, [73.0, 71.5, 80.0], seeds=[2, 1, 7])  # seed 7 has no partner
    pa, pb = conclusions.by_seed(a, b)
    assert [conclusions.seed_of(r) for r in pa] == [1, 2] == [conclusions.seed_of(r) for r in pb]
    found = conclusions.paired(a, b)
    assert found["n"] == 2 and found["estimate"] == pytest.approx(((71.5 - 71.0) + (73.0 - 72.0)) / 2)
    assert found["p_value"] == pytest.approx(scipy_stats.ttest_rel([71.5, 73.0], [71.0, 72.0]).pvalue)


def test_mcnemar_by_seed_counts_the_discordant_images():
    a = results_of(study.SGD, [70.0, 71.0])
    b = results_of(study.ADAM_DROPOUT, [70.0, 72.0])
    table = conclusions.mcnemar_by_seed(a, b)
    assert list(table.index) == [0, 1]
    # predictions_for lists images in the confusion's cell order: with equal diagonals the models agree
    assert table.loc[0, "only the first right"] == 0 == table.loc[0, "only the second right"]
    assert table.loc[0, "exact p-value"] == "1" and table.loc[0, "significant at 5%"] == "no"
    assert table.loc[1, "accuracy difference (points)"] == pytest.approx(1.0)


def test_tuning_table_marks_the_chosen_rate(tmp_path, monkeypatch):
    real_log = study.tuning_log
    monkeypatch.setattr(study, "tuning_log", lambda results_dir=tmp_path: real_log(results_dir))
    monkeypatch.setattr(study, "unstable_rates", lambda: set())
    runs = study.tuning_runs(tmp_path)
    table = conclusions.tuning_table("baseline")
    assert list(table["peak learning rate"]) == list(study.TUNING["baseline"])
    assert set(table["validation accuracy (%)"]) == {"not run yet"} and set(table["chosen"]) == {""}
    for i, run in enumerate(runs):  # every run stored; the baseline's best is its third rate
        best = run.cell.experiment == "baseline" and run.config.lr == study.TUNING["baseline"][2]
        confusion = confusion_with_diagonal([60 if best else 50 + i % 3] * 10, row_total=100)
        result = fake_result(run.cell.experiment, run.config, confusion)
        save_result(run.path, result)
    table = conclusions.tuning_table("baseline")
    assert list(table["chosen"]) == ["", "", "yes"] + [""] * (len(study.TUNING["baseline"]) - 3)
    assert table["validation accuracy (%)"].iloc[2] == 60.0 and set(table["precision"]) == {"fp32"}
    # the best rate diverged in some run of the study: left out, and the next best chosen
    monkeypatch.setattr(study, "unstable_rates", lambda: {("baseline", study.TUNING["baseline"][2])})
    chosen = conclusions.tuning_table("baseline")["chosen"]
    assert chosen.iloc[2] == "left out: diverged in a run" and list(chosen).count("yes") == 1


def three_seed_study() -> dict[study.Cell, list[dict]]:
    """Every cell with three fake seeds, far enough apart for every verdict but the loss gap's."""
    return {study.BASELINE: results_of(study.BASELINE, [76.0, 76.5, 77.0]),
            study.SGD: results_of(study.SGD, [70.0, 70.4, 70.8]),
            study.SGD_DROPOUT: results_of(study.SGD_DROPOUT, [71.0, 71.3, 71.9]),
            study.ADAM: results_of(study.ADAM, [70.1, 70.5, 70.6]),
            study.ADAM_DROPOUT: results_of(study.ADAM_DROPOUT, [73.0, 73.5, 74.1])}


def test_claims_give_a_verdict_from_each_interval():
    cells = three_seed_study()
    claims = conclusions.claims(cells)
    verdicts = claims["verdict"].to_dict()
    assert verdicts["AlexNet + Adam + Dropout beats AlexNet + SGD (test accuracy)"] == "holds"
    assert verdicts["AlexNet + SGD beats the baseline CNN (test accuracy)"] == "contradicted"
    # the three classes the original report named, each judged on its own per-class accuracy
    for name in ("cat", "bird", "deer"):
        row = claims.loc[f"the {name} class improves with Adam + Dropout (its test accuracy)"]
        assert row["verdict"] == "holds" and row["caveat"] == conclusions.CLASS_CAVEAT
    # Welch's two-sided p-value beside each interval; none where the effect cannot be estimated
    assert 0 < float(claims.loc["AlexNet + Adam + Dropout beats AlexNet + SGD (test accuracy)", "p-value"]) < 0.05
    # identical loss histories in every fake result: the loss-gap effect has no spread to estimate
    gap = claims.loc["with Adam + Dropout the train and test losses stay closer (test minus train loss)"]
    assert gap["verdict"] == "not supported" and "cannot be estimated" in gap["effect"] and gap["p-value"] == ""
    design = conclusions.two_by_two(cells)
    assert list(design.index) == list(conclusions.TWO_BY_TWO_EFFECTS)
    assert list(design["interval"]) == ["positive"] * 3
    assert design["estimate"].iloc[0].startswith("+")  # Adam's main effect is positive here
    text = conclusions.findings(cells)
    for name, row in design.iterrows():
        assert f"- 2 x 2 design, *{name}*: {row['estimate']}; **positive**." in text
    assert "2 x 2 design" not in conclusions.findings(cells, upto="alexnet_sgd")


def test_direction_reads_an_interval():
    assert conclusions.direction({"low": 0.1, "high": 2.0}) == "positive"
    assert conclusions.direction({"low": -2.0, "high": -0.1}) == "negative"
    assert conclusions.direction({"low": -0.5, "high": 0.5}) == "indistinguishable from zero"
    assert conclusions.direction({"low": 0.0, "high": 0.5}) == "indistinguishable from zero"  # touches zero


def test_claims_with_too_few_runs_are_not_supported():
    cells = {cell: results_of(cell, [70.0]) for cell in study.CELLS}
    assert set(conclusions.claims(cells)["verdict"]) == {"not supported"}


def test_summary_table_names_the_original_number_only_for_the_notebook_cells():
    cells = {cell: results_of(cell, [70.0, 71.0]) for cell in study.CELLS}
    table = conclusions.summary_table(cells)
    assert table.loc[study.BASELINE.label, "original report (%)"] == original("baseline")["accuracy"]
    assert table.loc[study.SGD.label, "original report (%)"] == original("alexnet_sgd")["accuracy"]
    assert table.loc[study.SGD_DROPOUT.label, "original report (%)"] == ""
    assert table.loc[study.ADAM.label, "runs"] == 2 and table.loc[study.ADAM.label, "mean (%)"] == 70.5
    last = cells[study.ADAM][0]["history"][-1]["train_accuracy"]  # the same history in every fake result
    assert table.loc[study.ADAM.label, "training accuracy, last epoch (%)"] == round(100 * last, 2)


def test_study_markdown_shows_mean_std_n_beside_the_original():
    cells = {cell: [] for cell in study.CELLS}
    cells[study.BASELINE] = results_of(study.BASELINE, [76.0, 77.0, 78.0])
    cells[study.SGD] = results_of(study.SGD, [72.5])
    lines = conclusions.study_markdown(cells).splitlines()
    assert len(lines) == 2 + len(study.CELLS)
    baseline, sgd, sgd_dropout = lines[2:5]
    assert baseline.startswith(f"| {study.BASELINE.label} | 67.00% | 77.00% +- 1.00 (3) | 74.52 to 79.48% |")
    assert "| 72.50% (1) | needs 2 runs |" in sgd and "| not run (0) |" in sgd_dropout
    assert "| not in it |" in sgd_dropout


def test_cell_results_leave_out_runs_without_predictions(tmp_path):
    runs = study.final_runs(tmp_path)[:2]
    for run in runs:
        result = fake_result(run.cell.experiment, run.config, confusion_with_diagonal([700] * 10))
        if run is runs[1]:
            del result["predictions"]
            result["schema_version"] = 1
        save_result(run.path, result)
    found = conclusions.cell_results(runs)
    assert [len(found[run.cell]) for run in runs] == [1, 0]


def test_per_class_summary_over_seeds():
    results = results_of(study.SGD, [70.0, 72.0])
    results[1]["confusion"] = confusion_with_diagonal([900] + [700] * 9).tolist()  # airplane best in seed 1
    table = conclusions.per_class_summary(results, "alexnet_sgd")
    assert table.index[0] == "airplane" and table.loc["airplane", "mean (%)"] == 80.0
    low, high = scipy_stats.t.interval(0.95, 1, loc=80.0, scale=scipy_stats.sem([70.0, 90.0]))
    assert table.loc["airplane", "95% interval (%)"] == f"{low:.2f} to {high:.2f}"
    assert table.loc["cat", "original report (%)"] == 44.9
    assert "original report (%)" not in conclusions.per_class_summary(results).columns
    assert conclusions.per_class_summary([]).empty  # no run stored yet


def test_study_figures_are_fig18_and_fig19(tmp_path):
    from cifar_utils.experiment import study_figures
    cells = {cell: results_of(cell, [70.0 + i, 71.0 + i]) for i, cell in enumerate(study.CELLS)}
    assert conclusions.design_accuracies(cells)[("adam", 0.5)] == [74.0, 75.0]
    assert [conclusions.original_accuracy(c) for c in study.CELLS] == [67.0, 71.99, None, None, 74.3]
    drawn = study_figures(cells, tmp_path)
    assert [f.figure.number for f in drawn] == [18, 19] and all(f.path.is_file() for f in drawn)


def test_paired_table_pairs_by_seed_and_says_when_it_cannot():
    a = results_of(study.SGD, [70.0, 71.0, 72.0])
    b = results_of(study.ADAM_DROPOUT, [71.0, 72.5, 73.1])
    table = conclusions.paired_table(a, b)
    expected = scipy_stats.ttest_rel([71.0, 72.5, 73.1], [70.0, 71.0, 72.0])
    assert table.loc["test accuracy", "p-value"] == f"{expected.pvalue:.3g}"
    assert table.loc["test accuracy", "b minus a, paired by seed"].startswith("+1.20 points (95% CI ")
    pearson = scipy_stats.pearsonr([70.0, 71.0, 72.0], [71.0, 72.5, 73.1]).statistic
    assert table.loc["test accuracy", "correlation over seeds"] == round(float(pearson), 2) == 0.97
    # identical loss histories: no spread, so no interval and no correlation
    assert table.loc["test minus train loss", "b minus a, paired by seed"].startswith("cannot be estimated yet")
    assert table.loc["test minus train loss", "correlation over seeds"] == ""


def test_tables_with_no_runs_stored_say_so_instead_of_failing():
    cells = {cell: [] for cell in study.CELLS}
    assert conclusions.two_by_two(cells)["estimate"].iloc[0].startswith("cannot be estimated yet")
    assert conclusions.mcnemar_by_seed([], []).empty
    assert set(conclusions.claims(cells)["verdict"]) == {"not supported"}
    assert conclusions.paired_table([], [])["p-value"].tolist() == ["", "", ""]
    assert conclusions.summary_table(cells)["runs"].tolist() == [0] * len(study.CELLS)
    assert set(conclusions.summary_table(cells)["mean (%)"]) == {"not run yet"}


def test_status_says_how_many_runs_are_stored_and_whether_the_study_is_complete():
    cells = {cell: results_of(cell, [70.0] * len(study.SEEDS)) for cell in study.CELLS}
    assert conclusions.status(cells).endswith("The study is complete.")
    cells[study.ADAM] = cells[study.ADAM][:1]
    line = conclusions.status(cells)
    assert f"{study.ADAM.label} 1," in line and "still running" in line
    line = conclusions.status(cells, diverged={study.ADAM: len(study.SEEDS) - 1})
    assert f"{study.ADAM.label} 1 (and {len(study.SEEDS) - 1} diverged)," in line and "adopts the next rate" in line
    assert "complete" not in line


def test_status_warns_when_the_stored_runs_were_trained_on_different_copies_of_the_data():
    cells = {cell: results_of(cell, [70.0] * len(study.SEEDS)) for cell in study.CELLS}
    assert "Mixed data" not in conclusions.status(cells)
    official = dict(cells[study.SGD][0]["environment"], data_source="torchvision:/data/cifar-10-batches-py",
                    data_sha256="cd" * 32)
    cells[study.SGD][0] = dict(cells[study.SGD][0], environment=official)
    line = conclusions.status(cells)
    assert line.endswith("every mean, interval and verdict below mixes them; train the whole study on one copy "
                         "(README, *Reproducing the committed results*).")
    assert f"copies of CIFAR-10 (npz fake (sha256 {'0' * 12}): 24 runs; torchvision cifar-10-batches-py " \
           f"(sha256 {'cd' * 6}): 1 run)" in line


def test_ranking_orders_the_stored_configurations_by_mean():
    cells = {cell: [] for cell in study.CELLS}
    cells[study.SGD] = results_of(study.SGD, [72.0, 74.0])
    cells[study.BASELINE] = results_of(study.BASELINE, [78.0])
    sentence = conclusions.ranking(cells)
    assert sentence.index(study.BASELINE.label) < sentence.index(study.SGD.label)
    assert f"{study.BASELINE.label} 78.00% (1 run);" in sentence and f"{study.SGD.label} 73.00% (2 runs)." in sentence
    assert study.ADAM.label not in sentence  # nothing stored: not ranked
    assert conclusions.ranking({cell: [] for cell in study.CELLS}) == "No final run of the study is stored yet."


def test_findings_state_each_bar_and_claim_with_its_verdict():
    cells = three_seed_study()
    text = conclusions.findings(cells)
    bars = [line for line in text.splitlines() if "against the original report's" in line]
    assert len(bars) == 3  # the three configurations the original report ran
    assert bars[0].startswith(f"- {study.BASELINE.label} against the original report's 67.00%: mean 76.50% over 3 runs "
                              "(lowest seed 76.00%)") and bars[0].endswith("**holds**.")
    assert bars[1].endswith("**contradicted**.")  # 70.4 < 71.99 on every seed
    claims = conclusions.claims(cells)
    for claim, row in claims.iterrows():
        caveat = f" ({row['caveat']})" if row["caveat"] else ""
        assert f"- *{claim}*: {row['effect'].rstrip('.')}; **{row['verdict']}**{caveat}." in text
    assert "dropout active" in claims.loc["with Adam + Dropout the train and test losses stay closer "
                                          "(test minus train loss)", "caveat"]
    too_few = conclusions.findings({cell: results_of(cell, [70.0]) for cell in study.CELLS})
    assert "needs 2 runs; **not supported**." in too_few and ".;" not in too_few
    assert too_few.splitlines()[-1].startswith("- 2 x 2 design: cannot be estimated yet: ") and "..;" not in too_few



def test_findings_upto_a_notebook_judge_only_the_networks_met_so_far():
    cells = three_seed_study()
    baseline_only = conclusions.findings(cells, upto="baseline")
    assert f"- {study.BASELINE.label} against" in baseline_only and "AlexNet + SGD against" not in baseline_only
    assert "- *" not in baseline_only  # every claim compares with an AlexNet
    with_sgd = conclusions.findings(cells, upto="alexnet_sgd")
    claimed = [line for line in with_sgd.splitlines() if line.startswith("- *")]
    assert len(claimed) == 1 and claimed[0].startswith("- *AlexNet + SGD beats the baseline CNN")
    assert "AlexNet + Adam + Dropout 0.5 against" not in with_sgd
    assert conclusions.findings(cells, upto="alexnet_adam_dropout") == conclusions.findings(cells)
    with pytest.raises(ValueError, match="upto is '03_alexnet_adam_dropout'; use None or one of baseline"):
        conclusions.findings(cells, upto="03_alexnet_adam_dropout")

def test_unstable_finals_list_the_runs_of_a_rate_that_diverged(tmp_path, monkeypatch):
    real_final_runs = study.final_runs
    monkeypatch.setattr(study, "final_runs", lambda results_dir=tmp_path: real_final_runs(results_dir))
    monkeypatch.setattr(study, "tuning_runs", lambda results_dir=tmp_path / "tuning": [])
    assert conclusions.unstable_finals(study.BASELINE).empty
    lr = 9.0
    ran, broke = (study.Run(study.BASELINE, study.BASELINE.config(seed, lr=lr), tmp_path) for seed in (0, 2))
    save_result(ran.path, results_of(study.BASELINE, [75.5])[0] | {"key": ran.config.key(), "config": ran.config.to_dict()})
    study.record_divergence(broke, "the training loss became nan at epoch 3, step 18; lower lr (now 9.0) or ...")
    table = conclusions.unstable_finals(study.BASELINE)
    assert table.to_dict("records") == [
        {"peak learning rate": lr, "seed": 0, "test accuracy (%)": 75.5, "what happened": "trained to the end"},
        {"peak learning rate": lr, "seed": 2, "test accuracy (%)": "diverged",
         "what happened": "the training loss became nan at epoch 3, step 18"}]
    assert conclusions.unstable_finals(study.SGD).empty  # another recipe's rates are not its own
