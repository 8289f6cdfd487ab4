"""SparkJobOperator run directly (no scheduler, no metadata DB): the spark-submit command it builds,
the connection it takes from the environment, what it checks before submitting, and the jobs'
exit-code contract (2 fails at once, anything else is retried).

Most tests submit through a stand-in spark-submit that runs the application the way client mode
does (the driver is a child of spark-submit, its exit code spark-submit's), so they take no JVM;
two run the real one to prove that exit codes come back through it.
"""

from __future__ import annotations

import copy
import json
import os
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow_helpers import PROJECT_ROOT

LOCAL_SPARK = json.dumps({"conn_type": "spark", "host": "local[*]"})
REAL_SPARK_SUBMIT = Path(sys.executable).with_name("spark-submit")

# Records how it was called, then runs the application with spark.pyspark.driver.python, passing
# on the rest of the arguments: client mode without the JVM. (Every option spark-submit gets here
# takes a value.)
_STAND_IN_SPARK_SUBMIT = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$STAND_IN_ARGS"
driver_python=python3
while [[ $# -gt 0 && "$1" == --* ]]; do
    [[ "$1" == --conf && "$2" == spark.pyspark.driver.python=* ]] && driver_python=${2#*=}
    shift 2
done
app=$1; shift
exec "$driver_python" "$app" "$@"
"""

# Writes what it saw, then exits with the code the test asks for.
_JOB = """import json, os, sys
with open(os.environ["JOB_SEEN"], "w") as seen:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}, seen)
sys.exit(int(os.environ.get("JOB_EXIT_CODE", "0")))
"""


@pytest.fixture(scope="module")
def airflow_classes(dagbag: Any) -> Any:
    """SparkJobOperator and the exceptions it raises (importable once the DAGs folder is on sys.path)."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
    from interests_airflow import BAD_INPUT_EXIT_CODE, SparkJobOperator

    return SparkJobOperator, AirflowException, AirflowFailException, BAD_INPUT_EXIT_CODE


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project home (with a space in its path): a job, a library zip, a jars folder, a connection."""
    from interests_airflow.library import build_library_zip

    home = tmp_path / "project home"
    (home / "jobs").mkdir(parents=True)
    (home / "jobs" / "job.py").write_text(_JOB)
    package = home / "src" / "interests"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A stand-in library."""\n')
    build_library_zip(package, home / ".dist" / "interests.zip")
    (home / "jars").mkdir()
    for name in ("b-delta.jar", "a-delta.jar"):
        (home / "jars" / name).write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    spark_submit = home / "bin" / "spark-submit"
    spark_submit.parent.mkdir()
    spark_submit.write_text(_STAND_IN_SPARK_SUBMIT)
    spark_submit.chmod(spark_submit.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("AIRFLOW_CONN_INTERESTS_SPARK", LOCAL_SPARK)
    monkeypatch.setenv("STAND_IN_ARGS", str(tmp_path / "args.txt"))
    monkeypatch.setenv("JOB_SEEN", str(tmp_path / "seen.json"))
    return home


def _operator(airflow_classes: Any, home: Path, **overrides: Any) -> Any:
    job_operator, *_ = airflow_classes
    arguments = {
        "task_id": "job",
        "application": str(home / "jobs" / "job.py"),
        "application_args": ["--ds", "2026-11-20", "--run-id", "manual__x"],
        "conn_id": "interests_spark",
        "spark_binary": str(home / "bin" / "spark-submit"),
        "py_files": str(home / ".dist" / "interests.zip"),
        "library_source": str(home / "src" / "interests"),
        "jars_dir": str(home / "jars"),
        "project_home": str(home),
        "conf": {"spark.pyspark.python": sys.executable, "spark.pyspark.driver.python": sys.executable},
        **overrides,
    }
    return job_operator(**arguments)


def _seen(home: Path) -> dict[str, Any]:
    return json.loads((home.parent / "seen.json").read_text())


# --- the command line ------------------------------------------------------------------------


def test_nightly_task_builds_this_spark_submit_command(
    airflow_classes: Any, dagbag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole command a nightly task runs with the embedded defaults (after `make install`)."""
    monkeypatch.setenv("AIRFLOW_CONN_INTERESTS_SPARK", LOCAL_SPARK)
    task = copy.deepcopy(dagbag.dags["interests_nightly"].get_task("clean_events"))
    task.render_template_fields(
        context={
            "logical_date": datetime(2026, 11, 20, tzinfo=UTC),
            "ds": "2026-11-20",
            "run_id": "scheduled__2026-11-20T00:00:00+00:00",
            "params": {"max_lateness_days": None, "lookback_days": None},
        }
    )
    jars = sorted((PROJECT_ROOT / ".spark-jars").glob("*.jar"))
    assert jars, "no Delta jars in .spark-jars: run `make install`"
    task.jars = task._resolve_jars()
    python = sys.executable
    assert task._get_hook()._build_spark_submit_command(task.application) == [
        str(Path(python).with_name("spark-submit")),
        "--master", "local[*]",
        "--conf", f"spark.pyspark.python={python}",
        "--conf", f"spark.pyspark.driver.python={python}",
        "--conf", "spark.driver.memory=4g",
        "--conf", "spark.driver.extraJavaOptions=-Duser.timezone=UTC",
        "--conf", "spark.executor.extraJavaOptions=-Duser.timezone=UTC",
        "--py-files", str(PROJECT_ROOT / ".dist" / "interests.zip"),
        "--jars", ",".join(str(jar) for jar in jars),
        "--name", "interests-clean_events",
        str(PROJECT_ROOT / "jobs" / "clean_events.py"),
        "--ds", "2026-11-20",
        "--run-id", "scheduled__2026-11-20T00:00:00+00:00",
        "--max-lateness-days", "", "--lookback-days", "",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("connection", "master", "deploy_mode"),
    [
        (LOCAL_SPARK, "local[*]", None),
        (json.dumps({"conn_type": "spark", "host": "local[2]"}), "local[2]", None),
        ("spark://10.0.0.5:7077", "spark://10.0.0.5:7077", None),
        (json.dumps({"conn_type": "spark", "host": "spark://10.0.0.5", "port": 7077}), "spark://10.0.0.5:7077", None),
        (json.dumps({"conn_type": "spark", "host": "yarn", "extra": {"deploy-mode": "client"}}), "yarn", "client"),
    ],
)
def test_master_and_deploy_mode_come_from_the_connection_in_the_environment(
    airflow_classes: Any, project: Path, monkeypatch: pytest.MonkeyPatch,
    connection: str, master: str, deploy_mode: str | None,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_ELSEWHERE", connection)
    task = _operator(airflow_classes, project, conn_id="spark_elsewhere")
    task.jars = task._resolve_jars()
    command = task._get_hook()._build_spark_submit_command(task.application)
    assert command[1:3] == ["--master", master]
    if deploy_mode:
        assert command[command.index("--deploy-mode") + 1] == deploy_mode
    else:
        assert "--deploy-mode" not in command


def test_a_missing_connection_fails_at_once_instead_of_submitting_to_yarn(
    airflow_classes: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, fail_exception, _ = airflow_classes
    monkeypatch.delenv("AIRFLOW_CONN_INTERESTS_SPARK")
    with pytest.raises(fail_exception, match="AIRFLOW_CONN_INTERESTS_SPARK"):
        _operator(airflow_classes, project).execute(context={})
    assert not (project.parent / "args.txt").exists()  # nothing was submitted


# --- what a job gets ---------------------------------------------------------------------------


def test_the_job_runs_from_the_project_with_the_workers_environment(
    airflow_classes: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", "/lake/from/worker")
    monkeypatch.chdir(project.parent)
    _operator(airflow_classes, project).execute(context={})
    seen = _seen(project)
    assert seen["argv"] == ["--ds", "2026-11-20", "--run-id", "manual__x"]
    assert os.path.samefile(seen["cwd"], project)
    assert seen["env"]["INTERESTS_PATHS__LAKE_ROOT"] == "/lake/from/worker"
    # The library (imported from the zip on the driver) finds the project's conf/ through this.
    assert seen["env"]["INTERESTS_HOME"] == str(project)
    assert "SPARK_HOME" not in seen["env"]  # a stand-in spark-submit: no pip Spark beside it
    arguments = (project.parent / "args.txt").read_text().splitlines()
    assert arguments[arguments.index("--jars") + 1] == (
        f"{project}/jars/a-delta.jar,{project}/jars/b-delta.jar"
    )
    assert arguments[arguments.index("--py-files") + 1] == str(project / ".dist" / "interests.zip")


# --- checks before submitting ------------------------------------------------------------------


def test_a_library_zip_older_than_its_sources_fails_at_once(
    airflow_classes: Any, project: Path
) -> None:
    _, _, fail_exception, _ = airflow_classes
    module = project / "src" / "interests" / "new_module.py"
    module.write_text("VALUE = 1\n")
    with pytest.raises(fail_exception, match="new_module.*make dist"):
        _operator(airflow_classes, project).execute(context={})
    assert not (project.parent / "args.txt").exists()


def test_no_jars_fails_at_once(airflow_classes: Any, project: Path, tmp_path: Path) -> None:
    _, _, fail_exception, _ = airflow_classes
    (tmp_path / "empty").mkdir()
    with pytest.raises(fail_exception, match="no jars in .*make install"):
        _operator(airflow_classes, project, jars_dir=str(tmp_path / "empty")).execute(context={})


def test_a_missing_spark_submit_fails_at_once(airflow_classes: Any, project: Path) -> None:
    _, _, fail_exception, _ = airflow_classes
    missing = str(project / "nowhere" / "spark-submit")
    with pytest.raises(fail_exception, match="no spark-submit at"):
        _operator(airflow_classes, project, spark_binary=missing).execute(context={})


# --- the exit-code contract --------------------------------------------------------------------


def test_exit_zero_succeeds(airflow_classes: Any, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOB_EXIT_CODE", "0")
    _operator(airflow_classes, project).execute(context={})
    assert _seen(project)["argv"][:2] == ["--ds", "2026-11-20"]


def test_bad_input_fails_without_retrying(
    airflow_classes: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, fail_exception, bad_input = airflow_classes
    monkeypatch.setenv("JOB_EXIT_CODE", str(bad_input))
    with pytest.raises(fail_exception, match="not retrying"):
        _operator(airflow_classes, project).execute(context={})


@pytest.mark.parametrize("exit_code", [1, 3, 99, 137])
def test_other_failures_are_retryable(
    airflow_classes: Any, project: Path, monkeypatch: pytest.MonkeyPatch, exit_code: int
) -> None:
    """Plain AirflowException: Airflow spends the task's retries on it."""
    _, airflow_exception, fail_exception, _ = airflow_classes
    monkeypatch.setenv("JOB_EXIT_CODE", str(exit_code))
    with pytest.raises(airflow_exception) as raised:
        _operator(airflow_classes, project).execute(context={})
    assert not isinstance(raised.value, fail_exception)
    assert f"Error code is: {exit_code}" in str(raised.value)


def test_a_retry_submits_afresh(
    airflow_classes: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same operator run again (a retry in one process) builds a new hook, environment and all.

    A hook kept from the first try would hand the job the first try's environment.
    """
    _, airflow_exception, fail_exception, bad_input = airflow_classes
    task = _operator(airflow_classes, project)
    monkeypatch.setenv("JOB_EXIT_CODE", str(bad_input))
    with pytest.raises(fail_exception):
        task.execute(context={})
    monkeypatch.setenv("JOB_EXIT_CODE", "3")
    with pytest.raises(airflow_exception) as raised:
        task.execute(context={})
    assert not isinstance(raised.value, fail_exception)
    assert task._hook._submit_sp.returncode == 3


def test_kubernetes_cluster_mode_reads_the_drivers_exit_code_from_the_hook(
    airflow_classes: Any,
) -> None:
    """There spark-submit exits 0 and the hook keeps the driver pod's code from the log."""
    from types import SimpleNamespace

    from interests_airflow.operators import job_exit_code

    finished = SimpleNamespace(returncode=0)
    assert job_exit_code(SimpleNamespace(_submit_sp=finished, _is_kubernetes=True, _spark_exit_code=2)) == 2
    assert job_exit_code(SimpleNamespace(_submit_sp=SimpleNamespace(returncode=2), _is_kubernetes=False)) == 2
    assert job_exit_code(SimpleNamespace(_submit_sp=None)) is None
    assert job_exit_code(None) is None


@pytest.mark.parametrize(("exit_code", "retried"), [(2, False), (3, True)])
def test_the_real_spark_submit_hands_back_a_python_drivers_exit_code(
    airflow_classes: Any, project: Path, monkeypatch: pytest.MonkeyPatch,
    exit_code: int, retried: bool,
) -> None:
    """Client mode: spark-submit exits with the Python driver's code (no SparkContext needed)."""
    _, airflow_exception, fail_exception, _ = airflow_classes
    monkeypatch.setenv("JOB_EXIT_CODE", str(exit_code))
    task = _operator(airflow_classes, project, spark_binary=str(REAL_SPARK_SUBMIT))
    with pytest.raises(airflow_exception) as raised:
        task.execute(context={})
    assert isinstance(raised.value, fail_exception) is not retried
    assert task._hook._submit_sp.returncode == exit_code
    seen = _seen(project)
    assert "PYSPARK_GATEWAY_PORT" in seen["env"]  # it really ran under spark-submit
    assert Path(seen["env"]["SPARK_HOME"], "jars").is_dir()  # pip's Spark, found for it
    assert seen["env"]["PYTHONPATH"].split(os.pathsep)[0] == str(project / ".dist" / "interests.zip")


# --- the day to process ------------------------------------------------------------------------


def test_a_run_without_a_logical_date_fails_before_the_job_starts(
    airflow_classes: Any, project: Path
) -> None:
    """Airflow 3 allows runs with no logical date; they have no ds to give the job."""
    _, _, fail_exception, _ = airflow_classes
    task = _operator(airflow_classes, project, application_args=["--ds", "{{ ds }}"])
    with pytest.raises(fail_exception, match="logical date"):
        task.render_template_fields(context={"run_id": "manual__x"})


def test_a_run_with_a_logical_date_renders_its_ds(airflow_classes: Any, project: Path) -> None:
    task = _operator(airflow_classes, project, application_args=["--ds", "{{ ds }}"])
    task.render_template_fields(
        context={"logical_date": datetime(2026, 11, 20, tzinfo=UTC), "ds": "2026-11-20"}
    )
    assert task.application_args == ["--ds", "2026-11-20"]
