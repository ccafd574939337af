"""The study behind the report's conclusions, as one value: its cells, seeds, tuning grids and folders.

``load()`` reads ``profiles/study.yaml`` (the one home of every decision of the study) and the
notebook recipes the cells start from; the sweep, the conclusions and the figures take the ``Study``
it returns, and a test builds a small one the same way from a file of its own.

- A ``Cell`` is one configuration: a notebook recipe with the fields it changes, and its learning
  rate, tuned on the validation split (``grid``) or taken from another cell (``lr_from``); or a
  profile's recipe whole, its rate included (``profile``: what ``report --profile`` trains). A tuned
  cell with no seeds of its own (``seeds: []``) is a try: tuning runs only, its record kept. Its label
  and its place in a factorial design are read off its configuration (``label``, ``Study.design``).
- ``Study.tuning_runs``: every rate of every grid, with the tuning seeds, on the validation split
  (``evaluate_on = "validation"``: 5,000 training images held out, the rest trained on);
  ``Study.choose`` applies the rule fixed in advance (study.yaml says it).
- ``Study.final_runs``: every cell x seed, trained on all 50,000 images and evaluated once, on the
  test set. A run whose training loss became NaN or infinite leaves a divergence record
  (``record_divergence``); its rate is then left out of the choice (``Study.unstable_rates``).

A damaged stored file (a result or a divergence record) is named once, with its fix, and left out
(``stored_result``, ``read_divergence``): what reads the study's runs never stops at one.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError

from .config import KEY_SINCE, ConfigError, ExperimentConfig
from .files import OutputError, atomic_write_json, failure_reason, move_whole
from .recipes import (EXPERIMENTS, PROFILES_DIR, REPORT_RESULTS, DuplicateKey, load_yaml, outside_the_report,
                      profile_config, profile_differences, recipe_path, repo_path, set_recipe_value,
                      undeclared_recipe_keys)
from .results import NewerResult, ResultError, accuracy, load_result, result_path

STUDY_FILE = PROFILES_DIR / "study.yaml"
NETWORKS = {"baseline": "baseline CNN", "alexnet": "AlexNet"}
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}
_CELL_KEYS = {"recipe", "grid", "lr", "lr_from", "seeds", "profile"}


@dataclass(frozen=True)
class Cell:
    """One configuration of the study."""
    name: str                # its name in study.yaml
    recipe: str              # the notebook recipe it starts from, and its results' prefix
    label: str               # how tables name it (``label_of``)
    settings: tuple          # (field, value) of its configuration but the seed; lr absent until chosen
    changes: tuple = ()      # (field, value) it changes in its recipe (lr aside)
    grid: tuple = ()         # learning rates tried on the validation split (a tuned cell)
    lr_from: str = ""        # the tuned cell whose chosen rate it takes
    seeds: tuple = ()        # its final runs' seeds
    profile: str = ""        # the profile whose recipe it is (its settings, rate included, come from there)

    @property
    def experiment(self) -> str:
        return self.recipe

    @property
    def tuned(self) -> bool:
        return bool(self.grid)

    @property
    def own_recipe(self) -> bool:
        """True when the cell is its notebook's recipe unchanged (the original report's number applies)."""
        return not self.changes

    @property
    def lr(self) -> float | None:
        return dict(self.settings).get("lr")

    def value(self, field: str):
        return dict(self.settings)[field]

    def config(self, seed: int, **more) -> ExperimentConfig:
        """The configuration of this cell's run with ``seed`` (and ``more`` fields replaced)."""
        values = {**dict(self.settings), "seed": seed, **more}
        if "lr" not in values:
            raise ConfigError(f"the cell {self.name} has no chosen learning rate yet; run python -m "
                              f"cifar_utils.sweep --stage tune, then --stage adopt.")
        return ExperimentConfig(**values)


