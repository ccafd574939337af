#!/usr/bin/env python
"""Fault campaign for cifar-report's command-line tools (issue 31), run in a fresh clone of this repository.

    python tools/fault_campaign.py        # clones into $FAULTS_CLONE (default /tmp/faults); about 15-25 min



Each case: restore the clone, set up one bad input, run one command (timeout 120), record
(case, command, exit code, stderr's last 3 lines, traceback, one sentence, names the bad thing,
committed files changed) and restore. Writes /tmp/fault_campaign.md and /tmp/fault_campaign.json.
Never trains: no -p retrain True, the sweep only with --dry-run/--list/--summary/--set-aside.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import nbformat

R = os.environ.get("FAULTS_CLONE", "/tmp/faults")
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this repository
PY = sys.executable  # the project's environment: run it with .venv/bin/python
ENV = {k: v for k, v in os.environ.items() if k != "CIFAR10_ROOT"}
ENV.update(PYTHONPATH=R, OMP_NUM_THREADS="1")
COMMITTED = ("results", "figures", "notebooks", "README.md")
OUTSIDE = "/tmp/fault_outside.json"


# --- helpers for setting up cases -------------------------------------------------------------

def p(rel):
    return os.path.join(R, rel)


def read(rel):
    with open(p(rel), encoding="utf-8") as f:
        return f.read()


def write(rel, text):
    with open(p(rel), "w", encoding="utf-8") as f:
        f.write(text)


def writeb(rel, data):
    with open(p(rel), "wb") as f:
        f.write(data)


def append(rel, text):
    t = read(rel)
    write(rel, t + ("" if t.endswith("\n") else "\n") + text + "\n")


def sub(rel, old, new, count=1):
    t = read(rel)
    assert old in t, (rel, old)
    write(rel, t.replace(old, new, count))


def setline(rel, key, newline):
    """Replace the first top-level line 'key: ...' with newline."""
    t = read(rel)
    pat = re.compile(rf"^{re.escape(key)}:.*$", re.M)
    assert pat.search(t), (rel, key)
    write(rel, pat.sub(lambda m: newline, t, count=1))


def delline(rel, key):
    t = read(rel)
    pat = re.compile(rf"^{re.escape(key)}:.*\n", re.M)
    assert pat.search(t), (rel, key)
    write(rel, pat.sub("", t, count=1))


def rm(rel):
    os.remove(p(rel))


def nonutf8(rel):
    data = open(p(rel), "rb").read()
    i = data.index(b"#", 10)  # inside a comment
    writeb(rel, data[:i + 1] + b" \xff\xfe caf\xe9" + data[i + 1:])


def edit_params(nb_rel, fn):
    nb = nbformat.read(p(nb_rel), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    fn(nb, cell)
    nbformat.write(nb, p(nb_rel))


def json_edit(rel, fn):
    d = json.load(open(p(rel)))
    fn(d)
    with open(p(rel), "w") as f:
        json.dump(d, f, indent=1, sort_keys=True)


def nan_in_result(rel):
    t = read(rel)
    t2, n = re.subn(r'"train_seconds": [0-9.]+', '"train_seconds": NaN', t, count=1)
    assert n == 1
    write(rel, t2)


def seq(*fns):
    def run():
        for fn in fns:
            fn()
    return run


# --- the committed files, before and after a command ---------------------------------------------

def snapshot():
    state = {}
    for top in COMMITTED:
        root = p(top)
        if os.path.islink(root):
            state[top] = ("link", os.readlink(root))
            continue
        if os.path.isfile(root):
            state[top] = ("file", hashlib.sha1(open(root, "rb").read()).hexdigest(), os.stat(root).st_mode)
            continue
        if not os.path.isdir(root):
            state[top] = ("missing",)
            continue
        for d, dirs, files in os.walk(root):
            rel = os.path.relpath(d, R)
            state[rel] = ("dir",)
            for name in dirs + files:
                full = os.path.join(d, name)
                r = os.path.relpath(full, R)
                if os.path.islink(full):
                    state[r] = ("link", os.readlink(full))
                elif os.path.isfile(full):
                    state[r] = ("file", hashlib.sha1(open(full, "rb").read()).hexdigest())
    return state


def porcelain():
    out = subprocess.run(["git", "status", "--porcelain"], cwd=R, capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l.strip()]


def restore():
    if os.path.exists(p("README.md")):
        os.chmod(p("README.md"), 0o644)
    subprocess.run(["git", "clean", "-fdq", "-e", "build"], cwd=R, check=False)
    subprocess.run(["git", "checkout", "--", "."], cwd=R, check=False)
    if porcelain():
        shutil.rmtree(R, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", SRC, R], check=True)
    if os.path.exists(OUTSIDE):
        os.remove(OUTSIDE)


# --- the cases ---------------------------------------------------------------------------------

CASES = []


def case(name, setup, command, expect=(), harmless=False):
    CASES.append(dict(name=name, setup=setup, command=command, expect=list(expect), harmless=harmless))


nothing = lambda: None  # noqa: E731

REC = "profiles/report/02_alexnet_sgd.yaml"
R02 = "report --only 02_alexnet_sgd"
BAD = {  # edit name -> (setup for a file with top-level 'name: value' lines, words the message should hold)
}


def recipe_edits(rel, key_line_key="epochs", base_line=None):
    """The bullet's edits of a YAML file of 'name: value' lines."""
    stem = os.path.basename(rel)
    return {
        "malformed YAML": (lambda: setline(rel, "epochs", "epochs: [8   # passes"), [stem]),
        "unknown key epochz: 5": (lambda: append(rel, "epochz: 5"), ["epochz"]),
        "duplicate key lr: 0.5 appended": (lambda: append(rel, "lr: 0.5"), ["lr"]),
        "epochs: four": (lambda: setline(rel, "epochs", "epochs: four"), ["epochs"]),
        'epochs: "ten"': (lambda: setline(rel, "epochs", 'epochs: "ten"'), ["epochs"]),
        "epochs: .nan": (lambda: setline(rel, "epochs", "epochs: .nan"), ["epochs"]),
        "epochs: -1": (lambda: setline(rel, "epochs", "epochs: -1"), ["epochs"]),
        "epochs: a list": (lambda: setline(rel, "epochs", "epochs: [4, 8]"), ["epochs"]),
        "scalar file hello": (lambda: write(rel, "hello\n"), [stem]),
        "empty file": (lambda: write(rel, ""), [stem]),
        "deleted file": (lambda: rm(rel), [stem]),
        "non-UTF-8 byte": (lambda: nonutf8(rel), [stem]),
        "seed: -3": (lambda: append(rel, "seed: -3") if "seed:" not in read(rel) else setline(rel, "seed", "seed: -3"),
                     ["seed"]),
    }


