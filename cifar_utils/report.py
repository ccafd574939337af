"""Regenerate the report: execute the notebooks in order with papermill.

    python -m cifar_utils.report                       # the report profile: load stored results, redraw
    python -m cifar_utils.report --profile smoke -p data_dir /tmp/tiny -p results_dir /tmp/r
    python -m cifar_utils.report --only 02_alexnet_sgd -p retrain True

Each run executes a notebook into a temp file of its own, moved to ``build/notebooks/<name>.ipynb``
when done (pytest does not collect ``build/``). With the report profile and no ``-p`` overrides other
than data_dir, download and retrain, each notebook that succeeds also replaces
``notebooks/<name>.ipynb`` with exactly what this run executed (its outputs are the report), less
papermill's timestamps and any progress bar (``nbclean``), so an unchanged run leaves no diff; such a run
holds the notebook's lock, so two report runs at once take turns and never publish each other's notebook.
Prints one line per notebook (status, seconds, test accuracy) and nothing else when all goes well; exits 1
naming the notebook and cell that failed, 2 for bad arguments. ``--help`` lists the notebooks' parameters.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import papermill
from jupyter_client import AsyncKernelManager
from papermill.translators import PythonTranslator

from .config import DEVICES, ConfigError
from .evaluate import overall_counts
from .experiment import Experiment
from .hardware import resolve_device
from .io import OutputError, atomic_write_bytes, ensure_writable_dir, locked, new_temp
from .nbclean import strip_volatile
from .recipes import BY_NOTEBOOK, EXPERIMENTS, NOTEBOOKS_DIR, REPO_ROOT, notebook_parameters, profile_differences
from .results import ResultError, load_result
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
    declared = {n: set(notebook_parameters(n)) for n in names}
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


def check_devices(params: dict[str, dict]) -> None:
    """A device named explicitly (-p device cuda) must exist on this machine, even where a notebook would
    only load a stored result and never use it: every check runs before any work. "auto" always resolves."""
    for values in params.values():
        if values.get("device") in DEVICES:
            resolve_device(values["device"])


def accuracy_summary(name: str, params: dict) -> str:
    """The test accuracy of the result a notebook run used, read from its stored result ("" for none)."""
    info = BY_NOTEBOOK.get(name)
    if info is None:
        return ""
    exp = Experiment.from_parameters(info.name, {**notebook_parameters(name), **params})
    try:
        result = load_result(exp.path)
    except ResultError:
        return ""
    if result is None:
        return ""
    correct, total = overall_counts(result["confusion"])
    return f"test accuracy {100 * correct / total:.2f}% ({correct}/{total})"


class QuietKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, less the two messages a successful run used to print on stderr:

    - "Kernel is running over TCP without encryption": the kernel's sockets are encrypted (CurveZMQ)
      where its kernelspec declares support, as ipykernel's does; elsewhere the warning stays;
    - "KeyboardInterrupt caught in kernel": jupyter_client interrupts a kernel before shutting it down,
      and a SIGINT that lands while the kernel handles a message is logged as an error. The runner shuts a
      kernel down only after its last cell finished or failed, so there is nothing to interrupt: a
      kernel still busy is stopped by the shutdown request, then by a signal, as before."""

    def __init__(self, **kwargs):
        kwargs.setdefault("transport_encryption", "auto")
        super().__init__(**kwargs)

    async def _async_interrupt_kernel(self) -> None:
        if not self.shutting_down:
            await super()._async_interrupt_kernel()


RUNNING_SUFFIX = ".tmp.ipynb"  # a notebook being executed: .<name>.ipynb.<random>.tmp.ipynb (papermill wants .ipynb)


def run_notebook(name: str, params: dict, output_dir: Path) -> tuple[bool, str, nbformat.NotebookNode | None]:
    """Execute one notebook into a file of this run's own (moved to ``<output_dir>/<name>.ipynb`` when
    done); return success, the one-line detail, and the executed notebook exactly as this run left it."""
    source, target = NOTEBOOKS_DIR / f"{name}.ipynb", output_dir / f"{name}.ipynb"
    running = new_temp(target, suffix=RUNNING_SUFFIX)
    try:
        nb = papermill.execute_notebook(str(source), running, parameters=params, kernel_name="python3",
                                        progress_bar=False, cwd=str(NOTEBOOKS_DIR),
                                        kernel_manager_class=QuietKernelManager)
        return True, accuracy_summary(name, params), nb
    except papermill.PapermillExecutionError as exc:
        return False, f"cell {exc.cell_index}: {exc.ename}: {exc.evalue}", None
    except Exception as exc:  # a dead kernel, a timeout, an unreadable notebook: still one FAILED line
        return False, f"{type(exc).__name__}: {exc}", None
    finally:
        if os.path.getsize(running):
            os.replace(running, target)
        else:
            os.unlink(running)


