"""A whole night through Airflow (``airflow dags test``), with stand-in jobs that record their calls.

This checks the wiring, not the jobs: the landing sensor and the lookback window check run in the
worker (on a landing day the test writes, and the ``stage_runs`` row the stand-in ``clean_events``
records, as the real one does), each job task submits its job with the project's spark-submit to
the default connection (``local[*]``, set by ``scripts/airflow.sh``), the ds it passes, the order,
that the worker's environment and the library zip reach the jobs, and that a job rejecting its
input (exit code 2) fails the run at once. The stand-ins are Python files that spark-submit runs as
the driver without starting a SparkContext, so a task costs one spark-submit JVM (a few seconds).
The real jobs go through the same ``run_dag_test`` in the integration tests.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import zipfile
from pathlib import Path

import pytest
from airflow_helpers import NIGHTLY_JOBS, PROJECT_ROOT, output_tail, run_dag_test

pytestmark = pytest.mark.airflow

# Each stand-in appends one JSON line: which job, its arguments, where it ran, what it saw.
_STAND_IN_JOB = """\
import json, os, sys
job = os.path.splitext(os.path.basename(__file__))[0]
with open(os.environ["WIRING_CALLS"], "a") as calls:
    calls.write(json.dumps({
        "job": job,
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "landing_root": os.environ.get("INTERESTS_PATHS__LANDING_ROOT"),
        "python_marker": os.environ.get("WIRING_PYTHON_MARKER"),
        "interests_home": os.environ.get("INTERESTS_HOME"),
        "spark_submit": "PYSPARK_GATEWAY_PORT" in os.environ,
        "python_path": os.environ.get("PYTHONPATH", "").split(os.pathsep),
    }) + "\\n")
if job == "clean_events":
    # What the real job records last: its run in stage_runs (the window check reads it). The shipped
    # library zip is a stand-in too, so this writes the row with deltalake itself.
    import pyarrow as pa
    from deltalake import write_deltalake
    ds = sys.argv[sys.argv.index("--ds") + 1]
    write_deltalake(os.path.join(os.environ["INTERESTS_PATHS__LAKE_ROOT"], "stage_runs"),
                    pa.table({"ds": [ds], "stage": [job]}), partition_by=["ds"], mode="append")
exit_codes = json.loads(os.environ.get("WIRING_EXIT_CODES", "{}"))
sys.exit(exit_codes.get(job, 0))
"""


@pytest.fixture(scope="module")
def shared_airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One metadata DB for this module's runs: the migration is paid once."""
    return tmp_path_factory.mktemp("airflow_home_runs")


@pytest.fixture
def stand_in_project(tmp_path: Path) -> Path:
    """A project home (with a space in its path) whose jobs/ only record how they were called.

    Its library zip holds nothing the stand-ins use (there is no src/ to check it against); the
    Delta jars are the real ones, through the jobs' own override, ``INTERESTS_SPARK__JARS_DIR``.
    """
    home = tmp_path / "project home"
    (home / "jobs").mkdir(parents=True)
    for job in NIGHTLY_JOBS:
        (home / "jobs" / f"{job}.py").write_text(_STAND_IN_JOB)
    (home / ".dist").mkdir()
    with zipfile.ZipFile(home / ".dist" / "interests.zip", "w") as library:
        library.writestr("interests/__init__.py", "")
    return home


def _night_env(**env: str) -> dict[str, str]:
    """What every stand-in night needs: the real spark-submit and Delta jars of this checkout."""
    return {
        "INTERESTS_SPARK_SUBMIT": str(Path(sys.executable).with_name("spark-submit")),
        "INTERESTS_SPARK__JARS_DIR": str(PROJECT_ROOT / ".spark-jars"),
        **env,
    }


def _landing(root: Path, ds: str) -> Path:
    """A landing zone whose events day for ds holds one line (what the sensor waits for)."""
    folder = root / "events" / f"ds={ds}"
    folder.mkdir(parents=True)
    (folder / "part-0.jsonl").write_text('{"event_id": "e1"}\n')
    return root