# A. the report recipe of 02_alexnet_sgd, then report --only 02_alexnet_sgd
for label, (setup, expect) in recipe_edits(REC).items():
    case(f"report recipe 02: {label}", setup, R02, expect)
case("report recipe 02: epochs: true", lambda: setline(REC, "epochs", "epochs: true"), R02, ["epochs"])
case("report recipe 02: lr: .inf", lambda: setline(REC, "lr", "lr: .inf"), R02, ["lr"])
case('report recipe 02: device: "cuda"', lambda: setline(REC, "device", 'device: "cuda"'), R02, ["device"])
case('report recipe 02: results_dir: "notebooks"', lambda: setline(REC, "results_dir", 'results_dir: "notebooks"'),
     R02, ["results_dir"])
case("report recipe 02: epochs line removed", lambda: delline(REC, "epochs"), R02, ["epochs"])
case("report recipe 02: epochz: 5 -> sweep --dry-run", lambda: append(REC, "epochz: 5"), "sweep --dry-run", ["epochz"])
case("report recipe 02: duplicate lr -> sweep --dry-run", lambda: append(REC, "lr: 0.5"), "sweep --dry-run", ["lr"])
case("report recipe 02: malformed YAML -> report --help", lambda: setline(REC, "epochs", "epochs: [8   # passes"),
     "report --help", ["02_alexnet_sgd.yaml"], harmless=True)  # the help prints (exit 0); one line on stderr names the file
case("report recipe 00_theory: ragged kernel", lambda: setline("profiles/report/00_theory.yaml", "kernel",
                                                                "kernel: [[2, 0], [1]]"),
     "report --only 00_theory", ["kernel"])

# B. the quick profile of 02_alexnet_sgd
QP = "profiles/quick/02_alexnet_sgd.yaml"
QEDITS = recipe_edits(QP)
for label, (setup, expect) in QEDITS.items():
    case(f"quick profile 02: {label}", setup, "report --profile quick --table", expect)
