# make report   regenerate the report: run the four notebooks with papermill, redraw figures/
# make report-quick  retrain the report's seed-0 runs with the quick profile, into build/ (never over the report)
# make test     run the test suite (unit tests, notebook smoke runs, nbval on the committed notebooks)
# make test-fast  the tests not marked slow (pytest -m "not slow", a few minutes): no notebook executed,
#                no nbval, no training subprocess, no HTML conversion; `make test` (what CI runs) is still the whole suite
# make html     the committed notebooks as static pages in build/html/ (images embedded, formulas as MathML: no network)
# make lab      JupyterLab on notebooks/, its kernel this .venv's python (--allow-root when run as root)
# Each builds .venv from requirements.txt on first use. Pass options with ARGS, e.g.
#   make report ARGS="--only 02_alexnet_sgd -p retrain True -p download True"
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

.PHONY: install report report-quick test test-fast benchmark html lab
install: $(VENV)/.installed

report: $(VENV)/.installed
	$(PY) -m cifar_utils.report $(ARGS)

# The quick profile (docs/quick.md) trains every notebook's seed 0 again; its notebooks, results and figures go to build/.
report-quick: $(VENV)/.installed
	$(PY) -m cifar_utils.report --profile quick -p retrain True $(ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest $(ARGS)

# nbval stays loaded (addopts names its options) but its cells are marked slow too (tests/conftest.py).
# One torch thread: on cores that are busy (a training in the background), torch's second thread makes these
# small tests wait on it, 2-3x slower; `make test` keeps torch's default.
test-fast: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not slow" $(ARGS)

benchmark: $(VENV)/.installed
	$(PY) benchmarks/throughput.py $(ARGS)

html: $(VENV)/.installed
	$(PY) -m cifar_utils.webpages $(ARGS)

# This environment's kernelspecs before a user's own 'python3' (jupyter_core's default in a venv, made explicit).
# As root (Docker, Colab) JupyterLab refuses to start without --allow-root, so root gets it.
lab: $(VENV)/.installed
	JUPYTER_PREFER_ENV_PATH=1 $(PY) -m jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(ARGS) notebooks/
