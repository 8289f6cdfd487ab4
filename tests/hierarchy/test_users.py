"""User vectors: profile_user on hand-built signals, and the Spark side (signals, grouped profiles)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import functions as F

from interests.catalog import EMBEDDING, embedding_matrix
from interests.hierarchy.users import (
    PROFILE_DDL,
    PROFILE_SCHEMA,
    ProfileSettings,
    engagement_signals,
    item_rows,
    profile_user,
    text_signals,
    user_profiles,
)

END = datetime(2026, 3, 11, tzinfo=UTC)
T0 = END - timedelta(hours=12)
# Retrieval-space vectors: 4 coordinates and a slack coordinate (last) that queries drop.
E = np.hstack([np.eye(4), np.full((4, 1), 0.5)])
SETTINGS = ProfileSettings(reference_seconds=END.timestamp(), half_life_days=1.0, max_topics_per_user=5,
                           max_subinterests_per_user=10)


def signals(rows: list[tuple]) -> pa.Table:
    """Signals of one user: (source, key, topic_id, subinterest_id, base_weight, event_ts, embedding)."""
    columns = list(zip(*rows))
    return pa.table({
        "user_id": ["u"] * len(rows),
        "source": pa.array(columns[0], pa.string()),
        "key": pa.array(columns[1], pa.string()),
        "topic_id": pa.array(columns[2], pa.string()),
        "subinterest_id": pa.array(columns[3], pa.string()),
        "base_weight": pa.array(columns[4], pa.float64()),
        "event_ts": pa.array(columns[5], pa.timestamp("us", tz="UTC")),
        "embedding": pa.array([list(map(float, v)) for v in columns[6]], EMBEDDING),
    })


MIXED = [
    ("event", "i1", "t0001", "s0001", 2.0, T0, E[0]),
    ("event", "i2", "t0001", "s0002", 1.0, T0, E[1]),
    ("event", "i3", "t0002", "s0003", 1.0, T0, E[2]),
    ("event", "i4", "t0002", "s0003", 1.0, T0 - timedelta(days=1), E[3]),  # one half-life older: weight 0.5
    ("text", "h1", None, None, 0.25, None, E[3]),
]


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def rows_by(profile: pa.Table) -> dict[tuple[str, str], dict]:
    return {(row["level"], row["node_id"]): row for row in profile.to_pylist()}


def decayed(weight: float, ts: datetime) -> float:
    return weight * 0.5 ** ((END - ts).total_seconds() / 86400 / SETTINGS.half_life_days)


def test_levels_shares_vectors_and_medoid():
    profile = profile_user(signals(MIXED), SETTINGS)
    assert profile.schema == PROFILE_SCHEMA
    rows = rows_by(profile)
    assert set(rows) == {("topic", "t0001"), ("topic", "t0002"), ("subinterest", "s0001"), ("subinterest", "s0002"),
                         ("subinterest", "s0003"), ("user", "u")}
    w = [decayed(2.0, T0), decayed(1.0, T0), decayed(1.0, T0), decayed(1.0, T0 - timedelta(days=1))]
    total = sum(w)
    assert rows[("topic", "t0001")]["weight"] == pytest.approx((w[0] + w[1]) / total)
    assert rows[("subinterest", "s0003")]["weight"] == pytest.approx((w[2] + w[3]) / total)
    assert sum(r["weight"] for k, r in rows.items() if k[0] == "subinterest") == pytest.approx(1.0)
    query = E[:, :4]  # slack dropped
    np.testing.assert_allclose(rows[("topic", "t0001")]["embedding"][:4], unit(w[0] * query[0] + w[1] * query[1]), atol=1e-6)
    assert rows[("topic", "t0001")]["embedding"][4] == 0.0
    # s0003 holds i3 (weight 2x) and i4: its vector leans to i3, the medoid is i3.
    assert rows[("subinterest", "s0003")]["medoid_item_id"] == "i3"
    assert rows[("subinterest", "s0003")]["topic_id"] == "t0002"
    assert rows[("subinterest", "s0003")]["n_engagements"] == 2

    user = rows[("user", "u")]
    expected = w[0] * query[0] + w[1] * query[1] + w[2] * query[2] + (w[3] + 0.25) * query[3]
    np.testing.assert_allclose(user["embedding"][:4], unit(expected), atol=1e-6)
    assert user["vector_mass"] == pytest.approx(np.linalg.norm(expected))
    assert (user["n_engagements"], user["n_items"], user["n_texts"]) == (4, 4, 1)
    assert user["engagement_weight"] == pytest.approx(total)
    assert user["vector_source"] == "engagement" and user["last_event_ts"] == T0


def test_keeping_fewer_sub_interests_renormalizes_the_kept_shares():
    settings = ProfileSettings(END.timestamp(), 1.0, max_topics_per_user=1, max_subinterests_per_user=1)
    rows = rows_by(profile_user(signals(MIXED), settings))
    assert [k for k in rows if k[0] == "topic"] == [("topic", "t0001")]
    # s0001 (i1, weight 2 decayed by half a half-life) outweighs s0003 (i3 plus the older i4).
    assert [k for k in rows if k[0] == "subinterest"] == [("subinterest", "s0001")]
    assert rows[("topic", "t0001")]["weight"] == 1.0 and rows[("subinterest", "s0001")]["weight"] == 1.0


def test_a_text_only_user_gets_a_flagged_user_row_and_no_topics():
    rows = rows_by(profile_user(signals([MIXED[-1]]), SETTINGS))
    assert list(rows) == [("user", "u")]
    assert rows[("user", "u")]["vector_source"] == "text_only"
    np.testing.assert_allclose(rows[("user", "u")]["embedding"][:4], E[3, :4] / np.linalg.norm(E[3, :4]), atol=1e-6)


def test_the_profile_does_not_depend_on_row_order():
    forward = profile_user(signals(MIXED), SETTINGS)
    backward = profile_user(signals(MIXED[::-1]), SETTINGS)
    assert forward.equals(backward)


def test_profile_ddl_matches_profile_schema(spark):
    from pyspark.sql.pandas.types import from_arrow_schema

    assert spark.createDataFrame([], PROFILE_DDL).schema == from_arrow_schema(PROFILE_SCHEMA)


@pytest.mark.integration
def test_user_profiles_in_spark_from_engagements_and_texts(spark):
    items = pa.table({"item_id": ["i1", "i2"], "topic_id": ["t0001", "t0002"], "subinterest_id": ["s0001", "s0002"],
                      "embedding": pa.array([E[0].tolist(), E[1].tolist()], EMBEDDING)})
    engagements = spark.createDataFrame(
        [("a", "i1", 1.0, T0), ("a", "i2", 2.0, T0), ("b", "i2", 1.0, T0), ("c", "gone", 1.0, T0)],
        "user_id string, item_id string, base_weight double, event_ts timestamp",
    )
    texts = spark.createDataFrame([("d", "h1", T0)], "user_id string, text_hash string, text_ts timestamp")
    text_vectors = spark.createDataFrame([("h1", E[2].tolist())], "text_hash string, embedding array<float>")
    signals_frame = engagement_signals(engagements, item_rows(spark, items)).unionByName(
        text_signals(texts, text_vectors, 0.25)
    )
    frame = user_profiles(signals_frame, SETTINGS, embedding_matrix(items.column("embedding")))
    profiles = pa.Table.from_batches(frame.toArrow().to_batches())
    users = {row["user_id"]: row for row in profiles.to_pylist() if row["level"] == "user"}
    assert set(users) == {"a", "b", "d"}  # c engaged only with an item not in the catalog
    assert users["d"]["vector_source"] == "text_only"
    assert users["a"]["n_items"] == 2
    subinterests = sorted((row["user_id"], row["node_id"], row["medoid_item_id"]) for row in profiles.to_pylist()
                          if row["level"] == "subinterest")
    assert subinterests == [("a", "s0001", "i1"), ("a", "s0002", "i2"), ("b", "s0002", "i2")]
    # The same rows as profile_user applied to each user's signals with their vectors in the rows.
    wide = signals_frame.withColumn("embedding", F.coalesce("embedding", F.element_at(F.array(
        *[F.lit(v.tolist()).cast("array<float>") for v in E[:2]]), (F.col("item_row") + 1).cast("int"))))
    for user in ("a", "b", "d"):
        rows = wide.where(F.col("user_id") == user).drop("item_row").toArrow()
        expected = profile_user(rows, SETTINGS)
        assert profiles.filter(pc.equal(profiles.column("user_id"), user)).equals(expected), user
