"""The report's experiments and where each recipe lives: the one home of every training decision.

- ``EXPERIMENTS``: the three trained experiments, their notebooks and titles.
- The **report** recipe of an experiment is its notebook's ``parameters`` cell (plain literals,
  read here with ``ast.literal_eval``, never executed); papermill runs the notebook with it.
- Every other profile is ``profiles/<profile>/<notebook>.yaml`` holding only the keys that differ
  from the report recipe (the shape of nanoGPT's ``config/`` files); ``papermill -f`` takes the
  same file.
- ``output_dirs``: where a configuration's result and figures go (the committed folders only for
  the report and faithful recipes, ``build/`` for everything else).
- ``original_report()``: the numbers and recipe of the original report, from ``original_report.yaml``.
"""
from __future__ import annotations

import ast
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from .config import ConfigError, ExperimentConfig
from .io import atomic_write_bytes

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
PROFILES_DIR = REPO_ROOT / "profiles"
BASE_PROFILE = "report"
REPORT_RESULTS, REPORT_FIGURES = "results", "figures"
PUBLISHED_PROFILES = ("report", "faithful")  # their results are committed to results/


@dataclass(frozen=True)
class ExperimentInfo:
    name: str      # the results' prefix, e.g. "alexnet_sgd"
    notebook: str  # notebooks/<notebook>.ipynb
    title: str     # how tables and figures name it


EXPERIMENTS = {info.name: info for info in (
    ExperimentInfo("baseline", "01_baseline", "baseline CNN + SGD"),
    ExperimentInfo("alexnet_sgd", "02_alexnet_sgd", "AlexNet + SGD"),
    ExperimentInfo("alexnet_adam_dropout", "03_alexnet_adam_dropout", "AlexNet + Adam + Dropout 0.5"),
)}
BY_NOTEBOOK = {info.notebook: info for info in EXPERIMENTS.values()}


def experiment_info(name: str) -> ExperimentInfo:
    if name not in EXPERIMENTS:
        raise ConfigError(f"experiment {name!r} is not known; use one of {', '.join(EXPERIMENTS)}.")
    return EXPERIMENTS[name]


def repo_path(path: str | Path) -> Path:
    """``path`` itself when absolute, else taken from the repository root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def notebook_parameters(notebook: str) -> dict:
    """The values of ``notebooks/<notebook>.ipynb``'s parameters cell (its literals, not executed); empty
    for a notebook without one."""
    path, _, cell = _parameters_cell(notebook)
    return notebook_parameters_from_text("".join(cell["source"]), path) if cell else {}


def _parameters_cell(notebook: str) -> tuple[Path, dict, dict | None]:
    """(path, the notebook as JSON, its cell tagged 'parameters' or None)."""
    path = NOTEBOOKS_DIR / f"{notebook}.ipynb"
    nb = json.loads(path.read_text())
    cell = next((c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    return path, nb, cell


def notebook_parameters_from_text(source: str, path: Path | str = "the notebook") -> dict:
    """The ``name = literal`` (or ``name: type = literal``, which papermill's --help-notebook reads as the
    type) assignments of a parameters cell's source."""
    values = {}
    for node in ast.parse(source).body:
        target = (node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1
                  else node.target if isinstance(node, ast.AnnAssign) and node.value is not None else None)
        if not isinstance(target, ast.Name):
            raise ConfigError(f"{path} has a line in its parameters cell that is not 'name = literal' (line "
                              f"{node.lineno}); keep only plain assignments there.")
        try:
            values[target.id] = ast.literal_eval(node.value)
        except ValueError as exc:
            raise ConfigError(f"{path} gives {target.id} a value in its parameters cell that is not a plain literal "
                              f"(line {node.lineno}); write the number or string itself.") from exc
    return values


def set_notebook_parameter(notebook: str, name: str, value) -> None:
    """Write ``value`` as the literal of ``name`` in a notebook's parameters cell, keeping its comment
    and alignment (how the sweep adopts the learning rate that tuning chose)."""
    path, nb, cell = _parameters_cell(notebook)
    lines = "".join(cell["source"]).split("\n") if cell else []
    for i, line in enumerate(lines):
        target, _, rest = line.partition("=")
        if target.split(":")[0].strip() == name:
            end = ast.parse(line).body[0].value.end_col_offset  # where the literal ends (a '#' in it is no comment)
            comment = line[end:].lstrip()
            new = f" {json.dumps(value) if isinstance(value, str) else repr(value)}"
            padded = f"{new:<{len(line) - len(target) - 1 - len(comment)}}" if comment else new
            lines[i] = f"{target}={padded}{' ' if comment and not padded.endswith(' ') else ''}{comment}"
            break
    else:
        raise ConfigError(f"{notebook}'s parameters cell has no parameter {name!r}; add it there first.")
    text = "\n".join(lines)
    cell["source"] = text.splitlines(keepends=True)
    if notebook_parameters_from_text(text).get(name) != value:
        raise ConfigError(f"could not write {name} = {value!r} into {path}; edit its parameters cell by hand.")
    atomic_write_bytes(path, (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode())


def known_profiles() -> list[str]:
    return sorted({BASE_PROFILE} | {p.name for p in PROFILES_DIR.iterdir() if p.is_dir()})


def profile_differences(profile: str, notebook: str) -> dict:
    """The keys ``profile`` changes in ``notebook``'s report recipe (empty for the report profile itself)."""
    if profile not in known_profiles():
        raise ConfigError(f"profile {profile!r} does not exist; use one of {', '.join(known_profiles())}.")
    path = PROFILES_DIR / profile / f"{notebook}.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def profile_parameters(profile: str, notebook: str) -> dict:
    """Every parameter of ``notebook`` under ``profile``: the report recipe with the profile's differences."""
    base = notebook_parameters(notebook)
    differences = profile_differences(profile, notebook)
    stray = sorted(set(differences) - set(base))
    if stray:
        raise ConfigError(f"profiles/{profile}/{notebook}.yaml sets {stray[0]!r}, which {notebook} does not declare; "
                          f"remove it from the profile.")
    return {**base, **differences}


def profile_config(profile: str, experiment: str) -> ExperimentConfig:
    return ExperimentConfig.from_parameters(profile_parameters(profile, experiment_info(experiment).notebook))


def output_dirs(experiment: str, config: ExperimentConfig, results_dir: str = "auto",
                figures_dir: str = "auto") -> tuple[Path, Path]:
    """(results folder, figures folder) for a configuration; "auto" keeps the committed folders for the
    report recipe (and results/ for the faithful one too) and sends everything else under build/, so
    exploring never leaves files in the report."""
    key = config.key()
    published = {profile: profile_config(profile, experiment).key() for profile in PUBLISHED_PROFILES}
    if results_dir == "auto":
        results_dir = REPORT_RESULTS if key in published.values() else "build/results"
    if figures_dir == "auto":
        figures_dir = REPORT_FIGURES if key == published[BASE_PROFILE] else f"build/figures/{experiment}-{key}"
    return repo_path(results_dir), repo_path(figures_dir)


@functools.cache
def original_report() -> dict:
    """The original report's numbers and recipes (``original_report.yaml``)."""
    return yaml.safe_load((PACKAGE_DIR / "original_report.yaml").read_text())


def original(experiment: str) -> dict:
    """What the original report states about one experiment: accuracy (%), recipe, per-class counts."""
    return original_report()["experiments"][experiment_info(experiment).name]