case("quick profile 02: unknown key epochz -> quick", QEDITS["unknown key epochz: 5"][0], "quick", ["epochz"])
case("quick profile 02: scalar file -> quick", QEDITS["scalar file hello"][0], "quick", ["02_alexnet_sgd.yaml"])
case("quick profile 02: non-UTF-8 -> sweep --study study_quick --dry-run", QEDITS["non-UTF-8 byte"][0],
     "sweep --study profiles/study_quick.yaml --dry-run", ["02_alexnet_sgd.yaml"])

# C. the faithful profile of 01_baseline (every report run reads it to place its outputs)
FP = "profiles/faithful/01_baseline.yaml"
FEDITS = recipe_edits(FP)
case("faithful profile 01: malformed YAML -> report --only 01_baseline", FEDITS["malformed YAML"][0],
     "report --only 01_baseline", ["faithful/01_baseline.yaml"])
case("faithful profile 01: epochs: four -> report --only 01_baseline", FEDITS["epochs: four"][0],
     "report --only 01_baseline", ["epochs"])
case("faithful profile 01: deleted -> report --only 01_baseline", FEDITS["deleted file"][0],
     "report --only 01_baseline", ["faithful/01_baseline.yaml"])
case("faithful profile 01: duplicate lr -> report --profile faithful --table",
     FEDITS["duplicate key lr: 0.5 appended"][0], "report --profile faithful --table", ["lr"])

# D. the smoke profile of 03 (a smoke run trains: without data it must say so)
SP = "profiles/smoke/03_alexnet_adam_dropout.yaml"
SEDITS = recipe_edits(SP)
SMOKE = "report --profile smoke --only 03_alexnet_adam_dropout"
case("smoke profile 03: malformed YAML", SEDITS["malformed YAML"][0], SMOKE, ["smoke/03_alexnet_adam_dropout.yaml"])
case("smoke profile 03: compare_with: nope", lambda: setline(SP, "compare_with", "compare_with: nope"), SMOKE,
     ["compare_with"])
case("smoke profile 03: deleted", SEDITS["deleted file"][0], SMOKE, ["smoke/03_alexnet_adam_dropout.yaml"])
case("smoke profile 03: unchanged, needs training, no data", nothing, SMOKE, ["data"])

# E. profiles/study.yaml
ST = "profiles/study.yaml"
SGD_GRID = "grid: [0.02, 0.04, 0.08]"
SGD_DROP = "  sgd_dropout:\n    recipe: alexnet_sgd\n    dropout: 0.5\n    lr_from: sgd\n"
STEDITS = {
    "seeds: renamed seedz:": (lambda: sub(ST, "seeds: [0, 1, 2, 3, 4]", "seedz: [0, 1, 2, 3, 4]"), ["seed"]),
    "seeds: all": (lambda: sub(ST, "seeds: [0, 1, 2, 3, 4]", "seeds: all"), ["seeds"]),
    "empty file": (lambda: write(ST, ""), ["study.yaml"]),
    "cells: []": (lambda: write(ST, read(ST).split("\ncells:")[0] + "\ncells: []\n"), ["cells"]),
    "a cell set to 5": (lambda: sub(ST, SGD_DROP, "  sgd_dropout: 5\n"), ["sgd_dropout"]),
    "tuning_seeds: []": (lambda: setline(ST, "tuning_seeds", "tuning_seeds: []"), ["tuning_seeds"]),
    'grid: "0.02"': (lambda: sub(ST, SGD_GRID, 'grid: "0.02"'), ["grid"]),
    "top-level typo tuning_dirr:": (lambda: setline(ST, "tuning_dir", "tuning_dirr: results/tuning"), ["tuning_dirr"]),
    "seeds: [-3]": (lambda: sub(ST, "seeds: [0, 1, 2, 3, 4]", "seeds: [-3]"), ["seeds"]),
    "malformed YAML": (lambda: sub(ST, "seeds: [0, 1, 2, 3, 4]", "seeds: [0, 1, 2, 3, 4"), ["study.yaml"]),
    "non-UTF-8 byte": (lambda: nonutf8(ST), ["study.yaml"]),
    "deleted file": (lambda: rm(ST), ["study.yaml"]),
    "duplicate top-level key seeds: [0] appended": (lambda: append(ST, "seeds: [0]"), ["seeds"]),
    "lr_from: nope": (lambda: sub(ST, "    lr_from: sgd\n", "    lr_from: nope\n"), ["nope"]),
    "unknown key epochz: 4 in a cell": (lambda: sub(ST, "    epochs: 16\n", "    epochs: 16\n    epochz: 4\n"),
                                        ["epochz"]),
    "results_dir: notebooks": (lambda: setline(ST, "results_dir", "results_dir: notebooks"), ["results_dir"]),
    "figure_seed: 7 (not a seed)": (lambda: setline(ST, "figure_seed", "figure_seed: 7"), ["figure_seed"]),
    "seeds: [0, 0] in a cell": (lambda: sub(ST, "    seeds: [0, 1, 2]\n", "    seeds: [0, 0]\n"), ["seeds"]),
}
for label in list(STEDITS)[:18]:
    setup, expect = STEDITS[label]
    cmd = "sweep --summary" if label == "figure_seed: 7 (not a seed)" else "sweep --dry-run"
    case(f"study.yaml: {label} -> {cmd.split()[1]}", setup, cmd, expect)
