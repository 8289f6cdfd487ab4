"""A real backfill through the Airflow 3 scheduler equals the same nights run one after another.

``scripts/backfill.py`` (what ``make backfill`` runs) starts an api-server, a scheduler and a
dag-processor on a fresh ``AIRFLOW_HOME``, runs ``airflow backfill create --max-active-runs 1`` for
the last ``BACKFILL_DAYS`` days of the tiny generated preset, from an empty lake, waits, reports and
stops them. The same nights then run one after another, in-process (``test_night.run_night``), on
another empty lake; every table of every night must hold the same rows (vectors within a float32
tolerance: the backfill's jobs are separate spark-submit processes).

Then the backfill runs again over the same days (``--reprocess completed``) while the nightly run of
the next day goes through ``airflow dags test`` at the same time, on the same lake: neither may
corrupt the other (``test_a_backfill_beside_the_nightly_run_corrupts_neither``).

The issue asks for 14 days; a tiny night costs ~3-4 minutes through spark-submit on a 2-core
machine, so CI runs ``BACKFILL_DAYS`` (default 2) and a longer run is recorded in
docs/operations.md ("Backfills"): ``INTERESTS_BACKFILL_TEST_DAYS=14 pytest tests/integration/test_backfill.py``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from airflow_helpers import DAGS_FOLDER, PROJECT_ROOT, airflow_env, output_tail, run_dag_test

from interests.catalog import (
    OUTPUT_TABLES,
    PIPELINE_RUNS,
    STAGE_RUNS,
    TEXT_EMBEDDINGS,
    embedding_matrix,
    table,
)
from interests.lake import Lake
from interests.publishing.nights import publish_attempts, resolve_night
from interests.synthetic.cli import main as generate

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

END = "2026-11-20"
BACKFILL_DAYS = int(os.environ.get("INTERESTS_BACKFILL_TEST_DAYS", "2"))
DAYS = [(date.fromisoformat(END) - timedelta(days=n)).isoformat() for n in reversed(range(BACKFILL_DAYS))]
NIGHTLY_DS = (date.fromisoformat(END) + timedelta(days=1)).isoformat()
"""The nightly run that goes on while the backfill reprocesses DAYS."""
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
    argv = ["--preset", "tiny", "--end", NIGHTLY_DS, "--days", str(BACKFILL_DAYS + 2),
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
    return folder / "lake", output, env


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
    lake_root, output, _ = backfilled
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


def _assert_same_nights(mine: dict[str, dict[str, pa.Table]], theirs: dict[str, dict[str, pa.Table]]) -> None:
    """Every table of every night (``{ds: snapshot}``) holds the same rows; vectors within the tolerance."""
    least = {}
    for ds, tables in mine.items():
        other = theirs[ds]
        assert set(tables) == set(other)
        assert tables["item_embeddings"].num_rows > 0 and tables["user_embeddings"].num_rows > 0, ds
        for name, rows in tables.items():
            expected = other[name]
            assert rows.num_rows == expected.num_rows, (ds, name, rows.num_rows, expected.num_rows)
            assert rows.column_names == expected.column_names, (ds, name)
            vectors = _vector_columns(table(name))
            for column in rows.column_names:
                if column in vectors:
                    least[f"{ds}.{name}.{column}"] = _least_cosine(rows[column], expected[column])
                else:
                    assert rows[column].equals(expected[column]), f"ds={ds} {name}.{column} differs"
    print("least cosine:", least)
    for column, cosine in least.items():
        assert cosine >= 1 - VECTOR_COSINE_TOLERANCE, (column, cosine)


def test_the_backfill_yields_the_same_tables_as_the_nights_run_one_after_another(backfilled, sequential):
    backfill_root, _, _ = backfilled
    sequential_root, helpers = sequential
    ours, theirs = Lake(backfill_root), Lake(sequential_root)
    _assert_same_nights({ds: helpers.snapshot(ours, ds) for ds in DAYS},
                        {ds: helpers.snapshot(theirs, ds) for ds in DAYS})


def _published_tables(lake: Lake, ds: str, as_of_version: int | None = None) -> dict[str, pa.Table]:
    """The night's output tables as its readers see them (at the published versions), sorted by key."""
    night = resolve_night(lake, ds, as_of_version=as_of_version)
    tables = {name: night.read(lake, table(name)) for name in OUTPUT_TABLES}
    return {name: t.sort_by([(c, "ascending") for c in table(name).key]) for name, t in tables.items()}


