"""
### Interests nightly

Turns the day **`ds` that just ended** into the interest-embedding tables, one job per task,
each run as its own process from the project root:

1. `clean_events`: parse, validate, pseudonymize, deduplicate and de-bot the day's raw events;
   fold the day's items and user texts into the as-of-ds snapshots.
2. `encode_texts`: encode item and user texts whose content changed (content-hash cache).
3. `learn_behaviour`: item factors from co-engagement (ALS), hyperparameters chosen on the
   window's own time split, factors predicted from text for items nobody engaged with yet.
4. `build_hierarchy`: item retrieval vectors, topics and sub-interests; user, topic and
   sub-interest embeddings; the night's retrieval evaluation against baselines.
5. `publish`: quality gate, a `pipeline_runs` row, the encoder and hierarchy in MLflow.

**How a task runs.** Every task submits its job with spark-submit (`SparkSubmitOperator`), from
the project root, with the worker's environment (so the jobs read `conf/` plus any `INTERESTS_*`
overrides set where Airflow runs):

    <venv>/bin/spark-submit --master <from the connection>
        --conf spark.pyspark.python=<python> --conf spark.pyspark.driver.python=<python>
        --conf spark.driver.memory=4g --conf spark.driver.extraJavaOptions=-Duser.timezone=UTC
        --conf spark.executor.extraJavaOptions=-Duser.timezone=UTC
        --py-files <home>/.dist/interests.zip --jars <home>/.spark-jars/<each>.jar
        --name interests-<task> [--deploy-mode ...] <home>/jobs/<task>.py --ds <ds> --run-id <run_id>

The driver runs where spark-submit runs (client mode), so the job's exit code is the task's.
`--py-files` ships the library (`src/interests`, zipped by `make install`) to the executors and
`--jars` the Delta Lake jars resolved at install time, so no executor needs a path that exists only
on the worker's machine; a task refuses to submit a zip older than the sources.

**Where it submits.** The master (and deploy mode, YARN queue) come from the Airflow connection
`INTERESTS_SPARK_CONN_ID` (default `interests_spark`), defined by the environment variable
`AIRFLOW_CONN_INTERESTS_SPARK`; `scripts/airflow.sh` sets the embedded default,
`{"conn_type": "spark", "host": "local[*]"}`, when it is unset. For a cluster, e.g.
`{"conn_type": "spark", "host": "spark://10.0.0.5", "port": 7077}` (standalone),
`{"conn_type": "spark", "host": "yarn", "extra": {"queue": "etl"}}`, or
`{"conn_type": "spark", "host": "k8s://https://10.0.0.1:6443", "extra": {"namespace": "etl"}}`
(needs the cncf-kubernetes provider). Ship third-party dependencies to executors as a packed
environment (venv-pack or conda-pack) with `INTERESTS_SPARK_CONF='{"spark.archives":
"hdfs:///envs/interests.tar.gz#environment", "spark.pyspark.python": "./environment/bin/python"}'`.
docs/operations.md, "Submitting to a cluster", has the whole recipe.

**Which day.** The schedule is a *data-interval* timetable on `@daily` (UTC): the run for the
interval 2026-11-20 00:00 to 2026-11-21 00:00 starts just after midnight on 2026-11-21 and has
logical date 2026-11-20, so `{{ ds }}` is `2026-11-20`, the day that ended. (A plain
`schedule="@daily"` in Airflow 3 builds a `CronTriggerTimetable`, whose logical date is the
moment it fires, so `ds` would be the day that just *started*.) For a manual run the logical
date is the day to process: `airflow dags test interests_nightly 2026-11-20` and a UI trigger with
logical date 2026-11-20 both process 2026-11-20 (Airflow gives such a run the interval that *ends*
at its logical date, 2026-11-19 to 2026-11-20: the jobs take `{{ ds }}`, never the data interval).
A run triggered with no logical date (allowed in Airflow 3) has no `ds`: its first task fails at
once, without retries, rather than guess a day.

**Any day, years back included.** Airflow creates no task instance for a logical date before the
DAG's `start_date` and then marks that empty run *successful*: with a start_date of 2026-01-01,
`airflow dags test interests_nightly 2015-03-01` exits 0 having run nothing. So `start_date`
defaults to 1970-01-01 and every day runs its tasks. With catchup off (the default) that old
start_date creates no history: the scheduler's first run is the latest complete interval
(`airflow dags next-execution interests_nightly` prints yesterday), and history is a backfill.
`make night` / `make backfill` do not trust the exit code alone: `interests check-night` fails
unless the night published rows for its `ds`.

Jobs take the day from `--ds`, never from the run id: a scheduled run's id carries the time it
was due (`scheduled__2026-11-21T00:00:00+00:00` for ds 2026-11-20), a manual one the time it
was triggered.

**Backfill** (scheduler running, e.g. `scripts/airflow.sh standalone`), both dates included:
`scripts/airflow.sh backfill create --dag-id interests_nightly --from-date 2026-11-01 --to-date 2026-11-07 --max-active-runs 1`.
Nights run one at a time, oldest first: each night's snapshots and encoding cache build on
the nights before it. That is why `max_active_runs=1` here, and why a backfill needs
`--max-active-runs 1` too: backfills do not use the DAG's value (they default to 10).

**Failures.** A task is retried twice, 5 minutes apart, and stopped after 2 hours. A job that
exits with code 2 (bad input, e.g. the landing folder for `ds` is missing) fails at once: the
same input would fail again. Fix the input, then clear the task. So does a task whose connection
is undefined, whose spark-submit, jars or library zip is missing, or whose zip is older than
`src/interests` (`make dist` rebuilds it). On a cluster in *cluster* deploy mode the driver's exit
code does not come back through spark-submit, so there every failure is retried.

**Set at parse time from the environment:** `INTERESTS_HOME` (project root; default: the parent
of this `dags/` folder), `INTERESTS_PYTHON` (interpreter of the jobs' driver and, unless
`INTERESTS_SPARK_CONF` says otherwise, of the executors; default: the one parsing this file),
`INTERESTS_SPARK_SUBMIT` (default: the `spark-submit` next to `INTERESTS_PYTHON`, i.e. the project's
pyspark; it wins over the connection's `spark-binary`), `INTERESTS_SPARK_CONN_ID` (default
`interests_spark`), `INTERESTS_SPARK__JARS_DIR` (the jobs' own `spark.jars_dir` override; default
`<home>/.spark-jars`), `INTERESTS_SPARK_CONF` (a JSON object of Spark properties laid over the
ones above), `INTERESTS_DAG_CATCHUP` (`true` to create every missed night since `start_date`;
default `false`), `INTERESTS_DAG_START_DATE` (YYYY-MM-DD, the deployment's first night; default
1970-01-01 so that a night for any day, years back included, runs its tasks: Airflow schedules no
task for a logical date before `start_date`; catchup requires it to be set).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import CronDataIntervalTimetable, dag
from interests_airflow import SparkJobOperator


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(
        f"{name}={value!r} is not a boolean; use one of true/false, 1/0, yes/no, on/off"
    )


EARLIEST_NIGHT = datetime(1970, 1, 1, tzinfo=UTC)
"""Default start_date: a night for any day can run (a task never runs for a ds before its DAG's start_date)."""


def _env_date(name: str, default: datetime) -> datetime:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a day; use YYYY-MM-DD") from None


def _env_spark_conf(name: str) -> dict[str, str]:
    value = os.environ.get(name, "").strip()
    if not value:
        return {}
    try:
        conf = json.loads(value)
    except ValueError:
        conf = None
    if isinstance(conf, dict):
        return {str(key): str(item) for key, item in conf.items()}
    raise ValueError(
        f"{name}={value!r} is not a JSON object of Spark properties, "
        'e.g. {"spark.executor.memory": "8g"}'
    )


PROJECT_HOME = Path(os.environ.get("INTERESTS_HOME") or Path(__file__).resolve().parents[1])
PYTHON = os.environ.get("INTERESTS_PYTHON") or sys.executable
CATCHUP = _env_flag("INTERESTS_DAG_CATCHUP", default=False)
START_DATE = _env_date("INTERESTS_DAG_START_DATE", default=EARLIEST_NIGHT)
if CATCHUP and "INTERESTS_DAG_START_DATE" not in os.environ:
    raise ValueError(
        "INTERESTS_DAG_CATCHUP=true needs INTERESTS_DAG_START_DATE (the deployment's first night): "
        f"catching up from the default {EARLIEST_NIGHT:%Y-%m-%d} would schedule decades of nights"
    )

SPARK_CONN_ID = os.environ.get("INTERESTS_SPARK_CONN_ID") or "interests_spark"
# The project's pyspark installs spark-submit next to its python (not resolved: a venv's python
# is a link to the base interpreter, whose folder has no spark-submit).
SPARK_SUBMIT = os.environ.get("INTERESTS_SPARK_SUBMIT") or str(Path(PYTHON).with_name("spark-submit"))
LIBRARY_SOURCE = PROJECT_HOME / "src" / "interests"
LIBRARY_ZIP = PROJECT_HOME / ".dist" / "interests.zip"
"""Built by `make install` from LIBRARY_SOURCE (interests_airflow/library.py)."""
JARS_DIR = PROJECT_HOME / os.environ.get("INTERESTS_SPARK__JARS_DIR", ".spark-jars")
"""The Delta Lake jars (scripts/spark_jars.sh); the same override as the jobs' spark.jars_dir."""
SPARK_CONF = {
    # Driver and executors run the project's interpreter (a cluster overrides the executors'
    # with a packed environment: spark.archives + spark.pyspark.python=./environment/bin/python).
    "spark.pyspark.python": PYTHON,
    "spark.pyspark.driver.python": PYTHON,
    # Fixed when the driver JVM starts, so a job cannot set them: they are spark-submit's.
    # 4g as conf/base's spark.driver_memory: with local[*] the executors live in the driver.
    "spark.driver.memory": "4g",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    **_env_spark_conf("INTERESTS_SPARK_CONF"),
}


def run_job(job: str) -> SparkJobOperator:
    """The task that submits ``jobs/<job>.py`` for this run's ds and run id."""
    return SparkJobOperator(
        task_id=job,
        application=str(PROJECT_HOME / "jobs" / f"{job}.py"),
        application_args=["--ds", "{{ ds }}", "--run-id", "{{ run_id }}"],
        name=f"interests-{job}",
        conn_id=SPARK_CONN_ID,
        spark_binary=SPARK_SUBMIT,
        conf=dict(SPARK_CONF),
        py_files=str(LIBRARY_ZIP),
        library_source=str(LIBRARY_SOURCE),
        jars_dir=str(JARS_DIR),
        project_home=str(PROJECT_HOME),
    )


@dag(
    dag_id="interests_nightly",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=START_DATE,
    catchup=CATCHUP,
    max_active_runs=1,
    default_args={
        "owner": "interests",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(hours=2),
    },
    tags=["interests", "embeddings", "nightly"],
)
def interests_nightly() -> None:
    (
        run_job("clean_events")
        >> run_job("encode_texts")
        >> run_job("learn_behaviour")
        >> run_job("build_hierarchy")
        >> run_job("publish")
    )


interests_nightly()
