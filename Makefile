# The few verbs a newcomer needs.  make run | make test | make lint | make bench | make bench-smoke
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: run test faults lint bench bench-smoke clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python devserver.py

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/pytest -q

# Kill, flush and restart a private PostgreSQL and Redis under load, slow and fail Tencent, drop the WebSocket.
faults: $(STAMP)
	$(BIN)/pytest -q tests/faults

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

# Every benchmark at a tiny size, so that none of them rots: under a minute, nothing written, non-zero on a failure.
bench-smoke: $(STAMP)
	$(BIN)/python -m bench --smoke

clean:
	rm -rf var
