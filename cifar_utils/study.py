"""The study behind the report's conclusions: which runs it needs, how tuning chose, what they show.

- ``SEEDS``: every configuration is trained with these random seeds, fixed in advance; the notebooks'
  single-run figures (Fig. 1-12) are always drawn from ``FIGURE_SEED``, never from the best seed.
- ``CELLS``: the five configurations of the study: the baseline notebook's recipe, and the 2 x 2 design
  optimizer (SGD, Adam) x dropout (0, 0.5) on AlexNet, each cell the recipe of notebook 02 or 03 with
  ``SHARED_ALEXNET`` and at most ``dropout`` changed. The four AlexNet cells share epochs, batch,
  schedule, augmentation, initialisation and weight decay; only the optimizer's own settings
  (optimizer, lr, Nesterov) differ between the SGD and Adam recipes. Notebooks 02 and 03 hold the
  shared recipe in their parameters cells, so ``SHARED_ALEXNET`` changes nothing there; it states the
  design and keeps the cells shared if a notebook's recipe is edited.
- ``TUNING``: the learning rates tried, on the validation split only (``evaluate_on = "validation"``:
  5,000 training images held out, the rest trained on), with ``TUNING_SEEDS``; ``choose`` applies the
  rule fixed in advance, the highest mean validation accuracy (over the tuning seeds), with one
  condition added during the sweep: a rate whose training diverged in any run of the study, tuning or
  final (``record_divergence``, ``unstable_rates``), is left out. A grid whose best rate sat at its
  edge was extended by the next rate out. Each optimizer is tuned on its
  notebook's own cell only (``Cell.tuned``); its other dropout cell takes that rate. The final runs
  train on all 50,000 training images with the chosen rate and are evaluated once, on the test set.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from .config import ExperimentConfig
from .recipes import profile_config, repo_path
from .io import atomic_write_json
from .results import accuracy, load_result, result_path

SEEDS = (0, 1, 2, 3, 4)        # the final runs of every cell
FIGURE_SEED = 0                # the seed whose run Fig. 1-12 show, fixed before any run
TUNING_SEEDS = (1000,)         # one tuning seed (cost: each AlexNet run is ~6 min here), apart from the final ones
RESULTS_DIR = "results"                # final runs (test set)
TUNING_DIR = "results/tuning"          # tuning runs (validation split)


@dataclass(frozen=True)
class Cell:
    experiment: str        # the notebook recipe it starts from (and the results' prefix)
    changes: tuple = ()    # (field, value) pairs that differ from that recipe
    label: str = ""        # how tables name it
    tuned: bool = True     # False: takes the lr tuned on the other dropout cell of its optimizer

    def config(self, seed: int, **more) -> ExperimentConfig:
        base = profile_config("report", self.experiment)
        return dataclasses.replace(base, **dict(self.changes), seed=seed, **more)


# What the four AlexNet cells share: He initialisation (plain SGD starts slowly on this network without
# it, notebook 02), SGD's weight decay, and 8 epochs, the budget that keeps the report command from an
# empty cache within 16 minutes on a 2-core CPU (about 55 s an epoch there).
SHARED_ALEXNET = (("init", "kaiming"), ("weight_decay", 0.0005), ("epochs", 8))
CELLS = (
    Cell("baseline", (), "baseline CNN + SGD"),
    Cell("alexnet_sgd", SHARED_ALEXNET, "AlexNet + SGD"),
    Cell("alexnet_sgd", SHARED_ALEXNET + (("dropout", 0.5),), "AlexNet + SGD + Dropout 0.5", tuned=False),
    Cell("alexnet_adam_dropout", SHARED_ALEXNET + (("dropout", 0.0),), "AlexNet + Adam", tuned=False),
    Cell("alexnet_adam_dropout", SHARED_ALEXNET, "AlexNet + Adam + Dropout 0.5"),
)
BASELINE, SGD, SGD_DROPOUT, ADAM, ADAM_DROPOUT = CELLS

# Learning rates tried per notebook recipe, each on its notebook's own cell (SGD without dropout, Adam with
# Dropout 0.5); the other dropout cell of an optimizer takes the same rate. Tuning on both dropout cells
# would cost six more AlexNet runs (~40 min on the bf16 CPU) and was cut for the sweep's 3-hour budget
# before any Adam or dropout tuning result was seen.
TUNING = {
    "baseline": (0.025, 0.05, 0.1, 0.2, 0.4),  # 0.2, then 0.4, added each time the grid's edge came out best
    "alexnet_sgd": (0.02, 0.04, 0.08),
    "alexnet_adam_dropout": (0.0004, 0.0008, 0.0016, 0.0032, 0.0064),  # 0.0032, then 0.0064, added at the edge
}


@dataclass(frozen=True)
class Run:
    """One training of the study: a cell's configuration and the folder its result belongs in."""
    cell: Cell
    config: ExperimentConfig
    results_dir: Path

    @property
    def path(self) -> Path:
        return result_path(self.results_dir, self.cell.experiment, self.config.key())

    @property
    def diverged_path(self) -> Path:
        """Where a run whose training loss became NaN or infinite leaves its record (``record_divergence``)."""
        return self.path.with_suffix(".diverged")

    def describe(self) -> str:
        split = "" if self.config.evaluate_on == "test" else f", lr {self.config.lr:g}, validation"
        return f"{self.cell.label}, seed {self.config.seed}{split}"


def tuning_runs(results_dir: str | Path = TUNING_DIR) -> list[Run]:
    folder = repo_path(results_dir)
    return [Run(cell, cell.config(seed, lr=lr, evaluate_on="validation"), folder)
            for seed in TUNING_SEEDS for cell in CELLS if cell.tuned for lr in TUNING[cell.experiment]]


