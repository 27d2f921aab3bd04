# The commands the README names. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser run test lint format clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the API on 127.0.0.1:8000 with an embedded PostgreSQL and the sample catalogue.
run: install
	$(BIN)/paperfeed serve --ingest examples/papers.jsonl --demo-key

## Debian's Chromium for the browser tests (tests/e2e/test_browser.py), installed with
## apt-get when missing and this is root; otherwise those tests skip and say why.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
		echo "$(CHROMIUM) is missing and cannot be installed here (needs root and apt-get):" \
			"the browser tests will skip"; \
	fi

## The load benchmark (bench/run.py): a generated world in a fresh database, the fit job,
## the real server driven with wrk; JSON and a table in bench/results/. SCALE=full (1M
## papers, 100k readers, 10M events), SCALE=medium (200k papers, about 15 minutes) or
## SCALE=small (a few minutes). Debian's wrk is installed with apt-get when missing and
## this is root; otherwise the feed stage skips.
SCALE ?= full
bench: install
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's wrk for the benchmark"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends wrk >/dev/null; \
	else \
		echo "wrk is missing and cannot be installed here (needs root and apt-get):" \
			"the feed stage will skip"; \
	fi
	BENCH_COMMAND="make bench SCALE=$(SCALE)" $(BIN)/python bench/run.py --scale $(SCALE)

## Lint, type-check and run the whole test suite.
test: install browser lint
	$(BIN)/pytest -q --durations=15

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .paperfeed .mypy_cache .ruff_cache .pytest_cache
