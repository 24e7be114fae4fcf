# Suitescope: `make run` serves the dashboard on SQLite, `make test` runs the suite.
# Both set up everything they need first; re-running them is fast and idempotent.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=

.PHONY: setup run test lint format clean system-packages browser

setup: system-packages $(VENV)/.installed node_modules/.installed

# Debian packages we need from outside PyPI: Node.js/npm for the front-end
# packages (and Chromium, for the browser tests, under `make test`). As root
# they are installed with apt-get; otherwise we say what to install.
define require_debian_packages
	@missing=""; \
	for pair in $(1); do \
	  cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing:$$missing; install them with: sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi
endef

system-packages:
	$(call require_debian_packages,npm:nodejs npm:npm)

browser:
	$(call require_debian_packages,chromium:chromium)

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

test: setup browser
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
