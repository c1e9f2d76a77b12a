# One task runner. `make run` and `make test` are the README's two set-up commands: each one
# installs everything it needs into .venv/ first, so both work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck imports unit bench clean postgres chromium console-assets

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The sample action package the tests use (the test session installs it too when missing).
	$(BIN)/python -m pip install --quiet --no-deps -e tests/fixtures/keel_sample_actions
	touch $(STAMP)

# Keel's main job on the embedded default: validate the example workflows, then run one.
run: install
	$(BIN)/keel validate examples/*.yml
	$(BIN)/keel run examples/alert_enrichment.yml --input @examples/alert_enrichment.input.json

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest tests/unit -q

# The store, API and topology tests use PostgreSQL (127.0.0.1:5432, user postgres, database
# `test`): .ci/postgres starts the installed cluster, or installs Debian's package first, and
# creates the database when it is missing.
postgres:
	@.ci/postgres

# The console's browser tests drive Debian's chromium (never a downloaded browser build).
chromium:
	@.ci/chromium

# The whole suite: lint, types, import rules, then every test.
test: install postgres chromium lint typecheck imports
	$(BIN)/pytest -q --fail-on-skip

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .keel .pytest_cache .mypy_cache .ruff_cache

# Re-vendor the console's front-end libraries (htmx, dagre) from npm at the versions pinned in
# frontend/package-lock.json. Only needed to upgrade them: `make run`/`make test` use the copies
# committed in src/keel/console/static/ and never need node or the network.
console-assets:
	cd frontend && npm ci --no-audit --no-fund
	cp frontend/node_modules/htmx.org/dist/htmx.min.js \
	   frontend/node_modules/@dagrejs/dagre/dist/dagre.min.js src/keel/console/static/
	{ for p in htmx.org @dagrejs/dagre @dagrejs/graphlib; do \
	    echo "== $$p $$(node -p "require('./frontend/node_modules/$$p/package.json').version") =="; \
	    cat frontend/node_modules/$$p/LICENSE; echo; done; } \
	  > src/keel/console/static/THIRD-PARTY-LICENSES.txt