def label_of(settings: dict, recipe: ExperimentConfig, profile: str = "") -> str:
    """How tables name a cell, read off its configuration: network + optimizer (+ Dropout p), and in
    brackets what sets it apart from its recipe's network and epochs (a profile's cell: the profile)."""
    parts = [NETWORKS[settings["model"]], OPTIMIZER_NAMES[settings["optimizer"]]]
    if settings["dropout"] > 0 and not (recipe.model == "baseline" and settings["dropout"] == recipe.dropout):
        parts.append(f"Dropout {settings['dropout']:g}")  # the baseline notebook's own 0.25 is part of its network
    extras = [f"{profile} profile"] if profile else []
    if settings["model"] != recipe.model:
        extras.append(f"{NETWORKS[recipe.model]} recipe")
    if settings["epochs"] != recipe.epochs and not profile:
        extras.append(f"{settings['epochs']} epoch{'s' * (settings['epochs'] != 1)}")
    if settings["batch_size"] != recipe.batch_size and not profile:
        extras.append(f"batch {settings['batch_size']}")
    if settings["precision"] != recipe.precision:
        extras.append(settings["precision"])
    return " + ".join(parts) + (f" ({', '.join(extras)})" if extras else "")


def design(cells, model: str, epochs: int, batch_size: int | None = None) -> dict[tuple[str, float], Cell]:
    """The cells of one optimizer x dropout design among ``cells``: (optimizer, dropout) -> cell, for the
    cells with final seeds of ``model`` trained ``epochs`` epochs (at ``batch_size``, when given) with an AlexNet
    notebook's recipe (which share everything but the optimizer's own settings and dropout)."""
    return {(c.value("optimizer"), c.value("dropout")): c for c in cells
            if c.value("model") == model and c.value("epochs") == epochs and batch_size in (None, c.value("batch_size"))
            and c.recipe != "baseline" and c.seeds}


def matched_recipe() -> tuple[int, int]:
    """(epochs, batch size) of the AlexNet notebooks' recipe (profiles/report/02_alexnet_sgd.yaml): the recipe
    whose optimizer x dropout design both networks train in, and the report's claims are scoped to."""
    config = profile_config("report", "alexnet_sgd")
    return config.epochs, config.batch_size


def budgets(cells) -> list[int]:
    """The AlexNet budgets (epochs) at which ``cells`` have Adam both with and without Dropout 0.5."""
    epochs = sorted({c.value("epochs") for c in cells if c.value("model") == "alexnet"})
    return [e for e in epochs if {("adam", 0.0), ("adam", 0.5)} <= set(design(cells, "alexnet", e))]


@dataclass(frozen=True)
class Run:
    """One training of the study: a cell's configuration and the folder its result belongs in."""
    cell: Cell
    config: ExperimentConfig
    results_dir: Path

    @property
    def path(self) -> Path:
        return result_path(self.results_dir, self.cell.recipe, self.config.key())

    @property
    def diverged_path(self) -> Path:
        """Where a run whose training loss became NaN or infinite leaves its record (``record_divergence``)."""
        return self.path.with_suffix(".diverged")

    def describe(self) -> str:
        split = "" if self.config.evaluate_on == "test" else f", lr {self.config.lr:g}, validation"
        return f"{self.cell.label}, seed {self.config.seed}{split}"


