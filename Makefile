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

# The web apps (Vue + Vite): the staff console (web/console, served at /console/), the grid
# workers' app (web/grid, at /grid/) and the residents' web pages (web/h5, at /h5/). Each is
# built into web/<app>/dist, which the gateway serves, and rebuilt only when something it is
# built from (web/shared/src included: what every app shares) is newer than its build; npm
# rewrites node_modules/.package-lock.json on every install, so one older than the lock means
# `npm ci`.
WEBAPPS := console grid h5
define WEBAPP_RULES
$(1): web/$(1)/dist/index.html

web/$(1)/dist/index.html: web/$(1)/node_modules/.package-lock.json \
		$$(shell find web/$(1)/src web/$(1)/public web/shared/src -type f 2>/dev/null) \
		$$(wildcard web/$(1)/index.html web/$(1)/package.json web/$(1)/vite.config.ts \
		           web/$(1)/tsconfig*.json)
	cd web/$(1) && npm run build
	touch $$@

web/$(1)/node_modules/.package-lock.json: web/$(1)/package-lock.json
	@command -v npm >/dev/null || { echo "make $(1) needs Node 20 and npm"; exit 1; }
	cd web/$(1) && npm ci --no-audit --no-fund
	touch $$@

web/$(1)/package-lock.json:
	@echo "$$@ is missing: the app's dependencies are pinned there"; exit 1
endef
# The browser tests drive Debian's Chromium; the CJK fonts let pages (and their screenshots)
# show Chinese.
CHROMIUM := /usr/bin/chromium
BROWSER_PACKAGES := chromium fonts-noto-cjk
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install lock run run-dist test lint typecheck bench chaos migrate clean web $(WEBAPPS) browser

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
run: install web
	$(BIN)/python -m gateway.embedded

## Each service in its own process against DATABASE_URL and AMQP_URL.
run-dist: install web
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

## Lint and the web apps' builds side by side, the apps' own unit tests (Vitest), then pytest.
## The browser tests (tests/web) need the apps built, and skip without Chromium.
test: install
	$(MAKE) --no-print-directory -j3 lint web
	for app in $(WEBAPPS); do (cd web/$$app && npm test) || exit 1; done
	$(BIN)/python -m shared.testing.suite $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

## Faults under load (broker cut, kill -9, SIGTERM) on the distributed platform; not in `make test`.
chaos: install
	$(BIN)/python -m bench chaos $(CHAOS_ARGS)

## Build a web app (needs Node 20 and npm) when its build is missing or out of date;
## `make web` builds them all.
$(foreach app,$(WEBAPPS),$(eval $(call WEBAPP_RULES,$(app))))

web: $(WEBAPPS)

## Debian's Chromium (and CJK fonts) for the browser tests, installed with apt-get if missing.
browser:
	@if [ -x $(CHROMIUM) ] && fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "browser: $$($(CHROMIUM) --version 2>/dev/null || echo $(CHROMIUM))"; \
	else \
		$(SUDO) $(APT_INSTALL) $(BROWSER_PACKAGES) \
		|| { $(SUDO) apt-get update && $(SUDO) $(APT_INSTALL) $(BROWSER_PACKAGES); }; \
	fi

clean:
	rm -rf $(VENV) .data .pytest_cache .ruff_cache .mypy_cache .import_linter_cache \
		$(foreach app,$(WEBAPPS),web/$(app)/dist web/$(app)/node_modules)
