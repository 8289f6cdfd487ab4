"""
### Interests lake maintenance

Once a day, after the night for the same `ds` has finished, keeps the Delta lake small and fast
without breaking time travel to the nights readers may ask for:

1. `wait_for_nightly`: waits (a sensor in *reschedule* mode, holding no worker slot) until the
   `interests_nightly` run with the same logical date has ended, successfully or not.
2. `maintain_lake`: submits `jobs/maintain_lake.py --ds {{ ds }}` with spark-submit, exactly like
   a nightly task: compaction of small files, vacuum, Delta log cleanup, counts per table in
   `stage_runs` (stage `maintain_lake`).

**The retention rule** (`interests.publishing.maintenance`): vacuum keeps every file that any of
the last `maintenance.keep_nights` (default 7) published nights reads. For a table those nights name,
its retention is the age of the oldest version they name, rounded up to hours, plus
`maintenance.retention_margin_hours`; other tables (`text_embeddings`, `stage_runs`,
`pipeline_runs`) keep `maintenance.default_retention_hours`. Each table's
`delta.logRetentionDuration` is set to `maintenance.log_retention_hours`, or to its vacuum retention
when that is longer, so the kept nights' versions stay loadable after log cleanup.

**Never while a night writes the same tables.** The schedule is the nightly's (data-interval
`@daily`, UTC): the run for ds 2026-11-20 starts when the nightly run for 2026-11-20 does, and its
sensor holds it back until that run is over. Compaction touches only ds partitions up to the run's
`ds` (and whole tables not partitioned by ds, where the night only appends, which Delta lets commit
side by side with a compaction), never the `ds + 1` the next night writes; vacuum never deletes a
file younger than the margin (24 h), so files a job is writing are safe. A rerun or backfill of an
old ds started by hand while maintenance runs may conflict with its compaction: Delta then fails
one of the two commits, and Airflow retries it. `max_active_runs=1`: one maintenance at a time.

If no nightly run exists for the logical date (the nightly paused, or a manual trigger), the sensor
gives up after 20 hours and the run fails; run the job by hand instead:
`python jobs/maintain_lake.py --ds 2026-11-20` (add `INTERESTS_MAINTENANCE__DRY_RUN=true` to only
count what vacuum would delete). docs/operations.md, "Lake maintenance", has the details.

**Failures.** The job is retried twice, 5 minutes apart, and stopped after 2 hours; exit code 2
(bad configuration) fails at once.

**Set at parse time from the environment:** the same variables as `interests_nightly`
(`INTERESTS_HOME`, `INTERESTS_PYTHON`, `INTERESTS_SPARK_SUBMIT`, `INTERESTS_SPARK_CONN_ID`,
`INTERESTS_SPARK__JARS_DIR`, `INTERESTS_SPARK_CONF`), and `INTERESTS_DAG_START_DATE` (default
1970-01-01).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.sdk import CronDataIntervalTimetable, dag
from interests_airflow.settings import dag_settings

NIGHTLY_DAG_ID = "interests_nightly"
SETTINGS = dag_settings(Path(__file__).parent)


@dag(
    dag_id="interests_maintenance",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=SETTINGS.start_date,
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "interests",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(hours=2),
    },
    tags=["interests", "maintenance", "delta"],
)
def interests_maintenance() -> None:
    wait_for_nightly = ExternalTaskSensor(
        task_id="wait_for_nightly",
        external_dag_id=NIGHTLY_DAG_ID,
        external_task_id=None,  # the whole run: it has ended, whatever its outcome
        allowed_states=["success", "failed"],
        mode="reschedule",
        poke_interval=600,
        timeout=int(timedelta(hours=20).total_seconds()),
    )
    maintain = SETTINGS.spark_job("maintain_lake")
    wait_for_nightly >> maintain


interests_maintenance()
