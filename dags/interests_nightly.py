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

Every task runs `<python> jobs/<task>.py --ds <ds> --run-id <run_id>` with the worker's
environment, so the jobs read `conf/` plus any `INTERESTS_*` overrides set where Airflow runs.

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
same input would fail again. Fix the input, then clear the task.

**Set at parse time from the environment:** `INTERESTS_HOME` (project root; default: the parent
of this `dags/` folder), `INTERESTS_PYTHON` (interpreter for the jobs; default: the one parsing
this file), `INTERESTS_DAG_CATCHUP` (`true` to create every missed night since `start_date`;
default `false`), `INTERESTS_DAG_START_DATE` (YYYY-MM-DD, the deployment's first night; default
1970-01-01 so that a night for any day, years back included, runs its tasks: Airflow schedules no
task for a logical date before `start_date`; catchup requires it to be set).
"""

from __future__ import annotations

import os
import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import CronDataIntervalTimetable, dag
from interests_airflow import JobOperator


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


PROJECT_HOME = Path(os.environ.get("INTERESTS_HOME") or Path(__file__).resolve().parents[1])
PYTHON = os.environ.get("INTERESTS_PYTHON") or sys.executable
CATCHUP = _env_flag("INTERESTS_DAG_CATCHUP", default=False)
START_DATE = _env_date("INTERESTS_DAG_START_DATE", default=EARLIEST_NIGHT)
if CATCHUP and "INTERESTS_DAG_START_DATE" not in os.environ:
    raise ValueError(
        "INTERESTS_DAG_CATCHUP=true needs INTERESTS_DAG_START_DATE (the deployment's first night): "
        f"catching up from the default {EARLIEST_NIGHT:%Y-%m-%d} would schedule decades of nights"
    )


def run_job(job: str) -> JobOperator:
    """The task that runs ``jobs/<job>.py`` for this run's ds and run id."""
    return JobOperator(
        task_id=job,
        bash_command=(
            f"{shlex.quote(PYTHON)} jobs/{job}.py"
            " --ds {{ ds }} --run-id {{ run_id | shell_quote }}"
        ),
        cwd=str(PROJECT_HOME),
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
    user_defined_filters={"shell_quote": shlex.quote},
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
