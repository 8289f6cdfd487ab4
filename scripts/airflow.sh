#!/usr/bin/env bash
# Run the Airflow CLI against this project: a project-local AIRFLOW_HOME with a sqlite metadata
# DB, this project's dags/ folder, no example DAGs, UTC.
#
#   scripts/airflow.sh dags test interests_nightly 2026-11-20   # one night, in-process
#   scripts/airflow.sh standalone                                # scheduler + API server + UI on :8080
#   scripts/airflow.sh dags list-import-errors
#
# Environment (all optional):
#   AIRFLOW_HOME   state folder (airflow.cfg with generated secrets, airflow.db, logs/);
#                  default <project>/.airflow
#   AIRFLOW_BIN    the airflow executable; default <project>/.venv/bin/airflow
#   AIRFLOW__*     any Airflow setting; the ones below are defaults, a value already set wins.
#   AIRFLOW_CONN_INTERESTS_SPARK
#                  the Spark connection the nightly DAG submits its jobs through (master, deploy
#                  mode); default {"conn_type": "spark", "host": "local[*]"}, this machine.
#                  A DAG pointed at another connection (INTERESTS_SPARK_CONN_ID) gets no default.
# The metadata DB is migrated on first use and after an Airflow upgrade, not on every call.
set -euo pipefail

project_home="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
airflow_bin="${AIRFLOW_BIN:-$project_home/.venv/bin/airflow}"
if [[ ! -x "$airflow_bin" ]]; then
    echo "airflow.sh: no airflow executable at $airflow_bin (create .venv or set AIRFLOW_BIN)" >&2
    exit 1
fi

# `airflow standalone` starts its parts (scheduler, api-server, ...) as `airflow` from PATH.
export PATH="$(dirname "$airflow_bin"):$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$project_home/.airflow}"
mkdir -p "$AIRFLOW_HOME"
AIRFLOW_HOME="$(cd "$AIRFLOW_HOME" && pwd)"  # sqlite URLs need an absolute path

export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$project_home/dags}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
# LocalExecutor starts one worker process per slot (default 32); the jobs are heavy and the
# nightly DAG runs one at a time.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__DEFAULT_TIMEZONE="${AIRFLOW__CORE__DEFAULT_TIMEZONE:-UTC}"
# The UI/API listens on this machine only: the simple auth manager is for development.
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
# The embedded default: spark-submit runs the jobs on this machine (local[*]). Set only for the
# default connection id, only when unset. Airflow reads connections from the environment before the
# metadata DB, so a connection kept in the DB or a secrets backend takes another id
# (INTERESTS_SPARK_CONN_ID), which gets no default here.
if [[ "${INTERESTS_SPARK_CONN_ID:-interests_spark}" == "interests_spark" ]]; then
    local_spark='{"conn_type": "spark", "host": "local[*]"}'
    export AIRFLOW_CONN_INTERESTS_SPARK="${AIRFLOW_CONN_INTERESTS_SPARK:-$local_spark}"
fi

# Migrate when the stamp (Airflow version + DB URL) is missing or stale, or the sqlite file is gone.
# Reading the version from package metadata takes ~50 ms; `airflow db check-migrations` takes ~4 s.
migrate_if_needed() {
    local stamp="$AIRFLOW_HOME/.db-migrated" python version wanted db_file
    python="$(dirname "$airflow_bin")/python"
    if [[ -x "$python" ]]; then
        version="$("$python" -c 'import importlib.metadata as m; print(m.version("apache-airflow-core"))')"
    else
        version="$("$airflow_bin" version)"
    fi
    wanted="$version $AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    db_file=""
    if [[ "$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" == sqlite:///* ]]; then
        db_file="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN#sqlite:///}"
    fi
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && ( -z "$db_file" || -f "$db_file" ) ]]; then
        return 0
    fi
    echo "airflow.sh: migrating the metadata DB ($AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)" >&2
    if ! "$airflow_bin" db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1; then
        cat "$AIRFLOW_HOME/db-migrate.log" >&2
        echo "airflow.sh: airflow db migrate failed (log: $AIRFLOW_HOME/db-migrate.log)" >&2
        return 1
    fi
    printf '%s\n' "$wanted" >"$stamp"
}

# One migration at a time when several calls start together on a fresh AIRFLOW_HOME. The lock
# is held by a subshell only, so the airflow process started below does not inherit it.
if command -v flock >/dev/null 2>&1; then
    (
        flock 9
        migrate_if_needed
    ) 9>"$AIRFLOW_HOME/.db-migrate.lock"
else
    migrate_if_needed
fi

exec "$airflow_bin" "$@"
