# The two set-up commands a newcomer needs are `make run` and `make test`; both build the
# virtual environment from the lock file on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test check lock clean azurite

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ingestd needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## Set up, load demo data for the last three days, print a key, and serve on :8000.
run: $(STAMP)
	$(BIN)/ingestd demo
	@echo "A console key for project demo (send it as STATSIG-API-KEY or Authorization: Bearer):"
	@$(BIN)/ingestd keys create --project demo --kind console | tail -n 1
	@echo "Serving on http://127.0.0.1:8000 (try: curl http://127.0.0.1:8000/healthz)"
	$(BIN)/ingestd serve --host 127.0.0.1 --port 8000

## Set up and run the whole test suite (services it cannot reach are skipped, and named).
test: $(STAMP) azurite
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

## Formatting, lint and strict typing of the package.
check: $(STAMP)
	$(BIN)/ruff format --check ingestd tests bench
	$(BIN)/ruff check ingestd tests bench
	$(BIN)/mypy --strict ingestd

## Re-pin dependencies after changing pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) .ingestd .pytest_cache .mypy_cache .ruff_cache
