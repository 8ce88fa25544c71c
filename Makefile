# Two entry points for newcomers: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/bantin: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## run: ingest BANTIN_SOURCES (bundled samples by default), then the bot (BANTIN_TOKEN set) or the offline console
run: $(BIN)/bantin
	$(BIN)/bantin start

## test: lint, type-check and run the whole test suite
test: $(BIN)/bantin
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

## bench: every benchmark on the shared corpus (../shared/data)
bench: $(BIN)/bantin
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/relevance.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/bot.py
	$(BIN)/python bench/digest.py
	$(BIN)/python bench/fetch.py

clean:
	rm -rf $(VENV) data *.egg-info .pytest_cache .mypy_cache .ruff_cache
