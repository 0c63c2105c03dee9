# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# They create the venv, install the pinned Python and npm packages, and (for the browser test) Chromium.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: all test demo chaos bench lint typecheck deps browser clean settings-table clock-table

all: test

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

deps: $(STAMP) $(NPM_STAMP)

# Debian's Chromium for the status-page test (the only test that needs a browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the status-page test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; the status-page browser test will fail" >&2; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: deps browser lint typecheck
	$(VENV)/bin/pytest -q -n 2 --dist loadfile $(PYTEST_ARGS)

demo: deps
	$(PY) -m demo

chaos: deps
	$(PY) -m demo --chaos 0.10 --seed 7
	$(PY) -m demo --chaos 0.10 --seed 7 --clock azure

bench: deps
	$(PY) -m bench

# The settings table of docs/deployment.md (between its settings markers), from shared/config.py.
settings-table: $(STAMP)
	$(PY) -m shared.config --markdown

# The emulator's durations table of docs/testing.md (between its clock markers), from emulator/core/clock.py.
clock-table: $(STAMP)
	$(PY) -c 'from emulator.core.clock import markdown_table; print(markdown_table())'

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