for label, cmd in (("seeds: all", "sweep --summary"), ("cells: []", "sweep --summary"),
                   ("a cell set to 5", "sweep --list"), ('grid: "0.02"', "sweep --list"),
                   ("top-level typo tuning_dirr:", "sweep --summary"), ("deleted file", "sweep --summary"),
                   ("tuning_seeds: []", "sweep --summary"), ("empty file", "sweep --list")):
    setup, expect = STEDITS[label]
    case(f"study.yaml: {label} -> {cmd.split()[1]}", setup, cmd, expect)

# F. profiles/study_quick.yaml and profiles/study_recipe.yaml
SQ = "profiles/study_quick.yaml"
case("study_quick.yaml: cells: [] -> quick", lambda: write(SQ, read(SQ).split("\ncells:")[0] + "\ncells: []\n"),
     "quick", ["cells"])
case("study_quick.yaml: seeds: all -> quick", lambda: sub(SQ, "seeds: [0, 1, 2, 3, 4]", "seeds: all"), "quick",
     ["seeds"])
case("study_quick.yaml: profile: nope -> quick",
     lambda: sub(SQ, "    recipe: baseline\n    profile: quick\n", "    recipe: baseline\n    profile: nope\n"),
     "quick", ["nope"])
case("study_quick.yaml: a cell set to 5 -> quick", lambda: append(SQ, "  extra_cell: 5"), "quick", ["extra_cell"])
case("study_quick.yaml: tuning_dirr: -> sweep --study --dry-run",
     lambda: setline(SQ, "tuning_dir", "tuning_dirr: results/tuning"),
     "sweep --study profiles/study_quick.yaml --dry-run", ["tuning_dirr"])
SRF = "profiles/study_recipe.yaml"
case("study_recipe.yaml: compare_with missing file -> --summary",
     lambda: setline(SRF, "compare_with", "compare_with: profiles/nope.yaml"),
     "sweep --study profiles/study_recipe.yaml --summary", ["nope.yaml"])
case("study_recipe.yaml: compare_with missing file -> --dry-run",
     lambda: setline(SRF, "compare_with", "compare_with: profiles/nope.yaml"),
     "sweep --study profiles/study_recipe.yaml --dry-run", ["nope.yaml"])
case("study_recipe.yaml: recipes: 5 -> --summary",
     lambda: sub(SRF, "recipes:                    # the recipes the answer compares: epochs, batch size\n"
                      "  the 8-epoch batch-512 recipe: [8, 512]\n  the 4-epoch batch-128 recipe: [4, 128]\n",
                 "recipes: 5\n"),
     "sweep --study profiles/study_recipe.yaml --summary", ["recipes"])

