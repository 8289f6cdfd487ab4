"""``JobOperator``: run one pipeline job (``jobs/<job>.py``) as its own process."""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from interests.errors import (
    EXIT_BAD_INPUT as BAD_INPUT_EXIT_CODE,  # a light import: no Spark, no torch
)

__all__ = ["BAD_INPUT_EXIT_CODE", "JobOperator"]


class JobOperator(BashOperator):
    """A ``BashOperator`` that follows the jobs' exit-code contract.

    - 0: success.
    - ``BAD_INPUT_EXIT_CODE`` (2): bad input. The task fails at once, without using its
      retries: running the same job on the same input again cannot succeed.
    - anything else: failure; Airflow retries it (``retries`` / ``retry_delay``).

    The job inherits the environment of the worker (``append_env=True``), so ``INTERESTS_*``
    overrides, ``MLFLOW_TRACKING_URI``, ``JAVA_HOME``, ``CUDA_VISIBLE_DEVICES``... reach it, and
    its output is unbuffered so its log lines show up in the task log as they are written.
    Unlike ``BashOperator`` no exit code means "skipped": a job never skips a night silently.
    A run without a logical date (hence without ``ds``) fails at once, before the job starts.
    """

    def __init__(self, *, env: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(
            env={"PYTHONUNBUFFERED": "1", **(env or {})},
            append_env=True,
            skip_on_exit_code=None,
            **kwargs,
        )

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
        # A process left over from an earlier try is not this try's.
        self.subprocess_hook.sub_process = None
        try:
            return super().execute(context)
        except AirflowException as error:
            process = self.subprocess_hook.sub_process
            if process is not None and process.returncode == BAD_INPUT_EXIT_CODE:
                raise AirflowFailException(
                    f"{self.task_id} rejected its input (exit code {BAD_INPUT_EXIT_CODE}); "
                    "not retrying: fix the input, then clear the task"
                ) from error
            raise
