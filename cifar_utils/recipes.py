"""Where every recipe lives: plain literals in files, read here, never in notebook source.

- ``EXPERIMENTS``: the three trained experiments, their notebooks and titles.
- ``profiles/report/<notebook>.yaml``: a notebook's **report recipe**, every parameter of its
  ``parameters`` cell, one ``name: value  # comment`` line each (the shape of airbench's ``hyp`` dict).
  The cell shows the reader these values; it is drawn from this file when the report is published
  (``parameters_cell``), and the sweep's adopt stage writes a tuned ``lr`` here (``set_recipe_value``).
  A notebook whose saved cell differs from its recipe runs as a variant (``cell_differences``).
- ``profiles/<profile>/<notebook>.yaml``: every other profile, holding only the keys that differ from
  the report recipe (the shape of nanoGPT's ``config/`` files); ``papermill -f`` takes the same file.
- ``output_dirs``: where a configuration's result and figures go (the committed folders only for
  the report and faithful recipes, ``build/`` for everything else); ``outside_the_report`` is the one
  rule that keeps every other run out of notebooks/, figures/, results/ and the repository root.
- ``original_report()``: the numbers and recipe of the original report, from ``original_report.yaml``.
"""
from __future__ import annotations

import ast
import difflib
import functools
import json
import re
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from .config import ConfigError, ExperimentConfig
from .files import atomic_write_bytes

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


def repo_relative(path: Path) -> str:
    """``path`` relative to the repository root where it is inside it (what messages and tables show)."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


class DuplicateKey(yaml.YAMLError):
    """A YAML mapping that sets one key twice (``load_yaml``): its message names the key and both lines."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key set twice in one mapping, which YAML would keep the last of silently
    (an appended ``lr: 0.5`` would become a new recipe)."""

    def construct_mapping(self, node, deep=False):
        lines = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in lines:
                raise DuplicateKey(f"sets {key} twice (lines {lines[key]} and {key_node.start_mark.line + 1})")
            lines[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load_yaml(text: str):
    """``yaml.safe_load`` that refuses a key set twice in a mapping (``DuplicateKey``): every YAML file of the
    project (profiles, study files) is read with it."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


# --- the recipe files ------------------------------------------------------------------------------

ALIGN_UP_TO = 40  # a parameters cell aligns the comments of lines up to this long; longer ones stand out
_NAME = re.compile(r"^(?P<indent>\s*)(?P<name>[A-Za-z_]\w*):(?P<rest>.*)$")


def _split_line(line: str) -> tuple[str, str, object, str] | None:
    """(indent, name, value, comment) of a ``name: value  # comment`` line, the comment starting at the first
    `` #`` outside the value (a quoted value may hold one); None for a line of another shape."""
    match = _NAME.match(line)
    if not match:
        return None
    rest = match.group("rest")
    cuts = [i for i in range(len(rest)) if rest[i] == "#" and (i == 0 or rest[i - 1].isspace())] + [len(rest)]
    for cut in cuts:
        try:
            value = yaml.safe_load(rest[:cut]) if rest[:cut].strip() else None
        except yaml.YAMLError:
            continue
        return match.group("indent"), match.group("name"), value, rest[cut:].strip()
    return None


def recipe_path(notebook: str) -> Path:
    return PROFILES_DIR / BASE_PROFILE / f"{notebook}.yaml"