# G. option misuse
for label, cmd, expect in (
        ("report -p epoch 5", "report -p epoch 5", ["epoch"]),
        ("report --profile nope", "report --profile nope", ["nope"]),
        ("report --only nope", "report --only nope", ["nope"]),
        ("report -p device cuda", "report -p device cuda", ["cuda"]),
        ("report --output-dir notebooks", "report --output-dir notebooks", ["notebooks"]),
        ("report --output-dir .", "report --output-dir .", ["repository root"]),
        ("report --output-dir results", "report --output-dir results", ["results"]),
        ("report --output-dir README.md", "report --output-dir README.md", ["README.md"]),
        ("report --output-dir figures/sub", "report --output-dir figures/sub", ["figures"]),
        (f"report --output-dir {R}/build/../notebooks", f"report --output-dir {R}/build/../notebooks",
         ["notebooks"]),
        ("webpages --output-dir notebooks", "webpages --output-dir notebooks", ["notebooks"]),
        ("webpages --output-dir .", "webpages --output-dir .", ["repository root"]),
        ("webpages --output-dir results", "webpages --output-dir results", ["results"]),
        ("webpages --output-dir README.md", "webpages --output-dir README.md", ["README.md"]),
        ("sweep --write-readme without --summary", "sweep --write-readme", ["--summary"]),
        ("sweep --summary --list", "sweep --summary --list", ["--list"]),
        ('sweep --set-aside ""', 'sweep --set-aside ""', ["--set-aside"]),
        ("sweep --timeout-min -5", "sweep --timeout-min -5", ["-5"]),
        ("sweep --cells nope --dry-run", "sweep --cells nope --dry-run", ["nope"]),
        ("sweep --jobs 0 --dry-run", "sweep --jobs 0 --dry-run", ["--jobs"]),
        ("sweep -p lr 0.1 --dry-run", "sweep -p lr 0.1 --dry-run", ["lr"]),
        ("sweep --study profiles/nope.yaml --dry-run", "sweep --study profiles/nope.yaml --dry-run", ["nope.yaml"]),
        ("sweep --set-aside notebooks", "sweep --set-aside notebooks", ["notebooks"]),
        ("report -p epochs ten", f"{R02} -p epochs ten", ["epochs"]),
        ("report -p lr -1", f"{R02} -p lr -1", ["lr"]),
        ("report -p seed 35184372088832", f"{R02} -p seed 35184372088832", ["seed"]),
        ("report -p download maybe", f"{R02} -p download maybe", ["download"]),
        ("report -p results_dir notebooks", f"{R02} -p results_dir notebooks", ["results_dir"]),
        ("report -p compare_with nope (03)", "report --only 03_alexnet_adam_dropout -p compare_with nope",
         ["compare_with"]),
        ("report -p epochs 2: needs training, no data", f"{R02} -p epochs 2", ["data"]),
        ("report -p epochs 2 -p data_dir README.md", f"{R02} -p epochs 2 -p data_dir {R}/README.md",
         ["README.md"]),
        ("report --profile quick --only 01_baseline: needs training, no data",
         "report --profile quick --only 01_baseline", ["data"]),
):
    case(f"option: {label}", nothing, cmd, expect)

# H. README's markers
QSTART = "<!-- quick results: written by `python -m cifar_utils.quick --write-readme` from results/; do not edit by hand -->"
RSTART = "<!-- results: written by `python -m cifar_utils.sweep --summary --write-readme` from results/; do not edit by hand -->"
FSTART = "<!-- findings: written by `make report` (python -m cifar_utils.report) from results/; do not edit by hand -->"


def repeat_marker(start, end):
    def run():
        t = read("README.md")
        i, j = t.index(start), t.index(end) + len(end)
        write("README.md", t[:j] + "\n\n" + t[i:j] + t[j:])
    return run


case("README: quick start marker deleted -> quick --write-readme", lambda: sub("README.md", QSTART + "\n", ""),
     "quick --write-readme", ["marker"])
case("README: quick markers repeated -> quick --write-readme",
     repeat_marker(QSTART, "<!-- end of quick results -->"), "quick --write-readme", ["marker"])
case("README: results markers repeated -> sweep --summary --write-readme",
     repeat_marker(RSTART, "<!-- end of results -->"),
     "sweep --study profiles/study.yaml --summary --write-readme", ["marker"])
case("README: results end marker deleted -> sweep --summary --write-readme",
     lambda: sub("README.md", "<!-- end of results -->\n", ""),
     "sweep --study profiles/study.yaml --summary --write-readme", ["marker"])
case("README: findings markers repeated -> report --only 00_theory",
     repeat_marker(FSTART, "<!-- end of findings -->"), "report --only 00_theory", ["marker"])

