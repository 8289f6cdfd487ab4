# Nightly multi-granularity user-interest embeddings. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DS ?= $(shell date -u -d yesterday +%F)
LANDING ?=
LAKE ?= $(CURDIR)/data/lake
PRESET ?= small
START ?= $(DS)
END ?= $(DS)

# With no LANDING, `make run` generates a synthetic landing zone (and its planted truth) here.
GENERATED_LANDING := $(CURDIR)/data/landing
TRUTH := $(CURDIR)/data/truth
LANDING_ROOT := $(if $(LANDING),$(abspath $(LANDING)),$(GENERATED_LANDING))
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export INTERESTS_PATHS__LANDING_ROOT := $(LANDING_ROOT)
export INTERESTS_PATHS__LAKE_ROOT := $(abspath $(LAKE))
export INTERESTS_PYTHON := $(CURDIR)/$(BIN)/python
# The Delta Lake jars, resolved at install time (scripts/spark_jars.sh); conf spark.jars_dir points here.
SPARK_JARS := $(CURDIR)/.spark-jars
# The library as spark-submit ships it to the executors (--py-files): a zip of src/interests, built by
# install and again by `make dist`, night, backfill and airflow (tasks refuse a zip older than src).
LIBRARY_ZIP := $(CURDIR)/.dist/interests.zip
BUILD_LIBRARY_ZIP = $(BIN)/python dags/interests_airflow/library.py src/interests $(LIBRARY_ZIP)

.PHONY: help install dist run generate history night summary report browser test test-fast bench backfill airflow mlflow-ui lint clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'
	@echo ""
	@echo "  Variables: DS=YYYY-MM-DD (default yesterday, UTC)  LANDING=/path (real landing zone)  LAKE=/path"

# The Spark provider goes in without its dependencies: it asks for pyspark-client, a second copy of
# the pyspark package, which SparkSubmitOperator does not use (requirements-nodeps.txt says more).
$(VENV)/.installed: requirements.txt requirements-nodeps.txt pyproject.toml conf/spark-jars/pom.xml scripts/spark_jars.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	scripts/spark_jars.sh $(SPARK_JARS) $$($(BIN)/python -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
	$(BUILD_LIBRARY_ZIP)
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the pinned requirements (CPU torch)

# Always rebuilt (a tenth of a second): a module deleted from src leaves no newer file to notice.
dist: install ## Zip src/interests for spark-submit --py-files (.dist/interests.zip)
	@$(BUILD_LIBRARY_ZIP)

generate: install ## Generate the synthetic landing zone for the days up to DS (PRESET=small)
	$(BIN)/interests generate --preset $(PRESET) --end $(DS) --landing $(GENERATED_LANDING) --truth $(TRUTH)

# A DAG run can succeed having run no task (a logical date before the DAG's start_date), so the
# night is judged by what it published since it started; check-night prints the one failure line.
# MAX_LATENESS_DAYS / LOOKBACK_DAYS: this night's run params (a bootstrap night; docs/operations.md, "Bootstrap").
night: install dist ## Run the nightly DAG for DS through Airflow (airflow dags test), on LANDING or the generated data
	@$(BIN)/interests check-landing --ds $(DS)
	@conf=$$($(BIN)/python -c 'import json, sys; names = ("max_lateness_days", "lookback_days"); \
		print(json.dumps({n: int(v) for n, v in zip(names, sys.argv[1:]) if v}))' "$(MAX_LATENESS_DAYS)" "$(LOOKBACK_DAYS)") || exit 2; \
		started=$$(date -u +%FT%TZ); echo "scripts/airflow.sh dags test interests_nightly $(DS) --conf '$$conf'"; \
		scripts/airflow.sh dags test interests_nightly $(DS) --conf "$$conf"; airflow_status=$$?; \
		$(BIN)/interests check-night --ds $(DS) --since $$started && exit $$airflow_status

summary: install ## Print where DS's tables are, their row counts and how to look at them
	$(BIN)/interests summary --ds $(DS) $(if $(LANDING),,--truth $(TRUTH))

# DS defaults to yesterday for the nightly targets; a report defaults to the latest *published* night,
# so --ds goes along only when DS was given (command line or environment), not from that default.
report: install ## Write a published night's HTML report to data/reports/<ds>.html (make report [DS=...], default the latest published)
	$(BIN)/interests report $(if $(filter file,$(origin DS)),,--ds $(DS))

# The report's browser test opens the page in headless Chromium: Debian's chromium package.
browser: ## Install headless Chromium for the report's browser test (apt-get, with sudo when not root)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null 2>&1; then sudo=sudo; else \
			echo "make browser: chromium is missing and installing it needs root or sudo: apt-get install chromium (or set CHROMIUM=/path/to/chromium)" >&2; exit 1; fi; \
		echo "make browser: installing chromium (apt-get)"; \
		{ $$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends chromium; } || { \
			echo "make browser: could not install chromium with apt-get; install Debian's chromium package by hand (or set CHROMIUM=/path/to/chromium)" >&2; exit 1; }; }

