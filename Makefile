# auditpipe — common tasks. `make help` lists them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
AP     := $(BIN)/auditpipe

.DEFAULT_GOAL := help
.PHONY: help install up down status logs demo run test test-unit lint format bench bench-env chaos clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}'

$(AP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found); set PYTHON=..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(AP)

# native/: the Rust Merkle hashing the verifier uses (pipeline/archive/format/merkle.py). Needs cargo;
# `make install NATIVE=0` skips it (pure-Python hashing, same results, ~2x slower verify).
NATIVE ?= 1
NATIVE_SRC := native/Cargo.toml native/Cargo.lock native/pyproject.toml native/src/lib.rs native/auditpipe_native.pyi
NATIVE_STAMP := $(if $(filter 0,$(NATIVE)),,$(VENV)/.native-installed)

$(VENV)/.native-installed: $(AP) $(NATIVE_SRC)
	@PATH="$$HOME/.cargo/bin:$$PATH" command -v cargo >/dev/null || { echo "ERROR: cargo (Rust) is needed to build native/ (the verifier's Merkle hashing): install Rust with rustup, or run 'make install NATIVE=0' for the slower pure-Python hashing"; exit 1; }
	PATH="$$HOME/.cargo/bin:$$PATH" $(BIN)/pip install --quiet ./native
	@touch $@

install: $(AP) $(NATIVE_STAMP) ## create ./.venv and install auditpipe (editable) with dev extras and native/
	@if [ -z "$(NATIVE_STAMP)" ]; then echo "WARNING: NATIVE=0: native/ not installed, Merkle hashing runs in pure Python"; fi

up: install ## start the local stack (Kafka, schema registry, two S3 regions); fetches on first run
	$(AP) stack up

down: ## stop the local stack
	@if [ -x $(AP) ]; then $(AP) stack down; fi

status: install ## show each service of the local stack up or down
	$(AP) stack status

demo: install ## start the stack, run every stage on demo events; show the signed webhooks received
	$(AP) demo

run: install ## start the stack and every stage with a demo producer until Ctrl-C (run all)
	$(AP) run all --demo-producer

test: install ## run all tests (starts the local stack if it is not up)
	$(AP) stack up
	$(BIN)/pytest

test-unit: install ## run the unit tests only (no services needed)
	$(BIN)/pytest -m "not integration"

lint: install ## ruff (lint + format check) and mypy --strict on pipeline/
	$(BIN)/ruff check pipeline tests benchmarks
	$(BIN)/ruff format --check pipeline tests benchmarks
	$(BIN)/mypy --strict pipeline tests/harness

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix pipeline tests benchmarks
	$(BIN)/ruff format pipeline tests benchmarks

bench: install ## run the benchmarks against the local stack and print a table
	$(AP) stack up
	$(BIN)/python -m benchmarks

EVENTS ?= 1000000
RATE   ?= 400 # what this 2-core machine sustains under faults: 16 fault rounds at 1 M, about 52 min
SEED   ?=
chaos: install ## e2e accounting at 1 M events with repeated random faults on a private stack
	$(AP) stack fetch
	$(BIN)/python -m tests.e2e.scenario --events $(EVENTS) --rate $(RATE) $(if $(SEED),--seed $(SEED))

BENCH_VENV := .bench-venv

$(BENCH_VENV)/.installed: benchmarks/requirements-bench.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found); set PYTHON=..."; exit 1; }
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -r benchmarks/requirements-bench.txt
	@touch $@

bench-env: $(BENCH_VENV)/.installed ## create ./.bench-venv (Presidio, Quix Streams) for the benchmarks' optional rows

clean: down ## stop the stack and delete .stack/, .venv/ and .bench-venv/
	rm -rf .stack $(VENV) $(BENCH_VENV)
