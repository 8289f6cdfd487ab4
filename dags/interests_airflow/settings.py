"""What the DAG files read from the environment at parse time, and the spark-submit task they all build.

Read when a DAG file calls ``dag_settings()`` (every parse), never cached here, so a DAG file parsed
again under another environment sees it. The variables are documented in ``interests_nightly``'s doc.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import Asset, Param

from interests.run_options import RUN_OPTIONS, option_flag
from interests_airflow.checks import LandingDaySensor, check_lookback_window
from interests_airflow.operators import SparkJobOperator

EARLIEST_NIGHT = datetime(1970, 1, 1, tzinfo=UTC)
"""Default start_date: a night for any day can run (a task never runs for a ds before its DAG's start_date)."""


def env_flag(name: str, default: bool) -> bool:
    """A boolean environment variable (true/false, 1/0, yes/no, on/off)."""
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={value!r} is not a boolean; use one of true/false, 1/0, yes/no, on/off")


def env_date(name: str, default: datetime) -> datetime:
    """A YYYY-MM-DD environment variable as a UTC midnight."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a day; use YYYY-MM-DD") from None


def env_number(name: str, default: float, minimum: float) -> float:
    """A number from the environment, at least ``minimum``."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number >= minimum:  # also false for NaN
        raise ValueError(f"{name}={value!r} is not a number >= {minimum:g}")
    return number


def env_spark_conf(name: str) -> dict[str, str]:
    """A JSON object of Spark properties from the environment ({} when unset)."""
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


@dataclass(frozen=True)
class DagSettings:
    """Where the project is, which interpreter and spark-submit run the jobs, and the Spark properties."""

    project_home: Path
    python: str
    spark_conn_id: str
    spark_submit: str
    jars_dir: Path
    start_date: datetime
    catchup: bool
    spark_conf: dict[str, str] = field(default_factory=dict)
    first_night: str | None = None
    """INTERESTS_DAG_START_DATE when set (YYYY-MM-DD): lookback days before it are not holes."""
    landing_timeout: timedelta = timedelta(hours=6)
    landing_poke_interval: timedelta = timedelta(minutes=5)

    @property
    def library_zip(self) -> Path:
        """The library as spark-submit ships it (built by `make install` / `make dist`)."""
        return self.project_home / ".dist" / "interests.zip"

    def spark_job(
        self, job: str, outlets: tuple[Asset, ...] = (), run_options: bool = False
    ) -> SparkJobOperator:
        """The task that submits ``jobs/<job>.py`` for this run's ds and run id (its outlets get an event on success).

        ``run_options`` passes the DAG's ``run_params`` on (an unset one as an empty string: the configured value).
        """
        options = []
        for name in RUN_OPTIONS if run_options else ():
            options += [option_flag(name), f"{{{{ params.{name} if params.{name} is not none else '' }}}}"]
        return SparkJobOperator(
            task_id=job,
            outlets=list(outlets),
            application=str(self.project_home / "jobs" / f"{job}.py"),
            application_args=["--ds", "{{ ds }}", "--run-id", "{{ run_id }}", *options],
            name=f"interests-{job}",
            conn_id=self.spark_conn_id,
            spark_binary=self.spark_submit,
            conf=dict(self.spark_conf),
            py_files=str(self.library_zip),
            library_source=str(self.project_home / "src" / "interests"),
            jars_dir=str(self.jars_dir),
            project_home=str(self.project_home),
        )

    def wait_for_landing(self) -> LandingDaySensor:
        """The sensor that waits (reschedule mode) for the run's landing day of events."""
        return LandingDaySensor(
            task_id="wait_for_landing",
            project_home=str(self.project_home),
            source="events",
            mode="reschedule",
            poke_interval=self.landing_poke_interval,
            timeout=self.landing_timeout,
        )

    def check_lookback_window(self) -> PythonOperator:
        """The task that fails naming the lookback window's days that were never cleaned (the run's lookback_days)."""
        return PythonOperator(
            task_id="check_lookback_window",
            python_callable=check_lookback_window,
            op_kwargs={
                "project_home": str(self.project_home), "first_night": self.first_night,
                "lookback_days": "{{ params.lookback_days if params.lookback_days is not none else '' }}",
            },
        )

    @staticmethod
    def run_params() -> dict[str, Param]:
        """The nightly DAG's per-run params (``interests.run_options.RUN_OPTIONS``): unset, a run uses the config."""
        return {
            "max_lateness_days": Param(
                None, type=["null", "integer"], minimum=0,
                description="This run only: cleaning.max_lateness_days (a bootstrap night that lands months of history).",
            ),
            "lookback_days": Param(
                None, type=["null", "integer"], minimum=1,
                description="This run only: hierarchy.lookback_days, the days of events the night's vectors are built from.",
            ),
        }


def dag_settings(dags_folder: Path) -> DagSettings:
    """The settings from the environment; ``dags_folder`` is the calling DAG file's folder (home defaults to its parent)."""
    home = Path(os.environ.get("INTERESTS_HOME") or dags_folder.resolve().parent)
    python = os.environ.get("INTERESTS_PYTHON") or sys.executable
    catchup = env_flag("INTERESTS_DAG_CATCHUP", default=False)
    start_date = env_date("INTERESTS_DAG_START_DATE", default=EARLIEST_NIGHT)
    if catchup and "INTERESTS_DAG_START_DATE" not in os.environ:
        raise ValueError(
            "INTERESTS_DAG_CATCHUP=true needs INTERESTS_DAG_START_DATE (the deployment's first night): "
            f"catching up from the default {EARLIEST_NIGHT:%Y-%m-%d} would schedule decades of nights"
        )
    return DagSettings(
        project_home=home,
        python=python,
        spark_conn_id=os.environ.get("INTERESTS_SPARK_CONN_ID") or "interests_spark",
        # The project's pyspark installs spark-submit next to its python (not resolved: a venv's python
        # is a link to the base interpreter, whose folder has no spark-submit).
        spark_submit=os.environ.get("INTERESTS_SPARK_SUBMIT") or str(Path(python).with_name("spark-submit")),
        # The Delta Lake jars (scripts/spark_jars.sh); the same override as the jobs' spark.jars_dir.
        jars_dir=home / os.environ.get("INTERESTS_SPARK__JARS_DIR", ".spark-jars"),
        start_date=start_date,
        catchup=catchup,
        first_night=start_date.strftime("%Y-%m-%d") if os.environ.get("INTERESTS_DAG_START_DATE", "").strip() else None,
        landing_timeout=timedelta(hours=env_number("INTERESTS_DAG_LANDING_TIMEOUT_HOURS", 6.0, minimum=0)),
        landing_poke_interval=timedelta(seconds=env_number("INTERESTS_DAG_LANDING_POKE_SECONDS", 300.0, minimum=1)),
        spark_conf={
            # Driver and executors run the project's interpreter (a cluster overrides the executors'
            # with a packed environment: spark.archives + spark.pyspark.python=./environment/bin/python).
            "spark.pyspark.python": python,
            "spark.pyspark.driver.python": python,
            # Fixed when the driver JVM starts, so a job cannot set them: they are spark-submit's.
            # 4g as conf/base's spark.driver_memory: with local[*] the executors live in the driver.
            "spark.driver.memory": "4g",
            "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
            "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
            **env_spark_conf("INTERESTS_SPARK_CONF"),
        },
    )
