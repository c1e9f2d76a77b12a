# One task runner. `make run` and `make test` are the README's two set-up commands: each one
# installs everything it needs into .venv/ first, so both work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck imports unit bench clean postgres

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
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

# The store and API tests use the machine's PostgreSQL (127.0.0.1:5432, database `test`): start
# it if it is installed but stopped. If there is none, those tests fail (never skip) and say so.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
	  (command -v pg_ctlcluster >/dev/null && \
	   pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start) || \
	  echo "warning: PostgreSQL is not running on 127.0.0.1:5432; its tests will fail"

# The whole suite: lint, types, import rules, then every test.
test: install postgres lint typecheck imports
	$(BIN)/pytest -q --fail-on-skip

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .keel .pytest_cache .mypy_cache .ruff_cache