@dataclass(frozen=True)
class Study:
    cells: tuple[Cell, ...]
    seeds: tuple[int, ...]          # the final runs of a cell that names no seeds of its own
    figure_seed: int                # the seed whose run the single-run figures show
    tuning_seeds: tuple[int, ...]
    results_dir: Path               # final runs (test set)
    tuning_dir: Path                # tuning runs (validation split)
    file: Path                      # the study file: where a tuned cell that is no notebook recipe keeps its lr
    logs_dir: Path                  # the sweep's logs of its training children
    extend_at_edge: bool = False    # the sweep extends a grid whose best rate sits at its edge (``edge_extensions``)
    compare_with: Path | None = None  # the study whose cells train the first of ``recipes``
    recipes: tuple = ()             # (name, epochs, batch size) of each recipe the answer compares

    def cell(self, name: str) -> Cell:
        found = next((c for c in self.cells if c.name == name), None)
        if found is None:
            raise ConfigError(f"the study has no cell {name!r}; use one of {', '.join(c.name for c in self.cells)}.")
        return found

    def only(self, names=None) -> "Study":
        """This study with just the cells ``names`` (all when None) and the cells they take their rate from."""
        if names is None:
            return self
        for name in names:
            self.cell(name)  # ConfigError naming the cells there are
        keep = set(names) | {self.cell(n).lr_from for n in names if self.cell(n).lr_from}
        return dataclasses.replace(self, cells=tuple(c for c in self.cells if c.name in keep))

    def tuning_runs(self) -> list[Run]:
        return [Run(cell, cell.config(seed, lr=lr, evaluate_on="validation"), self.tuning_dir)
                for seed in self.tuning_seeds for cell in self.cells if cell.tuned for lr in cell.grid]

    def final_runs(self, cells=None) -> list[Run]:
        """Every cell's final runs, seed by seed (of ``cells`` only, when given); a cell without a chosen
        learning rate has none yet."""
        chosen = [c for c in (self.cells if cells is None else cells) if c.lr is not None]
        seeds = sorted({s for cell in chosen for s in cell.seeds})
        return [Run(cell, cell.config(seed), self.results_dir) for seed in seeds for cell in chosen
                if seed in cell.seeds]

    def recorded_runs(self) -> list[Run]:
        """Every run the study may have stored: the tuning runs, and each cell's final runs at its chosen rate
        and at every other rate of its grid (a final run at a rate that diverged, and so was left, stays
        in results/ as the record)."""
        runs = self.tuning_runs() + self.final_runs()
        for cell in self.cells:
            source = self.cell(cell.lr_from or cell.name)
            runs += [Run(cell, cell.config(seed, lr=lr), self.results_dir) for lr in source.grid if lr != cell.lr
                     for seed in cell.seeds]
        return runs

    def tuning_log(self) -> list[dict]:
        """Every tuning run tried, as rows: cell, recipe, label, lr, seed, validation accuracy (%), whether
        its training diverged, training seconds, device, precision (missing or diverged: accuracy None)."""
        rows = []
        for run in self.tuning_runs():
            result = stored_result(run)
            rows.append({"cell": run.cell.name, "recipe": run.cell.recipe, "label": run.cell.label,
                         "changes": dict(run.cell.changes), "lr": run.config.lr, "seed": run.config.seed,
                         "validation accuracy (%)": accuracy(result) if result else None,
                         "diverged": result is None and divergence(run) is not None,
                         "evaluations": {k: 100 * v for k, v in result.get("evaluations", {}).items()} if result else {},
                         "training seconds": result["train_seconds"] if result else None,
                         "device": result["environment"]["device"] if result else None,
                         "precision": result["environment"]["autocast"] if result else None})
        return rows

    def unstable_rates(self) -> set[tuple[str, float]]:
        """(tuned cell, lr) of every run of the study, tuning or final, whose training diverged at a rate
        that cell's choice covers (its own runs and those of the cells that take its rate); a record of a
        recipe since changed (other epochs, say) does not count. Whether the training loss stays finite
        depends on the training images alone, never on the test set."""
        found = set()
        for folder in {self.results_dir, self.tuning_dir}:
            for path in sorted(Path(folder).glob("*.diverged")):
                record = read_divergence(path)
                if record is None:
                    continue
                lr = record["config"]["lr"]
                for cell in self.cells:
                    runs = [Run(cell, cell.config(seed, lr=lr, **split), folder)
                            for seed, split in [(s, {}) for s in cell.seeds]
                            + [(s, {"evaluate_on": "validation"}) for s in self.tuning_seeds]]
                    if any(run.diverged_path == path and divergence(run) is not None for run in runs):
                        found.add((cell.lr_from or cell.name, lr))
        return found

    def choose(self, log: list[dict], cells=None, unstable=frozenset()) -> dict[str, float]:
        """The rule: per tuned cell (all, or those named), the lr with the highest mean validation accuracy
        over its tuning seeds, among the rates whose training never diverged in the study (``unstable``).
        Raises ValueError while a tuning run of an eligible rate is missing, or when no rate is eligible."""
        names = [c.name for c in self.cells if c.tuned] if cells is None else list(cells)
        log = [row for row in log if row["cell"] in names and (row["cell"], row["lr"]) not in unstable]
        missing = [row for row in log if row["validation accuracy (%)"] is None]
        if missing:
            raise ValueError(f"{len(missing)} tuning runs are not stored yet (e.g. {missing[0]['label']}, lr "
                             f"{missing[0]['lr']:g}, seed {missing[0]['seed']}); run python -m cifar_utils.sweep "
                             f"--stage tune first.")
        chosen = {}
        for name in names:
            eligible = [lr for lr in self.cell(name).grid if (name, lr) not in unstable]
            if not eligible:
                raise ValueError(f"every learning rate tried for the cell {name} diverged in some run; add smaller "
                                 f"rates to its grid in {self.file}.")

            def mean_accuracy(lr):
                return statistics.fmean(r["validation accuracy (%)"] for r in log if r["cell"] == name and r["lr"] == lr)
            chosen[name] = max(eligible, key=mean_accuracy)
        return chosen

    def edge_extensions(self, log: list[dict], unstable=frozenset()) -> dict[str, tuple[float, ...]]:
        """The rule's edge clause: tuned cell -> its grid with the next rate out (x2 above, /2 below) added, for
        each cell whose tuning is complete and whose best rate (``choose``) is its grid's highest or lowest.
        A grid whose outer rate diverged is not at its edge: that rate bounds it."""
        extended = {}
        for cell in self.cells:
            if not cell.tuned:
                continue
            try:
                best = self.choose(log, cells=[cell.name], unstable=unstable)[cell.name]
            except ValueError:  # tuning runs missing, or every rate diverged: nothing to extend yet
                continue
            grid = sorted(cell.grid)
            if best == grid[-1]:
                extended[cell.name] = (*grid, round(2 * grid[-1], 10))
            elif best == grid[0]:
                extended[cell.name] = (round(grid[0] / 2, 10), *grid)
        return extended

    def adopt(self, name: str, lr: float) -> Path:
        """Write ``lr`` as the chosen rate of the tuned cell ``name``: into its notebook's recipe file when
        the cell is that recipe unchanged, else into the study file. Returns the file written."""
        cell = self.cell(name)
        if cell.own_recipe:
            path = recipe_path(EXPERIMENTS[cell.recipe].notebook)
            set_recipe_value(path, "lr", lr)
        else:
            path = self.file
            set_recipe_value(path, "lr", lr, within=name)
        return path

    def set_aside(self, folder: str | Path, keep=()) -> list[Path]:
        """Move every stored run of the study (results and divergence records, tuning and final, at any rate)
        into ``folder``, keeping their paths relative to the results folder, so that a sweep starts the
        study afresh; the results named in ``keep`` (file stems) stay. Returns the new paths. Nothing is
        overwritten and nothing moves unless everything can: a file already in ``folder``, or a file where a
        folder must be, stops it first (ValueError). Each file moves whole or not at all (``files.move_whole``),
        so a move cut short (a full disk) leaves ``folder`` holding only what it moved, and the same call, once
        space is freed, moves the rest."""
        target = repo_path(folder)

        def stored_run(path: Path) -> bool:  # a result or a divergence record
            return path.is_file() and path.suffix in (".json", ".diverged")

        moving = [p for p in sorted(self.results_dir.glob("*")) if stored_run(p) and p.stem not in keep]
        moving += [p for p in sorted(self.tuning_dir.glob("*")) if stored_run(p)]
        destinations = [target / p.relative_to(self.results_dir) for p in moving]
        for destination in destinations:
            if destination.exists():
                raise ValueError(f"{destination} already exists; set the runs aside into an empty folder.")
            in_the_way = next((p for p in destination.parents if p.exists() and not p.is_dir()), None)
            if in_the_way is not None:
                raise ValueError(f"{in_the_way} is a file, not a folder; set the runs aside into a new or empty "
                                 f"folder.")
        for done, (path, destination) in enumerate(zip(moving, destinations)):
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                move_whole(path, destination)
            except (OSError, OutputError) as exc:
                raise ValueError(f"cannot move {path} to {destination} ({failure_reason(exc.__cause__ or exc)}); "
                                 f"{done} of {len(moving)} runs are moved, the rest stay: free space or fix that, "
                                 f"then run the same command again to move the rest.") from exc
        return destinations