# I. a read-only README.md
ro = lambda: os.chmod(p("README.md"), 0o444)  # noqa: E731
case("README read-only (up to date) -> quick --write-readme", ro, "quick --write-readme", ["README.md"], harmless=True)
case("README read-only (up to date) -> sweep --summary --write-readme", ro, "sweep --summary --write-readme",
     ["README.md"], harmless=True)
case("README read-only, quick block stale -> quick --write-readme",
     seq(lambda: sub("README.md", "| 74.44      |", "| 70.00      |"), ro), "quick --write-readme", ["read-only"])
case("README read-only, results block stale -> sweep --summary --write-readme",
     seq(lambda: sub("README.md", "77.90% +- 0.44 (5)", "70.00% +- 0.44 (5)"), ro),
     "sweep --summary --write-readme", ["read-only"])

# J. stored results: the report recipe's result of 02_alexnet_sgd
RES = "results/alexnet_sgd-5a43f31aeb2d.json"
RSTEM = "alexnet_sgd-5a43f31aeb2d"


def symlink_outside():
    shutil.copy(p(RES), OUTSIDE)
    rm(RES)
    os.symlink(OUTSIDE, p(RES))


def dir_like_result():
    rm(RES)
    os.mkdir(p(RES))
    write(RES + "/keep", "x\n")


DAMAGE = {
    "truncated": lambda: writeb(RES, open(p(RES), "rb").read()[:5000]),
    "not JSON": lambda: write(RES, "hello, not json\n"),
    "a NaN": lambda: nan_in_result(RES),
    "future schema_version": lambda: json_edit(RES, lambda d: d.update(schema_version=99)),
    "experiment field mismatch": lambda: json_edit(RES, lambda d: d.update(experiment="baseline")),
    "symlink outside the repository": symlink_outside,
    "a directory named like a result": dir_like_result,
    "empty file": lambda: write(RES, ""),
    "non-UTF-8 byte": lambda: writeb(RES, open(p(RES), "rb").read().replace(b'"airplane"', b'"airpl\xffne"', 1)),
    "confusion counts altered": lambda: json_edit(RES, lambda d: d["confusion"][0].__setitem__(0, d["confusion"][0][0] + 7)),
}
for label, setup in DAMAGE.items():
    case(f"result {RSTEM}: {label} -> report --only 02", setup, R02, [RSTEM])
for label in ("truncated", "not JSON", "a NaN", "future schema_version", "experiment field mismatch",
              "symlink outside the repository", "a directory named like a result"):
    # the sweep's readers name a damaged result once and leave it out (docs/troubleshooting.md): rc 0 allowed
    case(f"result {RSTEM}: {label} -> sweep --summary", DAMAGE[label], "sweep --summary", [RSTEM],
         harmless=label != "future schema_version")

# K. a notebook's parameters cell (01_baseline), then report --only 01_baseline
NB = "notebooks/01_baseline.ipynb"


def cell_sub(old, new):
    def run():
        def fn(nb, cell):
            assert old in cell.source
            cell.source = cell.source.replace(old, new, 1)
        edit_params(NB, fn)
    return run


def untag():
    def fn(nb, cell):
        cell.metadata["tags"] = []
    edit_params(NB, fn)


EPOCHS = "epochs: int = 10"
R01 = "report --only 01_baseline"
case("notebook 01 parameters cell: syntax error", cell_sub(EPOCHS, "epochs: int = 10 +"), R01, ["parameters cell"])
case("notebook 01 parameters cell: non-literal 5 * 2", cell_sub(EPOCHS, "epochs: int = 5 * 2"), R01, ["epochs"])
case("notebook 01 parameters cell: a name, ten", cell_sub(EPOCHS, "epochs: int = ten"), R01, ["epochs"])
case("notebook 01 parameters cell: import os added", cell_sub(EPOCHS, "import os\nepochs: int = 10"), R01,
     ["parameters cell"])
case("notebook 01 parameters cell: epochs 2 (variant, needs training, no data)", cell_sub(EPOCHS, "epochs: int = 2"),
     R01, ["data"])
case("notebook 01: file truncated (not JSON)", lambda: writeb(NB, open(p(NB), "rb").read()[:3000]), R01,
     ["01_baseline.ipynb"])
case("notebook 01: parameters tag removed", untag, R01, ["parameters"])


# L. more of the same spirit, added after the first pass
case("study.yaml: figure_seed: 7 (not a seed) -> report --only 01_baseline", STEDITS["figure_seed: 7 (not a seed)"][0],
     "report --only 01_baseline", ["figure_seed"])
