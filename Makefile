# TDS Platform — the two commands: `make up` runs the platform, `make test` runs the test suite.
# Both install what is missing first (apt packages, TimescaleDB, the virtualenv) and are quick
# when nothing is missing.

VENV      ?= .venv
PYTHON    ?= python3
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
SYSSTAMP  := $(VENV)/.system-ok

.PHONY: up down test lint bench install system test-tools help

help:
	@echo "make up     install what is missing, start the whole platform (Ctrl-C stops it)"
	@echo "make test   install what is missing, run the test suite against real servers"
	@echo "make down   stop whatever 'make up' left running"
	@echo "make lint   ruff"

system:
	@bash scripts/install-system.sh

test-tools:
	@bash scripts/install-system.sh test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	@echo "[install] python packages into $(VENV)"
	@$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	@touch $(STAMP)

install: system $(STAMP)

up: install
	@$(BIN)/tds up

down:
	@test -x $(BIN)/tds && $(BIN)/tds down || true

test: install test-tools
	@bash scripts/run-tests.sh

lint: $(STAMP)
	@$(BIN)/ruff check .
