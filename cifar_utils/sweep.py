"""Run every missing run of the study (``study``): tuning on the validation split, then the final seeds.

    python -m cifar_utils.sweep -p data_dir ../shared/cifar10               # all stages, one run at a time
    python -m cifar_utils.sweep --stage final --jobs 2 -p data_dir DATA      # two runs at once, cores shared
    python -m cifar_utils.sweep --executor slurm --slurm-partition gpu ...   # each run a Slurm job (submitit)
    python -m cifar_utils.sweep --study profiles/study_quick.yaml            # the quick profile: tries, five seeds
    python -m cifar_utils.sweep --cells baseline sgd -p data_dir DATA        # only these cells' runs
    python -m cifar_utils.sweep --dry-run                                    # what is stored, what would run
    python -m cifar_utils.sweep --summary                                    # the stored final runs: table, verdicts
    python -m cifar_utils.sweep --list                                       # every stored run: file, cell, seed, accuracy

The study is ``profiles/study.yaml`` (``--study FILE`` for another). Stages: ``tune`` (every cell's
grid of learning rates on the validation split), ``adopt`` (write the rates that ``Study.choose``
picks into the recipe or study file, ``Study.adopt``), ``final`` (every cell x seed on the test set), ``all`` (the three in order; when a final run diverged at an adopted rate, adopt
again and run the new rate's seeds). Each run is its own process and stores its result when it ends,
or a divergence record when its training loss became NaN or infinite (``study.record_divergence``);
stored and diverged runs are skipped, and so are runs at a rate that diverged in another run, so a
killed sweep started again loses at most the run in progress (which itself resumes from its last
epoch's checkpoint). One line per finished run, with an estimate of the time left. Exits 1 when a
run failed (a divergence is not a failure), 2 for bad arguments or when every rate of a grid diverged.
``--dry-run`` also estimates the training time left from the stored runs' times.

Ctrl-C (SIGINT) or SIGTERM stops the sweep: no run starts after it, the children training end (a run
resumes from its last checkpoint when the sweep starts again) and it exits 128 + the signal's number,
with one line saying so. A child also ends when its sweep is gone (kill -9). Each child holds its log
locked while it runs: a second sweep that reaches the same run waits for it instead of writing there.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import torch

from . import study, study_results
from .config import ConfigError, Parser
from .data import DataError, check_available
from .files import OutputError, atomic_write_bytes, check_writable_dir
from .hardware import cpu_has_fast_bf16
from .recipes import REPO_ROOT, outside_the_report, repo_path, repo_relative, set_recipe_value
from .results import ResultError, accuracy, load_result
from .sweep_children import STOP, follow_the_sweep, launch, outcome_of, run_one, submit_slurm


def duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{max(minutes, 1)} min"


def estimate(run: study.Run, known: list[tuple[study.Run, float]]) -> float:
    """Guessed training seconds of ``run`` from ``known`` (finished runs and their seconds): the mean of its
    cell's runs on the same split, else the seconds per epoch of runs of the same network and batch size
    times its epochs, else the mean of every known run; 0 when nothing is known."""
    def same(r: study.Run, *fields) -> bool:
        return all(getattr(r.config, f) == getattr(run.config, f) for f in fields)
    cell = [s for r, s in known if r.cell.name == run.cell.name and same(r, "evaluate_on", "epochs")]
    if cell:
        return statistics.fmean(cell)
    for fields in (("model", "batch_size"), ("model",)):
        network = [s / r.config.epochs for r, s in known if same(r, *fields)]
        if network:
            return statistics.fmean(network) * run.config.epochs
    return statistics.fmean(s for _, s in known) if known else 0.0


def emulated_bf16(run: study.Run) -> bool:
    """Whether ``run`` would train in bf16 emulated on this CPU (no GPU, no native bf16 instructions): the stored
    runs' times, taken where bf16 was native, say nothing of it."""
    return (run.config.precision == "bf16" and run.config.device in ("auto", "cpu") and not torch.cuda.is_available()
            and not cpu_has_fast_bf16())


