"""The quick profile: its study file keeps each notebook's network, optimizer and dropout within half the
study's epochs; the rule that chooses among its tries (each try, rate and evaluation); and that the
profile's files hold what the rule chose, once its tries are stored."""
from __future__ import annotations

import pytest

from cifar_utils import quick, study
from cifar_utils.recipes import EXPERIMENTS, profile_config, profile_differences
from cifar_utils.results import save_result
from helpers import confusion_with_diagonal, fake_result, reader_text, write_study

QUICK = quick.load()
MAIN = study.load()
EPOCH_LIMIT = {"baseline": 5, "alexnet_sgd": 4, "alexnet_adam_dropout": 4}  # at most half the study's epochs


def stored_against_original(recipe: str) -> tuple[list[dict], str, dict]:
    """A quick recipe's stored final runs, the original report's number as the prose states it (67, 71.99,
    74.30) and the interval of their mean minus that number (``estimates.against_original``)."""
    from cifar_utils import estimates, study_results
    from cifar_utils.recipes import original
    (cell,) = [c for c in quick.profile_cells(QUICK) if c.recipe == recipe]
    results = study_results.cell_results(QUICK)[cell]
    target = original(recipe)["accuracy"]
    stated = f"{target:g}" if target == int(target) else f"{target:.2f}"
    return results, stated, estimates.against_original(cell, results)


def test_every_try_and_profile_cell_keeps_the_network_optimizer_and_dropout_in_half_the_epochs():
    for cell in QUICK.cells:
        recipe = profile_config("report", cell.recipe)
        assert (cell.value("model"), cell.value("optimizer"), cell.value("dropout")) == (
            recipe.model, recipe.optimizer, recipe.dropout), cell.name
        assert cell.value("epochs") <= EPOCH_LIMIT[cell.recipe] <= recipe.epochs / 2, cell.name
        assert (cell.profile == quick.PROFILE) != (cell.seeds == ()), cell.name  # a try has no seeds
    assert QUICK.results_dir == MAIN.results_dir and QUICK.tuning_dir == MAIN.tuning_dir
    assert QUICK.tuning_seeds == MAIN.tuning_seeds and QUICK.seeds == MAIN.seeds


def test_no_run_of_the_quick_study_is_a_run_of_the_main_study():
    main = {run.config.key() for run in MAIN.recorded_runs()}
    assert not main & {run.config.key() for run in QUICK.recorded_runs()}


@pytest.mark.parametrize("recipe", list(EXPERIMENTS))
def test_the_profile_holds_what_the_rule_chose(recipe):
    """Once every try of a notebook is stored, its quick profile file holds the chosen try's settings; until
    then there is no profile cell for it (the sweep would train a recipe nobody chose)."""
    row = quick.choice(QUICK, recipe)
    cells = [c for c in quick.profile_cells(QUICK) if c.recipe == recipe]
    if row is None:
        assert not cells, f"{recipe} has a profile cell before its tries are all stored"
        return
    (cell,) = cells
    settings = quick.chosen_settings(QUICK, row)
    differences = profile_differences(quick.PROFILE, EXPERIMENTS[recipe].notebook)
    config = profile_config(quick.PROFILE, recipe)
    assert {k: getattr(config, k) for k in settings} == settings
    assert set(differences) - {"compare_with"} <= set(settings) | {"ema", "test_flips"}
    assert cell.lr == row["lr"]


@pytest.fixture
def tries_study(tmp_path):
    s = write_study(tmp_path, {
        "first": {"recipe": "baseline", "epochs": 2, "ema": 0.9, "test_flips": True, "grid": [0.1, 0.2], "lr": None,
                  "seeds": []},
        "second": {"recipe": "baseline", "epochs": 2, "batch_size": 128, "grid": [0.1], "lr": None, "seeds": []},
    }, tuning_seeds=(7, 8))
    return s


def store(run, accuracy: float, evaluations: dict):
    result = fake_result(run.cell.recipe, run.config, confusion_with_diagonal([round(accuracy * 10)] * 10,
                                                                               row_total=1000))
    result["evaluations"] = evaluations
    save_result(run.path, result)


