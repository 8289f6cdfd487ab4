"""
### Interests nightly

Turns the day **`ds` that just ended** into the interest-embedding tables, one job per task,
each run as its own process from the project root, between two checks that run in the worker:

1. `wait_for_landing`: a sensor (*reschedule* mode: no worker slot held between pokes, one poke
   every `INTERESTS_DAG_LANDING_POKE_SECONDS`, default 300) that waits until
   `<landing_root>/events/ds=<ds>/` holds a non-empty `*.jsonl` / `*.jsonl.gz` file (the check of
   `interests check-landing`). After `INTERESTS_DAG_LANDING_TIMEOUT_HOURS` (default 6) it fails,
   without retries, naming the folder; nothing else runs. Land the files, then clear it.
2. `clean_events`: parse, validate, pseudonymize, deduplicate and de-bot the day's raw events;
   fold the day's items and user texts into the as-of-ds snapshots.
3. `check_lookback_window`: fails, without retries, naming the days of the `hierarchy.lookback_days`
   window ending ds that were never cleaned (no `clean_events` run in `stage_runs`), and the
   `make backfill` that fills them. Days before the deployment's first night are not holes: the first
   night is `INTERESTS_DAG_START_DATE` when set, else the first day the lake has cleaned
   (`interests.lookback`). A night on a window with holes would publish vectors built from part of
   the history.
4. `encode_texts`: encode item and user texts whose content changed (content-hash cache).
5. `learn_behaviour`: item factors from co-engagement (ALS), hyperparameters chosen on the
   window's own time split, factors predicted from text for items nobody engaged with yet.
6. `build_hierarchy`: item retrieval vectors, topics and sub-interests; user, topic and
   sub-interest embeddings; the night's retrieval evaluation against baselines.
7. `publish`: quality gate, a `pipeline_runs` row, the encoder and hierarchy in MLflow.

**Assets.** `publish` updates one Airflow Asset per published table (`interests.item_embeddings`,
`interests.topics`, `interests.user_embeddings`, `interests.user_topics`,
`interests.user_subinterests`; URIs `interests://published/<table>`) when the night is published
(not when its gate fails); each event's extra is `{"ds": ..., "run_id": ...}`. A consumer schedules
on them (`example_consumer`) and reads that ds through the published pointer
(`interests.consume.NightReader`), never a table's newest version.

**How a task runs.** Every task submits its job with spark-submit (`SparkSubmitOperator`), from
the project root, with the worker's environment (so the jobs read `conf/` plus any `INTERESTS_*`
overrides set where Airflow runs):

    <venv>/bin/spark-submit --master <from the connection>
        --conf spark.pyspark.python=<python> --conf spark.pyspark.driver.python=<python>
        --conf spark.driver.memory=4g --conf spark.driver.extraJavaOptions=-Duser.timezone=UTC
        --conf spark.executor.extraJavaOptions=-Duser.timezone=UTC
        --py-files <home>/.dist/interests.zip --jars <home>/.spark-jars/<each>.jar
        --name interests-<task> [--deploy-mode ...] <home>/jobs/<task>.py --ds <ds> --run-id <run_id>
        --max-lateness-days <param or ''> --lookback-days <param or ''>

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

**Backfill**: `make backfill START=2026-11-01 END=2026-11-07` (both dates included) runs
`scripts/backfill.py`: it starts an api-server, a scheduler and a dag-processor on the project-local
`AIRFLOW_HOME` (its scheduler with `[scheduler] use_job_schedule` off, so unpausing this DAG for the
backfill schedules no other night), runs `airflow backfill create --dag-id interests_nightly --from-date 2026-11-01
--to-date 2026-11-07 --max-active-runs 1`, waits, prints each day's state and `interests
check-night`, and stops what it started. Nights run one at a time, oldest first: each night's
snapshots and encoding cache build on the nights before it. That is why `max_active_runs=1` here,
and why a backfill needs `--max-active-runs 1` too: backfills do not use the DAG's value (they
default to 10), and the scheduler counts a backfill's runs apart from the scheduled ones.

**Bootstrap (per-run params).** A run may set `max_lateness_days` and `lookback_days` (run
params; `airflow dags trigger interests_nightly --conf '{"max_lateness_days": 120}'`, or
`make night DS=... MAX_LATENESS_DAYS=120 LOOKBACK_DAYS=...`). Every job of that run gets them as
`--max-lateness-days` / `--lookback-days` (an unset one as an empty string: the configured value),
and `check_lookback_window` checks the run's own window. They exist for a new deployment that lands
months of history in one day (docs/operations.md, "Bootstrap"); each job records them in
`stage_runs` as `run.max_lateness_days` / `run.lookback_days`.
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
task for a logical date before `start_date`; catchup requires it to be set; when set, it is also the
first night of `check_lookback_window`), `INTERESTS_DAG_LANDING_TIMEOUT_HOURS` (default 6),
`INTERESTS_DAG_LANDING_POKE_SECONDS` (default 300).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.sdk import CronDataIntervalTimetable, dag
from interests_airflow.assets import PUBLISHED_ASSETS
from interests_airflow.settings import dag_settings

SETTINGS = dag_settings(Path(__file__).parent)


@dag(
    dag_id="interests_nightly",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=SETTINGS.start_date,
    catchup=SETTINGS.catchup,
    max_active_runs=1,
    default_args={
        "owner": "interests",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(hours=2),
    },
    tags=["interests", "embeddings", "nightly"],
    params=SETTINGS.run_params(),
)
def interests_nightly() -> None:
    (
        SETTINGS.wait_for_landing()
        >> SETTINGS.spark_job("clean_events", run_options=True)
        >> SETTINGS.check_lookback_window()
        >> SETTINGS.spark_job("encode_texts", run_options=True)
        >> SETTINGS.spark_job("learn_behaviour", run_options=True)
        >> SETTINGS.spark_job("build_hierarchy", run_options=True)
        >> SETTINGS.spark_job("publish", outlets=PUBLISHED_ASSETS, run_options=True)
    )


interests_nightly()