def final_runs(results_dir: str | Path = RESULTS_DIR) -> list[Run]:
    folder = repo_path(results_dir)
    return [Run(cell, cell.config(seed), folder) for seed in SEEDS for cell in CELLS]  # seed by seed


def stored(runs: list[Run]) -> dict[Run, dict | None]:
    """Each run's stored result (None where there is none yet)."""
    return {run: load_result(run.path, key=run.config.key()) for run in runs}


def record_divergence(run: Run, error: str) -> Path:
    """Store that ``run``'s training loss became NaN or infinite (``error`` says where): the run has an
    outcome, so the sweep does not train it again, and its rate is unstable (``unstable_rates``). Delete
    the file to try the run again."""
    return atomic_write_json(run.diverged_path, {"experiment": run.cell.experiment, "key": run.config.key(),
                                                 "config": run.config.to_dict(), "error": error})


def divergence(run: Run) -> str | None:
    """The error recorded for a run whose training diverged, else None (also when a result of the run is
    stored: a later try that trained to the end voids the record)."""
    if not run.diverged_path.exists() or run.path.exists():
        return None
    return json.loads(run.diverged_path.read_text())["error"]


def unstable_rates() -> set[tuple[str, float]]:
    """(notebook recipe, lr) of every run of the study, tuning or final, whose training diverged: runs of
    the study's current recipes at any rate (a record of a recipe since changed, e.g. other epochs, does
    not count). Whether the training loss stays finite depends on the training images alone, never on
    the test set."""
    tuning, final = tuning_runs(), final_runs()
    found = set()
    for folder in {run.results_dir for run in tuning + final}:
        for path in sorted(Path(folder).glob("*.diverged")):
            record = json.loads(path.read_text())
            lr = record["config"]["lr"]
            current = {Run(r.cell, dataclasses.replace(r.config, lr=lr), r.results_dir) for r in tuning + final
                       if r.cell.experiment == record["experiment"]}
            if any(run.diverged_path == path and divergence(run) is not None for run in current):
                found.add((record["experiment"], lr))
    return found


def set_aside(folder: str | Path, results_dir: str | Path = RESULTS_DIR,
              tuning_dir: str | Path = TUNING_DIR) -> list[Path]:
    """Move every stored run of the study (results and divergence records, tuning and final, at any rate)
    into ``folder``, keeping their paths relative to ``results_dir``, so that a sweep starts the study
    afresh; the faithful profile's results stay. Returns the new paths. Nothing is overwritten: a file
    already in ``folder`` stops it before anything moves."""
    results, tuning, target = repo_path(results_dir), repo_path(tuning_dir), repo_path(folder)
    experiments = {cell.experiment for cell in CELLS}
    faithful = {f"{experiment}-{profile_config('faithful', experiment).key()}" for experiment in experiments}

    def stored_run(path: Path) -> bool:  # a result or a divergence record
        return path.is_file() and path.suffix in (".json", ".diverged")

    moving = [path for path in sorted(results.glob("*")) if stored_run(path) and path.stem not in faithful]
    moving += [path for path in sorted(tuning.glob("*")) if stored_run(path)]
    destinations = [target / path.relative_to(results) for path in moving]
    clash = next((d for d in destinations if d.exists()), None)
    if clash is not None:
        raise ValueError(f"{clash} already exists; set the runs aside into an empty folder.")
    for path, destination in zip(moving, destinations):
        destination.parent.mkdir(parents=True, exist_ok=True)
        path.replace(destination)
    return destinations


def tuning_log(results_dir: str | Path = TUNING_DIR) -> list[dict]:
    """Every tuning run tried, as rows: recipe, cell, lr, seed, validation accuracy (%), whether its
    training diverged, training seconds, device, precision (missing or diverged runs have accuracy None)."""
    rows = []
    for run, result in stored(tuning_runs(results_dir)).items():
        rows.append({"recipe": run.cell.experiment, "cell": run.cell.label, "lr": run.config.lr,
                     "seed": run.config.seed, "validation accuracy (%)": accuracy(result) if result else None,
                     "diverged": result is None and divergence(run) is not None,
                     "training seconds": result["train_seconds"] if result else None,
                     "device": result["environment"]["device"] if result else None,
                     "precision": result["environment"]["autocast"] if result else None})
    return rows


def choose(log: list[dict], recipes=None, unstable=frozenset()) -> dict[str, float]:
    """The rule: per notebook recipe (all, or those named), the lr with the highest mean validation
    accuracy over its cells and tuning seeds, among the rates whose training never diverged in the study
    (``unstable``, from ``unstable_rates``; this condition was added after a final run of the baseline
    diverged). Raises ValueError while a tuning run of an eligible rate is missing, or when no rate is
    eligible."""
    recipes = list(TUNING) if recipes is None else list(recipes)
    log = [row for row in log if row["recipe"] in recipes and (row["recipe"], row["lr"]) not in unstable]
    missing = [row for row in log if row["validation accuracy (%)"] is None]
    if missing:
        raise ValueError(f"{len(missing)} tuning runs are not stored yet (e.g. {missing[0]['cell']}, lr "
                         f"{missing[0]['lr']:g}, seed {missing[0]['seed']}); run python -m cifar_utils.sweep "
                         f"--stage tune first.")
    chosen = {}
    for recipe in recipes:
        eligible = [lr for lr in TUNING[recipe] if (recipe, lr) not in unstable]
        if not eligible:
            raise ValueError(f"every learning rate tried for {recipe} diverged in some run; add smaller rates "
                             f"to study.TUNING['{recipe}'].")

        def mean_accuracy(lr):
            return statistics.fmean(r["validation accuracy (%)"] for r in log if r["recipe"] == recipe and r["lr"] == lr)
        chosen[recipe] = max(eligible, key=mean_accuracy)
    return chosen
