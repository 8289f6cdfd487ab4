"""The delta-spark engine: writes from the executors, on the Delta jars that `make install` resolves.

These run for real: the jars are in spark.jars_dir (scripts/spark_jars.sh), and the shared test
session loads them. Tables written by delta-spark are read back with delta-rs too, because readers
that need no Spark (the reader API, tests, benchmarks) use delta-rs on the same tables.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from interests.catalog import (
    BEHAVIOUR_TUNING,
    EVENTS_REJECTED,
    STAGE_RUNS,
    TEXT_EMBEDDINGS,
    USER_EMBEDDINGS,
)
from interests.lake import Lake, SchemaMismatchError

DS = "2026-11-20"


def _rejected(ds: str, reason: str, n: int = 1) -> pa.Table:
    return pa.table(
        {
            "ds": [ds] * n, "source": ["events"] * n, "reason": [reason] * n,
            "raw_line": [f"{{{i}" for i in range(n)], "source_file": ["f"] * n,
        }
    )


@pytest.fixture
def lake(spark, tmp_path) -> Lake:
    return Lake(tmp_path / "lake", engine="delta-spark", spark=spark)


def test_replaces_exactly_one_partition(lake, spark):
    lake.write_partition(EVENTS_REJECTED, DS, _rejected(DS, "malformed_json"))
    lake.write_partition(EVENTS_REJECTED, "2026-11-21", _rejected("2026-11-21", "malformed_json"))
    version = lake.write_partition(EVENTS_REJECTED, DS, _rejected(DS, "empty_line", 3))

    assert version == lake.version(EVENTS_REJECTED) == 3  # the create, then three writes
    frame = lake.read_spark(EVENTS_REJECTED)
    assert sorted((r["ds"], r["reason"]) for r in frame.collect()) == [
        (DS, "empty_line"), (DS, "empty_line"), (DS, "empty_line"), ("2026-11-21", "malformed_json")
    ]
    assert lake.read(EVENTS_REJECTED, ds=DS).num_rows == 3  # delta-rs reads what delta-spark wrote
    assert lake.logged_rows(EVENTS_REJECTED, ds=DS) == 3  # delta-spark's log carries numRecords too
    assert lake.logged_rows(EVENTS_REJECTED, ds=DS, version=1) == 1 and lake.logged_rows(EVENTS_REJECTED, ds="2026-11-21", version=1) == 0
    assert lake.partitions(EVENTS_REJECTED) == [DS, "2026-11-21"]


def test_a_spark_frame_is_written_with_the_catalog_schema(lake, spark):
    frame = spark.createDataFrame(_rejected(DS, "malformed_json", 5).to_pandas()).repartition(3)
    lake.write_partition(EVENTS_REJECTED, DS, frame)

    read = lake.read(EVENTS_REJECTED, ds=DS)
    assert read.schema.equals(EVENTS_REJECTED.schema, check_metadata=False)
    assert read.num_rows == 5


def test_rows_of_another_partition_are_refused(lake, spark):
    frame = spark.createDataFrame(_rejected("2026-11-21", "malformed_json").to_pandas())
    with pytest.raises(Exception, match="replaceWhere|DELTA_REPLACE_WHERE"):
        lake.write_partition(EVENTS_REJECTED, DS, frame)
    assert lake.read(EVENTS_REJECTED).num_rows == 0


def test_replace_where_a_second_column_keeps_the_other_rows(lake):
    def stage(name: str) -> pa.Table:
        return pa.table(
            {
                "ds": [DS], "stage": [name], "run_id": ["r"], "counts": [[("rows", 1)]], "metrics": [[("m", 0.5)]],
                "finished_at": pa.array([0], pa.timestamp("us", tz="UTC")),
            },
            schema=STAGE_RUNS.schema,
        )

    lake.write_partition(STAGE_RUNS, DS, stage("clean_events"), where={"stage": "clean_events"})
    lake.write_partition(STAGE_RUNS, DS, stage("publish"), where={"stage": "publish"})
    lake.write_partition(STAGE_RUNS, DS, stage("publish"), where={"stage": "publish"})
    assert sorted(lake.read(STAGE_RUNS, ds=DS).column("stage").to_pylist()) == ["clean_events", "publish"]


def test_vectors_round_trip_between_engines(lake, spark, tmp_path):
    rows = pa.table(
        {
            "model_version": ["m", "m"], "text_hash": ["a", "b"],
            "embedding": pa.array([[0.6, 0.8], [1.0, 0.0]], pa.list_(pa.float32())), "first_ds": [DS, DS],
        }
    )
    spec = TEXT_EMBEDDINGS
    lake.append(spec, rows)
    lake.append(spec, rows.slice(0, 1))
    assert lake.read(spec).num_rows == 3
    back = lake.read_spark(spec).where("text_hash = 'a'").toArrow()
    assert pc.all(pc.equal(pc.list_value_length(back.column("embedding")), 2)).as_py()


def test_a_missing_table_reads_as_an_empty_frame(lake):
    frame = lake.read_spark(USER_EMBEDDINGS, ds=DS)
    assert frame.count() == 0 and frame.columns == USER_EMBEDDINGS.schema.names


def test_schema_is_checked_before_the_write(lake):
    with pytest.raises(SchemaMismatchError):
        lake.write_partition(EVENTS_REJECTED, DS, _rejected(DS, "x").drop(["reason"]))


def test_delta_rs_filters_a_boolean_column_that_delta_spark_wrote(lake, tmp_path):
    """delta-spark writes no min/max statistics for booleans; delta-rs 1.6 pruned every file on them
    (build_hierarchy found no chosen grid point in a delta-spark night). Lake.read filters rows instead."""
    grid = pa.table(
        {
            "ds": [DS] * 3, "rank": [32, 32, 64], "regularization": [0.01, 0.1, 0.01],
            "text_weight": [0.1] * 3, "half_life_days": [7.0] * 3, "users": [None, 10.0, 10.0],
            "recall_at_10": [None, 0.2, 0.3], "recall_at_50": [None, 0.4, 0.5], "ndcg_at_10": [None, 0.1, 0.2],
            "chosen": [False, False, True],
        }
    )
    lake.write_partition(BEHAVIOUR_TUNING, DS, grid)
    reader = Lake(tmp_path / "lake")  # delta-rs, as services read
    chosen = reader.read(BEHAVIOUR_TUNING, ds=DS, columns=["rank"], filters=[("chosen", "=", True)])
    assert chosen.column_names == ["rank"] and chosen.column("rank").to_pylist() == [64]
    assert reader.read(BEHAVIOUR_TUNING, filters=[("rank", "in", [32])]).num_rows == 2
