"""The study: its cells (the baseline and the complete 2 x 2 optimizer x dropout on one shared AlexNet
recipe), the final runs (every cell x seed, on the test set), the tuning runs (learning rates on the
validation split, with seeds of their own) and the rule that chooses among them, fixed in advance."""
from __future__ import annotations

import dataclasses

import pytest

from cifar_utils import study
from cifar_utils.results import save_result
from cifar_utils.study import (CELLS, FIGURE_SEED, SEEDS, SHARED_ALEXNET, TUNING, TUNING_SEEDS, Cell, Run, choose,
                               final_runs, stored, tuning_log, tuning_runs)
from helpers import confusion_with_diagonal, fake_result

ALEXNET = [cell for cell in CELLS if cell.experiment != "baseline"]
# What the AlexNet cells may differ in: the optimizer's own settings, and dropout (the 2 x 2's factors).
OWN_SETTINGS = {"optimizer", "lr", "nesterov", "dropout"}


def differing(a, b) -> set[str]:
    da, db = a.to_dict(), b.to_dict()
    return {k for k in da if da[k] != db[k]}


def test_seeds_are_fixed_and_the_figure_seed_is_one_of_them():
    assert len(SEEDS) == len(set(SEEDS)) >= 3
    assert FIGURE_SEED in SEEDS
    assert not set(TUNING_SEEDS) & set(SEEDS)  # tuning never reuses a final run's seed


def test_final_runs_are_every_cell_times_every_seed(tmp_path):
    runs = final_runs(tmp_path)
    assert len(runs) == len(CELLS) * len(SEEDS)
    assert len({run.config.key() for run in runs}) == len(runs)
    assert len({run.path for run in runs}) == len(runs)
    assert {(run.cell, run.config.seed) for run in runs} == {(c, s) for c in CELLS for s in SEEDS}
    assert [run.config.seed for run in runs[:len(CELLS)]] == [SEEDS[0]] * len(CELLS)  # seed by seed
    for run in runs:
        assert run.config.evaluate_on == "test"
        assert run.config.train_subset == run.config.test_subset == 0  # all 50,000 / 10,000 images
        assert run.results_dir == tmp_path
        assert run.path == tmp_path / f"{run.cell.experiment}-{run.config.key()}.json"
        assert run.config == run.cell.config(run.config.seed)


def test_final_runs_default_to_the_committed_results_folder():
    from cifar_utils.recipes import REPO_ROOT
    assert {run.results_dir for run in final_runs()} == {REPO_ROOT / "results"}
    assert {run.results_dir for run in tuning_runs()} == {REPO_ROOT / "results" / "tuning"}


def test_alexnet_cells_share_one_recipe_and_differ_only_in_the_optimizer_and_dropout():
    configs = {cell: cell.config(0) for cell in ALEXNET}
    assert len(ALEXNET) == 4
    for a in ALEXNET:
        assert configs[a].model == "alexnet"
        for name, value in SHARED_ALEXNET:
            assert getattr(configs[a], name) == value, (a.label, name)
        for b in ALEXNET:
            assert differing(configs[a], configs[b]) <= OWN_SETTINGS, (a.label, b.label)
    shared = ("epochs", "batch_size", "schedule", "warmup", "flip", "crop_pad", "init", "weight_decay",
              "label_smoothing", "momentum", "precision", "train_subset", "test_subset")
    for name in shared:
        assert len({getattr(c, name) for c in configs.values()}) == 1, name
    # within an optimizer only dropout differs
    for optimizer in ("sgd", "adam"):
        pair = [c for c in configs.values() if c.optimizer == optimizer]
        assert len(pair) == 2 and differing(*pair) == {"dropout"}


def test_the_two_by_two_is_complete():
    cells = {(c.config(0).optimizer, c.config(0).dropout): c for c in ALEXNET}
    assert set(cells) == {("sgd", 0.0), ("sgd", 0.5), ("adam", 0.0), ("adam", 0.5)}
    assert study.SGD is cells["sgd", 0.0] and study.SGD_DROPOUT is cells["sgd", 0.5]
    assert study.ADAM is cells["adam", 0.0] and study.ADAM_DROPOUT is cells["adam", 0.5]
    assert study.BASELINE is CELLS[0] and CELLS[0].config(0).model == "baseline"
    assert len({c.label for c in CELLS}) == len(CELLS)


def test_cell_config_applies_changes_seed_and_more():
    cell = Cell("baseline", (("epochs", 2), ("dropout", 0.0)), "test cell")
    config = cell.config(7, lr=0.2, evaluate_on="validation")
    base = study.profile_config("report", "baseline")
    assert config == dataclasses.replace(base, epochs=2, dropout=0.0, seed=7, lr=0.2, evaluate_on="validation")


def test_tuning_runs_use_the_validation_split_and_their_own_seeds(tmp_path):
    runs = tuning_runs(tmp_path)
    assert len(runs) == len(TUNING_SEEDS) * sum(len(TUNING[cell.experiment]) for cell in CELLS if cell.tuned)
    # one tuned cell per notebook recipe: the notebook's own
    assert sorted(cell.experiment for cell in CELLS if cell.tuned) == sorted(TUNING)
    assert len({run.config.key() for run in runs}) == len(runs)
    finals = {run.config.key() for run in final_runs(tmp_path)}
    assert not finals & {run.config.key() for run in runs}
    assert set(TUNING) == {cell.experiment for cell in CELLS}
    for run in runs:
        assert run.config.evaluate_on == "validation"
        assert run.config.seed in TUNING_SEEDS
        assert run.config.lr in TUNING[run.cell.experiment]
        assert run.results_dir == tmp_path
        # apart from lr, split and seed, a tuning run is its cell's final recipe
        assert differing(run.config, run.cell.config(SEEDS[0])) <= {"lr", "evaluate_on", "seed"}
    for cell in CELLS:
        tried = sorted(run.config.lr for run in runs if run.cell == cell)
        assert tried == (sorted(TUNING[cell.experiment] * len(TUNING_SEEDS)) if cell.tuned else [])