Rate = Annotated[float, Field(gt=0, allow_inf_nan=False)]
def _distinct(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError(f"lists {sorted(v for v in set(values) if values.count(v) > 1)} more than once: give each "
                         f"once")
    return values


Seeds = Annotated[list[NonNegativeInt], Field(min_length=1), AfterValidator(_distinct)]


class _CellEntry(BaseModel):
    """The keys of a cell that are the study's own (the rest change fields of its recipe; ``load`` checks them).
    Strict: ``load`` uses the values as written, so a "0.02" or "false" must be refused here, not converted."""
    model_config = ConfigDict(extra="allow", strict=True)
    recipe: str | None = None  # required: load names the cell that lacks it
    grid: Annotated[list[Rate], Field(min_length=1)] | None = None
    lr: Rate | None = None
    lr_from: str | None = None
    seeds: Annotated[list[NonNegativeInt], AfterValidator(_distinct)] | None = None
    profile: str | None = None


class _StudyFile(BaseModel):
    """A study file's schema: every key, its type and whether it may be left out (strict, as ``_CellEntry``)."""
    model_config = ConfigDict(extra="forbid", strict=True)
    seeds: Seeds
    figure_seed: NonNegativeInt
    tuning_seeds: Seeds
    results_dir: str = "results"
    tuning_dir: str | None = None
    logs_dir: str = "build/sweep-logs"
    extend_at_edge: bool = False
    compare_with: str | None = None
    recipes: dict[str, Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]] = {}  # epochs, batch size
    cells: Annotated[dict[str, _CellEntry], Field(min_length=1)]