def test_each_try_rate_and_evaluation_is_a_row_and_the_rule_takes_the_best_mean(tries_study):
    runs = tries_study.tuning_runs()
    assert quick.choice(tries_study, "baseline") is None  # nothing stored yet
    for run in runs:
        lr, seed, name = run.config.lr, run.config.seed, run.cell.name
        if name == "first":
            base = {0.1: 0.60, 0.2: 0.62}[lr] + (0.01 if seed == 8 else 0.0)
            store(run, 100 * base, {"weights": base, "weights + test flips": base + 0.02, "EMA": base + 0.01,
                                    "EMA + test flips": base + 0.015})
        else:
            store(run, 63.0, {"weights": 0.63, "weights + test flips": 0.635})
    rows = quick.tries(tries_study, "baseline")
    assert [(r["cell"], r["lr"], r["evaluation"]) for r in rows] == [
        ("first", 0.1, "weights"), ("first", 0.1, "weights + test flips"), ("first", 0.1, "EMA"),
        ("first", 0.1, "EMA + test flips"), ("first", 0.2, "weights"), ("first", 0.2, "weights + test flips"),
        ("first", 0.2, "EMA"), ("first", 0.2, "EMA + test flips"), ("second", 0.1, "weights"),
        ("second", 0.1, "weights + test flips")]
    assert rows[5]["validation accuracy (%)"] == pytest.approx(100 * (0.62 + 0.005 + 0.02))  # mean of two seeds
    chosen = quick.choice(tries_study, "baseline")
    assert (chosen["cell"], chosen["lr"], chosen["evaluation"]) == ("first", 0.2, "weights + test flips")
    assert quick.chosen_settings(tries_study, chosen) == {"epochs": 2, "lr": 0.2, "ema": 0.0, "test_flips": True}
    ema_row = rows[7]
    assert quick.chosen_settings(tries_study, ema_row)["ema"] == 0.9
    table = quick.tries_table(tries_study, "baseline")
    assert list(table["the rule's choice"]) == [""] * 5 + ["chosen"] + [""] * 4
    assert table.iloc[8]["changes from the study's recipe"] == "batch size 128, epochs 2"


def test_a_missing_tuning_run_leaves_the_choice_open(tries_study):
    for run in tries_study.tuning_runs()[1:]:
        store(run, 60.0, {"weights": 0.6, "weights + test flips": 0.6, "EMA": 0.6, "EMA + test flips": 0.6})
    assert quick.choice(tries_study, "baseline") is None
    assert "not run yet" in set(quick.tries_table(tries_study, "baseline")["validation accuracy (%)"])


def test_the_readme_block_says_how_far_each_notebook_s_tries_are(tries_study):
    text = quick.readme_text(tries_study)
    assert text.startswith("No quick recipe is chosen yet.")
    assert text.endswith("Tries stored on the validation split: baseline CNN + SGD 0 of 3; AlexNet + SGD 0 of 0; "
                         "AlexNet + Adam + Dropout 0.5 0 of 0.")
    for run in tries_study.tuning_runs():
        if run.cell.name == "first":  # both tuning seeds of its two rates
            store(run, 60.0, {"weights": 0.6, "weights + test flips": 0.61, "EMA": 0.6, "EMA + test flips": 0.6})
    assert "baseline CNN + SGD 2 of 3;" in quick.readme_text(tries_study)
    for run in tries_study.tuning_runs():  # a notebook whose tries all have an outcome (one diverged) leaves the line
        if run.cell.name == "second" and run.config.seed == 7:
            store(run, 50.0, {"weights": 0.5, "weights + test flips": 0.5})
        elif run.cell.name == "second":
            study.record_divergence(run.diverged_path, run.cell.recipe, run.config, "loss nan at step 3")
    assert quick.readme_text(tries_study).endswith("Tries stored on the validation split: AlexNet + SGD 0 of 0; "
                                                   "AlexNet + Adam + Dropout 0.5 0 of 0.")


def test_readme_quick_block_is_what_the_stored_runs_say():
    from cifar_utils.conclusions import readme_block
    from cifar_utils.recipes import REPO_ROOT
    assert readme_block((REPO_ROOT / "README.md").read_text(), quick.README_MARKERS) == quick.readme_text(QUICK), \
        "README's quick block is stale: run python -m cifar_utils.quick --write-readme"