def _text(path: Path) -> str:
    """A recipe or profile file's text; ConfigError naming it when it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                          f"restore it from git or save it as UTF-8.") from None


def recipe_lines(path: Path) -> list[tuple[str, object, str]]:
    """(name, value, comment) of each ``name: value  # comment`` line of a recipe file, in order; a name set
    twice is refused (YAML would keep the last silently)."""
    rows, seen = [], {}
    for number, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = _split_line(line)
        if parts is None or parts[0]:
            raise ConfigError(f"{path} line {number} is not 'name: value  # comment'; write one plain value "
                              f"per line.")
        if parts[1] in seen:
            raise ConfigError(f"{path} sets {parts[1]} twice (lines {seen[parts[1]]} and {number}); keep one of them.")
        seen[parts[1]] = number
        rows.append(parts[1:])
    return rows


def undeclared_recipe_keys(notebook: str) -> None:
    """Refuse a name in ``notebook``'s report recipe that its committed parameters cell does not declare (a
    typo such as ``epochz`` would otherwise become a new parameter of the published notebook). A new parameter
    goes into the notebook's parameters cell first."""
    saved = saved_parameters(notebook)
    new = [name for name in notebook_recipe(notebook) if saved and name not in saved]
    if new:
        close = difflib.get_close_matches(new[0], saved, n=1)
        raise ConfigError(f"{repo_relative(recipe_path(notebook))} sets {new[0]!r}, which the parameters cell of "
                          f"notebooks/{notebook}.ipynb does not declare" + (f" (did you mean {close[0]!r}?)" if close
                                                                             else "") + "; fix or remove that line.")


def notebook_recipe(notebook: str) -> dict:
    """The report recipe of ``notebook``: every parameter of its parameters cell, from
    ``profiles/report/<notebook>.yaml``; empty for a notebook without one."""
    path = recipe_path(notebook)
    return {name: value for name, value, _ in recipe_lines(path)} if path.is_file() else {}


def set_recipe_value(path: Path, name: str, value, within: str | None = None) -> None:
    """Write ``value`` as the value of ``name`` in a YAML file of plain lines, keeping its comment and the
    comment's column (how the sweep adopts a tuned learning rate); ``within`` names the block (a key at a
    lesser indent) the line is in. The file is rewritten atomically."""
    lines = path.read_text().split("\n")
    start, indent = 0, -1
    if within is not None:
        start = next((i + 1 for i, line in enumerate(lines) if line.strip().split(":")[0] == within), None)
        if start is None:
            raise ConfigError(f"{path} has no block {within!r}; add it there first.")
        indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    for i in range(start, len(lines)):
        line = lines[i]
        depth = len(line) - len(line.lstrip())
        if line.strip() and not line.lstrip().startswith("#") and depth <= indent:
            break  # the block ended
        parts = _split_line(line)
        if parts and parts[1] == name:
            comment = parts[3]
            head = f"{' ' * depth}{name}: {_yaml_literal(value)}"
            width = len(line) - len(comment) if comment else 0
            lines[i] = f"{head:<{width}}{' ' if comment and len(head) >= width else ''}{comment}".rstrip()
            written = _split_line(lines[i])
            if written is None or written[2] != value or type(written[2]) is not type(value):
                raise ConfigError(f"could not write {name} = {value!r} into {path}; edit it by hand.")
            break
    else:
        raise ConfigError(f"{path} has no line '{name}: ...'" + (f" in {within!r}" if within else "")
                          + "; add it there first.")
    atomic_write_bytes(path, "\n".join(lines).encode())


def _yaml_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and "e" in repr(value) and "." not in repr(value):
        return repr(value).replace("e", ".0e")  # YAML 1.1 reads 1e-05 as text, 1.0e-05 as a number
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _python_literal(value) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def parameters_cell(notebook: str) -> str:
    """The source of ``notebook``'s parameters cell drawn from its recipe file: one ``name: type = literal
    # comment`` line per parameter (papermill's --help-notebook reads the type and the comment)."""
    rows = [(f"{name}: {type(value).__name__} = {_python_literal(value)}", comment)
            for name, value, comment in recipe_lines(recipe_path(notebook))]
    width = max((len(left) for left, _ in rows if len(left) <= ALIGN_UP_TO), default=0) + 2  # longer lines: 2 spaces
    return "\n".join(f"{left:<{width}}{comment}".rstrip() if len(left) < width else f"{left}  {comment}".rstrip()
                     for left, comment in rows)


# --- a notebook's parameters cell, as saved ----------------------------------------------------------

def parameters_cell_of(nb: dict) -> dict | None:
    """The cell tagged 'parameters' of a notebook (as JSON or nbformat), or None."""
    return next((c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])), None)


