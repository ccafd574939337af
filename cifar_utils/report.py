"""Regenerate the report: execute the notebooks in order with papermill.

    python -m cifar_utils.report                       # the report profile: load stored results, redraw
    python -m cifar_utils.report --profile smoke -p data_dir /tmp/tiny -p results_dir /tmp/r
    python -m cifar_utils.report --only 02_alexnet_sgd -p retrain True

Each run executes a notebook into a temp file of its own, moved to ``build/notebooks/<name>.ipynb``
when done (pytest does not collect ``build/``). With the report profile and no ``-p`` overrides other
than data_dir, download and retrain, each notebook runs with its recipe (``profiles/report/<name>.yaml``,
its parameters cell drawn from it) and, when it succeeds, replaces ``notebooks/<name>.ipynb`` with
exactly what this run executed (its outputs are the report), less papermill's timestamps and any
progress bar (``nbclean``), so an unchanged run leaves no diff; such a run holds the notebook's lock, so
two report runs at once take turns and never publish each other's notebook; a notebook saved while the
run executed it (an edit from JupyterLab) is never overwritten: the run fails, its executed copy kept.
A notebook whose saved parameters cell was edited (it differs from the recipe and from the cell last published,
``edited_since_published``) is not published: it runs as a variant, its outputs under ``build/``,
and the runner names the values that differ.
A publishing run (no notebook of it a variant) then rewrites README.md's three blocks of results (the study's table and
verdicts, the quick profile's table, "What the study found") from ``results/`` (``write_readme``), so that
``make report`` leaves no number stale.
Prints one line per notebook (status, seconds, test accuracy) and nothing else when all goes well; exits 1
naming the notebook and cell that failed, 2 for bad arguments. ``--help`` lists the notebooks' parameters.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import inspect
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import papermill

from .config import DEVICES, ConfigError, Parser
from .data import DataError
from .evaluate import overall_counts
from .files import (OutputError, atomic_write_bytes, check_not_read_only, ensure_writable_dir, locked, new_temp,
                    remove_stale_temps)
from .hardware import resolve_device
from .kernels import QuietKernelManager
from .nbclean import strip_volatile
from .recipes import (BY_NOTEBOOK, EXPERIMENTS, NOTEBOOKS_DIR, REPO_ROOT, REPORT_RESULTS, cell_differences,
                      describe_differences, notebook_recipe, outside_the_report, parameters_cell, parameters_cell_of,
                      profile_differences, recipe_lines, recipe_path, repo_relative, saved_parameters,
                      undeclared_recipe_keys)
from .results import ResultError, load_result
from .store import ExperimentRun
from .tables import results_markdown


def parse_value(text: str):
    """A command-line value the way papermill's ``-p`` reads it: bool, None, int, float, else str."""
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text in ("None", "none"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def notebook_names(only: list[str] | None) -> list[str]:
    names = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
    if not only:
        return names
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ConfigError(f"--only names unknown notebooks {unknown}; use some of {', '.join(names)}.")
    return [n for n in names if n in only]


def plan(names: list[str], profile: str, overrides: dict) -> dict[str, dict]:
    """Parameters to inject into each notebook: its profile's differences, then the overrides it declares.

    A name that none of the notebooks declares is refused (papermill itself would only warn)."""
    for name in names:
        undeclared_recipe_keys(name)
    declared = {n: set(notebook_recipe(n)) for n in names}
    unused = sorted(set(overrides) - set().union(*declared.values()))
    if unused:
        known = sorted(set().union(*declared.values()))
        raise ConfigError(f"parameter {unused[0]!r} is not a parameter of {', '.join(names)}; "
                          f"use one of {', '.join(known)}.")
    params = {}
    for name in names:
        values = profile_differences(profile, name)
        stray = sorted(set(values) - declared[name])
        if stray:
            raise ConfigError(f"profiles/{profile}/{name}.yaml sets {stray[0]!r}, which {name} does not declare; "
                              f"remove it from the profile.")
        values.update({k: v for k, v in overrides.items() if k in declared[name]})
        params[name] = values
    return params


def check_values(params: dict[str, dict]) -> None:
    """What a notebook checks in its first cells, checked for every notebook before any runs, on its recipe with the
    values injected over it: a device named explicitly (device cuda) must exist on this machine, even where a
    notebook would only load a stored result; notebook 03's compare_with must name a profile; notebook 00's
    worked examples must be well formed ("auto" devices always resolve)."""
    for name, values in params.items():
        full = {**notebook_recipe(name), **values}
        if full.get("device") in DEVICES:
            resolve_device(full["device"])
        if "compare_with" in full:
            from .experiment import check_compare_with
            check_compare_with(full["compare_with"])
        if name == THEORY_NOTEBOOK:
            from . import theory
            theory.check_parameters(**{k: full[k] for k in inspect.signature(theory.check_parameters).parameters})


def check_outputs(params: dict[str, dict]) -> list[ExperimentRun]:
    """Where each experiment notebook would write its result and figures (``recipes.output_dirs``), and
    every other run option, are checked before any work; returns the experiments' runs."""
    return [ExperimentRun.from_parameters(BY_NOTEBOOK[name].name, {**notebook_recipe(name), **values})
            for name, values in params.items() if name in BY_NOTEBOOK]


def stored_run(name: str, params: dict, base: dict | None = None) -> tuple[ExperimentRun | None, dict | None]:
    """The experiment a notebook run with ``params`` (injected over ``base``, default: the notebook's recipe)
    trains or loads, and its stored result (None when there is none or it is unusable); (None, None) for a
    notebook that trains nothing."""
    info = BY_NOTEBOOK.get(name)
    if info is None:
        return None, None
    exp = ExperimentRun.from_parameters(info.name, {**(notebook_recipe(name) if base is None else base), **params})
    try:
        return exp, load_result(exp.path)
    except ResultError:
        return exp, None


def accuracy_summary(name: str, params: dict, base: dict | None = None) -> str:
    """The test accuracy of the result a notebook run used, read from its stored result ("" for none)."""
    result = stored_run(name, params, base)[1]
    if result is None:
        return ""
    correct, total = overall_counts(result["confusion"])
    return f"test accuracy {100 * correct / total:.2f}% ({correct}/{total})"


NEAR_CHANCE_POINTS = 5.0  # a run within this many points of guessing (100 / classes %) learned nothing


def near_chance(name: str, result: dict | None) -> str | None:
    """A warning when ``result``'s test accuracy is within NEAR_CHANCE_POINTS of chance (a run that collapsed or
    diverged: its figures show noise), else None."""
    if result is None:
        return None
    correct, total = overall_counts(result["confusion"])
    chance = 100 / len(result["classes"])
    if 100 * correct / total >= chance + NEAR_CHANCE_POINTS:
        return None
    return (f"warning: {name} ended at {100 * correct / total:.2f}% test accuracy, near chance ({chance:g}%): the "
            f"network did not learn; try a lower lr, or more epochs, before reading its figures.")


def where_it_went(exp: ExperimentRun, output_dir: Path, profile: str) -> str:
    """For a run that is not published: that it is a variant (or a profile's run) and where its notebook,
    result and figures went."""
    what = "variant of the report" if profile == "report" else f"{profile} profile's run"
    return (f"       {what}, not published: notebook {repo_relative(output_dir)}/{exp.info.notebook}.ipynb, result "
            f"{repo_relative(exp.path)}, figures {repo_relative(exp.figures_dir)}/")


RUNNING_SUFFIX = ".tmp.ipynb"  # a notebook being run: .<name>.ipynb.<pid>.<random>.tmp.ipynb (papermill wants .ipynb)
SOURCE_SUFFIX = ".source.ipynb"  # what a publishing run executes: its notebook with the recipe's parameters cell


RECIPE_MARK = "recipe_sha256"  # parameters-cell metadata: the sha256 of the source published from the recipe


def source_sha(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def edited_since_published(name: str) -> bool:
    """True when ``notebooks/<name>.ipynb``'s parameters cell is not the one the report last published from
    the recipe (a user's saved edit); False when it is that cell, even if the recipe changed since."""
    cell = parameters_cell_of(json.loads((NOTEBOOKS_DIR / f"{name}.ipynb").read_text()))
    return cell is not None and cell.get("metadata", {}).get(RECIPE_MARK) != source_sha("".join(cell["source"]))


def with_recipe_cell(name: str, folder: Path, saved: bytes) -> Path:
    """A copy of the notebook ``name`` as ``saved`` (the bytes of ``notebooks/<name>.ipynb`` this run read) in
    ``folder``, its parameters cell drawn from its recipe (and marked as such), for a publishing run to execute."""
    nb = nbformat.reads(saved.decode(), as_version=4)
    cell = parameters_cell_of(nb)
    if cell is not None and recipe_path(name).is_file():
        cell.source = parameters_cell(name)
        cell.metadata[RECIPE_MARK] = source_sha(cell.source)
    copy = Path(new_temp(folder / f"{name}.ipynb", suffix=SOURCE_SUFFIX))
    try:
        copy.write_text(nbformat.writes(nb))
    except OSError as exc:  # a full disk: no empty copy is left behind
        copy.unlink()
        raise full_folder(folder, exc) from exc
    return copy


def full_folder(folder: Path, exc: OSError) -> OutputError:
    """The output folder could not be written (a full disk): one sentence naming it and the fix."""
    return OutputError(f"cannot write into the output folder {folder} ({exc.strerror}); free space there or choose "
                       f"another --output-dir.")


def run_notebook(name: str, params: dict, output_dir: Path, source: Path | None = None,
                 base: dict | None = None) -> tuple[bool, str, nbformat.NotebookNode | None]:
    """Execute one notebook (``source``, default ``notebooks/<name>.ipynb``) into a file of this run's own,
    moved to ``<output_dir>/<name>.ipynb`` when it succeeds and to ``<name>.failed.ipynb`` when it fails
    (the last good copy stays; an older failed copy goes when this run leaves none); return success, the
    one-line detail, and the executed notebook exactly as this run left it."""
    source, target = source or NOTEBOOKS_DIR / f"{name}.ipynb", output_dir / f"{name}.ipynb"
    running, ok, full = new_temp(target, suffix=RUNNING_SUFFIX), False, False
    try:
        nb = papermill.execute_notebook(str(source), running, parameters=params, kernel_name="python3",
                                        progress_bar=False, cwd=str(NOTEBOOKS_DIR),
                                        kernel_manager_class=QuietKernelManager)
        ok = True
        return True, accuracy_summary(name, params, base), nb
    except papermill.PapermillExecutionError as exc:
        return False, f"In [{exc.exec_count}]: {exc.ename}: {exc.evalue}", None  # as the notebook shows the cell
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            return False, f"{type(exc).__name__}: {exc}", None
        full = True  # the executed copy could not be written: no truncated copy is kept
        raise full_folder(output_dir, exc) from exc
    except Exception as exc:  # a dead kernel, a timeout, an unreadable notebook: still one FAILED line
        return False, f"{type(exc).__name__}: {exc}", None
    finally:
        failed, executed = output_dir / f"{name}.failed.ipynb", not full and os.path.getsize(running) > 0
        if executed:
            os.replace(running, target if ok else failed)
        else:
            os.unlink(running)
        if ok or not executed:
            failed.unlink(missing_ok=True)  # an older failure: fixed now, or not what this run did


def publish(name: str, nb: nbformat.NotebookNode, saved: bytes) -> bool:
    """Replace ``notebooks/<name>.ipynb`` with the executed notebook ``nb``, volatile parts removed, unless the
    file is no longer ``saved`` (the bytes this run read when it started): False then, the edit kept."""
    path = NOTEBOOKS_DIR / f"{name}.ipynb"
    if path.read_bytes() != saved:
        return False
    strip_volatile(nb)
    atomic_write_bytes(path, nbformat.writes(nb).encode() + b"\n")
    return True


VARIANT_DIRS = {"results_dir": "build/results", "figures_dir": "build/figures/{name}-variant"}


def variant_of(name: str, params: dict) -> tuple[dict, str]:
    """For a notebook whose saved parameters cell was edited: the parameters to inject so that its outputs go
    under build/ (never into the committed report), and the line that says so."""
    declared = saved_parameters(name)
    moved = {k: v.format(name=name) for k, v in VARIANT_DIRS.items() if k in declared and k not in params}
    recipe = recipe_path(name)
    line = (f"{name}: its saved parameters cell differs from {recipe.relative_to(recipe.parents[2])} "
            f"({describe_differences(cell_differences(name))}); it runs as a variant with its outputs under build/, "
            f"and the committed report stays as it is (change the recipe file to change the report).")
    return {**params, **moved}, line


def results_table(profile: str) -> str:
    """Markdown table of the stored results of a profile beside the original report's numbers: each found where
    a run of the profile stores it (build/results/ for most), else in results/, where the sweep stores every
    study run (the quick profile's final runs among them)."""
    def stored(name: str) -> dict | None:
        found = (ExperimentRun.stored(name, profile, results_dir=folder, required=False).result
                 for folder in ("auto", REPORT_RESULTS))
        return next((result for result in found if result is not None), None)
    return results_markdown({name: stored(name) for name in EXPERIMENTS})


def literal(value) -> str:
    """A value as the parameters cell writes it (strings in double quotes)."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def parameters_help(names: list[str]) -> str:
    """The notebooks' parameters for --help: each name, its value in each notebook's recipe that declares
    it (``profiles/report/<notebook>.yaml``), and the recipe's comment on it."""
    lines_of = {name: recipe_lines(recipe_path(name)) if recipe_path(name).is_file() else [] for name in names}
    defaults = {name: {p: v for p, v, _ in lines_of[name]} for name in names}
    short = {name: name.split("_")[0] for name in names}
    with_parameters = [name for name in names if defaults[name]]
    lines = ["notebook parameters (-p NAME VALUE; VALUE is read as papermill -p reads it: True, False, None, "
             "a number, else text).",
             "Defaults are the recipes in profiles/report/: "
             + ", ".join(f"{short[n]} = {n}" for n in with_parameters)
             + "".join(f"; {n} has none" for n in names if not defaults[n]) + ".", ""]
    # each parameter's "# comment", with the notebooks that say it
    comments: dict[str, dict[str, list[str]]] = {}
    for name in with_parameters:
        for param, _, comment in lines_of[name]:
            if comment:
                comments.setdefault(param, {}).setdefault(comment.lstrip("# "), []).append(short[name])
    order = list(dict.fromkeys(p for name in with_parameters for p in defaults[name]))
    for param in order:
        by_value: dict[str, list[str]] = {}
        for name in with_parameters:
            if param in defaults[name]:
                by_value.setdefault(literal(defaults[name][param]), []).append(short[name])
        declared_by_all = sum(map(len, by_value.values())) == len(with_parameters)
        values = (next(iter(by_value)) if len(by_value) == 1 and declared_by_all
                  else ", ".join(f"{value} ({', '.join(where)})" for value, where in by_value.items()))
        lines.append(f"  {param:16s}{values}")
        said = comments.get(param, {})
        for comment, where in said.items():  # notebooks that mean different things by one name each say theirs
            lines.append(f"  {'':16s}  {comment}" + (f" ({', '.join(where)})" if len(said) > 1 else ""))
    return "\n".join(lines) + "\n"


THEORY_NOTEBOOK = "00_theory"  # Part 1: no training; its parameters are worked examples (theory.check_parameters)
README_FILE = REPO_ROOT / "README.md"  # its blocks of results: ``write_readme``


def write_readme(path: Path) -> bool:
    """Rewrite README.md's blocks of results from the stored runs: the study's table and verdicts
    (``conclusions.readme_text``), the quick profile's table (``quick.readme_text``) and the findings
    (``prose.readme_findings``); True when it changed. ValueError naming the marker when a block's markers are
    missing or repeated (``conclusions.with_readme_block``); nothing is written then."""
    from . import conclusions, prose, quick, study
    check_not_read_only(path)  # said before the seconds of computing what could not be written
    text = path.read_text(encoding="utf-8")
    for markers in ((conclusions.README_START, conclusions.README_END), quick.README_MARKERS, prose.README_MARKERS):
        conclusions.readme_block(text, markers)  # each block's markers, checked before anything is computed
    updated = conclusions.with_readme_block(text, conclusions.readme_text(study.load()))
    updated = conclusions.with_readme_block(updated, quick.readme_text(quick.load()), quick.README_MARKERS)
    updated = conclusions.with_readme_block(updated, prose.readme_findings(), prose.README_MARKERS)
    if updated == text:
        return False
    atomic_write_bytes(path, updated.encode("utf-8"))
    return True


def where_it_failed(failed: list[str], output_dir: Path, shown_as: str) -> str:
    """The end of the runner's last line: the ``<name>.failed.ipynb`` copies this run left in ``output_dir``
    (written as the user gave it, ``shown_as``); for a notebook without one (its kernel never ran a cell, or it
    ran but was not published), its FAILED line above, which says why."""
    has_copy = {name: (output_dir / f"{name}.failed.ipynb").is_file() for name in failed}
    copies = [f"{shown_as}/{name}.failed.ipynb" for name in failed if has_copy[name]]
    others = [name for name in failed if not has_copy[name]]
    parts = [f"{', '.join(copies)} show{'s' * (len(copies) == 1)} where"] if copies else []
    if others:
        parts.append(f"the FAILED line{'s' * (len(others) > 1)} above say{'s' * (len(others) == 1)} why"
                     + (f" for {', '.join(others)}" if copies else ""))
    return "; ".join(parts)


class _Parser(Parser):
    def print_help(self, file=None) -> None:  # the notebooks are read only when help is asked for
        try:
            listed = parameters_help(notebook_names(None))
        except ConfigError as exc:  # the help still prints; the unreadable recipe or notebook is named on stderr
            super().print_help(file)
            print(f"warning: the notebooks' parameters cannot be listed: {exc}", file=sys.stderr)
            return
        self._print_message(self.format_help() + "\n" + listed, file or sys.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m cifar_utils.report", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="report",
                        help="report (the notebooks' parameters cells), or profiles/<name>/ (faithful, quick, smoke)")
    parser.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="run only these notebooks (e.g. 01_baseline)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a notebook parameter, as papermill -p does")
    parser.add_argument("--output-dir", default="build/notebooks", help="where executed copies go")
    parser.add_argument("--keep-going", action="store_true", help="run the next notebooks after a failure")
    parser.add_argument("--table", action="store_true",
                        help="print the profile's stored results as a Markdown table and run nothing")
    args = parser.parse_args(argv)
    if args.table:
        try:
            print(results_table(args.profile))
        except (ConfigError, ResultError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0

    overrides = {name: parse_value(value) for name, value in args.parameter}
    # Options that do not change any result may be given without losing the right to publish.
    publishing = args.profile == "report" and set(overrides) <= {"data_dir", "download", "retrain"}
    try:
        names = notebook_names(args.only)
        params = plan(names, args.profile, overrides)
        # A notebook whose saved parameters cell was edited runs as a variant, with its own values.
        variants = [name for name in names if publishing and cell_differences(name) and edited_since_published(name)]
        check_values(params)
        if any(name in BY_NOTEBOOK for name in names):  # their sentences and tables read the study files
            from . import quick, study
            study.load(), quick.load()
        runs = check_outputs(params)
        output_dir = ensure_writable_dir(outside_the_report("--output-dir", args.output_dir))
        runs += [ExperimentRun.from_parameters(BY_NOTEBOOK[name].name, {**saved_parameters(name), **params[name]})
                 for name in variants if name in BY_NOTEBOOK]
        for run in runs:  # last: a notebook that only loads stored results needs no data
            run.check_data()
    except (ConfigError, OutputError, DataError, ResultError, OSError) as exc:  # ResultError: a newer result
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in notebook_names(None):  # what runs killed here before left (a live run's temps stay)
        for suffix in (RUNNING_SUFFIX, SOURCE_SUFFIX):
            remove_stale_temps(output_dir, f"{name}.ipynb", suffix=suffix)

    failed = []
    for name in names:
        start = time.perf_counter()
        publishes, values, variant = publishing, params[name], False
        if name in variants:
            publishes, variant = False, True
            values, line = variant_of(name, values)
            print(line, flush=True)
        # A run that publishes holds its notebook's lock, so two of them never interleave.
        try:
            with locked(output_dir / f".{name}.lock") if publishes else contextlib.nullcontext():
                saved = (NOTEBOOKS_DIR / f"{name}.ipynb").read_bytes()
                source = None if variant else with_recipe_cell(name, output_dir, saved)  # others: from the recipe
                try:
                    ok, detail, nb = run_notebook(name, values, output_dir, source,
                                                  saved_parameters(name) if variant else None)
                    if ok and publishes and not publish(name, nb, saved):
                        ok, detail = False, (f"notebooks/{name}.ipynb changed while this run executed it, so it was "
                                             f"not published (the executed copy is {output_dir / name}.ipynb); "
                                             f"run again to publish it with the change.")
                finally:
                    if source is not None:
                        source.unlink(missing_ok=True)
        except OutputError as exc:  # a full disk: every notebook after it would fail alike
            print(f"error: {exc}", file=sys.stderr)
            return 1
        seconds = time.perf_counter() - start
        print(f"{'ok' if ok else 'FAILED':6s} {name:26s} {seconds:7.1f} s  {detail}", flush=True)
        if ok and name in BY_NOTEBOOK:
            exp, result = stored_run(name, values, saved_parameters(name) if variant else None)
            if not publishes:
                print(where_it_went(exp, output_dir, args.profile), flush=True)
            if warning := near_chance(name, result):
                print(warning, file=sys.stderr, flush=True)
        if not ok:
            failed.append(name)
            if not args.keep_going:
                break
    if failed:
        print(f"error: {', '.join(failed)} failed; {where_it_failed(failed, output_dir, args.output_dir)}.",
              file=sys.stderr)
        return 1
    if publishing and not variants:  # what was published is the report: README's numbers follow results/
        try:
            if write_readme(README_FILE):
                print(f"wrote the blocks of results in {README_FILE.name}", flush=True)
        except (ValueError, OSError, OutputError) as exc:  # OutputError: README.md read-only, or a full disk
            print(f"error: README.md was not updated: {str(exc).rstrip('.')}.", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