case("option: sweep --set-aside . (repository root)", nothing, "sweep --set-aside .", ["root", "'.'"])
case("option: sweep --set-aside figures", nothing, "sweep --set-aside figures", ["figures"])
case("report recipe 02: non-UTF-8 byte -> report --help", lambda: nonutf8(REC), "report --help", ["02_alexnet_sgd.yaml"],
     harmless=True)
case("notebook 01: file truncated (not JSON) -> webpages", lambda: writeb(NB, open(p(NB), "rb").read()[:3000]),
     "webpages", ["01_baseline.ipynb"])


# --- running ------------------------------------------------------------------------------------

def one_case(c):
    restore()
    c["setup"]()
    before_porcelain = porcelain()
    before = snapshot()
    argv = shlex.split(c["command"])
    full = ["timeout", "120", PY, "-m", f"cifar_utils.{argv[0]}", *argv[1:]]
    start = time.time()
    proc = subprocess.run(full, cwd=R, env=ENV, capture_output=True, text=True, errors="replace")
    seconds = time.time() - start
    after = snapshot()
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    after_porcelain = porcelain()
    err_lines = [l for l in proc.stderr.splitlines() if l.strip()]
    out_lines = [l for l in proc.stdout.splitlines() if l.strip()]
    tb = "Traceback (most recent call last)" in proc.stdout + proc.stderr
    usage = any(l.startswith("usage:") for l in err_lines)
    one = len(err_lines) == 1
    names = (not c["expect"]) or any(e.lower() in proc.stderr.lower() for e in c["expect"])
    if proc.returncode == 0 and c["harmless"]:
        message_ok = len(err_lines) == 0 or (one and names)
    else:
        message_ok = proc.returncode not in (0, 124, 137) and one and names
    clean = message_ok and not tb and not changed
    rec = dict(name=c["name"], command=f"python -m cifar_utils.{c['command']}", rc=proc.returncode,
               seconds=round(seconds, 1), stderr_tail=err_lines[-3:], stdout_tail=out_lines[-2:],
               stderr_lines=len(err_lines), traceback=tb, one_sentence=one, names=names, argparse_usage=usage,
               changed=changed, porcelain_before=before_porcelain, porcelain_after=after_porcelain,
               harmless=c["harmless"], clean=clean)
    restore()
    return rec


def md_cell(text):
    return text.replace("|", "\\|").replace("\n", "<br>")


def main():
    only = sys.argv[1:]  # names (or parts of names) of the cases to run; none: all
    if not os.path.isdir(os.path.join(R, ".git")):
        subprocess.run(["git", "clone", "-q", SRC, R], check=True)
    records = []
    for i, c in enumerate(CASES, 1):
        if only and not any(o in c["name"] for o in only):
            continue
        rec = one_case(c)
        rec["n"] = i
        records.append(rec)
        print(f"{i:3d} {'CLEAN' if rec['clean'] else 'NOT  '} rc={rec['rc']:<3} {rec['seconds']:6.1f}s {c['name']}",
              flush=True)
    json.dump(records, open("/tmp/fault_campaign.json", "w"), indent=1)
    lines = [f"# Fault campaign: {len(records)} cases, {sum(r['clean'] for r in records)} handled cleanly", "",
             f"clone {R}; interpreter {PY}; PYTHONPATH={R} OMP_NUM_THREADS=1; "
             "timeout 120; no CIFAR-10 data reachable. 'changed': files under results/, figures/, notebooks/ or "
             "README.md whose content changed during the command (compared with the state right after the setup).", "",
             "| # | case | command | rc | stderr (last 3 lines) | traceback | one sentence | names it | committed changed | clean |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append("| " + " | ".join(md_cell(str(x)) for x in (
            r["n"], r["name"], r["command"], r["rc"], "\n".join(r["stderr_tail"]) or "(empty)",
            "yes" if r["traceback"] else "no", "yes" if r["one_sentence"] else f"no ({r['stderr_lines']} lines)",
            "yes" if r["names"] else "no", ", ".join(r["changed"]) or "no", "yes" if r["clean"] else "**no**")) + " |")
    with open("/tmp/fault_campaign.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(records)} cases, {sum(r['clean'] for r in records)} clean")


if __name__ == "__main__":
    main()
