"""The report's computed sentences (``prose``): numbers and verdict words follow the stored runs, a missing run is
said, not half-filled; and the report command's README blocks follow ``results/``."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from cifar_utils import prose, report, stats, study
from cifar_utils.recipes import REPO_ROOT
from helpers import confusion_with_diagonal, fake_result, reader_text, write_study


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch):
    monkeypatch.setattr(stats, "RESAMPLES", 2000)  # these tests are about the words; test_stats checks the intervals


def effect(estimate, low, high, digits=2, combined=None) -> prose.Effect:
    return prose.Effect({"estimate": estimate, "low": low, "high": high, "digits": digits, "unit": "points",
                         "seed_only": {"low": low, "high": high}, "combined": combined,
                         "combined_missing": "per-image values not stored"})


def test_an_effect_reads_its_sign_and_interval_in_words():
    lower = effect(-1.1, -1.5, -0.7)
    assert (lower.estimate, lower.size, lower.ci) == ("\u22121.10", "1.10", "\u22121.50 to \u22120.70")
    assert (lower.raises, lower.above, lower.compares, lower.zero) == ("lowers", "below", "trails", "excludes zero")
    assert lower.ci_size == "0.70 to 1.50"  # a cost of 1.10 points, 0.70 to 1.50
    tie = effect(0.2, -0.57, 0.97)
    assert (tie.compares, tie.zero, tie.reached) == ("does not differ detectably from", "contains zero", "not supported")
    assert tie.reached_clause == ", so reaching it is not supported"
    assert effect(1.9, 1.3, 2.5).reached_clause == ""


def test_an_effect_without_per_image_values_refuses_that_interval():
    with pytest.raises(ValueError, match="per-image values not stored"):
        _ = effect(0.1, -0.2, 0.3).ci_images


def small_study(folder, accuracies):
    """A study of one baseline cell whose seeds score ``accuracies`` (%), on 10,000 test images."""
    folder.mkdir(parents=True, exist_ok=True)
    the_study = write_study(folder, {"baseline": {"recipe": "baseline", "profile": "report"}}, seeds=tuple(range(len(accuracies))))
    cell = the_study.cell("baseline")
    for seed, value in enumerate(accuracies):
        config = cell.config(seed)
        result = fake_result("baseline", config, confusion_with_diagonal([round(value * 10)] * 10))
        path = folder / "results" / f"baseline-{config.key()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))
    return study.load(folder / "study.yaml")


TEMPLATE = "Over {baseline.seeds} seeds it averages {baseline.mean}, {baseline.vs_original.above} 67%: {baseline.vs_original.reached}."


def test_a_sentence_follows_the_stored_runs_and_its_verdict_follows_the_interval(tmp_path):
    above = prose.render(TEMPLATE, prose.Facts(small_study(tmp_path / "a", [80, 81, 79])))
    assert above == "Over three seeds it averages 80.00%, above 67%: reached."
    below = prose.render(TEMPLATE, prose.Facts(small_study(tmp_path / "b", [60, 61, 62])))
    assert below == "Over three seeds it averages 61.00%, below 67%: not reached."


def test_a_sentence_whose_runs_are_missing_says_so_instead_of_half_a_sentence(tmp_path):
    the_study = small_study(tmp_path, [80, 81])
    for path in (tmp_path / "results").glob("baseline-*.json"):
        path.unlink()
    shown = prose.say(TEMPLATE, prose.Facts(the_study)).data
    assert shown.startswith("*This paragraph states results not stored yet") and "baseline" in shown
    assert "{" not in shown and "%" not in shown


def test_the_final_runs_trained_in_fp32_are_counted_from_the_stored_runs(tmp_path):
    the_study = small_study(tmp_path, [80, 81, 79])
    assert prose.render("{fp32_finals}", prose.Facts(the_study)).startswith("three final runs (seeds 0, 1 and 2 of")
    for path in sorted((tmp_path / "results").glob("baseline-*.json"))[:2]:  # two of them in bfloat16
        result = json.loads(path.read_text())
        result["environment"]["autocast"] = "bfloat16"
        path.write_text(json.dumps(result))
    assert prose.render("{fp32_finals}", prose.Facts(the_study)).startswith("one final run (seed ")


def test_a_template_naming_no_cell_or_question_is_an_error(tmp_path):
    with pytest.raises(KeyError, match="baselin"):
        prose.render("{baselin.mean}", prose.Facts(small_study(tmp_path, [80, 81])))


@pytest.mark.slow  # computes every number of README twice, from every stored run
def test_write_readme_fills_every_block_and_refuses_a_readme_without_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_bytes((REPO_ROOT / "README.md").read_bytes())
    report.write_readme(readme)
    text = readme.read_text()
    assert prose.readme_findings() in text
    assert report.write_readme(readme) is False  # nothing stale: a second run changes nothing
    start, end = prose.README_MARKERS
    readme.write_text(text.replace(start, ""))
    with pytest.raises(ValueError, match="marker"):
        report.write_readme(readme)
    assert start not in readme.read_text()  # left as it was


@pytest.mark.slow
def test_deleting_a_stored_run_and_running_the_report_updates_its_numbers_everywhere(tmp_path):
    """In a copy of the repository: delete one seed of the baseline recipe, run the report command, and every
    number of that cell a reader sees, in the notebooks that state it and in README, is recomputed."""
    copy = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    for name in files.splitlines():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        if (REPO_ROOT / name).is_file():
            shutil.copy2(REPO_ROOT / name, copy / name)
    cell = study.load().cell("baseline")
    before = prose.Facts(study.load())["baseline"]
    gone = copy / "results" / f"baseline-{cell.config(1).key()}.json"
    assert gone.exists()
    gone.unlink()
    env = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "cifar_utils.report"], cwd=copy, env=env,
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    facts = subprocess.run([sys.executable, "-c", "from cifar_utils import prose, study; "
                            "c = prose.Facts(study.load())['baseline']; "
                            "print(c.mean, c.std, c.vs_original.ci, c.seeds, sep='|')"],
                           cwd=copy, env=env, capture_output=True, text=True, check=True).stdout.strip().split("|")
    mean, std, ci, seeds = facts
    assert seeds == "four" and mean != before.mean
    notebooks = [nbformat.read(copy / "notebooks" / f"{name}.ipynb", as_version=4)
                 for name in ("01_baseline", "03_alexnet_adam_dropout")]  # 03's Conclusions state the baseline's gap
    shown, conclusions = (reader_text(nb) for nb in notebooks)
    readme = (copy / "README.md").read_text()
    mean, std, ci = (x.replace("\u2212", "-") for x in (mean, std, ci))
    readme = readme.replace("\u2212", "-")
    for number in (mean, std, ci):
        assert number in shown
    assert ci in conclusions and ci in readme
    assert f"{mean[:-1]}% +- {std} (4)" in readme  # the results table's row
    for old in (before.mean, before.vs_original.ci.replace("\u2212", "-")):
        assert old not in shown and old not in conclusions and old not in readme


def test_a_claim_is_named_by_what_it_compares_not_by_its_place_in_the_family():
    """A study without the depth cells judges fewer claims: the others keep their names (a name from the claim's
    place in the family would then point at another claim)."""
    from cifar_utils import claims
    every = {cell: [] for cell in study.load().cells if cell.seeds}
    names = [prose._claim_name(c) for c in claims.of_study(every)]
    assert names == ["optimizer", "cat", "bird", "deer", "depth_sgd", "depth_adam_dropout", "loss_gap"]
    without_depth = {cell: runs for cell, runs in every.items() if cell.value("model") == "alexnet" or cell.name == "baseline"}
    assert [prose._claim_name(c) for c in claims.of_study(without_depth)] == ["optimizer", "cat", "bird", "deer",
                                                                              "loss_gap"]
