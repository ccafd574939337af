"""A tiny study for the sweep's tests: two baseline cells (dropout 0.25 and 0.5), each run 1 epoch on 200
synthetic training images and evaluated on 50, with everything the sweep writes kept under one folder.

``install(root, setattr)`` points ``cifar_utils.study``, ``cifar_utils.sweep`` and ``cifar_utils.recipes`` at it
(pass ``monkeypatch.setattr`` in a test); run as a script it is the sweep's command line on the tiny study,
which is how the tests run, kill and restart a whole sweep in a process of its own:

    python tests/sweep_tiny.py ROOT SEEDS [sweep arguments]     # SEEDS: the final seeds, e.g. 0,1

The sweep's children (``python -m cifar_utils.sweep --one SPEC``) need nothing of this: a spec holds the whole
configuration and the results folder. They keep their checkpoints and locks in the repository's ``runs/``
(``child_leftovers`` names them, for the tests to remove).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cifar_utils import recipes, study, sweep  # noqa: E402
from cifar_utils.recipes import REPO_ROOT, notebook_parameters  # noqa: E402
from cifar_utils.study import Cell  # noqa: E402
from helpers import make_config  # noqa: E402

TINY = dict(train_subset=200, test_subset=50, epochs=1, batch_size=50)
CELLS = (Cell("baseline", (), "tiny A"), Cell("baseline", (("dropout", 0.5),), "tiny B"))
SEEDS = (0, 1)
TUNING_SEEDS = (7,)
TUNING = {"baseline": (0.05, 0.1)}


def tiny_recipe(profile: str, experiment: str):
    """The tiny recipe, with the lr of (the copy of) the baseline notebook: what the sweep's adopt stage writes."""
    assert (profile, experiment) == ("report", "baseline"), (profile, experiment)
    return make_config(**TINY, lr=notebook_parameters("01_baseline")["lr"])


def install(root: Path, set_attribute=setattr, seeds=SEEDS) -> None:
    """Make the study the tiny one, its results go to ROOT/results and ROOT/results/tuning, its notebooks be
    ROOT/notebooks (a copy of 01_baseline is made there) and the sweep's logs go to ROOT/build."""
    root = Path(root)
    notebooks = root / "notebooks"
    fresh = not (notebooks / "01_baseline.ipynb").exists()
    if fresh:
        notebooks.mkdir(parents=True, exist_ok=True)
        (notebooks / "01_baseline.ipynb").write_bytes((REPO_ROOT / "notebooks" / "01_baseline.ipynb").read_bytes())
    tuning_runs, final_runs, tuning_log = study.tuning_runs, study.final_runs, study.tuning_log
    for module, name, value in (
            (study, "CELLS", CELLS), (study, "SEEDS", tuple(seeds)), (study, "TUNING_SEEDS", TUNING_SEEDS),
            (study, "TUNING", TUNING), (study, "profile_config", tiny_recipe),
            (study, "tuning_runs", lambda results_dir=root / "results" / "tuning": tuning_runs(results_dir)),
            (study, "final_runs", lambda results_dir=root / "results": final_runs(results_dir)),
            (study, "tuning_log", lambda results_dir=root / "results" / "tuning": tuning_log(results_dir)),
            (recipes, "NOTEBOOKS_DIR", notebooks), (sweep, "REPO_ROOT", root)):
        set_attribute(module, name, value)
    if fresh:  # a rate outside the tiny grid, so that adopting the grid's choice always changes it
        recipes.set_notebook_parameter("01_baseline", "lr", 0.2)


def child_leftovers(runs) -> list[Path]:
    """What the children of these runs leave in the repository's runs/ (a lock file; a checkpoint if killed)."""
    return [REPO_ROOT / "runs" / f"{run.cell.experiment}-{run.config.key()}{suffix}" for run in runs
            for suffix in (".lock", "")]


if __name__ == "__main__":
    root, seeds, *argv = sys.argv[1:]
    install(Path(root), seeds=tuple(int(s) for s in seeds.split(",")))
    sys.exit(sweep.main(argv))