@pytest.fixture
def marked_python(tmp_path: Path) -> Path:
    """An INTERESTS_PYTHON (path with a space) that marks the jobs it starts, then runs Python."""
    wrapper = tmp_path / "python bin" / "python"
    wrapper.parent.mkdir()
    wrapper.write_text(
        f'#!/usr/bin/env bash\nexport WIRING_PYTHON_MARKER=yes\nexec "{sys.executable}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


def _calls(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_night_runs_every_job_in_order_for_its_ds(
    stand_in_project: Path, marked_python: Path, shared_airflow_home: Path, tmp_path: Path
) -> None:
    """A night years before the DAG was written (backfilling history) still runs every task.

    Airflow creates no task instance for a logical date before a task's start_date and still
    reports the run a success, so an old ds is the one that proves the DAG runs any day.
    """
    calls_file = tmp_path / "calls.jsonl"
    landing = _landing(tmp_path / "landing", "2015-03-01")
    result = run_dag_test(
        stand_in_project,
        "2015-03-01",
        _night_env(
            WIRING_CALLS=str(calls_file),
            INTERESTS_PATHS__LANDING_ROOT=str(landing),
            INTERESTS_PATHS__LAKE_ROOT=str(tmp_path / "lake"),
            INTERESTS_PYTHON=str(marked_python),
        ),
        airflow_home=shared_airflow_home,
        timeout=600,
    )
    assert result.returncode == 0, output_tail(result)

    calls = _calls(calls_file)
    assert [call["job"] for call in calls] == list(NIGHTLY_JOBS)
    # The checks ran in the worker before the jobs that need them.
    assert "landing day ds=2015-03-01 of events is there" in result.stdout, output_tail(result)
    assert "lookback window of ds=2015-03-01 has its cleaned days" in result.stdout, output_tail(result)
    run_ids = {call["argv"][3] for call in calls}
    assert len(run_ids) == 1 and run_ids.pop().startswith("manual__")
    for call in calls:
        assert call["argv"][:3] == ["--ds", "2015-03-01", "--run-id"]
        assert call["argv"][4:] == ["--max-lateness-days", "", "--lookback-days", ""]  # unset run params
        assert os.path.samefile(call["cwd"], stand_in_project)
        assert call["landing_root"] == str(landing)
        assert call["python_marker"] == "yes"  # the driver ran INTERESTS_PYTHON
        assert call["spark_submit"] is True
        assert call["interests_home"] == str(stand_in_project)
        # The library zip comes first on the driver's path, as on the executors'.
        assert call["python_path"][0] == str(stand_in_project / ".dist" / "interests.zip")


def test_a_job_rejecting_its_input_fails_the_night_without_retries(
    stand_in_project: Path, shared_airflow_home: Path, tmp_path: Path
) -> None:
    calls_file = tmp_path / "calls.jsonl"
    result = run_dag_test(
        stand_in_project,
        "2026-11-21",
        _night_env(
            WIRING_CALLS=str(calls_file),
            WIRING_EXIT_CODES=json.dumps({"encode_texts": 2}),
            INTERESTS_PATHS__LANDING_ROOT=str(_landing(tmp_path / "landing", "2026-11-21")),
            INTERESTS_PATHS__LAKE_ROOT=str(tmp_path / "lake"),
        ),
        airflow_home=shared_airflow_home,
        # A retry would wait retry_delay (5 min) first: running into this limit means exit
        # code 2 was retried.
        timeout=240,
    )
    assert result.returncode != 0, output_tail(result)
    assert "DagRun failed" in result.stdout
    # Ran once each; nothing ran after the failure.
    assert [call["job"] for call in _calls(calls_file)] == ["clean_events", "encode_texts"]


def test_a_night_without_landing_data_waits_then_fails_naming_the_folder(
    stand_in_project: Path, shared_airflow_home: Path, tmp_path: Path
) -> None:
    """The sensor reschedules itself until its timeout, then fails without retries; no job runs."""
    calls_file = tmp_path / "calls.jsonl"
    landing = tmp_path / "landing"
    result = run_dag_test(
        stand_in_project,
        "2026-11-22",
        _night_env(
            WIRING_CALLS=str(calls_file),
            INTERESTS_PATHS__LANDING_ROOT=str(landing),
            INTERESTS_PATHS__LAKE_ROOT=str(tmp_path / "lake"),
            INTERESTS_DAG_LANDING_TIMEOUT_HOURS=str(6 / 3600),  # 6 s
            INTERESTS_DAG_LANDING_POKE_SECONDS="2",
        ),
        airflow_home=shared_airflow_home,
        timeout=240,  # a retry would wait retry_delay (5 min) first
    )
    assert result.returncode != 0, output_tail(result)
    assert "DagRun failed" in result.stdout
    assert "waiting for the landing day" in result.stdout  # poked, rescheduled, poked again
    assert f"waiting for the landing data of ds=2026-11-22: no landing data for ds=2026-11-22: {landing / 'events' / 'ds=2026-11-22'} does not exist" in result.stdout, output_tail(result)
    assert _calls(calls_file) == []


def test_a_window_with_a_hole_fails_before_the_stages_that_read_it(
    stand_in_project: Path, shared_airflow_home: Path, tmp_path: Path
) -> None:
    """The deployment's first night is 2026-11-20: the lookback days 2026-11-20..22 must be cleaned."""
    calls_file = tmp_path / "calls.jsonl"
    result = run_dag_test(
        stand_in_project,
        "2026-11-23",
        _night_env(
            WIRING_CALLS=str(calls_file),
            INTERESTS_PATHS__LANDING_ROOT=str(_landing(tmp_path / "landing", "2026-11-23")),
            INTERESTS_PATHS__LAKE_ROOT=str(tmp_path / "lake"),
            INTERESTS_DAG_START_DATE="2026-11-20",
        ),
        airflow_home=shared_airflow_home,
        timeout=240,
    )
    assert result.returncode != 0, output_tail(result)
    assert "misses 3 cleaned day(s) since the first night 2026-11-20: 2026-11-20, 2026-11-21, 2026-11-22" in result.stdout, output_tail(result)
    assert [call["job"] for call in _calls(calls_file)] == ["clean_events"]
