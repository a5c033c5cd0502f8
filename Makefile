# Two entry points (see README): `make quickstart` runs the default experiment, `make test` the tests.
# Both create .venv on first use and reinstall only when requirements*.txt or pyproject.toml change.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
CORES ?= 2

.PHONY: quickstart test lint format dry-run clean-results

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

quickstart: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	@echo "Report: results/default/report/report.md"

test: $(STAMP)
	$(BIN)/python -m pytest

$(DEV_STAMP): requirements-dev.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# The same checks as .pre-commit-config.yaml and CI: ruff (lint with the docstring rules, and format), codespell,
# snakefmt, Snakemake's own lint, and mypy (strict) on the whole package.
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/codespell
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint
	$(BIN)/mypy

# Rewrites files: ruff's fixes and formatter, snakefmt.
format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile workflow/rules

dry-run: $(STAMP)
	$(BIN)/snakemake -n --cores $(CORES)

clean-results:
	rm -rf results/default results/cache
