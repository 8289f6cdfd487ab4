"""What the DAG files read from the environment at parse time, and the spark-submit task they all build.

Read when a DAG file calls ``dag_settings()`` (every parse), never cached here, so a DAG file parsed
again under another environment sees it. The variables are documented in ``interests_nightly``'s doc.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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

    @property
    def library_zip(self) -> Path:
        """The library as spark-submit ships it (built by `make install` / `make dist`)."""
        return self.project_home / ".dist" / "interests.zip"

    def spark_job(self, job: str) -> SparkJobOperator:
        """The task that submits ``jobs/<job>.py`` for this run's ds and run id."""
        return SparkJobOperator(
            task_id=job,
            application=str(self.project_home / "jobs" / f"{job}.py"),
            application_args=["--ds", "{{ ds }}", "--run-id", "{{ run_id }}"],
            name=f"interests-{job}",
            conn_id=self.spark_conn_id,
            spark_binary=self.spark_submit,
            conf=dict(self.spark_conf),
            py_files=str(self.library_zip),
            library_source=str(self.project_home / "src" / "interests"),
            jars_dir=str(self.jars_dir),
            project_home=str(self.project_home),
        )


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
