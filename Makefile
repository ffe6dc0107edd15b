# One target per habit. Every target installs what it needs into $(VENV) first, so on a fresh
# machine `make run` and `make test` are the whole set-up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.podium-installed

.PHONY: install run simulate test lint bench bench-engine bench-api bench-realtime bench-close bench-parsers bench-leaderboard bench-statements bench-payouts clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Podium needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/podium dev

simulate: $(STAMP)
	$(VENV)/bin/podium simulate --plan api/demo/simulate/plan.yaml \
		--data api/demo/simulate/data --period 2026-10 --format table --explain

test: $(STAMP)
	$(PY) -m pytest -n auto

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: bench-engine bench-api bench-realtime bench-close bench-parsers bench-leaderboard bench-statements bench-payouts

bench-engine: $(STAMP)
	$(PY) -m bench.engine

bench-api: $(STAMP)
	$(PY) -m bench.api

bench-realtime: $(STAMP)
	$(PY) -m bench.realtime

bench-close: $(STAMP)
	$(PY) -m bench.close

bench-parsers: $(STAMP)
	$(PY) -m bench.parsers

bench-leaderboard: $(STAMP)
	$(PY) -m bench.leaderboard

bench-statements: $(STAMP)
	$(PY) -m bench.statements

bench-payouts: $(STAMP)
	$(PY) -m bench.payouts

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
