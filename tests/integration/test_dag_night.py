"""Whole nights through Airflow (`airflow dags test`) with the real jobs, each one a spark-submit.

1. The embedded default: the connection submits to `local[*]`, the lake engine is delta-rs.
2. The same night on a Spark standalone cluster on 127.0.0.1 (one master, two workers, started from
   PySpark's own launch classes and stopped afterwards, also when the test fails), with the
   delta-spark engine: the tables must have the same keys and counts as the embedded night's, and
   the vectors must agree within the tolerances below.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from airflow_helpers import DAGS_FOLDER, PROJECT_ROOT, output_tail, run_dag_test
from spark_cluster import standalone_cluster

from interests.catalog import OUTPUT_TABLES, PIPELINE_RUNS, STAGE_RUNS, embedding_matrix, table
from interests.lake import Lake
from interests.synthetic.cli import main as generate

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

DS = "2015-03-01"  # years before the DAG was written: backfilled history runs its tasks too


NIGHT_ENV = {
    "INTERESTS_HIERARCHY__N_TOPICS": "4",
    "INTERESTS_HIERARCHY__N_SUBINTERESTS": "12",
    "INTERESTS_SPARK__SHUFFLE_PARTITIONS": "2",
    # float32: the two nights are compared to 1e-5, and bfloat16 sums vary with a text's batch (~3e-5).
    "INTERESTS_ENCODER__BACKEND": "torch",
    "HF_HUB_OFFLINE": "1",
}
STAGES = {"clean_events", "encode_texts", "learn_behaviour", "build_hierarchy", "publish"}

VECTOR_COSINE_TOLERANCE = 1e-5
"""Least cosine allowed between a vector of the cluster night and the embedded night's. Measured:
1 - 2e-16 for every vector column (the same floats); the margin is for float32 rounding, since the
encoder may see other batches (padding) and Spark may sum in another order on other layouts."""


def _build_library_zip() -> None:
    # What `make night` does first: the tasks refuse a library zip older than src/interests.
    subprocess.run(
        [sys.executable, str(DAGS_FOLDER / "interests_airflow" / "library.py"),
         str(PROJECT_ROOT / "src" / "interests"), str(PROJECT_ROOT / ".dist" / "interests.zip")],
        check=True,
    )


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    folder = tmp_path_factory.mktemp("night")
    landing = folder / "landing"
    assert generate(["--preset", "tiny", "--end", DS, "--landing", str(landing), "--truth", str(folder / "truth")]) == 0
    return landing


@pytest.fixture(scope="module")
def embedded_night(landing, tmp_path_factory):
    """The night on the embedded default; returns (lake root, Airflow's output)."""
    folder = tmp_path_factory.mktemp("embedded")
    lake_root = folder / "lake"
    env = {**NIGHT_ENV, "INTERESTS_PATHS__LANDING_ROOT": str(landing), "INTERESTS_PATHS__LAKE_ROOT": str(lake_root)}
    _build_library_zip()
    result = run_dag_test(PROJECT_ROOT, DS, env, airflow_home=folder / "airflow", timeout=1500)
    assert result.returncode == 0, output_tail(result)
    return lake_root, result


def _assert_published(lake: Lake, lake_root) -> None:
    assert set(lake.read(STAGE_RUNS, ds=DS)["stage"].to_pylist()) == STAGES
    runs = lake.read(PIPELINE_RUNS, ds=DS)
    assert runs.num_rows == 1
    row = runs.to_pylist()[0]
    assert row["status"] == "published" and row["quality_passed"]
    assert row["run_id"].startswith("manual__"), row["run_id"]  # Airflow's run id reached the jobs
    assert set(dict(row["registered_models"])) >= {"interests-encoder", "interests-hierarchy"}
    for name in OUTPUT_TABLES:
        assert lake.read(table(name), ds=DS, columns=["ds"]).num_rows > 0, name
    # The MLflow store sits under the lake, as documented.
    assert (lake_root / "_mlflow" / "mlflow.db").exists()


def test_nightly_dag_runs_the_real_jobs(embedded_night):
    lake_root, result = embedded_night
    submitted = [line for line in result.stdout.splitlines() if "Spark-Submit cmd:" in line]
    assert len(submitted) == 5, output_tail(result)
    assert all("--master local[*]" in line and "--py-files" in line for line in submitted)

    lake = Lake(lake_root)
    _assert_published(lake, lake_root)
    assert pc.all(pc.equal(lake.read(table("item_embeddings"), ds=DS)["ds"], DS)).as_py()


def _vector_columns(spec) -> list[str]:
    return [f.name for f in spec.schema if pa.types.is_list(f.type) and pa.types.is_floating(f.type.value_type)]


def _compare_tables(embedded: Lake, cluster: Lake) -> dict[str, float]:
    """Same keys and counts in every output table; the least cosine of each vector column."""
    least = {}
    for name in OUTPUT_TABLES:
        spec = table(name)
        ours, theirs = embedded.read(spec, ds=DS), cluster.read(spec, ds=DS)
        keys = [(k, "ascending") for k in spec.key]
        ours, theirs = ours.sort_by(keys), theirs.sort_by(keys)
        assert theirs.num_rows == ours.num_rows, name
        for column in spec.key:
            assert theirs.column(column).equals(ours.column(column)), f"{name}.{column}"
        for column in _vector_columns(spec):
            a, b = ours.column(column), theirs.column(column)
            present = pc.invert(pc.is_null(a))
            assert present.equals(pc.invert(pc.is_null(b))), f"{name}.{column}: nulls differ"
            a, b = a.filter(present), b.filter(present)
            if len(a) == 0:
                continue
            a, b = embedding_matrix(a, np.float64), embedding_matrix(b, np.float64)
            cosine = np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
            least[f"{name}.{column}"] = float(cosine.min())
    return least


def test_the_same_night_on_a_standalone_cluster_with_delta_spark(landing, embedded_night, tmp_path):
    embedded_root, _ = embedded_night
    lake_root = tmp_path / "lake"
    with standalone_cluster(tmp_path / "cluster", workers=2, cores_per_worker=1, memory_per_worker="2g") as cluster:
        host, port = cluster.master_url.rsplit(":", 1)
        env = {
            **NIGHT_ENV,
            "INTERESTS_PATHS__LANDING_ROOT": str(landing),
            "INTERESTS_PATHS__LAKE_ROOT": str(lake_root),
            "INTERESTS_LAKE__ENGINE": "delta-spark",
            "AIRFLOW_CONN_INTERESTS_SPARK": json.dumps({"conn_type": "spark", "host": host, "port": int(port)}),
            "INTERESTS_SPARK_CONF": json.dumps({"spark.executor.memory": "1g", "spark.cores.max": "2"}),
        }
        _build_library_zip()
        result = run_dag_test(PROJECT_ROOT, DS, env, airflow_home=tmp_path / "airflow", timeout=1800)
        assert result.returncode == 0, output_tail(result) + "\n" + cluster.log_tail()
        applications = cluster.state().get("completedapps", []) + cluster.state().get("activeapps", [])

    submitted = [line for line in result.stdout.splitlines() if "Spark-Submit cmd:" in line]
    assert len(submitted) == 5 and all(f"--master {cluster.master_url}" in line for line in submitted), output_tail(result)
    # Every job ran as an application of the cluster, with executors on its workers.
    assert {app["name"] for app in applications} >= {f"interests-{stage}" for stage in STAGES}, applications

    cluster_lake, embedded_lake = Lake(lake_root), Lake(embedded_root)
    _assert_published(cluster_lake, lake_root)
    least = _compare_tables(embedded_lake, cluster_lake)
    print("least cosine, cluster night vs embedded night:", json.dumps(least, indent=1))
    for column, cosine in least.items():
        assert cosine >= 1 - VECTOR_COSINE_TOLERANCE, (column, cosine)
