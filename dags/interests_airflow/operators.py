"""``SparkJobOperator``: submit one pipeline job (``jobs/<job>.py``) with spark-submit."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from interests.errors import (
    EXIT_BAD_INPUT as BAD_INPUT_EXIT_CODE,  # a light import: no Spark, no torch
)
from interests_airflow.library import stale_reason

__all__ = ["BAD_INPUT_EXIT_CODE", "SparkJobOperator", "job_exit_code"]


def job_exit_code(hook: SparkSubmitHook | None) -> int | None:
    """The exit code of the job a hook submitted, or ``None`` if no process finished.

    In client deploy mode the driver runs inside spark-submit (a Python application's driver is
    a child of spark-submit, whose exit code is the driver's), so the process's return code is the
    job's. On Kubernetes in cluster mode spark-submit exits 0 and reports the driver pod's code in
    its log, which the hook keeps. Reading the process beats parsing the exception's text.
    """
    process = getattr(hook, "_submit_sp", None)
    code = getattr(process, "returncode", None)
    if code == 0 and getattr(hook, "_is_kubernetes", False):
        code = getattr(hook, "_spark_exit_code", None)
    return code


class SparkJobOperator(SparkSubmitOperator):
    """A ``SparkSubmitOperator`` that follows the jobs' exit-code contract and checks its inputs.

    - 0: success.
    - ``BAD_INPUT_EXIT_CODE`` (2): bad input. The task fails at once, without using its retries:
      running the same job on the same input again cannot succeed.
    - anything else: failure; Airflow retries it (``retries`` / ``retry_delay``).

    The master, deploy mode and queue come from the Spark connection ``conn_id``; a connection
    that does not exist fails the task at once (the hook would quietly submit to YARN instead).
    Before submitting it also checks, failing at once with the fix named, that the spark-submit
    binary exists, that ``jars_dir`` holds jars and that ``py_files`` holds the current sources of
    ``library_source`` (see ``interests_airflow.library``): none of these fixes itself on a retry.

    spark-submit runs in ``project_home`` with the worker's environment plus ``INTERESTS_HOME``
    (the driver imports the library from the ``--py-files`` zip, so the project's ``conf/`` cannot
    be found from the library's own path) and, for a pip-installed spark-submit, ``SPARK_HOME``.
    A run without a logical date (hence without ``ds``) fails at once, before the job starts.
    When the job succeeds, every asset in ``outlets`` gets an event whose extra is the run's
    ``{"ds": ..., "run_id": ...}`` (Airflow records it as the task ends).
    """

    def __init__(
        self,
        *,
        project_home: str,
        jars_dir: str,
        library_source: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project_home = project_home
        self.jars_dir = jars_dir
        self.library_source = library_source

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        # Airflow 3 lets a run be triggered without a logical date; such a run has no ds, and
        # failing here (once, with the reason) beats retrying an undefined-template error.
        if context.get("logical_date") is None:
            raise AirflowFailException(
                f"{self.task_id} needs the day to process: trigger the run with a logical date "
                "(the ds), e.g. `airflow dags trigger <dag_id> --logical-date 2026-11-20`"
            )
        super().render_template_fields(context, jinja_env)

    def execute(self, context: Any) -> Any:
        self._check_connection()
        self._check_spark_binary()
        self._check_library()
        self.jars = self._resolve_jars()
        # A hook (and its process) left over from an earlier try is not this try's.
        self._hook = None
        try:
            result = super().execute(context)
        except Exception as error:
            code = job_exit_code(self._hook)
            if code == BAD_INPUT_EXIT_CODE:
                raise AirflowFailException(
                    f"{self.task_id} rejected its input (exit code {BAD_INPUT_EXIT_CODE}); "
                    "not retrying: fix the input, then clear the task"
                ) from error
            raise
        # The job succeeded: each outlet's asset event says which night it was (consumers read it).
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {"ds": context["ds"], "run_id": context["run_id"]}
        return result

    def _get_hook(self) -> SparkSubmitHook:
        hook = super()._get_hook()
        # SparkSubmitOperator calls hook.submit(application) with no process arguments, and the
        # hook's env_vars reach the local spark-submit only in some modes (not on Kubernetes,
        # refused in standalone cluster mode). submit() hands its keyword arguments to Popen.
        hook.submit = functools.partial(hook.submit, cwd=self.project_home, env=self._submit_env())
        return hook

    def _submit_env(self) -> dict[str, str]:
        env = {**os.environ, "INTERESTS_HOME": self.project_home}
        spark_home = self._pip_spark_home()
        if spark_home:
            env["SPARK_HOME"] = spark_home
        return env

    def _pip_spark_home(self) -> str | None:
        """The Spark of a pip-installed spark-submit, unless the worker names one (SPARK_HOME).

        Left to itself, pip's spark-submit finds its Spark by running `python3` from PATH (or an
        unquoted $PYSPARK_DRIVER_PYTHON, which breaks on a path with a space) on the
        find_spark_home.py beside it; this runs that script with the python beside it instead.
        """
        binary = Path(self._spark_binary or "spark-submit")
        finder, python = binary.with_name("find_spark_home.py"), binary.with_name("python")
        if os.environ.get("SPARK_HOME") or not finder.is_file() or not python.exists():
            return None
        found = subprocess.run(
            [str(python), str(finder)], capture_output=True, text=True, timeout=120, check=False
        )
        if found.returncode != 0 or not found.stdout.strip():
            raise AirflowFailException(
                f"{binary} cannot find its Spark ({python} {finder} said: "
                f"{found.stderr.strip()[-500:]}); reinstall pyspark (`make install`)"
            )
        return found.stdout.strip().splitlines()[-1]

    def _check_connection(self) -> None:
        try:
            BaseHook.get_connection(self._conn_id)
        except AirflowNotFoundException as error:
            variable = f"AIRFLOW_CONN_{self._conn_id.upper()}"
            raise AirflowFailException(
                f"the Spark connection {self._conn_id!r} is not defined: set {variable}, e.g. "
                f"{variable}='{{\"conn_type\": \"spark\", \"host\": \"local[*]\"}}' "
                "(scripts/airflow.sh sets that default), or define it in Airflow"
            ) from error

    def _check_spark_binary(self) -> None:
        binary = self._spark_binary
        if binary and os.sep in binary and not os.access(binary, os.X_OK):
            raise AirflowFailException(
                f"no spark-submit at {binary}: run `make install` (pyspark installs it next to the "
                "project's python), or set INTERESTS_SPARK_SUBMIT"
            )

    def _check_library(self) -> None:
        if not self.py_files:
            return
        source = self.library_source
        if source and Path(source).is_dir():
            reason = stale_reason(Path(source), Path(self.py_files))
        elif not Path(self.py_files).is_file():
            reason = f"{self.py_files} does not exist"
        else:
            reason = None
        if reason:
            raise AirflowFailException(
                f"the library zip for --py-files is not current ({reason}): run `make install` "
                "or `make dist`, then clear the task"
            )

    def _resolve_jars(self) -> str | None:
        jars = sorted(Path(self.jars_dir).glob("*.jar"))
        if not jars:
            raise AirflowFailException(
                f"no jars in {self.jars_dir}: run `make install` (scripts/spark_jars.sh resolves "
                "the Delta Lake jars there), or set INTERESTS_SPARK__JARS_DIR"
            )
        return ",".join(str(jar) for jar in jars)