def test_tuning_grids_are_distinct_and_ascending():
    for experiment, rates in TUNING.items():
        assert len(rates) >= 2 and list(rates) == sorted(set(rates)) and all(r > 0 for r in rates), experiment


def test_run_describe_and_path(tmp_path):
    final = final_runs(tmp_path)[1]
    assert final.describe() == f"{final.cell.label}, seed {SEEDS[0]}"
    tune = tuning_runs(tmp_path)[0]
    assert tune.describe() == f"{tune.cell.label}, seed {TUNING_SEEDS[0]}, lr {tune.config.lr:g}, validation"
    assert Run(final.cell, final.config, tmp_path / "x").path == tmp_path / "x" / final.path.name


# --- the rule fixed in advance ---------------------------------------------------------------------

def make_log(accuracy) -> list[dict]:
    """A tuning log over every run of the study, accuracy(cell, lr, seed) in percent."""
    return [{"recipe": run.cell.experiment, "cell": run.cell.label, "lr": run.config.lr, "seed": run.config.seed,
             "validation accuracy (%)": accuracy(run.cell, run.config.lr, run.config.seed),
             "training seconds": 1.0, "device": "cpu"} for run in tuning_runs("unused")]


def test_choose_takes_the_highest_mean_over_tuning_seeds(monkeypatch):
    monkeypatch.setattr(study, "TUNING_SEEDS", (1000, 1001))
    low, middle, high = TUNING["alexnet_sgd"]

    def accuracy(cell, lr, seed):
        if cell.experiment == "alexnet_sgd":
            # the single best run is at `high` (90), but the mean over the two seeds is best at `middle`
            return {(1000, high): 90.0, (1001, high): 40.0, (1000, middle): 70.0, (1001, middle): 68.0}.get(
                (seed, lr), 50.0)
        rates = TUNING[cell.experiment]
        return 60.0 + rates.index(lr)  # the largest rate is best

    log = make_log(accuracy)
    assert {row["seed"] for row in log} == {1000, 1001}
    chosen = choose(log)
    assert chosen == {"baseline": TUNING["baseline"][-1], "alexnet_sgd": middle,
                      "alexnet_adam_dropout": TUNING["alexnet_adam_dropout"][-1]}


def test_choose_one_recipe_needs_only_its_own_tuning_runs():
    log = make_log(lambda cell, lr, seed: None if cell.experiment == "alexnet_adam_dropout" else 60.0 + lr)
    with pytest.raises(ValueError, match="not stored yet"):
        choose(log)
    assert choose(log, ["baseline", "alexnet_sgd"]) == {"baseline": TUNING["baseline"][-1],
                                                        "alexnet_sgd": TUNING["alexnet_sgd"][-1]}


def test_choose_breaks_a_tie_by_the_first_rate_of_the_grid():
    """max() keeps the first of equal means: the grids are ascending, so a tie goes to the smaller rate."""
    chosen = choose(make_log(lambda cell, lr, seed: 50.0))
    assert chosen == {recipe: rates[0] for recipe, rates in TUNING.items()}


def test_choose_refuses_while_a_tuning_run_is_missing():
    log = make_log(lambda cell, lr, seed: 50.0)
    row = log[4]
    row["validation accuracy (%)"] = None
    with pytest.raises(ValueError) as info:
        choose(log)
    message = str(info.value)
    assert message.startswith("1 tuning runs are not stored yet")
    assert f"{row['cell']}, lr {row['lr']:g}, seed {row['seed']}" in message
    assert "python -m cifar_utils.sweep --stage tune" in message


def test_tuning_log_reads_what_is_stored(tmp_path):
    runs = tuning_runs(tmp_path)
    assert stored(runs) == {run: None for run in runs}
    log = tuning_log(tmp_path)
    assert len(log) == len(runs) and all(row["validation accuracy (%)"] is None for row in log)
    with pytest.raises(ValueError, match=f"{len(runs)} tuning runs are not stored yet"):
        choose(log)

    run = runs[2]
    result = fake_result(run.cell.experiment, run.config, confusion_with_diagonal([40] * 10, row_total=100))
    save_result(run.path, result)
    assert stored(runs)[run] == result
    (row,) = [r for r in tuning_log(tmp_path) if r["validation accuracy (%)"] is not None]
    assert row == {"recipe": run.cell.experiment, "cell": run.cell.label, "lr": run.config.lr,
                   "seed": run.config.seed, "validation accuracy (%)": 40.0, "diverged": False,
                   "training seconds": result["train_seconds"], "device": "cpu",
                   "precision": result["environment"]["autocast"]}


def test_choose_leaves_out_rates_that_diverged_anywhere():
    log = make_log(lambda cell, lr, seed: 60.0 + lr)  # the largest rate is best everywhere
    biggest, second = TUNING["baseline"][-1], TUNING["baseline"][-2]
    chosen = choose(log, ["baseline"], unstable={("baseline", biggest)})
    assert chosen == {"baseline": second}
    for row in log:  # a diverged tuning run has no accuracy; its rate being unstable, nothing is missing
        if row["recipe"] == "baseline" and row["lr"] == biggest:
            row["validation accuracy (%)"], row["diverged"] = None, True
    assert choose(log, ["baseline"], unstable={("baseline", biggest)}) == {"baseline": second}
    with pytest.raises(ValueError, match="every learning rate tried for baseline diverged"):
        choose(log, ["baseline"], unstable={("baseline", lr) for lr in TUNING["baseline"]})