# The generated week's earlier days are cleaned first (events_clean and the snapshots), so the
# night's lookback window has history to learn behaviour from and to evaluate itself on.
history: install ## Clean the generated days before DS (their events and snapshots), without the rest of the night
	@day=$$(date -u -d "$(DS) - 6 days" +%F); while [[ "$$day" < "$(DS)" ]]; do \
		$(BIN)/interests check-landing --ds $$day 2>/dev/null && \
		{ echo "== clean_events ds=$$day"; $(BIN)/python jobs/clean_events.py --ds $$day --run-id history || exit 1; }; \
		day=$$(date -u -d "$$day + 1 day" +%F); done

run: install ## Install, generate data (unless LANDING is set), run one night for DS end to end, print a summary
	@if [ -z "$(LANDING)" ]; then $(MAKE) --no-print-directory generate history; fi
	@$(MAKE) --no-print-directory night
	@$(MAKE) --no-print-directory summary

test: install browser ## Install, then run the whole test suite (real Spark, Delta, MLflow, Airflow, model)
	$(BIN)/python -m pytest

test-fast: install ## Only the unit tests (no integration or Airflow runs)
	$(BIN)/python -m pytest -m "not integration and not airflow"

bench: install ## Run the benchmarks under benchmarks/ (ratios against a baseline measured in the same run)
	@for bench in benchmarks/encode.py benchmarks/bench_*.py; do [ $$bench = benchmarks/bench_soak.py ] && continue; \
		echo "== $$bench"; $(BIN)/python $$bench || exit 1; done

soak: install ## The soak benchmark: NIGHTS (30) consecutive nights of PRESET (tiny), then maintenance (hours; not in make bench)
	$(BIN)/python benchmarks/bench_soak.py --nights $(or $(NIGHTS),30) --preset $(or $(SOAK_PRESET),tiny)

# Airflow 3's own backfill: scripts/backfill.py starts an api-server, a scheduler and a dag-processor on the
# project-local AIRFLOW_HOME, runs `airflow backfill create ... --max-active-runs 1`, waits, reports each
# day (state + interests check-night) and stops what it started. REPROCESS=none|failed|completed.
backfill: install dist ## Backfill START..END (inclusive) through the Airflow scheduler, one night at a time, oldest first
	$(BIN)/python scripts/backfill.py --start $(START) --end $(END) $(if $(REPROCESS),--reprocess $(REPROCESS))

# The simple auth manager's login: user admin, password in .airflow/simple_auth_manager_passwords.json.generated.
airflow: install dist ## Start Airflow (scheduler + UI on 127.0.0.1:8080) with the project-local AIRFLOW_HOME
	scripts/airflow.sh standalone

mlflow-ui: install ## Start the MLflow UI on the embedded store of LAKE
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(abspath $(LAKE))/_mlflow/mlflow.db --host 127.0.0.1 --port 5000

lint: install ## Static checks (ruff)
	$(BIN)/ruff check src jobs dags tests benchmarks

clean: ## Remove generated data, the lake, Airflow's home and caches (keeps .venv)
	rm -rf data .airflow .pytest_cache spark-warehouse
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
