"""store: the headless path from parameters to a stored result (its behaviour is tested through
experiment.Experiment in test_experiment.py and test_robustness.py); here, that it stays headless."""
from __future__ import annotations

import json
import subprocess
import sys

from cifar_utils.recipes import REPO_ROOT

PLOTTING_AND_TABLES = ("matplotlib", "seaborn", "pandas", "IPython")


def test_importing_the_store_loads_no_plotting_or_table_library():
    """A sweep's training child imports only store: a fresh interpreter shows what that costs."""
    code = ("import json, sys\nimport cifar_utils.store\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {PLOTTING_AND_TABLES!r})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