def saved_parameters(notebook: str) -> dict:
    """The values of ``notebooks/<notebook>.ipynb``'s parameters cell as saved on disk (its literals, not
    executed); empty for a notebook without one."""
    path = NOTEBOOKS_DIR / f"{notebook}.ipynb"
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{repo_relative(path)} is not a readable notebook ({type(exc).__name__}); restore it from "
                          f"git (git checkout -- notebooks/{notebook}.ipynb).") from None
    cell = parameters_cell_of({"cells": cells})
    if cell is None and recipe_path(notebook).is_file():  # its recipe would be injected nowhere
        raise ConfigError(f"{repo_relative(path)} has no cell tagged 'parameters', where its recipe "
                          f"({repo_relative(recipe_path(notebook))}) goes; tag its parameters cell again, or restore "
                          f"the notebook from git.")
    return parameters_from_text("".join(cell["source"]), path) if cell else {}


def parameters_from_text(source: str, path: Path | str = "the notebook") -> dict:
    """The ``name = literal`` (or ``name: type = literal``) assignments of a parameters cell's source."""
    values = {}
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError) as exc:  # ValueError: a null byte, on older Pythons
        line = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise ConfigError(f"{path} has a parameters cell that is not valid Python{line}; fix that line so that "
                          f"each reads 'name = literal'.") from None
    for node in body:
        target = (node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1
                  else node.target if isinstance(node, ast.AnnAssign) and node.value is not None else None)
        if not isinstance(target, ast.Name):
            raise ConfigError(f"{path} has a line in its parameters cell that is not 'name = literal' (line "
                              f"{node.lineno}); keep only plain assignments there.")
        try:
            values[target.id] = ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as exc:  # {[1]: 2}: TypeError
            raise ConfigError(f"{path} gives {target.id} a value in its parameters cell that is not a plain literal "
                              f"(line {node.lineno}); write the number or string itself.") from exc
    return values


def cell_differences(notebook: str) -> dict[str, tuple]:
    """name -> (saved value, recipe value) for each parameter whose saved cell value differs from the
    report recipe (a parameter missing on either side counts, with None there; 0 and 0.0 are one value,
    as they are to ExperimentConfig, but 1 and True are not)."""
    saved, recipe = saved_parameters(notebook), notebook_recipe(notebook)
    return {name: (saved.get(name), recipe.get(name)) for name in dict.fromkeys([*recipe, *saved])
            if name not in saved or name not in recipe or saved[name] != recipe[name]
            or isinstance(saved[name], bool) != isinstance(recipe[name], bool)}


def describe_differences(differences: dict[str, tuple]) -> str:
    """'epochs 3 (recipe 10), lr 0.5 (recipe 0.1)'."""
    return ", ".join(f"{name} {_python_literal(saved)} (recipe {_python_literal(recipe)})"
                     for name, (saved, recipe) in differences.items())


# --- profiles -------------------------------------------------------------------------------------

def known_profiles() -> list[str]:
    return sorted(p.name for p in PROFILES_DIR.iterdir() if p.is_dir())


def profile_differences(profile: str, notebook: str) -> dict:
    """The keys ``profile`` changes in ``notebook``'s report recipe (empty for the report profile itself)."""
    if profile not in known_profiles():
        raise ConfigError(f"profile {profile!r} does not exist; use one of {', '.join(known_profiles())}.")
    if profile == BASE_PROFILE:
        _require_recipe(notebook)
        _check_values(profile, notebook, {})
        return {}
    path = PROFILES_DIR / profile / f"{notebook}.yaml"
    if not path.is_file() and notebook in BY_NOTEBOOK:  # a training notebook would silently run the report recipe
        raise ConfigError(f"profile {profile!r} has no recipe for {notebook} ({repo_relative(path)}); add that file "
                          f"or run that notebook with another profile.")
    if not path.is_file():
        return {}
    values = _profile_values(path)
    _check_values(profile, notebook, values)
    return values