def test_a_backfill_beside_the_nightly_run_corrupts_neither(landing, backfilled, sequential, tmp_path):
    """The backfill reprocesses DAYS through the scheduler while the nightly run of NIGHTLY_DS goes through
    `airflow dags test` (its own AIRFLOW_HOME, as a second deployment would), both on the same lake. Both
    publish; the reprocessed nights read as before; the nightly night equals the same night run alone
    (in-process, after the same nights, on the sequential lake); the latest night and `production` are
    the nightly's; the encoding cache holds one row per key."""
    from interests.publishing.mlflow_models import HIERARCHY_MODEL_NAME, PRODUCTION, alias_versions

    lake_root, _, env = backfilled
    lake = Lake(lake_root)
    before = lake.version(PIPELINE_RUNS)
    first = {ds: _published_tables(lake, ds) for ds in DAYS}
    night_env = {key: env[key] for key in (*NIGHT_ENV, "INTERESTS_PATHS__LANDING_ROOT", "INTERESTS_PATHS__LAKE_ROOT")}
    backfill = [sys.executable, str(PROJECT_ROOT / "scripts" / "backfill.py"), "--start", DAYS[0], "--end", DAYS[-1],
                "--reprocess", "completed", "--poll-seconds", "10", "--timeout-hours", str(0.2 * BACKFILL_DAYS + 0.2)]
    with ThreadPoolExecutor(2) as pool:
        backfilling = pool.submit(subprocess.run, backfill, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                                  timeout=3600 * BACKFILL_DAYS, check=False)
        nightly = pool.submit(run_dag_test, PROJECT_ROOT, NIGHTLY_DS, night_env, airflow_home=tmp_path / "airflow",
                              timeout=3600)
        backfilled_again, nightly = backfilling.result(), nightly.result()
    output = backfilled_again.stdout + backfilled_again.stderr
    assert backfilled_again.returncode == 0, output[-5000:]
    assert f"{len(DAYS)} of {len(DAYS)} night(s) ok" in output, output[-3000:]
    assert nightly.returncode == 0, output_tail(nightly)

    # They did overlap: stage rows are replaced per ds and stage, so the backfill's are the rerun's.
    finished = {}
    for row in lake.read(STAGE_RUNS).to_pylist():
        finished.setdefault("nightly" if row["ds"] == NIGHTLY_DS else "backfill", []).append(row["finished_at"])
    nightly_span, rerun_span = finished["nightly"], finished["backfill"]
    assert min(nightly_span) < max(rerun_span) and max(nightly_span) > min(rerun_span), finished

    # Every night published: the nightly's once, each backfilled day again. Reprocessing reruns the day's
    # dag run (the same run id), so its pipeline_runs row (key ds, run_id) is replaced; the first
    # publication stays in the table's history (read below at the version before).
    attempts = publish_attempts(lake)
    assert sorted(row["ds"] for row in attempts) == sorted([*DAYS, NIGHTLY_DS]), [(r["ds"], r["run_id"]) for r in attempts]
    assert all(row["status"] == "published" for row in attempts), [(r["ds"], r["status"]) for r in attempts]
    for ds in DAYS:  # the reprocessed nights read as their first publication did
        assert resolve_night(lake, ds).published_at > resolve_night(lake, ds, as_of_version=before).published_at
    _assert_same_nights({ds: _published_tables(lake, ds) for ds in DAYS}, first)

    latest = resolve_night(lake)
    assert latest.ds == NIGHTLY_DS
    uri = f"sqlite:///{lake_root}/_mlflow/mlflow.db"
    assert alias_versions(uri, PRODUCTION)[HIERARCHY_MODEL_NAME] == latest.registered_models[HIERARCHY_MODEL_NAME]
    # A text both encoded at once would be in the cache twice; maintenance keeps one row per key.
    print("cache rows repeating a key:", lake.drop_repeated_keys(TEXT_EMBEDDINGS))
    cache = lake.read(TEXT_EMBEDDINGS, columns=["model_version", "text_hash"])
    assert cache.num_rows == len(set(zip(*cache.to_pydict().values(), strict=True)))

    # The nightly night equals the same night run alone after the same nights.
    sequential_root, helpers = sequential
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**NIGHT_ENV, "INTERESTS_PATHS__LANDING_ROOT": str(landing),
                           "INTERESTS_PATHS__LAKE_ROOT": str(sequential_root)}.items():
            patch.setenv(key, value)
        helpers.run_night(NIGHTLY_DS, f"alone-{NIGHTLY_DS}")
    _assert_same_nights({NIGHTLY_DS: _published_tables(lake, NIGHTLY_DS)},
                        {NIGHTLY_DS: _published_tables(Lake(sequential_root), NIGHTLY_DS)})
