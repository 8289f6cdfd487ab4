"""Fixtures for the DAG tests: an isolated Airflow environment and the parsed DAGs folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# With --import-mode=importlib pytest puts no test folder on sys.path; this one holds
# airflow_helpers, which the DAG tests (and the integration tests) import by name.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from airflow_helpers import DAGS_FOLDER, airflow_env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AIRFLOW_HOME for this test session (Airflow writes airflow.cfg there on import)."""
    return tmp_path_factory.mktemp("airflow_home")


@pytest.fixture(scope="session")
def airflow_in_process(airflow_home: Path) -> Iterator[None]:
    """Point this process's Airflow at ``airflow_home`` before anything imports Airflow.

    Also clears ``INTERESTS_*`` so DAG files are parsed with their defaults.
    """
    wanted = airflow_env(airflow_home)
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name not in wanted:
                patch.delenv(name)
        for name, value in wanted.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def dagbag(airflow_in_process: None) -> Any:
    """Every DAG in dags/, parsed as the dag processor, workers and ``dags test`` parse them.

    ``BundleDagBag`` (not ``DagBag``) because, like Airflow 3 itself, it puts the DAGs folder
    on ``sys.path`` so that DAG files can import ``interests_airflow``, and honours
    ``.airflowignore``.
    """
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=DAGS_FOLDER, bundle_path=DAGS_FOLDER, bundle_name="dags-folder")
