"""The nightly DAG's checks that run in the Airflow worker itself (no spark-submit).

- ``LandingDaySensor``: waits for the day's landing data (``interests.landing.require_landing_day``).
- ``check_lookback_window``: fails naming the lookback window's days that were never cleaned
  (``interests.lookback.require_window_days``).

Both import the ``interests`` library inside the callable, when the task runs, never when a DAG file
is parsed; both read the project's config (``conf/`` under the project home, ``INTERESTS_*`` from
the worker's environment), as the jobs do.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

logger = logging.getLogger(__name__)


def require_logical_date(context: Any, task_id: str) -> None:
    """Fail at once (no retry) when the run has no logical date, hence no ds."""
    if context.get("logical_date") is None:
        raise AirflowFailException(
            f"{task_id} needs the day to process: trigger the run with a logical date "
            "(the ds), e.g. `airflow dags trigger <dag_id> --logical-date 2026-11-20`"
        )


def landing_day_problem(project_home: str, source: str, ds: str) -> str | None:
    """Why the landing day of ``source`` for ds is not there yet (missing, or no non-empty file); None when it is."""
    from interests.config import load_config
    from interests.landing import LandingDayError, require_landing_day

    config = load_config(root=Path(project_home))
    try:
        require_landing_day(config.paths.landing_root, source, ds)
    except LandingDayError as error:
        return str(error)
    return None


class LandingDaySensor(BaseSensorOperator):
    """Wait until ``<landing_root>/<source>/ds=<ds>/`` holds a non-empty ``*.jsonl`` / ``*.jsonl.gz`` file.

    Use ``mode="reschedule"``: between pokes the task holds no worker slot. When ``timeout`` runs out
    the task fails (no retry) with the folder it waited for; the night's other tasks do not run.
    A remote (URI) landing root is not checked here (Spark fails on a missing path itself).
    """

    template_fields = ("ds",)

    def __init__(self, *, project_home: str, source: str = "events", ds: str = "{{ ds }}", **kwargs: Any):
        super().__init__(**kwargs)
        self.project_home = project_home
        self.source = source
        self.ds = ds
        self._problem: str | None = None

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        require_logical_date(context, self.task_id)
        super().render_template_fields(context, jinja_env)

    def poke(self, context: Any) -> bool:
        self._problem = landing_day_problem(self.project_home, self.source, self.ds)
        if self._problem:
            self.log.info("waiting for the landing day: %s", self._problem)
            return False
        self.log.info("landing day ds=%s of %s is there", self.ds, self.source)
        return True

    def execute(self, context: Any) -> Any:
        try:
            return super().execute(context)
        except AirflowSensorTimeout as error:
            raise AirflowSensorTimeout(
                f"gave up after {timedelta(seconds=self.timeout)} waiting for the landing data of "
                f"ds={self.ds}: {self._problem}. Land the day's files (or fix "
                "INTERESTS_PATHS__LANDING_ROOT), then clear this task"
            ) from error


def check_lookback_window(
    ds: str, project_home: str, first_night: str | None = None, lookback_days: str | int | None = None
) -> list[str]:
    """Fail (no retry) naming the lookback window's days that were never cleaned; return the window's cleaned days.

    ``lookback_days`` is the run's own (a run param; empty = the configured one).
    """
    from interests.config import load_config
    from interests.lake import Lake
    from interests.lookback import MissingWindowDaysError, require_window_days

    run_lookback = int(lookback_days) if str(lookback_days or "").strip() else None
    config = load_config(root=Path(project_home), run_options={"lookback_days": run_lookback})
    lake = Lake(config.paths.lake_root)
    try:
        days = require_window_days(lake, ds, config.hierarchy.lookback_days, first_night)
    except MissingWindowDaysError as error:
        raise AirflowFailException(str(error)) from error
    logger.info(
        "the %d-day lookback window of ds=%s has its cleaned days since the first night (%s): %s",
        config.hierarchy.lookback_days, ds, first_night or "the lake's first cleaned day", ", ".join(days),
    )
    return days
