# crossmargin developer entry points. Quick start (README): `make demo`, `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP     := $(VENV)/.dev-installed

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "crossmargin needs Python >= 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): $(BIN)/python requirements/runtime.txt pyproject.toml
	$(BIN)/python -m pip install -q -r requirements/runtime.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements/dev.txt
	$(BIN)/python -m pip install -q -r requirements/dev.txt
	@touch $@

## Run the main job (portfolio margin, compare, explain) on the bundled examples.
demo: $(RUNTIME_STAMP)
	$(BIN)/crossmargin demo

## The whole test suite: lint, type check, layer contract, tests. `.ci/run` calls this.
test: $(DEV_STAMP)
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/python -m ruff format --check src tests benchmarks
	$(BIN)/python -m mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n 2 -q

lint: $(DEV_STAMP)
	$(BIN)/python -m ruff check src tests benchmarks
	$(BIN)/lint-imports --no-cache

typecheck: $(DEV_STAMP)
	$(BIN)/python -m mypy

unit: $(DEV_STAMP)
	$(BIN)/python -m pytest -n 2 -q

## Benchmarks (not part of the test suite): prints throughput and memory.
bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/bench_venue.py
	$(BIN)/python benchmarks/bench_var.py
	$(BIN)/python benchmarks/bench_presets.py
	$(BIN)/python benchmarks/bench_kernel.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
