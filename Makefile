# The two set-up commands a newcomer needs are `make run` and `make test`; both build the
# virtual environment from a lock file on first use. `make run` installs only the runtime
# dependencies (requirements.lock); `make test` and `make check` add the dev ones
# (requirements-dev.lock: test tools and every SQL driver).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
RUNTIME := $(VENV)/.runtime-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
DEV := $(VENV)/.dev-$(shell cat requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run cluster test check lock clean azurite browser

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ingestd needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): requirements.lock pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.runtime-*
	touch $(RUNTIME)

$(DEV): requirements-dev.lock pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.dev-* $(VENV)/.runtime-*
	touch $(DEV) $(RUNTIME)

## Set up, load demo data for the last three days, print a key, and serve on $(HOST):$(PORT)
## (make run PORT=8001 HOST=0.0.0.0).
run: $(RUNTIME)
	$(BIN)/ingestd demo
	@echo "A console key for project demo: send it as STATSIG-API-KEY to /console/v1/... (Statsig),"
	@echo "or as Authorization: Bearer to /api/... (Amperity, with amperity-tenant: demo) and /v1/rest/... (Kusto):"
	@$(BIN)/ingestd keys create --project demo --kind console | tail -n 1
	@echo "Serving on http://$(HOST):$(PORT) (try: curl http://$(HOST):$(PORT)/healthz; API docs at /docs)"
	$(BIN)/ingestd serve --host $(HOST) --port $(PORT)

## One `ingestd serve` and two `ingestd worker` processes (INGESTD_EXECUTOR=celery) on the local
## PostgreSQL (databases ingestd_cluster, ingestd_cluster_data) and Redis (127.0.0.1:6379/0),
## loading the demo data through the workers; prints the URL and a console key; Ctrl-C stops
## all three (make cluster PORT=8001). What it does: scripts/cluster.py.
cluster: $(RUNTIME)
	$(BIN)/python scripts/cluster.py --host $(HOST) --port $(PORT)

## Set up and run the whole test suite (services it cannot reach are skipped, and named).
test: $(DEV) azurite browser
	$(BIN)/python -m pytest

# Azurite (Azure Blob emulator, npm) for the Kusto tests, in tests/.tools (git-ignored). Without
# Node.js the Azurite tests skip (and fail under CI=true); keep the version in step with
# tests/integration/kusto/servers.py.
AZURITE_VERSION := 3.37.0
azurite:
	@if [ -x tests/.tools/node_modules/.bin/azurite-blob ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		npm install --prefix tests/.tools --no-audit --no-fund --loglevel=error \
			azurite@$(AZURITE_VERSION) || echo "npm could not install Azurite"; \
	else echo "npm not found: the Azurite tests will be skipped"; fi

# Debian's chromium for the dashboard's browser tests (playwright, from the dev lock, drives it;
# no browser download). Installed with apt-get when running as root; otherwise say how. Without
# it the browser tests skip (and fail under CI=true).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq chromium) || echo "apt-get could not install chromium"; \
	else echo "chromium not found: the browser tests will be skipped (run: sudo apt-get install -y chromium)"; fi

## Formatting, lint and strict typing of the package.
check: $(DEV)
	$(BIN)/ruff format --check ingestd tests bench
	$(BIN)/ruff check ingestd tests bench
	$(BIN)/mypy --strict ingestd

## Re-pin dependencies after changing pyproject.toml: the runtime lock, then the dev lock.
lock: $(DEV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements-dev.lock

clean:
	rm -rf $(VENV) .ingestd .pytest_cache .mypy_cache .ruff_cache
