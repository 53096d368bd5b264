VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-oldest lint bench clean

# Test processes (pytest-xdist). Each test runs torch on one thread (tests/conftest.py), so one
# process left the second of CI's two cores idle.
TEST_WORKERS ?= 2

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

# pandas 3 stores text in pyarrow where it is installed (the dev extras do) and in Python
# objects where not; the tests that handle columns run again on the latter (tests/conftest.py).
STORAGE_TESTS := tests/test_preprocess.py tests/test_io.py tests/test_properties.py tests/test_cli.py

test: $(STAMP)
	$(PY) -m ruff check tabdl benchmarks tests
	$(PY) -m ruff format --check tabdl benchmarks tests
	$(PY) -m pytest -n $(TEST_WORKERS)
	TABDL_STRING_STORAGE=python $(PY) -m pytest -n $(TEST_WORKERS) $(STORAGE_TESTS)

# The oldest pandas and scikit-learn that pyproject admits, in a venv of their own: CI runs the
# suite on them too, so a pandas-3-only or scikit-learn-1.9-only call cannot land unseen.
OLDEST_VENV ?= .venv-oldest
OLDEST_PY := $(OLDEST_VENV)/bin/python
OLDEST_STAMP := $(OLDEST_VENV)/.installed

$(OLDEST_STAMP): pyproject.toml
	test -x $(OLDEST_PY) || python3 -m venv $(OLDEST_VENV)
	$(OLDEST_PY) -m pip install -q --upgrade pip
	$(OLDEST_PY) -m pip install -q torch==2.13.0
	$(OLDEST_PY) -m pip install -q -e ".[dev]" "pandas==2.2.*" "scikit-learn==1.6.*"
	touch $(OLDEST_STAMP)

test-oldest: $(OLDEST_STAMP)
	$(OLDEST_PY) -m pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(PY) -m ruff check tabdl benchmarks tests
	$(PY) -m ruff format --check tabdl benchmarks tests

bench: $(STAMP)
	$(PY) -m tabdl.cli bench

clean:
	rm -rf $(VENV) $(OLDEST_VENV) .pytest_cache build *.egg-info
