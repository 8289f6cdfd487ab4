"""Run this project's DAGs through the real Airflow CLI (``scripts/airflow.sh``) from tests.

The DAG files and ``scripts/airflow.sh`` always come from this checkout; ``project_home``
(``INTERESTS_HOME``) says whose ``jobs/`` the tasks run, so a test can run the real jobs or
stand-ins. Every run gets its own ``AIRFLOW_HOME`` (sqlite DB, generated ``airflow.cfg``, logs):
a test never touches the developer's ``.airflow/`` or a metadata DB named in their shell.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = PROJECT_ROOT / "dags"
AIRFLOW_SH = PROJECT_ROOT / "scripts" / "airflow.sh"

NIGHTLY_DAG_ID = "interests_nightly"
NIGHTLY_JOBS = ("clean_events", "encode_texts", "learn_behaviour", "build_hierarchy", "publish")
"""The nightly DAG's spark-submit tasks, in run order; each runs ``jobs/<name>.py``."""
NIGHTLY_TASKS = (
    "wait_for_landing", "clean_events", "check_lookback_window",
    "encode_texts", "learn_behaviour", "build_hierarchy", "publish",
)
"""Every task of the nightly DAG, in run order: the jobs and the checks that run in the worker."""

_NOT_INHERITED_PREFIXES = ("AIRFLOW", "_AIRFLOW", "INTERESTS_", "MLFLOW_")


def airflow_env(airflow_home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for an Airflow process in a test: isolated, quiet, this project's DAGs.

    Starts from ``os.environ`` without any ``AIRFLOW*``, ``INTERESTS_*`` or ``MLFLOW_*`` variable of
    the calling shell or test process (so a developer's real metadata DB, lake or MLflow store can
    never be reached; ``mlflow.set_tracking_uri`` in an earlier test sets ``MLFLOW_TRACKING_URI``
    in this process, which the night's jobs would otherwise inherit), adds the
    settings ``scripts/airflow.sh`` would choose for ``airflow_home``, then lays ``env`` on top.
    """
    result = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_NOT_INHERITED_PREFIXES)
    }
    airflow_home = Path(airflow_home).resolve()
    result.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "UTC",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home}/airflow.db",
        }
    )
    # Prefer the Airflow installed next to the interpreter running the tests (CI may keep its
    # virtualenv elsewhere than <project>/.venv, the wrapper's default).
    airflow_next_to_python = Path(sys.executable).with_name("airflow")
    if airflow_next_to_python.exists():
        result["AIRFLOW_BIN"] = str(airflow_next_to_python)
    result.update(env or {})
    return result


def run_dag_test(
    project_home: Path,
    ds: str,
    env: Mapping[str, str],
    *,
    airflow_home: Path | None = None,
    dag_id: str = NIGHTLY_DAG_ID,
    timeout: float = 3600,
) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/airflow.sh dags test <dag_id> <ds>``: one whole night, tasks in-process.

    ``project_home`` becomes ``INTERESTS_HOME`` (the folder holding ``jobs/`` and ``conf/``);
    ``env`` holds what the jobs need (e.g. ``INTERESTS_PATHS__LANDING_ROOT``,
    ``INTERESTS_PATHS__LAKE_ROOT``) and reaches them unchanged. The Airflow state goes to
    ``airflow_home`` (or ``env["AIRFLOW_HOME"]``), which is required: use a ``tmp_path``.
    Reusing one ``airflow_home`` for several runs saves the migration (about 5 s).

    Returns the finished process, stdout and stderr merged in ``stdout``; ``returncode`` is 0
    when the run succeeded and 1 when a task failed ("DagRun failed" at the end). The run id
    of a ``dags test`` run is ``manual__<time the test started>``, not derived from ``ds``.
    """
    home = airflow_home or (Path(env["AIRFLOW_HOME"]) if "AIRFLOW_HOME" in env else None)
    if home is None:
        raise ValueError(
            "run_dag_test needs an isolated AIRFLOW_HOME: pass airflow_home=tmp_path / 'airflow'"
        )
    home.mkdir(parents=True, exist_ok=True)
    full_env = airflow_env(home, {**env, "INTERESTS_HOME": str(Path(project_home).resolve())})
    return subprocess.run(
        ["bash", str(AIRFLOW_SH), "dags", "test", dag_id, ds],
        cwd=PROJECT_ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def output_tail(result: subprocess.CompletedProcess[str], lines: int = 60) -> str:
    """The last lines of a run's output, for assertion messages."""
    return "\n".join((result.stdout or "").splitlines()[-lines:])
