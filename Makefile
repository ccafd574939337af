# make report   regenerate the report: run the four notebooks with papermill, redraw figures/
# make test     run the test suite (unit tests, notebook smoke runs, nbval on the committed notebooks)
# Both build .venv from requirements.txt on first use. Pass runner options with ARGS, e.g.
#   make report ARGS="--only 02_alexnet_sgd -p retrain True -p data_dir ../shared/cifar10"
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

.PHONY: install report test benchmark
install: $(VENV)/.installed

report: $(VENV)/.installed
	$(PY) -m cifar_utils.report $(ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest $(ARGS)

benchmark: $(VENV)/.installed
	$(PY) benchmarks/throughput.py $(ARGS)