def publish(name: str, nb: nbformat.NotebookNode) -> None:
    """Replace ``notebooks/<name>.ipynb`` with the executed notebook ``nb``, volatile parts removed."""
    strip_volatile(nb)
    atomic_write_bytes(NOTEBOOKS_DIR / f"{name}.ipynb", nbformat.writes(nb).encode() + b"\n")


def results_table(profile: str) -> str:
    """Markdown table of the stored results of a profile beside the original report's numbers."""
    return results_markdown({name: Experiment.stored(name, profile, required=False).result for name in EXPERIMENTS})


def literal(value) -> str:
    """A value as the parameters cell writes it (strings in double quotes)."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def parameters_help(names: list[str]) -> str:
    """The notebooks' parameters for --help: each name, its default in each notebook that declares it
    (read from the parameters cells, as the runner reads them), and the cell's comment on it."""
    defaults = {name: notebook_parameters(name) for name in names}
    short = {name: name.split("_")[0] for name in names}
    with_parameters = [name for name in names if defaults[name]]
    lines = ["notebook parameters (-p NAME VALUE; VALUE is read as papermill -p reads it: True, False, None, "
             "a number, else text).",
             "Defaults are the notebooks' parameters cells: "
             + ", ".join(f"{short[n]} = {n}" for n in with_parameters)
             + "".join(f"; {n} has none" for n in names if not defaults[n]) + ".", ""]
    # each parameter's "# comment", as papermill --help-notebook reads it, with the notebooks that say it
    comments: dict[str, dict[str, list[str]]] = {}
    for name in with_parameters:
        nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        for param in PythonTranslator.inspect(cell):
            if param.help:
                comments.setdefault(param.name, {}).setdefault(param.help, []).append(short[name])
    order = list(dict.fromkeys(p for name in with_parameters for p in defaults[name]))
    for param in order:
        by_value: dict[str, list[str]] = {}
        for name in with_parameters:
            if param in defaults[name]:
                by_value.setdefault(literal(defaults[name][param]), []).append(short[name])
        declared_by_all = sum(map(len, by_value.values())) == len(with_parameters)
        shown = (next(iter(by_value)) if len(by_value) == 1 and declared_by_all
                 else ", ".join(f"{value} ({', '.join(where)})" for value, where in by_value.items()))
        lines.append(f"  {param:16s}{shown}")
        said = comments.get(param, {})
        for comment, where in said.items():  # notebooks that mean different things by one name each say theirs
            lines.append(f"  {'':16s}  {comment}" + (f" ({', '.join(where)})" if len(said) > 1 else ""))
    return "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    def format_help(self) -> str:  # the notebooks are read only when help is asked for
        return super().format_help() + "\n" + parameters_help(notebook_names(None))


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m cifar_utils.report", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="report",
                        help="report (the notebooks' parameters cells), or profiles/<name>/ (faithful, smoke)")
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
    try:
        names = notebook_names(args.only)
        params = plan(names, args.profile, overrides)
        check_devices(params)
        output_dir = ensure_writable_dir(REPO_ROOT / args.output_dir)
    except (ConfigError, OutputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Options that do not change any result may be given without losing the right to publish.
    publishing = args.profile == "report" and set(overrides) <= {"data_dir", "download", "retrain"}

    failed = []
    for name in names:
        start = time.perf_counter()
        # A run that publishes holds its notebook's lock, so two of them never interleave.
        with locked(output_dir / f".{name}.lock") if publishing else contextlib.nullcontext():
            ok, detail, nb = run_notebook(name, params[name], output_dir)
            if ok and publishing:
                publish(name, nb)
        seconds = time.perf_counter() - start
        print(f"{'ok' if ok else 'FAILED':6s} {name:26s} {seconds:7.1f} s  {detail}", flush=True)
        if not ok:
            failed.append(name)
            if not args.keep_going:
                break
    if failed:
        print(f"error: {', '.join(failed)} failed; the executed copies in {args.output_dir}/ show where.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