@pytest.mark.parametrize("recipe", list(EXPERIMENTS))
def test_each_notebook_states_its_quick_recipe_s_numbers(recipe):
    """The section's numbers are literal prose: when the stored runs change, this names the sentence to rewrite."""
    import nbformat

    from cifar_utils.recipes import NOTEBOOKS_DIR
    from cifar_utils.results import accuracy
    results, stated, gap = stored_against_original(recipe)
    values = [accuracy(r) for r in results]
    side = "above" if gap["estimate"] >= 0 else "below"
    rows = {(r["lr"], r["evaluation"]): r["validation accuracy (%)"] for r in quick.tries(QUICK, recipe)}
    chosen = quick.choice(QUICK, recipe)["lr"]
    expected = [f"it averages {sum(values) / len(values):.2f}%, "
                f"{abs(gap['estimate']):.2f} points {side} the original report's {stated}% (95% CI "
                f"{gap['low']:+.2f} to {gap['high']:+.2f}", f"its lowest seed scores {min(values):.2f}%",
                f"test-time flips add {rows[chosen, 'weights + test flips'] - rows[chosen, 'weights']:.2f} points",
                f"a moving average of the weights takes {rows[chosen, 'weights'] - rows[chosen, 'EMA']:.2f} away"]
    notebook = EXPERIMENTS[recipe].notebook
    nb = nbformat.read(NOTEBOOKS_DIR / f"{notebook}.ipynb", as_version=4)
    text = reader_text(nb)
    stale = [phrase for phrase in expected if phrase not in text]
    assert not stale, f"{notebook} no longer states {stale}: rewrite its quick-recipe paragraph"


def test_the_quick_study_s_summary_leaves_its_tries_out():
    from cifar_utils import conclusions
    text = conclusions.summary_text(QUICK) + conclusions.readme_text(QUICK)
    tries = [cell.label for cell in QUICK.cells if not cell.seeds]
    assert tries and not [label for label in tries if label in text]


def test_the_final_table_shows_what_each_number_of_seeds_allows(tmp_path):
    """No seed: nothing but the verdict; one seed: its accuracy, no interval; two or more: the interval too."""
    s = write_study(tmp_path, {"quick_baseline": {"recipe": "baseline", "profile": quick.PROFILE}}, seeds=(0, 1))
    runs = s.final_runs()
    row = quick.final_table(s, "baseline").iloc[0]
    assert (row["runs"], row["mean (%)"], row["95% CI"], row["verdict"]) == (0, "", "", "not run yet")
    save_result(runs[0].path, fake_result("baseline", runs[0].config, confusion_with_diagonal([700] * 10, 1000)))
    row = quick.final_table(s, "baseline").iloc[0]
    assert (row["runs"], row["mean (%)"], row["lowest seed (%)"], row["95% CI"], row["verdict"]) == (
        1, "70.00", "70.00", "", "one seed: no interval")
    save_result(runs[1].path, fake_result("baseline", runs[1].config, confusion_with_diagonal([720] * 10, 1000)))
    row = quick.final_table(s, "baseline").iloc[0]
    assert (row["runs"], row["mean (%)"], row["lowest seed (%)"]) == (2, "71.00", "70.00")
    assert (row["95% CI"], row["verdict"]) == ("-8.71 to +16.71", "not supported")  # two seeds 2 points apart
    assert row["mean without flips (%)"] == "not stored"  # fake results carry no evaluations


def test_the_final_table_shows_the_plain_weights_beside_the_test_time_flips(tmp_path):
    s = write_study(tmp_path, {"quick_baseline": {"recipe": "baseline", "profile": quick.PROFILE}}, seeds=(0, 1))
    for run, plain, right in zip(s.final_runs(), (0.69, 0.68), (700, 720)):
        result = fake_result("baseline", run.config, confusion_with_diagonal([right] * 10, 1000))
        result["evaluations"] = {"weights": plain, "weights + test flips": right / 1000}
        save_result(run.path, result)
    row = quick.final_table(s, "baseline").iloc[0]
    assert (row["mean (%)"], row["mean without flips (%)"]) == ("71.00", "68.50")


def test_speed_page_quotes_the_quick_benchmark_s_output():
    """docs/speed.md's quick-against-study table is benchmarks/quick_vs_study_cpu.txt's, row by row: when the
    benchmark is run again, this names the row to copy."""
    from cifar_utils.recipes import REPO_ROOT
    output = (REPO_ROOT / "benchmarks" / "quick_vs_study_cpu.txt").read_text().splitlines()
    page = (REPO_ROOT / "docs" / "speed.md").read_text()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in output if line.startswith("| 0")
            or line.startswith("| all")]
    assert len(rows) == 4
    for notebook, study_setup, _, study_s, quick_setup, _, quick_s, ratio in rows:
        setups = [s.split(" (")[0] for s in (study_setup, quick_setup)]
        expected = (f"| {notebook} | {setups[0]} | {int(study_s):,} | {setups[1]} | {int(quick_s):,} | {ratio} |"
                    if setups[0] else f"| {notebook} | | {int(study_s):,} | | {int(quick_s):,} | {ratio} |")
        assert expected in page, f"docs/speed.md lacks the benchmark's row {expected}"
    alexnets = [row for row in rows if "alexnet" in row[0]]
    study_rates, quick_rates = (sorted(int(row[i]) for row in alexnets) for i in (2, 5))
    prose = page.replace("\n", " ")
    assert (f"batch of 128 trains at {quick_rates[0]}-{quick_rates[-1]} images/s "
            f"against {study_rates[0]}-{study_rates[-1]} at 512") in prose
    assert f"three trainings add up to about {round(int(rows[-1][6]) / 60)} minutes" in prose
    ratios = sorted(row[-1] for row in rows[:-1])
    assert f"A run takes {ratios[0]}-{ratios[-1]} of the study recipe's time" in (REPO_ROOT / "README.md").read_text()


