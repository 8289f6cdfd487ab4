"""DAG integrity: every DAG file parses cleanly, cheaply, and follows the house rules."""

from __future__ import annotations

import itertools
import json
import runpy
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow_helpers import (
    DAGS_FOLDER,
    NIGHTLY_DAG_ID,
    NIGHTLY_JOBS,
    NIGHTLY_TASKS,
    PROJECT_ROOT,
    airflow_env,
)

DAG_FILES = sorted(DAGS_FOLDER.glob("*.py"))
NIGHTLY_FILE = DAGS_FOLDER / "interests_nightly.py"

HEAVY_MODULES = (
    "pyspark",
    "py4j",
    "torch",
    "transformers",
    "sentence_transformers",
    "mlflow",
    "deltalake",
    "sklearn",
    "interests",  # the library: DAG files only wire jobs...
)
LIGHT_LIBRARY_MODULES = {"interests", "interests.errors", "interests.run_options"}
"""...except the exit-code contract and the per-run options the DAG helper shares with the jobs (no imports of their own)."""
PARSE_SECONDS_LIMIT = 2.0
"""Generous: the nightly DAG file parses in well under 0.1 s once Airflow itself is imported."""

# Imports Airflow first (the dag processor has it loaded before it parses any file), then times
# the DAG file alone and lists every module loaded by the end.
_PARSE_PROBE = """
import importlib.util, json, sys, time
from pathlib import Path
import airflow.sdk
dag_file = Path(sys.argv[1])
sys.path.append(str(dag_file.parent))
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("dag_file_under_test", dag_file)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "modules": sorted(sys.modules)}))
"""


@pytest.fixture(scope="module")
def nightly(dagbag: Any) -> Any:
    return dagbag.dags[NIGHTLY_DAG_ID]


def _parse_nightly_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """Parse the nightly DAG file again, in this process, with extra environment variables."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace = runpy.run_path(str(NIGHTLY_FILE), run_name="interests_nightly_under_test")
    return namespace["interests_nightly"]()


UNSET_PARAMS = {"max_lateness_days": None, "lookback_days": None}


def _render_args(dag: Any, task_id: str, params: dict | None = None, **context: str) -> list[str]:
    task = dag.get_task(task_id)
    context = {"params": {**UNSET_PARAMS, **(params or {})}, **context}
    return task.render_template(task.application_args, context, jinja_env=dag.get_template_env())


# --- every DAG -------------------------------------------------------------------------------


def test_dags_folder_imports_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert NIGHTLY_DAG_ID in dagbag.dags


def test_every_dag_file_defines_a_dag(dagbag: Any) -> None:
    files_with_dags = {Path(dag.fileloc).resolve() for dag in dagbag.dags.values()}
    # A file Airflow skipped (safe mode wants both "airflow" and "dag" in it) is not a DAG.
    assert {path.resolve() for path in DAG_FILES} == files_with_dags


def test_every_dag_follows_the_house_rules(dagbag: Any) -> None:
    problems = []
    for dag_id, dag in dagbag.dags.items():
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if not dag.doc_md:
            problems.append(f"{dag_id}: no doc_md (use doc_md=__doc__)")
        if dag.catchup:
            problems.append(f"{dag_id}: catchup is on by default")
        if dag.max_active_runs != 1:
            problems.append(
                f"{dag_id}: max_active_runs={dag.max_active_runs}; runs write the same tables, use 1"
            )
        if (dag.default_args or {}).get("retries", 0) < 2:
            problems.append(f"{dag_id}: default_args retries < 2")
        for task in dag.tasks:
            if task.retries < 2:
                problems.append(f"{dag_id}.{task.task_id}: retries={task.retries} < 2")
            if task.execution_timeout is None:
                problems.append(f"{dag_id}.{task.task_id}: no execution_timeout")
    assert problems == []


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.name)
def test_dag_file_parses_fast_without_heavy_imports(dag_file: Path, airflow_home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PARSE_PROBE, str(dag_file)],
        env=airflow_env(airflow_home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    heavy = sorted(
        name for name in probe["modules"]
        if name.split(".")[0] in HEAVY_MODULES and name not in LIGHT_LIBRARY_MODULES
    )
    assert heavy == []
    assert probe["seconds"] < PARSE_SECONDS_LIMIT


# --- the nightly DAG -------------------------------------------------------------------------


def test_nightly_runs_its_checks_and_jobs_in_order(nightly: Any) -> None:
    assert sorted(nightly.task_ids) == sorted(NIGHTLY_TASKS)
    for previous, current in itertools.pairwise(NIGHTLY_TASKS):
        assert nightly.get_task(current).upstream_task_ids == {previous}
    assert nightly.get_task(NIGHTLY_TASKS[0]).upstream_task_ids == set()
    assert nightly.get_task(NIGHTLY_TASKS[-1]).downstream_task_ids == set()
    # The window check runs after ds is cleaned and before the stages that read the window.
    order = list(NIGHTLY_TASKS)
    assert order.index("clean_events") < order.index("check_lookback_window") < order.index("learn_behaviour")


@pytest.mark.parametrize("job", NIGHTLY_JOBS)
def test_nightly_task_submits_its_job_for_the_runs_ds_and_run_id(nightly: Any, job: str) -> None:
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    task = nightly.get_task(job)
    assert isinstance(task, SparkSubmitOperator)
    assert task.application == str(PROJECT_ROOT / "jobs" / f"{job}.py")
    assert "{{ ds }}" in task.application_args  # rendered per run, not fixed when the file is parsed
    rendered = _render_args(nightly, job, ds="2026-11-20", run_id="scheduled__2026-11-20T00:00:00+00:00")
    assert rendered == [
        "--ds", "2026-11-20", "--run-id", "scheduled__2026-11-20T00:00:00+00:00",
        "--max-lateness-days", "", "--lookback-days", "",  # unset: the job uses the configured values
    ]
    bootstrap = _render_args(nightly, job, params={"max_lateness_days": 120}, ds="2026-11-20", run_id="r")
    assert bootstrap[4:] == ["--max-lateness-days", "120", "--lookback-days", ""]
    assert task.project_home == str(PROJECT_ROOT)
    assert task.py_files == str(PROJECT_ROOT / ".dist" / "interests.zip")
    assert task.library_source == str(PROJECT_ROOT / "src" / "interests")
    assert task.jars_dir == str(PROJECT_ROOT / ".spark-jars")
    assert task._conn_id == "interests_spark"
    assert task._spark_binary == str(Path(sys.executable).with_name("spark-submit"))
    assert task.conf["spark.pyspark.python"] == sys.executable
    assert task.conf["spark.pyspark.driver.python"] == sys.executable


def test_nightly_passes_an_odd_run_id_as_one_argument(nightly: Any) -> None:
    run_id = "manual__$(touch x); ~me 'quoted'"
    rendered = _render_args(nightly, "publish", ds="2026-11-20", run_id=run_id)
    assert rendered[2:4] == ["--run-id", run_id]  # no shell in between: spark-submit gets a list


def test_the_nightly_dag_takes_the_per_run_options_as_params(nightly: Any) -> None:
    from interests.run_options import RUN_OPTIONS

    assert set(nightly.params.keys()) == set(RUN_OPTIONS)
    assert all(nightly.params[name] is None for name in RUN_OPTIONS)  # unset by default
    window_check = nightly.get_task("check_lookback_window")
    rendered = window_check.render_template(
        window_check.op_kwargs, {"params": {**UNSET_PARAMS, "lookback_days": 90}}, jinja_env=nightly.get_template_env()
    )
    assert rendered["lookback_days"] == "90"


def test_a_scheduled_run_processes_the_day_that_ended(nightly: Any) -> None:
    """The run that starts after midnight on 2026-11-21 has ds (its logical date) 2026-11-20."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = coerce_to_core_timetable(nightly.timetable)
    previous_night = DataInterval(
        datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    )
    next_run = timetable.next_dagrun_info(
        last_automated_data_interval=previous_night,
        restriction=TimeRestriction(earliest=nightly.start_date, latest=None, catchup=True),
    )
    assert next_run is not None
    assert next_run.run_after == datetime(2026, 11, 21, tzinfo=UTC)
    assert next_run.logical_date.strftime("%Y-%m-%d") == "2026-11-20"  # how Airflow makes {{ ds }}


