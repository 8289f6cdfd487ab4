"""JobOperator's exit-code contract, run directly (no scheduler, no metadata DB)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest


@pytest.fixture(scope="module")
def airflow_classes(dagbag: Any) -> Any:
    """JobOperator and the exceptions it raises (importable once the DAGs folder is on sys.path)."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
    from interests_airflow import BAD_INPUT_EXIT_CODE, JobOperator

    return JobOperator, AirflowException, AirflowFailException, BAD_INPUT_EXIT_CODE


def _run(job_operator: Any, command: str, tmp_path: Any) -> Any:
    return job_operator(task_id="job", bash_command=command, cwd=str(tmp_path)).execute(context={})


def test_exit_zero_succeeds(airflow_classes: Any, tmp_path: Any) -> None:
    job_operator, *_ = airflow_classes
    assert _run(job_operator, "echo done", tmp_path) == "done"


def test_bad_input_fails_without_retrying(airflow_classes: Any, tmp_path: Any) -> None:
    job_operator, _, fail_exception, bad_input = airflow_classes
    with pytest.raises(fail_exception, match="not retrying"):
        _run(job_operator, f"exit {bad_input}", tmp_path)


@pytest.mark.parametrize("exit_code", [1, 3, 99, 137])
def test_other_failures_are_retryable(airflow_classes: Any, tmp_path: Any, exit_code: int) -> None:
    """Plain AirflowException: Airflow spends the task's retries on it. 99 is not a skip."""
    job_operator, airflow_exception, fail_exception, _ = airflow_classes
    with pytest.raises(airflow_exception) as raised:
        _run(job_operator, f"exit {exit_code}", tmp_path)
    assert not isinstance(raised.value, fail_exception)
    assert f"exit code {exit_code}" in str(raised.value)


def test_job_sees_the_workers_environment(
    airflow_classes: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_operator, *_ = airflow_classes
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", "/lake/from/worker")
    assert _run(job_operator, 'echo "$INTERESTS_PATHS__LAKE_ROOT $PYTHONUNBUFFERED"', tmp_path) == (
        "/lake/from/worker 1"
    )


def test_a_run_without_a_logical_date_fails_before_the_job_starts(
    airflow_classes: Any, tmp_path: Any
) -> None:
    """Airflow 3 allows runs with no logical date; they have no ds to give the job."""
    job_operator, _, fail_exception, _ = airflow_classes
    task = job_operator(task_id="job", bash_command="run --ds {{ ds }}", cwd=str(tmp_path))
    with pytest.raises(fail_exception, match="logical date"):
        task.render_template_fields(context={"run_id": "manual__x"})


def test_a_run_with_a_logical_date_renders_its_ds(airflow_classes: Any, tmp_path: Any) -> None:
    job_operator, *_ = airflow_classes
    task = job_operator(task_id="job", bash_command="run --ds {{ ds }}", cwd=str(tmp_path))
    task.render_template_fields(
        context={"logical_date": datetime(2026, 11, 20, tzinfo=UTC), "ds": "2026-11-20"}
    )
    assert task.bash_command == "run --ds 2026-11-20"
