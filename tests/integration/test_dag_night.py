"""One whole night through Airflow (`airflow dags test`) with the real jobs, each submitted by
spark-submit to the embedded default connection (`local[*]`), the library shipped as --py-files."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.compute as pc
import pytest
from airflow_helpers import DAGS_FOLDER, PROJECT_ROOT, output_tail, run_dag_test

from interests.catalog import OUTPUT_TABLES, PIPELINE_RUNS, STAGE_RUNS, table
from interests.lake import Lake
from interests.synthetic.cli import main as generate

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

DS = "2015-03-01"  # years before the DAG was written: backfilled history runs its tasks too


def test_nightly_dag_runs_the_real_jobs(tmp_path):
    landing, lake_root = tmp_path / "landing", tmp_path / "lake"
    assert generate(["--preset", "tiny", "--end", DS, "--landing", str(landing), "--truth", str(tmp_path / "truth")]) == 0
    env = {
        "INTERESTS_PATHS__LANDING_ROOT": str(landing),
        "INTERESTS_PATHS__LAKE_ROOT": str(lake_root),
        "INTERESTS_HIERARCHY__N_TOPICS": "4",
        "INTERESTS_HIERARCHY__N_SUBINTERESTS": "12",
        "INTERESTS_SPARK__SHUFFLE_PARTITIONS": "2",
        "HF_HUB_OFFLINE": "1",
    }
    # What `make night` does first: the tasks refuse a library zip older than src/interests.
    subprocess.run(
        [sys.executable, str(DAGS_FOLDER / "interests_airflow" / "library.py"),
         str(PROJECT_ROOT / "src" / "interests"), str(PROJECT_ROOT / ".dist" / "interests.zip")],
        check=True,
    )
    result = run_dag_test(PROJECT_ROOT, DS, env, airflow_home=tmp_path / "airflow", timeout=1500)
    assert result.returncode == 0, output_tail(result)
    submitted = [line for line in result.stdout.splitlines() if "Spark-Submit cmd:" in line]
    assert len(submitted) == 5, output_tail(result)
    assert all("--master local[*]" in line and "--py-files" in line for line in submitted)

    lake = Lake(lake_root)
    stages = set(lake.read(STAGE_RUNS, ds=DS)["stage"].to_pylist())
    assert stages == {"clean_events", "encode_texts", "learn_behaviour", "build_hierarchy", "publish"}
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
    assert pc.all(pc.equal(lake.read(table("item_embeddings"), ds=DS)["ds"], DS)).as_py()
