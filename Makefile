# One entry point for people and CI. Every target creates .venv and installs what is missing first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run run-dist test lint bench chaos migrate clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Whole platform in one process: embedded PostgreSQL under .data/, in-memory broker.
run: install
	$(BIN)/python -m gateway.embedded

## Each service in its own process against DATABASE_URL and AMQP_URL.
run-dist: install
	$(BIN)/python -m gateway.distributed

## Apply every service's migrations to DATABASE_URL (never done at import or app start in prod).
migrate: install
	$(BIN)/python -m shared.db.migrate all

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

## Faults under load (broker cut, kill -9, SIGTERM) on the distributed platform; not in `make test`.
chaos: install
	$(BIN)/python -m bench chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .data .pytest_cache .ruff_cache
