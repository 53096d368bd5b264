VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench clean

# The venv is rebuilt when pyproject.toml changes. torch is pinned and installed first, on its
# own: a looser range lets pip pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m tabdl.cli bench --quick

test: $(STAMP)
	$(PY) -m ruff check tabdl benchmarks tests
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check tabdl benchmarks tests
	$(PY) -m ruff format --check tabdl benchmarks tests

bench: $(STAMP)
	$(PY) -m tabdl.cli bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