class Progress:
    """One line per finished run: index, run, its outcome (accuracy; diverged; skipped; FAILED), seconds,
    estimated time left (``estimate``, from this sweep's completed runs and the stored ones, ``prior``)."""

    def __init__(self, todo: list[study.Run], stored: int, prior: list[tuple[study.Run, float]] | None = None):
        self.todo, self.done, self.stored, self.known = todo, 0, stored, list(prior or [])

    def finished(self, run: study.Run, outcome: str, detail: str, seconds: float) -> None:
        self.done += 1
        if outcome == "ok":  # a diverged, skipped or failed run's time says nothing about a whole run
            self.known.append((run, seconds))
        left = self.todo[self.done:] if len(self.todo) > self.done else []
        eta = sum(estimate(r, self.known) for r in left)
        if outcome == "ok":
            status = f"{accuracy(load_result(run.path)):.2f}%"
        else:
            status = f"{outcome if outcome in ('diverged', 'skipped') else 'FAILED'} ({detail})"
        rest = (f"about {duration(eta)} left" if eta else "time left unknown") if left else "done"
        print(f"[{self.stored + self.done}/{self.stored + len(self.todo)}] {run.describe()}: {status} in "
              f"{seconds:.0f} s; {rest}", flush=True)


def stored_times(the_study: study.Study) -> list[tuple[study.Run, float]]:
    """(run, training seconds) of every stored run of the study, tuning and final."""
    stored = study.stored(the_study.tuning_runs() + the_study.final_runs())
    return [(run, result["train_seconds"]) for run, result in stored.items() if result is not None]


def missing(runs: list[study.Run]) -> list[study.Run]:
    """The runs without a usable stored result (an unusable one is named and trained again; schema 1 kept no
    predictions: run again). A run whose training diverged has an outcome (``study.record_divergence``)."""
    return [run for run in runs
            if study.divergence(run) is None and "predictions" not in (study.stored_result(run) or {})]