def _schema_error(path: Path, exc: ValidationError) -> ConfigError:
    """A study file's first schema error as one sentence naming the file, the key and the value."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    got = "" if error["type"] == "missing" else f" (it is {error['input']!r})"
    message = error["msg"].removeprefix("Value error, ")
    return ConfigError(f"the study file {path}: {where}: {message[0].lower()}{message[1:]}{got}; fix that "
                       f"key (profiles/study.yaml shows every key).")


def _compared(path: Path, compare_with: str | None) -> Path | None:
    """The study file that ``compare_with`` names (None: none); ConfigError naming both files when it is missing."""
    if not compare_with:
        return None
    found = repo_path(compare_with)
    if not found.is_file():
        raise ConfigError(f"the study file {path}: compare_with names {compare_with}, which does not exist; name a "
                          f"study file such as profiles/study.yaml.")
    return found


def load(path: str | Path = STUDY_FILE) -> Study:
    """The study that ``path`` (default ``profiles/study.yaml``) describes, each cell resolved against its
    notebook recipe as it is now. Raises ConfigError naming the file and the bad entry."""
    path = Path(path)
    try:
        spec = load_yaml(path.read_text())
    except DuplicateKey as exc:
        raise ConfigError(f"the study file {path} {exc}; keep one of them.") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the study file {path} ({type(exc).__name__}); restore it from git.") from exc
    if not isinstance(spec, dict):
        raise ConfigError(f"the study file {path} holds no keys (it is {spec!r}); restore it from git.")
    try:
        _StudyFile.model_validate(spec)
    except ValidationError as exc:
        raise _schema_error(path, exc) from None
    for recipe in {entry["recipe"] for entry in spec["cells"].values() if entry.get("recipe") in EXPERIMENTS}:
        undeclared_recipe_keys(EXPERIMENTS[recipe].notebook)  # a typo such as epochz in a recipe the cells build on
    seeds = tuple(spec["seeds"])
    if spec["figure_seed"] not in seeds:  # the single-run figures are drawn from that seed's run: one the study trains
        raise ConfigError(f"the study file {path}: figure_seed is {spec['figure_seed']}, not one of the seeds "
                          f"{list(seeds)}; name one of them.")
    raw = spec["cells"]
    own_lr: dict[str, float | None] = {}
    for name, entry in raw.items():
        unknown = set(entry) - _CELL_KEYS - {f.name for f in dataclasses.fields(ExperimentConfig)}
        if unknown or "recipe" not in entry or sum(k in entry for k in ("grid", "lr_from", "profile")) != 1:
            raise ConfigError(f"the cell {name} in {path} needs a recipe and exactly one of grid, lr_from and profile"
                              + (f", and has unknown fields {sorted(unknown)}" if unknown else "") + "; fix that entry.")
        if "profile" in entry:
            own_lr[name] = profile_config(entry["profile"], entry["recipe"]).lr
        if "grid" in entry:
            changes = {k: v for k, v in entry.items() if k not in _CELL_KEYS}
            own_lr[name] = entry.get("lr") if changes else profile_config("report", entry["recipe"]).lr
    cells = []
    for name, entry in raw.items():
        source = entry.get("lr_from", name)
        if source not in own_lr:
            raise ConfigError(f"the cell {name} in {path} takes its rate from {source!r}, which is no tuned cell; "
                              f"name a cell that has a grid.")
        changes = {k: v for k, v in entry.items() if k not in _CELL_KEYS}
        recipe = profile_config("report", entry["recipe"])
        if "profile" in entry:
            fields = {f.name for f in dataclasses.fields(ExperimentConfig)} - {"lr", "seed"}
            differences = profile_differences(entry["profile"], EXPERIMENTS[entry["recipe"]].notebook)
            changes = {**{k: v for k, v in differences.items() if k in fields}, **changes}
        settings = {**recipe.to_dict(), **changes}
        settings.pop("seed")
        settings.pop("lr")
        if own_lr[source] is not None:
            settings["lr"] = own_lr[source]
        cells.append(Cell(name, entry["recipe"], label_of(settings, recipe, entry.get("profile", "")),
                          tuple(sorted(settings.items())), tuple(sorted(changes.items())),
                          tuple(entry.get("grid", ())), entry.get("lr_from", ""), tuple(entry.get("seeds", seeds)),
                          entry.get("profile", "")))
    # The study's runs go into results/ (the committed report's results) or outside the report, never into
    # notebooks/, figures/ or the repository root (recipes.outside_the_report).
    results = outside_the_report(f"results_dir in {path}", spec.get("results_dir", "results"), allow=REPORT_RESULTS)
    tuning = outside_the_report(f"tuning_dir in {path}", spec.get("tuning_dir", results / "tuning"), allow=REPORT_RESULTS)
    logs = outside_the_report(f"logs_dir in {path}", spec.get("logs_dir", "build/sweep-logs"))
    return Study(tuple(cells), seeds, spec["figure_seed"], tuple(spec["tuning_seeds"]), results, tuning, path, logs,
                 bool(spec.get("extend_at_edge", False)),
                 _compared(path, spec.get("compare_with")),
                 tuple((name, int(epochs), int(batch)) for name, (epochs, batch) in spec.get("recipes", {}).items()))


def stored(runs: list[Run]) -> dict[Run, dict | None]:
    """Each run's stored result (None where there is none yet, or it is unusable: ``stored_result``)."""
    return {run: stored_result(run) for run in runs}


