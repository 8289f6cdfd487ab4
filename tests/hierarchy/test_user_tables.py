"""The three user tables come from a Spark split of the grouped profiles, and match the former driver-side split.

Until issue 12, build_hierarchy collected every user's profile rows to the driver (``toArrow``) and split
that Arrow table; ``arrow_split`` below is that former code, kept here as the reference the Spark split
must reproduce row for row and bit for bit.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from interests.catalog import USER_EMBEDDINGS, USER_SUBINTERESTS, USER_TOPICS
from interests.hierarchy.tables import split_profiles
from interests.hierarchy.users import (
    PROFILE_DDL,
    SUBINTEREST,
    TOPIC,
    USER,
    ProfileSettings,
    engagement_signals,
    item_rows,
    profile_counts,
    profile_user,
    text_signals,
    user_profiles,
)
from interests.lake import Lake, conform

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DS = "2026-03-10"
HALF_LIFE = 2.0
END = datetime(2026, 3, 11, tzinfo=UTC)
SETTINGS = ProfileSettings(END.timestamp(), HALF_LIFE, max_topics_per_user=2, max_subinterests_per_user=3)
USER_TABLES = (USER_EMBEDDINGS, USER_TOPICS, USER_SUBINTERESTS)


def arrow_split(ds: str, profiles: pa.Table, half_life_days: float) -> dict[str, pa.Table]:
    """The former driver-side split of collected profile rows (build_hierarchy before issue 12)."""
    level = profiles.column("level")

    def constant(rows: pa.Table, value, type_: pa.DataType) -> pa.Array:
        return pa.array([value] * rows.num_rows, type_)

    users = profiles.filter(pc.equal(level, USER))
    topics = profiles.filter(pc.equal(level, TOPIC))
    subinterests = profiles.filter(pc.equal(level, SUBINTEREST))
    return {
        USER_EMBEDDINGS.name: pa.table({
            "ds": constant(users, ds, pa.string()), "user_id": users["user_id"], "embedding": users["embedding"],
            "n_engagements": users["n_engagements"], "n_items": users["n_items"], "n_texts": users["n_texts"],
            "engagement_weight": users["engagement_weight"], "last_event_ts": users["last_event_ts"],
            "vector_source": users["vector_source"], "vector_mass": users["vector_mass"],
            "half_life_days": constant(users, float(half_life_days), pa.float64()),
        }),
        USER_TOPICS.name: pa.table({
            "ds": constant(topics, ds, pa.string()), "user_id": topics["user_id"], "topic_id": topics["node_id"],
            "weight": topics["weight"], "embedding": topics["embedding"], "n_engagements": topics["n_engagements"],
        }),
        USER_SUBINTERESTS.name: pa.table({
            "ds": constant(subinterests, ds, pa.string()), "user_id": subinterests["user_id"],
            "subinterest_id": subinterests["node_id"], "topic_id": subinterests["topic_id"],
            "weight": subinterests["weight"], "embedding": subinterests["embedding"],
            "n_engagements": subinterests["n_engagements"], "medoid_item_id": subinterests["medoid_item_id"],
        }),
    }


def as_written(spec, rows: pa.Table) -> pa.Table:
    """Rows as the lake stores them: conformed to the catalog schema, sorted by the key."""
    return conform(spec, rows).sort_by([(column, "ascending") for column in spec.key])


@pytest.fixture(scope="module")
def night(spark):
    """A small night in Spark: 12 items in 3 topics, 30 users with engagements and texts, and what they saw."""
    rng = np.random.default_rng(12)
    vectors = rng.normal(size=(12, 6)).astype(np.float32)
    items = item_rows(spark, pa.table({
        "item_id": [f"i{n:02d}" for n in range(12)], "topic_id": [f"t{n % 3:04d}" for n in range(12)],
        "subinterest_id": [f"s{n % 6:04d}" for n in range(12)],
    }))
    engagement_rows = [
        (f"u{int(rng.integers(0, 24)):02d}", f"i{int(rng.integers(0, 13)):02d}", float(rng.choice([0.5, 1.0, 3.0])),
         END - timedelta(hours=float(rng.integers(1, 200))))
        for _ in range(300)
    ]  # i12 is not in the catalog: a user who engaged only with it has no signal from it
    engagement_rows.append(("u99", "i12", 1.0, END - timedelta(hours=3)))
    engagements = spark.createDataFrame(engagement_rows, "user_id string, item_id string, base_weight double, event_ts timestamp")
    texts = spark.createDataFrame(
        [(f"u{n:02d}", f"h{n % 4}", END - timedelta(days=1)) for n in range(20, 30)],
        "user_id string, text_hash string, text_ts timestamp",
    )
    text_vectors = spark.createDataFrame(
        [(f"h{n}", rng.normal(size=6).astype(np.float32).tolist()) for n in range(4)],
        "text_hash string, embedding array<float>",
    )
    signals = engagement_signals(engagements, items).unionByName(text_signals(texts, text_vectors, 0.25))
    seen = engagements.select("user_id").unionByName(spark.createDataFrame([("u98",)], "user_id string"))
    return signals, seen, vectors


def test_user_tables_are_split_in_spark_and_equal_the_former_driver_split(night):
    signals, _, vectors = night
    frames = split_profiles(DS, user_profiles(signals, SETTINGS, vectors), HALF_LIFE)
    reference = arrow_split(DS, user_profiles(signals, SETTINGS, vectors).toArrow(), HALF_LIFE)
    for spec in USER_TABLES:
        frame = frames[spec.name]
        assert isinstance(frame, DataFrame)
        # Computed from the Arrow UDF's output on the executors, not from rows the driver holds.
        plan = frame._jdf.queryExecution().analyzed().toString()
        assert "MapInArrow" in plan
        ours, theirs = as_written(spec, frame.toArrow()), as_written(spec, reference[spec.name])
        assert ours.num_rows > 0
        assert ours.equals(theirs), spec.name


def test_profiles_equal_the_former_grouped_path_user_by_user(night, spark):
    """The batched path in Spark (users split across Arrow batches) gives the rows and bits of
    groupBy(user_id).applyInArrow(profile_user) over signals that carry their vectors (the path before issue 13)."""
    signals, _, vectors = night
    matrix = F.array(*[F.lit(row.tolist()).cast("array<float>") for row in vectors])
    wide = signals.withColumn("embedding", F.coalesce("embedding", F.element_at(matrix, (F.col("item_row") + 1).cast("int"))))
    former = wide.drop("item_row").groupBy("user_id").applyInArrow(lambda table: profile_user(table, SETTINGS), PROFILE_DDL)
    key = [("user_id", "ascending"), ("level", "ascending"), ("node_id", "ascending")]
    previous = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "7")
    try:
        ours = user_profiles(signals, SETTINGS, vectors).toArrow().sort_by(key)
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", previous)
    theirs = former.toArrow().sort_by(key)
    assert ours.num_rows == theirs.num_rows > 30
    assert ours.equals(theirs)


def _build_hierarchy_job():
    spec = importlib.util.spec_from_file_location("jobs_build_hierarchy", ROOT / "jobs" / "build_hierarchy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RecordingLake(Lake):
    """A real lake (either engine) that remembers what each write was handed."""

    def __init__(self, root, engine, spark):
        super().__init__(root, engine=engine, spark=spark)
        self.handed: dict[str, str] = {}

    def write_partition(self, spec, ds, data, where=None):
        self.handed[spec.name] = "spark" if isinstance(data, DataFrame) else type(data).__name__
        return super().write_partition(spec, ds, data, where)


@pytest.mark.parametrize("engine", ["delta-rs", "delta-spark"])
def test_the_job_hands_the_lake_dataframes_and_counts_in_spark(night, tmp_path, spark, engine):
    """With either engine the lake is handed DataFrames; delta-spark writes them from the executors."""
    if engine == "delta-spark" and not spark._jvm.org.apache.spark.util.Utils.classIsLoadable("io.delta.tables.DeltaTable"):
        pytest.skip("this Spark session has no Delta jars (make install resolves them)")
    signals, seen, vectors = night
    lake = RecordingLake(tmp_path / "lake", engine, spark)
    counts = _build_hierarchy_job().write_user_tables(lake, DS, user_profiles(signals, SETTINGS, vectors), seen, HALF_LIFE)
    assert lake.handed == {spec.name: "spark" for spec in USER_TABLES}

    profiles = user_profiles(signals, SETTINGS, vectors).toArrow()
    reference = arrow_split(DS, profiles, HALF_LIFE)
    for spec in USER_TABLES:
        assert as_written(spec, lake.read(spec, ds=DS)).equals(as_written(spec, reference[spec.name])), spec.name
        assert counts[spec.name] == reference[spec.name].num_rows
    # The counts the job used to take from collected user ids.
    with_vectors = set(profiles.column("user_id").to_pylist())
    all_seen = {row["user_id"] for row in seen.distinct().collect()}
    user_rows = profiles.filter(pc.equal(profiles.column("level"), USER))
    assert counts["users.without_signal"] == len(all_seen - with_vectors) == 2  # u98 (no event) and u99 (no catalog item)
    assert counts["users.text_only"] == pc.sum(pc.equal(user_rows.column("vector_source"), "text_only")).as_py() > 0


def test_counts_of_no_profiles_are_zero(spark):
    empty = spark.createDataFrame([], "user_id string, level string, vector_source string")
    seen = spark.createDataFrame([("a",), ("a",), ("b",)], "user_id string")
    assert profile_counts(empty, seen) == {
        "user_embeddings": 0, "user_topics": 0, "user_subinterests": 0, "users.text_only": 0, "users.without_signal": 2,
    }