def test_the_quick_page_states_each_chosen_try_s_accuracy():
    from cifar_utils.recipes import REPO_ROOT
    page = (REPO_ROOT / "docs" / "quick.md").read_text()
    for recipe in EXPERIMENTS:
        row = quick.choice(QUICK, recipe)
        assert row is not None and f"{row['validation accuracy (%)']:.2f}%" in page, \
            f"docs/quick.md does not state the accuracy of {recipe}'s chosen try: rewrite 'What the tries found'"


def test_the_conclusions_judge_each_quick_recipe_over_five_seeds():
    """Notebook 03's Conclusions and README's findings give each quick recipe's mean minus the original report's
    number, with its interval and the verdict it reads ("not supported" where that interval reaches zero)."""
    import nbformat

    from cifar_utils.recipes import NOTEBOOKS_DIR, REPO_ROOT
    nb = nbformat.read(NOTEBOOKS_DIR / f"{EXPERIMENTS[list(EXPERIMENTS)[-1]].notebook}.ipynb", as_version=4)
    text = reader_text(nb)
    conclusions = text[text.index("## Conclusions"):text.index("**Limits.**")]
    readme = (REPO_ROOT / "README.md").read_text().replace("\u2212", "-")
    found = readme[readme.index("## What the study found"):readme.index("## Results")]
    for recipe in EXPERIMENTS:
        results, stated, gap = stored_against_original(recipe)
        assert len(results) == 5, f"{recipe}: the Conclusions speak of five seeds"
        verdict = "not supported" if gap["low"] <= 0 <= gap["high"] else "reached" if gap["low"] > 0 else "not reached"
        numbers = f"{gap['estimate']:+.2f} against {stated}% ({gap['low']:+.2f} to {gap['high']:+.2f}: {verdict})"
        assert numbers in conclusions, f"notebook 03's Conclusions lack {recipe}'s {numbers}"
        assert f"({gap['low']:+.2f} to {gap['high']:+.2f}: {verdict})" in found, f"README's findings lack {recipe}'s {numbers}"


def test_speed_page_and_readme_quote_the_quick_report_s_wall_time_from_an_empty_cache():
    """benchmarks/report_quick_from_empty_cache_cpu.txt is `time make report-quick` from an empty cache: every
    notebook ran, and docs/speed.md and README quote its wall time."""
    import re

    from cifar_utils.recipes import REPO_ROOT
    output = (REPO_ROOT / "benchmarks" / "report_quick_from_empty_cache_cpu.txt").read_text()
    assert [line.split()[1] for line in output.splitlines() if line.startswith("ok ")] == \
        ["00_theory", "01_baseline", "02_alexnet_sgd", "03_alexnet_adam_dropout"]
    minutes, seconds = re.search(r"^real\s+(\d+)m([\d.]+)s$", output, re.M).groups()
    total = int(minutes) * 60 + float(seconds)
    page, readme, reproducing = ((REPO_ROOT / path).read_text().replace("\n", " ")
                                 for path in ("docs/speed.md", "README.md", "docs/reproducing.md"))
    assert f"took {int(total // 60)} min {int(total % 60)} s of wall time" in page
    assert f"from an empty cache took {round(total / 60)} min" in readme
    assert f"{round(total / 60)} min on a 2-core CPU" in reproducing
    # "Its three test accuracies (...) equal those of the stored seed-0 runs"
    from cifar_utils import study_results
    from cifar_utils.results import accuracy
    measured = [float(a) for a in re.findall(r"test accuracy ([\d.]+)%", output)]
    stored = [accuracy(r) for cell in quick.profile_cells(QUICK) for r in study_results.cell_results(QUICK)[cell]
              if r["config"]["seed"] == 0]
    assert measured == [round(a, 2) for a in stored]
    assert "(" + ", ".join(f"{a:.2f}%" for a in measured) + ", with" in page