def test_nightly_settings_come_from_the_environment(
    dagbag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag = _parse_nightly_with(
        monkeypatch,
        INTERESTS_HOME="/srv/interests",
        INTERESTS_PYTHON="/opt/python 3/bin/python",
        INTERESTS_DAG_CATCHUP="true",
        INTERESTS_DAG_START_DATE="2025-06-01",
        INTERESTS_SPARK_CONN_ID="spark_cluster",
        INTERESTS_SPARK__JARS_DIR="jars",
        INTERESTS_SPARK_CONF=json.dumps(
            {"spark.pyspark.python": "./environment/bin/python", "spark.executor.memory": "8g"}
        ),
    )
    assert dag.catchup is True
    assert dag.start_date.strftime("%Y-%m-%d") == "2025-06-01"
    task = dag.get_task("clean_events")
    assert task.project_home == "/srv/interests"
    assert task.application == "/srv/interests/jobs/clean_events.py"
    assert task.py_files == "/srv/interests/.dist/interests.zip"
    assert task.jars_dir == "/srv/interests/jars"  # relative to the project, like the jobs' own
    assert task._conn_id == "spark_cluster"
    assert task._spark_binary == "/opt/python 3/bin/spark-submit"  # the project's pyspark
    assert task.conf["spark.pyspark.driver.python"] == "/opt/python 3/bin/python"
    assert task.conf["spark.pyspark.python"] == "./environment/bin/python"  # the env wins
    assert task.conf["spark.executor.memory"] == "8g"
    assert task.conf["spark.driver.extraJavaOptions"] == "-Duser.timezone=UTC"


def test_nightly_takes_spark_submit_from_the_environment(
    dagbag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag = _parse_nightly_with(monkeypatch, INTERESTS_SPARK_SUBMIT="/opt/spark/bin/spark-submit")
    assert dag.get_task("publish")._spark_binary == "/opt/spark/bin/spark-submit"


@pytest.mark.parametrize("value", ["spark.executor.memory=8g", "[1, 2]", "{not json"])
def test_nightly_rejects_spark_conf_that_is_not_a_json_object(
    dagbag: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(ValueError, match="INTERESTS_SPARK_CONF=.*JSON object"):
        _parse_nightly_with(monkeypatch, INTERESTS_SPARK_CONF=value)


def test_nightly_runs_any_day_by_default_and_catchup_needs_a_first_night(
    dagbag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag = _parse_nightly_with(monkeypatch)
    assert dag.start_date.year <= 1970  # a night for any day runs its tasks
    with pytest.raises(ValueError, match="INTERESTS_DAG_START_DATE"):
        _parse_nightly_with(monkeypatch, INTERESTS_DAG_CATCHUP="true")
    with pytest.raises(ValueError, match="INTERESTS_DAG_START_DATE='last year'"):
        _parse_nightly_with(monkeypatch, INTERESTS_DAG_START_DATE="last year")


def test_nightly_rejects_a_catchup_value_it_does_not_understand(
    dagbag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="INTERESTS_DAG_CATCHUP='sometimes'"):
        _parse_nightly_with(monkeypatch, INTERESTS_DAG_CATCHUP="sometimes")