def execute(runs: list[study.Run], args, the_study: study.Study) -> bool:
    """Train the missing runs of ``runs``; True unless a run failed or the sweep was stopped (a run that
    diverged is an outcome, and a run is skipped, not failed, when another run at its cell's rate diverged)."""
    if STOP.signum:  # it came between two stages
        return False
    todo = missing(runs)
    diverged = sum(study.divergence(run) is not None for run in runs)
    print(f"{len(runs) - len(todo)} of {len(runs)} runs stored" + (f" ({diverged} diverged)" if diverged else "")
          + f"; {len(todo)} to run.", flush=True)
    prior = stored_times(the_study)
    if args.dry_run or not todo:
        for run in todo:
            print(f"  would run: {run.describe()} -> {repo_relative(run.path)}")
        slow = [run for run in todo if emulated_bf16(run)]
        guesses = [estimate(run, prior) for run in todo if run not in slow]
        if slow:
            print(f"  {len(slow)} bf16 run{'s' * (len(slow) != 1)} not estimated: this CPU has no native bfloat16, "
                  f"where bf16 trains many times slower than fp32 (docs/study.md); run them on a machine with "
                  f"native bf16 or a GPU", flush=True)
        if any(guesses):
            print(f"  expected training time: about {duration(sum(guesses))} (from the stored runs' times"
                  + (f"; {sum(g == 0 for g in guesses)} runs with nothing to go by" if 0 in guesses else "")
                  + "), one run at a time", flush=True)
        elif todo:
            print("  expected training time: unknown (no stored run to go by)", flush=True)
        return True
    if args.executor == "local":  # before the first run: no data, or nowhere to store, would fail every run alike
        check_available(args.data_dir)
        for folder in sorted({run.path.parent for run in todo}):
            check_writable_dir(folder)
    progress = Progress(todo, len(runs) - len(todo), prior)
    failures = 0
    if args.executor == "slurm":
        options = {"timeout_min": args.timeout_min, "cpus_per_task": args.cpus_per_task, "gpus_per_node": args.gpus,
                   "slurm_partition": args.slurm_partition, "cluster": args.cluster}
        options = {k: v for k, v in options.items() if v is not None}
        jobs = submit_slurm(todo, args.data_dir, options, the_study.logs_dir.parent / "sweep-jobs")
        for run, job in jobs:
            start = time.perf_counter()
            while not STOP.signum and not job.done():
                time.sleep(1)
            if STOP.signum:
                for _, job in jobs:
                    job.cancel(check=False)
                return False
            try:
                job.result()
                outcome, detail = "ok", ""
            except Exception as exc:  # submitit's FailedJobError / UncompletedJobError; a divergence left its record
                outcome, detail = outcome_of(run, False, f"{type(exc).__name__}; logs in {repo_relative(the_study.logs_dir.parent / 'sweep-jobs' / str(job.job_id))}")
            failures += outcome == "failed"
            progress.finished(run, outcome, detail, time.perf_counter() - start)
        return failures == 0
    threads = max(1, (os.cpu_count() or 1) // args.jobs)  # each run its share of the cores
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        def timed(run):
            if STOP.signum:
                return run, "stopped", "", 0.0
            if (run.cell.lr_from or run.cell.name, run.config.lr) in the_study.unstable_rates():  # diverged in another run
                return run, "skipped", f"lr {run.config.lr:g} diverged in another run", 0.0
            start = time.perf_counter()
            outcome, detail = launch(run, args.data_dir, threads, the_study.logs_dir)
            if outcome == "failed" and STOP.signum:  # ended by the stop: it resumes when the sweep starts again
                outcome = "stopped"
            return run, outcome, detail, time.perf_counter() - start
        for future in as_completed([pool.submit(timed, run) for run in todo]):
            run, outcome, detail, seconds = future.result()
            failures += outcome == "failed"  # a divergence is an outcome, recorded; a skipped run waits for adopt
            if outcome != "stopped":
                progress.finished(run, outcome, detail, seconds)
    return failures == 0 and not STOP.signum


def adopt(the_study: study.Study, dry_run: bool, say=print) -> bool:
    """Write the learning rates that tuning chose into the recipe or study file (``Study.adopt``), saying
    each choice with ``say``; True when one of them changed (a final run diverged at the rate adopted
    before, or a cell had none)."""
    log = the_study.tuning_log()
    if dry_run and any(row["validation accuracy (%)"] is None and not row["diverged"] for row in log):
        print("would write the chosen learning rates once tuning is done")
        return False
    unstable = the_study.unstable_rates()
    changed = False
    for name, lr in the_study.choose(log, unstable=unstable).items():
        cell = the_study.cell(name)
        left_out = [f"{r:g}" for r in cell.grid if (name, r) in unstable]
        say(f"{cell.label}: lr = {lr:g} (highest mean validation accuracy of {', '.join(map(str, cell.grid))}"
              + (f"; left out, diverged: {', '.join(left_out)}" if left_out else "") + ")")
        if cell.lr != lr:
            changed = True
            if not dry_run:
                the_study.adopt(name, lr)
    return changed


def pending_estimate(the_study: study.Study, names: list[str]) -> str:
    """What the final runs of cells still without a rate will cost, from the stored runs' times (at any rate of
    their grid: a run's time does not depend on its rate)."""
    pending = []
    for name in names:
        cell = the_study.cell(name)
        grid = cell.grid or the_study.cell(cell.lr_from).grid
        pending += [study.Run(cell, cell.config(seed, lr=grid[0]), the_study.results_dir) for seed in cell.seeds]
    guesses = [estimate(run, stored_times(the_study)) for run in pending]
    if not pending:
        return "  they have no final runs (tries)"
    return (f"  their {len(pending)} final runs: about {duration(sum(guesses))} more (from the stored runs' times)"
            if all(guesses) else f"  their {len(pending)} final runs: time unknown (no stored run to go by)")


def cells_without_rate(the_study: study.Study) -> list[str]:
    return [cell.name for cell in the_study.cells if cell.lr is None]


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m cifar_utils.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=("tune", "adopt", "final", "all"), default="all")
    parser.add_argument("--study", default=str(study.STUDY_FILE), metavar="FILE",
                        help="the study file (default profiles/study.yaml)")
    parser.add_argument("--cells", nargs="+", metavar="CELL",
                        help="tune, adopt and train only these cells of the study (default: all)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("data_dir", "FOLDER"),
                        help="the CIFAR-10 folder, as the notebooks take it: -p data_dir FOLDER")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once on this machine (each gets cores/jobs threads)")
    parser.add_argument("--executor", choices=("local", "slurm"), default="local",
                        help="local: child processes here; slurm: one submitit job per run")
    parser.add_argument("--cluster", default=None, help="submitit cluster (default: slurm where srun exists, else local)")
    parser.add_argument("--slurm-partition", default=None)
    parser.add_argument("--timeout-min", type=positive_int, default=120, help="time limit of each Slurm job")
    parser.add_argument("--cpus-per-task", type=int, default=None)
    parser.add_argument("--gpus", type=int, default=None, help="GPUs per Slurm job")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what is stored, what would run and its expected training time; run nothing")
    parser.add_argument("--summary", action="store_true",
                        help="print the stored final runs as the README's Markdown table (mean +- std, 95%% interval), "
                             "the status line and the verdicts; run nothing")
    parser.add_argument("--write-readme", action="store_true",
                        help="with --summary: write it into README.md between its results markers instead of printing it")
    parser.add_argument("--list", action="store_true",
                        help="print every stored run of the study as a Markdown table: file, cell, split, seed, lr, "
                             "epochs, accuracy, training seconds, machine; run nothing")
    parser.add_argument("--set-aside", metavar="FOLDER",
                        help="move every stored run of the study (not the faithful profile's) into FOLDER, so that "
                             "the next sweep starts the study afresh; run nothing")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process: one run, as JSON
    args = parser.parse_args(argv)
    refused = refusal(args)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    if args.one:
        follow_the_sweep()
        try:
            run_one(json.loads(args.one))
        except OutputError as exc:  # a full disk: one sentence in the run's log, not a traceback
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        the_study = study.load(repo_path(args.study)).only(args.cells)
        if args.summary:
            from .conclusions import readme_text, summary_text, with_readme_block
            if args.write_readme:
                if the_study.recipes or any(cell.profile for cell in the_study.cells):
                    raise ConfigError(f"{repo_relative(the_study.file)} has no block of README's results to write: "
                                      f"print its summary with --summary alone (the quick profile's block: python "
                                      f"-m cifar_utils.quick --write-readme).")
                readme = REPO_ROOT / "README.md"
                text = readme_text(the_study)
                atomic_write_bytes(readme, with_readme_block(readme.read_text(), text).encode())
                print(f"wrote the results block of {repo_relative(readme)}")
            else:
                print(summary_text(the_study))
            return 0
        if args.list:
            print(study_results.index_markdown(study_results.index_rows(the_study)))
            return 0
        if args.set_aside:
            from .recipes import EXPERIMENTS, profile_config
            faithful = {f"{name}-{profile_config('faithful', name).key()}" for name in EXPERIMENTS}
            outside_the_report("--set-aside", args.set_aside)  # not into notebooks/, results/, figures/ or the root
            moved = the_study.set_aside(args.set_aside, keep=faithful)
            print(f"moved {len(moved)} stored runs of the study into {args.set_aside}")
            return 0
    except (ConfigError, ValueError, ResultError, OutputError) as exc:  # OutputError: a read-only or full README.md
        print(f"error: {exc}", file=sys.stderr)
        return 2
    params = dict(args.parameter)
    unknown = sorted(set(params) - {"data_dir"})
    if unknown or args.jobs < 1:
        print(f"error: {'-p ' + unknown[0] + ' is not a sweep parameter; use -p data_dir FOLDER' if unknown else f'--jobs {args.jobs} must be at least 1'}.",
              file=sys.stderr)
        return 2
    args.data_dir = params.get("data_dir", "")
    with STOP.handles():
        try:
            ok = stages(the_study, args)
        except (ConfigError, ValueError, ResultError, DataError, OutputError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if STOP.signum:
            print(f"sweep stopped by {signal.Signals(STOP.signum).name}: no run starts after it; run the same "
                  f"command again to go on (a run cut short resumes from its last checkpoint).", file=sys.stderr)
            return 128 + STOP.signum
    return 0 if ok else 1


def positive_int(text: str) -> int:
    """argparse's type for a number of minutes: a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes above 0; pass e.g. 120")
    return value


def refusal(args) -> str:
    """Why this combination of options is refused before anything runs ("" when it is not): each option that
    prints or moves instead of training acts alone, and --write-readme writes the study's own block only."""
    alone = [name for name, given in (("--summary", args.summary), ("--list", args.list),
                                      ("--set-aside", args.set_aside is not None)) if given]
    if len(alone) > 1:
        return f"{alone[0]} and {alone[1]} cannot be combined; run them one at a time."
    if args.set_aside is not None and not args.set_aside.strip():
        return "--set-aside needs a folder, e.g. --set-aside build/old."
    if args.write_readme and not args.summary:
        return "--write-readme writes what --summary prints; pass --summary --write-readme."
    if args.write_readme and args.cells:
        return ("--write-readme writes README's block from every cell of the study, not --cells "
                f"{' '.join(args.cells)}; drop --cells, or print those with --summary alone.")
    return ""


def stages(the_study: study.Study, args) -> bool:
    """The stages that ``args.stage`` names, in order; False when a run failed or the sweep was stopped."""
    ok = True
    if args.stage in ("tune", "all"):
        ok &= execute(the_study.tuning_runs(), args, the_study)
        while the_study.extend_at_edge and ok and not args.dry_run:  # the rule's edge clause: a new rate, tuned
            extended = the_study.edge_extensions(the_study.tuning_log(), the_study.unstable_rates())
            if not extended:
                break
            for name, grid in extended.items():
                print(f"{the_study.cell(name).label}: the best rate sits at its grid's edge; grid now "
                      f"{', '.join(f'{lr:g}' for lr in grid)}", flush=True)
                set_recipe_value(the_study.file, "grid", list(grid), within=name)
            the_study = study.load(the_study.file).only(args.cells)
            ok &= execute(the_study.tuning_runs(), args, the_study)
    if args.stage in ("adopt", "all") and ok:
        adopt(the_study, args.dry_run)
        the_study = study.load(the_study.file).only(args.cells)  # the rates just written
    if args.stage in ("final", "all") and ok:
        waiting = cells_without_rate(the_study)
        if waiting:
            print(f"{len(waiting)} cells have no chosen learning rate yet ({', '.join(waiting)}): their final runs "
                  f"follow --stage tune and --stage adopt.", flush=True)
            if args.dry_run:
                print(pending_estimate(the_study, waiting), flush=True)
        ok &= execute(the_study.final_runs(), args, the_study)
        # A final run that diverged makes its rate unstable: adopt the next choice and run its seeds.
        while args.stage == "all" and ok and not args.dry_run:
            choices: list[str] = []
            if not adopt(the_study, False, say=choices.append):
                break
            print("\n".join(choices), flush=True)  # a new choice: say it
            the_study = study.load(the_study.file).only(args.cells)
            ok &= execute(the_study.final_runs(), args, the_study)
    return ok


if __name__ == "__main__":
    sys.exit(main())
