# Two entry points for newcomers: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean wheel-smoke

$(BIN)/bantin: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## run: ingest BANTIN_SOURCES (bundled samples by default), then the bot (BANTIN_TOKEN set) or the offline console
run: $(BIN)/bantin
	$(BIN)/bantin start

# The folders as bantin/*, for mypy only: it cannot follow setuptools' editable mapping (bantin.bot → bot/).
TYPECHECK := build/typecheck/bantin
$(TYPECHECK):
	mkdir -p $@
	for p in articles index bot templates; do ln -sfn "$(CURDIR)/$$p" "$@/$$p"; done

## test: lint, type-check and run the whole test suite
test: $(BIN)/bantin $(TYPECHECK)
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
	$(BIN)/python bench/scale.py

## wheel-smoke: build the wheel, install it in a fresh venv outside the checkout, ingest, search, chat
wheel-smoke:
	bash .ci/wheel-smoke

clean:
	rm -rf $(VENV) data build *.egg-info .pytest_cache .mypy_cache .ruff_cache
