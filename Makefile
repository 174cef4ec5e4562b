# stockloop developer commands. `make demo` and `make test` work on a fresh machine:
# each creates .venv, installs the project, and starts (then stops) what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: install
	scripts/demo.sh

test: install
	scripts/test.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	scripts/with-test-broker.sh env PYTHONPATH=. $(BIN)/python benchmarks/run_all.py

clean:
	scripts/clean.sh