def _profile_values(path: Path) -> dict:
    """The ``name: value`` lines of a profile file; ConfigError naming it when it is no YAML mapping."""
    try:
        values = load_yaml(_text(path))
    except DuplicateKey as exc:
        raise ConfigError(f"{repo_relative(path)} {exc}; keep one of them.") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{repo_relative(path)} is not valid YAML" + (f" (line {where.line + 1})" if where else "")
                          + "; write one 'name: value' per line.") from None
    if values is not None and not isinstance(values, dict):
        raise ConfigError(f"{repo_relative(path)} holds {values!r}, not 'name: value' lines; write one 'name: value' "
                          f"per line.")
    if not values:  # the notebook would run the report recipe under this profile's name
        raise ConfigError(f"{repo_relative(path)} changes nothing (it has no 'name: value' line); restore it from git "
                          f"or write the values the profile changes.")
    return values


def _check_values(profile: str, notebook: str, differences: dict) -> None:
    """A training notebook's report recipe with ``profile``'s ``differences`` must make an ExperimentConfig:
    ConfigError naming the file and the key of a bad value otherwise, wherever the values are read (the
    runner's plan, ``profile_config``). Nothing to check while the report recipe is missing."""
    path = recipe_path(notebook)
    if notebook not in BY_NOTEBOOK or not path.is_file():
        return
    base = notebook_recipe(notebook)
    missing = [f.name for f in fields(ExperimentConfig) if f.name not in base]
    if missing:
        raise ConfigError(f"{repo_relative(path)} has no line for {', '.join(missing)}; restore it from git "
                          f"({_restore(notebook)}) or add the line.")
    profile_file = repo_relative(PROFILES_DIR / profile / f"{notebook}.yaml")
    sources = {name: profile_file if name in differences else repo_relative(path) for name in base}
    ExperimentConfig.from_parameters({**base, **differences}, sources)


def _restore(notebook: str) -> str:
    """The git command that restores ``notebook``'s report recipe, as the repository names it."""
    return f"git checkout -- {recipe_path(notebook).relative_to(PROFILES_DIR.parent).as_posix()}"


def _require_recipe(notebook: str) -> None:
    """A training notebook's report recipe must exist: ConfigError naming it and how to restore it (else every
    parameter would be reported missing, and the file never named)."""
    path = recipe_path(notebook)
    if notebook in BY_NOTEBOOK and not path.is_file():
        raise ConfigError(f"{repo_relative(path)}, the report recipe of notebooks/{notebook}.ipynb, is missing; "
                          f"restore it from git ({_restore(notebook)}).")


def profile_parameters(profile: str, notebook: str) -> dict:
    """Every parameter of ``notebook`` under ``profile``: the report recipe with the profile's differences."""
    _require_recipe(notebook)
    base = notebook_recipe(notebook)
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
    # results/ takes any run's result (its file is named by its key); figures/ only the report recipe's figures
    return (outside_the_report("results_dir", results_dir, allow=REPORT_RESULTS),
            outside_the_report("figures_dir", figures_dir,
                               allow=REPORT_FIGURES if key == published[BASE_PROFILE] else None))


COMMITTED = ("notebooks", REPORT_RESULTS, REPORT_FIGURES)  # the committed report's folders


def outside_the_report(label: str, folder: str | Path, allow: str | None = None) -> Path:
    """The one rule for where a run may write: ``folder`` (taken from the repository root), unless it is the
    root itself or inside a folder of the committed report other than ``allow``: ConfigError before any work."""
    path = repo_path(folder)
    resolved = path.resolve()
    inside = [name for name in COMMITTED if resolved.is_relative_to(REPO_ROOT / name) and name != allow]
    if resolved == REPO_ROOT or inside:
        where = f"{inside[0]}/" if inside else "the repository root"
        raise ConfigError(f"{label} = {str(folder)!r} would write into {where}, which only the published report "
                          f"run writes; choose a folder under build/ or outside the repository.")
    return path


@functools.cache
def original_report() -> dict:
    """The original report's numbers and recipes (``original_report.yaml``)."""
    return yaml.safe_load((PACKAGE_DIR / "original_report.yaml").read_text())


def original(experiment: str) -> dict:
    """What the original report states about one experiment: accuracy (%), recipe, per-class counts."""
    return original_report()["experiments"][experiment_info(experiment).name]
