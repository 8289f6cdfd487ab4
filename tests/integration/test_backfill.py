"""A real backfill through the Airflow 3 scheduler equals the same nights run one after another.

``scripts/backfill.py`` (what ``make backfill`` runs) starts an api-server, a scheduler and a
dag-processor on a fresh ``AIRFLOW_HOME``, runs ``airflow backfill create --max-active-runs 1`` for
the last ``BACKFILL_DAYS`` days of the tiny generated preset, from an empty lake, waits, reports and
stops them. The same nights then run one after another, in-process (``test_night.run_night``), on
another empty lake; every table of every night must hold the same rows (vectors within a float32
tolerance: the backfill's jobs are separate spark-submit processes).

The issue asks for 14 days; a tiny night costs ~3-4 minutes through spark-submit on a 2-core
machine, so CI runs ``BACKFILL_DAYS`` (default 2) and a longer run is recorded in
docs/operations.md ("Backfills"): ``INTERESTS_BACKFILL_TEST_DAYS=14 pytest tests/integration/test_backfill.py``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from airflow_helpers import DAGS_FOLDER, PROJECT_ROOT, airflow_env

from interests.catalog import PIPELINE_RUNS, embedding_matrix, table
from interests.lake import Lake
from interests.synthetic.cli import main as generate

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

END = "2026-11-20"
BACKFILL_DAYS = int(os.environ.get("INTERESTS_BACKFILL_TEST_DAYS", "2"))
DAYS = [(date.fromisoformat(END) - timedelta(days=n)).isoformat() for n in reversed(range(BACKFILL_DAYS))]
NIGHT_ENV = {
    "INTERESTS_HIERARCHY__N_TOPICS": "4",
    "INTERESTS_HIERARCHY__N_SUBINTERESTS": "12",
    "INTERESTS_SPARK__SHUFFLE_PARTITIONS": "2",
    "INTERESTS_ENCODER__BACKEND": "torch",  # float32, as test_dag_night: bfloat16 sums vary with batching
    "HF_HUB_OFFLINE": "1",
}
VECTOR_COSINE_TOLERANCE = 1e-5
"""Least cosine allowed between a vector of the backfilled night and the in-process one (test_dag_night's)."""


def _test_night():
    """tests/integration/test_night.py, for its run_night and snapshot helpers."""
    spec = importlib.util.spec_from_file_location("test_night_helpers", Path(__file__).with_name("test_night.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("backfill")
    landing = folder / "landing"
    argv = ["--preset", "tiny", "--end", END, "--days", str(BACKFILL_DAYS + 1),
            "--landing", str(landing), "--truth", str(folder / "truth")]
    assert generate(argv) == 0
    return landing


@pytest.fixture(scope="module")
def backfilled(landing, tmp_path_factory):
    """The backfill through the scheduler, from an empty lake; returns (lake root, the script's output)."""
    folder = tmp_path_factory.mktemp("backfilled")
    subprocess.run(
        [sys.executable, str(DAGS_FOLDER / "interests_airflow" / "library.py"),
         str(PROJECT_ROOT / "src" / "interests"), str(PROJECT_ROOT / ".dist" / "interests.zip")],
        check=True,
    )
    env = airflow_env(folder / "airflow", {
        **NIGHT_ENV,
        "INTERESTS_HOME": str(PROJECT_ROOT),
        "INTERESTS_PATHS__LANDING_ROOT": str(landing),
        "INTERESTS_PATHS__LAKE_ROOT": str(folder / "lake"),
    })
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "backfill.py"), "--start", DAYS[0], "--end", DAYS[-1],
         "--poll-seconds", "10", "--timeout-hours", str(0.2 * BACKFILL_DAYS + 0.2)],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=3600 * BACKFILL_DAYS, check=False,
    )
    output = result.stdout + result.stderr
    print(output[-5000:])
    assert result.returncode == 0, output[-5000:]
    return folder / "lake", output


@pytest.fixture(scope="module")
def sequential(landing, backfilled, tmp_path_factory, spark):
    """The same nights one after another, in-process, on another empty lake."""
    helpers = _test_night()
    lake_root = tmp_path_factory.mktemp("sequential") / "lake"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**NIGHT_ENV, "INTERESTS_PATHS__LANDING_ROOT": str(landing),
                           "INTERESTS_PATHS__LAKE_ROOT": str(lake_root)}.items():
            patch.setenv(key, value)
        for ds in DAYS:
            helpers.run_night(ds, f"sequential-{ds}")
    return lake_root, helpers


def test_the_backfill_ran_every_night_through_the_scheduler_oldest_first(backfilled):
    lake_root, output = backfilled
    for ds in DAYS:
        assert f"  {ds}  success" in output and "check-night: ok" in output, output[-3000:]
    assert f"{len(DAYS)} of {len(DAYS)} night(s) ok" in output
    runs = Lake(lake_root).read(PIPELINE_RUNS).to_pylist()
    published = sorted((row["published_at"], row["ds"]) for row in runs if row["status"] == "published")
    assert [ds for _, ds in published] == DAYS  # one publication per night, oldest first
    assert all(row["run_id"].startswith("backfill__") for row in runs), [row["run_id"] for row in runs]
    for name in ("api-server", "scheduler", "dag-processor"):
        assert f"stopped {name}" in output


def _vector_columns(spec) -> list[str]:
    return [f.name for f in spec.schema if pa.types.is_list(f.type) and pa.types.is_floating(f.type.value_type)]


def _least_cosine(a: pa.ChunkedArray, b: pa.ChunkedArray) -> float:
    present = pc.invert(pc.is_null(a))
    assert present.equals(pc.invert(pc.is_null(b))), "nulls differ"
    a, b = a.filter(present), b.filter(present)
    if len(a) == 0:
        return 1.0
    a, b = embedding_matrix(a, np.float64), embedding_matrix(b, np.float64)
    cosine = np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return float(cosine.min())


def test_the_backfill_yields_the_same_tables_as_the_nights_run_one_after_another(backfilled, sequential):
    backfill_root, _ = backfilled
    sequential_root, helpers = sequential
    ours, theirs = Lake(backfill_root), Lake(sequential_root)
    least = {}
    for ds in DAYS:
        mine, other = helpers.snapshot(ours, ds), helpers.snapshot(theirs, ds)
        assert set(mine) == set(other)
        assert mine["item_embeddings"].num_rows > 0 and mine["user_embeddings"].num_rows > 0, ds
        for name, rows in mine.items():
            expected = other[name]
            assert rows.num_rows == expected.num_rows, (ds, name, rows.num_rows, expected.num_rows)
            assert rows.column_names == expected.column_names, (ds, name)
            vectors = _vector_columns(table(name))
            for column in rows.column_names:
                if column in vectors:
                    least[f"{ds}.{name}.{column}"] = _least_cosine(rows[column], expected[column])
                else:
                    assert rows[column].equals(expected[column]), f"ds={ds} {name}.{column} differs"
    print("least cosine, backfill vs sequential:", least)
    for column, cosine in least.items():
        assert cosine >= 1 - VECTOR_COSINE_TOLERANCE, (column, cosine)
