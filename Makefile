# Suitescope: `make run` serves the dashboard on SQLite, `make test` runs the suite.
# Both set up everything they need first; re-running them is fast and idempotent.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=

.PHONY: setup run test lint format clean

setup: $(VENV)/.installed node_modules/.installed

# Reinstall only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# htmx and Pico CSS from the npm registry; plotly.js comes inside the plotly wheel.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(BIN)/suitescope db upgrade
	$(BIN)/suitescope demo --if-empty
	$(BIN)/suitescope run --host $(HOST) --port $(PORT)

test: setup
	mkdir -p build
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup \
		--cov --cov-branch \
		--cov-report=term --cov-report=xml:build/coverage.xml --cov-report=json:build/coverage.json \
		--junitxml=build/junit.xml -o junit_family=xunit1 $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf build .pytest_cache .ruff_cache .coverage .coverage.*
