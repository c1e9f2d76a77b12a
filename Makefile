# One task runner. `make run` and `make test` are the README's two set-up commands: each one
# installs everything it needs into .venv/ first, so both work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck imports unit bench clean

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

# The whole suite: lint, types, import rules, then every test.
test: install lint typecheck imports
	$(BIN)/pytest -q --fail-on-skip

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .keel .pytest_cache .mypy_cache .ruff_cache
