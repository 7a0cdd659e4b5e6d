# One entry point for people and CI. Every target creates .venv and installs what is missing first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions with hashes of everything the project and its dev extra need; pyproject.toml
# keeps the ranges. The image installs IMAGE_LOCK: the runtime part, at the same versions.
LOCK := requirements/dev.lock
IMAGE_LOCK := requirements/image.lock
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"

.PHONY: install lock run run-dist test lint typecheck bench chaos migrate clean

# The project itself goes in without dependencies, so nothing outside the lock is installed;
# `pip check` then fails when pyproject.toml asks for something the lock does not hold.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

install: $(STAMP)

## Re-resolve both locks after a change to pyproject.toml, keeping every pin it can;
## `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed versions.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv
	$(UV_COMPILE) pyproject.toml --extra dev -o $(LOCK) $(LOCK_ARGS)
	$(BIN)/python deploy/docker/requirements.py pyproject.toml \
		| $(UV_COMPILE) - --constraint $(LOCK) -o $(IMAGE_LOCK)

## Whole platform in one process: embedded PostgreSQL under .data/, in-memory broker.
run: install
	$(BIN)/python -m gateway.embedded

## Each service in its own process against DATABASE_URL and AMQP_URL.
run-dist: install
	$(BIN)/python -m gateway.distributed

## Apply every service's migrations to DATABASE_URL (never done at import or app start in prod).
migrate: install
	$(BIN)/python -m shared.db.migrate all

## ruff, then the import contracts in pyproject.toml, then mypy.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

typecheck: install
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

## Faults under load (broker cut, kill -9, SIGTERM) on the distributed platform; not in `make test`.
chaos: install
	$(BIN)/python -m bench chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .data .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