def stored_result(run: Run) -> dict | None:
    """The run's stored result; None when there is none, or when it is unusable (named with its fix, once)."""
    try:
        return load_result(run.path, key=run.config.key())
    except NewerResult:
        raise  # the sweep would train over it: it stops with the upgrade advice instead
    except ResultError as exc:
        warn(f"{exc} It is left out; the sweep (python -m cifar_utils.sweep) trains it again.")
        return None


_WARNED: set[str] = set()


def warn(message: str) -> None:
    """Say on stderr that a stored file is damaged and left out (``message`` names it and the fix), once a
    process however often the file is read."""
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"Warning: {message}", file=sys.stderr, flush=True)


def record_divergence(path: Path, experiment: str, config: ExperimentConfig, error: str) -> Path:
    """Store at ``path`` (a run's ``diverged_path``) that the run of ``config`` had a training loss that
    became NaN or infinite (``error`` says where): the run has an outcome, so the sweep does not train it
    again, and its rate is unstable (``Study.unstable_rates``). Delete the file to try the run again."""
    return atomic_write_json(path, {"experiment": experiment, "key": config.key(), "config": config.to_dict(),
                                    "error": error})


def divergence(run: Run) -> str | None:
    """The error recorded for a run whose training diverged, else None (also when a result of the run is
    stored: a later try that trained to the end voids the record; and when the record is damaged)."""
    record = None if run.path.exists() else read_divergence(run.diverged_path)
    return None if record is None else record["error"]


def read_divergence(path: Path) -> dict | None:
    """The divergence record at ``path`` as ``record_divergence`` wrote it: experiment, key, config, error.
    None when there is none, or when it is damaged (named with its fix, once: the run counts as not run)."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        key = ExperimentConfig(**{**KEY_SINCE, **record["config"]}).key()
        whole = (isinstance(record["error"], str) and record["key"] == key
                 and path.name == f"{record['experiment']}-{key}.diverged")
    except (OSError, ValueError, TypeError, KeyError):  # not JSON (a ValueError), not an object, a field missing
        whole = False
    if not whole:
        warn(f"the divergence record {path} is damaged; delete it, or the sweep (python -m cifar_utils.sweep) "
             f"trains the run again.")
        return None
    return record