def test_the_report_s_table_of_the_quick_profile_finds_its_runs_where_the_sweep_stored_them(capsys):
    """They are in results/ (the sweep's folder), not build/results/ (a report run's): the table said 'not run'."""
    from cifar_utils import report
    assert report.main(["--profile", "quick", "--table"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 0")]
    assert len(rows) == 3 and not any("not run" in row for row in rows), rows


# --- python -m cifar_utils.quick on bad input: one line naming the file, exit 2 ---------------------------

def _one_error_line(capsys, name: str) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert name in err
    return err


@pytest.mark.parametrize("text", [
    "seeds: [0, 1\n",                                     # malformed YAML
    "{STUDY}colour: red\n",                               # an unknown key
    "- 1\n- 2\n",                                        # a list
    "just a sentence\n",                                  # a scalar
    "",                                                   # empty
    "SEEDS-3",                                            # seeds: [-3]
    "EPOCHS four",                                        # a cell's epochs: four
    "EPOCHS .nan",                                        # a cell's epochs: .nan
    "FIGURE .nan",                                        # figure_seed: .nan
])
def test_quick_refuses_a_bad_study_file_in_one_line_naming_it(tmp_path, monkeypatch, capsys, text):
    original = quick.STUDY_FILE.read_text()
    if text.startswith("SEEDS"):
        text = original.replace("seeds: [0, 1, 2, 3, 4]", "seeds: [-3]", 1)
    elif text.startswith("EPOCHS"):
        text = original.replace("    epochs: 5\n", f"    epochs: {text.split()[1]}\n", 1)
    elif text.startswith("FIGURE"):
        text = original.replace("figure_seed: 0", "figure_seed: .nan", 1)
    text = text.replace("{STUDY}", original)
    assert text != original
    path = tmp_path / "study_quick.yaml"
    path.write_text(text)
    monkeypatch.setattr(quick, "STUDY_FILE", path)
    assert quick.main([]) == 2
    _one_error_line(capsys, "study_quick.yaml")


def test_quick_refuses_a_missing_study_file_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(quick, "STUDY_FILE", tmp_path / "gone.yaml")
    assert quick.main([]) == 2
    _one_error_line(capsys, "gone.yaml")


@pytest.fixture
def quick_profiles(tmp_path, monkeypatch):
    """A copy of profiles/ that recipes.PROFILES_DIR points at; returns the quick profile's baseline file."""
    import shutil
    from cifar_utils import recipes
    shutil.copytree(recipes.PROFILES_DIR, tmp_path / "profiles")
    monkeypatch.setattr(recipes, "PROFILES_DIR", tmp_path / "profiles")
    return tmp_path / "profiles" / "quick" / "01_baseline.yaml"


@pytest.mark.parametrize("text", ["epochs: [5\n", "epochz: 5\n", "epochs: four\n", "epochs: .nan\n", "lr: .nan\n",
                                  "- 5\n", "five\n", "seed: -3\n"])
def test_quick_refuses_a_bad_quick_profile_file_in_one_line_naming_it(quick_profiles, capsys, text):
    quick_profiles.write_text(text)
    assert quick.main([]) == 2
    _one_error_line(capsys, "quick/01_baseline.yaml")


def test_quick_refuses_a_missing_quick_profile_file_naming_it(quick_profiles, capsys):
    quick_profiles.unlink()
    assert quick.main([]) == 2
    _one_error_line(capsys, "01_baseline.yaml")


def test_quick_write_readme_without_its_markers_names_readme_and_writes_nothing(tmp_path, monkeypatch, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# A README without the quick block\n")
    monkeypatch.setattr(quick, "README_FILE", readme)
    assert quick.main(["--write-readme"]) == 2
    _one_error_line(capsys, "README.md")
    assert readme.read_text() == "# A README without the quick block\n"
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_quick_write_readme_into_a_read_only_readme_names_it_and_leaves_it(tmp_path, monkeypatch, capsys):
    from cifar_utils.recipes import REPO_ROOT
    readme = tmp_path / "README.md"
    readme.write_bytes((REPO_ROOT / "README.md").read_bytes().replace(b"| quick recipe", b"| stale quick recipe", 1))
    before = readme.read_bytes()
    readme.chmod(0o444)
    monkeypatch.setattr(quick, "README_FILE", readme)
    assert quick.main(["--write-readme"]) == 1
    err = capsys.readouterr().err
    assert str(readme) in err and "writable" in err and "Traceback" not in err
    assert readme.read_bytes() == before
