# make demo      set up .venv (if missing) and run the main job
# make test      set up .venv with dev extras and run the fast test suite
# make test-all  the fast and the slow tests
# make bench     speed benchmarks against pykan 0.2.8 (installs the bench extra)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --quiet --disable-pip-version-check

.PHONY: demo test test-all bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev]'
	touch $@

$(VENV)/.bench: $(VENV)/.installed
	$(PIP) install -e '.[dev,bench]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m kandiscover demo --out demo_output

test: $(VENV)/.installed
	$(PY) -m pytest -q

test-all: $(VENV)/.installed
	$(PY) -m pytest -q -m "slow or not slow"

bench: $(VENV)/.bench
	$(PY) benchmarks/layer_speed.py
	$(PY) benchmarks/seqkan_speed.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache
