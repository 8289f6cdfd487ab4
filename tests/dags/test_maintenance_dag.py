"""The maintenance DAG: waits for the same night's nightly run, then submits jobs/maintain_lake.py."""

from __future__ import annotations

from typing import Any

from airflow_helpers import NIGHTLY_DAG_ID, PROJECT_ROOT


def test_maintenance_waits_for_the_nightly_then_submits_its_job(dagbag: Any) -> None:
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.providers.standard.sensors.external_task import ExternalTaskSensor

    dag = dagbag.dags["interests_maintenance"]
    nightly = dagbag.dags[NIGHTLY_DAG_ID]
    assert sorted(dag.task_ids) == ["maintain_lake", "wait_for_nightly"]
    assert dag.get_task("maintain_lake").upstream_task_ids == {"wait_for_nightly"}

    sensor = dag.get_task("wait_for_nightly")
    assert isinstance(sensor, ExternalTaskSensor)
    assert sensor.external_dag_id == NIGHTLY_DAG_ID and sensor.external_task_id is None
    assert set(sensor.allowed_states) == {"success", "failed"}  # over, whatever its outcome
    assert sensor.mode == "reschedule"
    assert dag.timetable == nightly.timetable  # same logical dates as the nights

    task = dag.get_task("maintain_lake")
    assert isinstance(task, SparkSubmitOperator)
    assert task.application == str(PROJECT_ROOT / "jobs" / "maintain_lake.py")
    rendered = task.render_template(
        task.application_args, {"ds": "2026-11-20", "run_id": "scheduled__x"}, jinja_env=dag.get_template_env()
    )
    assert rendered == ["--ds", "2026-11-20", "--run-id", "scheduled__x"]
