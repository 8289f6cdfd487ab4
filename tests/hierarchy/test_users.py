"""User vectors: profile_user on hand-built signals, and the weights engagement_signals gives events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from interests.catalog import EMBEDDING
from interests.config import HierarchyConfig
from interests.hierarchy.users import (
    PROFILE_DDL,
    PROFILE_SCHEMA,
    SIGNAL_COLUMNS,
    engagement_signals,
    profile_user,
    text_signals,
)

T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)
E = np.eye(4)


def signals(rows: list[tuple]) -> pa.Table:
    """Signals of one user: (source, key, topic_id, subinterest_id, weight, event_ts, embedding)."""
    columns = list(zip(*rows))
    return pa.table(
        {
            "user_id": ["u"] * len(rows),
            "source": pa.array(columns[0], pa.string()),
            "key": pa.array(columns[1], pa.string()),
            "topic_id": pa.array(columns[2], pa.string()),
            "subinterest_id": pa.array(columns[3], pa.string()),
            "weight": pa.array(columns[4], pa.float64()),
            "event_ts": pa.array(columns[5], pa.timestamp("us", tz="UTC")),
            "embedding": pa.array([list(map(float, v)) for v in columns[6]], EMBEDDING),
        }
    )


MIXED = [
    ("event", "i1", "t000", "t000.s00", 2.0, T0, E[0]),
    ("event", "i2", "t000", "t000.s01", 1.0, T0 - timedelta(days=1), E[1]),
    ("event", "i3", "t001", "t001.s00", 1.0, T0 + timedelta(hours=1), E[2]),
    ("event", "i3", "t001", "t001.s00", 0.0, T0 - timedelta(days=2), E[2]),  # a second engagement, decayed away
    ("text", "h1", None, None, 1.0, None, E[3]),
]


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def rows_by(profile: pa.Table) -> dict[tuple[str, str], dict]:
    return {(row["level"], row["node_id"]): row for row in profile.to_pylist()}


def test_profile_weights_vectors_and_counts():
    config = HierarchyConfig(user_text_weight=0.25)
    profile = profile_user(signals(MIXED), config)
    assert profile.schema == PROFILE_SCHEMA
    rows = rows_by(profile)
    assert set(rows) == {
        ("topic", "t000"), ("topic", "t001"), ("subinterest", "t000.s00"), ("subinterest", "t000.s01"),
        ("subinterest", "t001.s00"), ("user", "u"),
    }
    shares = {key: row["weight"] for key, row in rows.items()}
    assert shares[("topic", "t000")] == pytest.approx(0.75) and shares[("topic", "t001")] == pytest.approx(0.25)
    assert shares[("subinterest", "t000.s00")] == pytest.approx(0.5)
    assert shares[("subinterest", "t000.s01")] == pytest.approx(0.25)
    np.testing.assert_allclose(rows[("topic", "t000")]["embedding"], unit(2 * E[0] + E[1]), atol=1e-6)
    np.testing.assert_allclose(rows[("topic", "t001")]["embedding"], E[2], atol=1e-6)
    assert rows[("subinterest", "t001.s00")]["topic_id"] == "t001"
    assert rows[("topic", "t001")]["n_engagements"] == 2 and rows[("topic", "t000")]["n_engagements"] == 2

    user = rows[("user", "u")]
    expected_user = unit(0.75 * unit(2 * E[0] + E[1] + E[2]) + 0.25 * E[3])
    np.testing.assert_allclose(user["embedding"], expected_user, atol=1e-6)
    assert (user["n_engagements"], user["n_items"], user["n_texts"]) == (4, 3, 1)
    assert user["engagement_weight"] == pytest.approx(4.0)
    assert user["last_event_ts"] == T0 + timedelta(hours=1)
    assert (user["weight"], user["topic_id"]) == (1.0, None)


def test_weights_sum_to_one_per_level_and_embeddings_are_unit():
    profile = profile_user(signals(MIXED), HierarchyConfig())
    for level in ("topic", "subinterest"):
        weights = profile.filter(pc.equal(profile["level"], level))["weight"].to_numpy()
        assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    norms = np.linalg.norm(np.array(profile["embedding"].to_pylist()), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-6)


def test_keeping_fewer_topics_renormalizes_the_kept_weights():
    config = HierarchyConfig(max_topics_per_user=1, max_subinterests_per_user=2)
    rows = rows_by(profile_user(signals(MIXED), config))
    topics = {key[1]: row["weight"] for key, row in rows.items() if key[0] == "topic"}
    subs = {key[1]: row["weight"] for key, row in rows.items() if key[0] == "subinterest"}
    assert topics == {"t000": pytest.approx(1.0)}
    # t000.s01 and t001.s00 tie at weight 1: the smaller id is kept
    assert subs == {"t000.s00": pytest.approx(2 / 3), "t000.s01": pytest.approx(1 / 3)}
    # the user-level vector still uses every engagement
    np.testing.assert_allclose(
        rows[("user", "u")]["embedding"], unit(0.75 * unit(2 * E[0] + E[1] + E[2]) + 0.25 * E[3]), atol=1e-6
    )


def test_a_text_only_user_gets_a_user_row_and_no_topics():
    rows = [("text", "h1", None, None, 1.0, T0, E[0]), ("text", "h2", None, None, 1.0, None, E[1])]
    profile = profile_user(signals(rows), HierarchyConfig())
    assert profile["level"].to_pylist() == ["user"]
    user = profile.to_pylist()[0]
    np.testing.assert_allclose(user["embedding"], unit(E[0] + E[1]), atol=1e-6)
    assert (user["n_engagements"], user["n_items"], user["n_texts"]) == (0, 0, 2)
    assert (user["engagement_weight"], user["last_event_ts"]) == (0.0, None)


def test_an_events_only_user_vector_is_the_weighted_event_mean():
    rows = [("event", "i1", "t000", "t000.s00", 3.0, T0, E[0]), ("event", "i2", "t001", "t001.s00", 1.0, T0, E[1])]
    user = rows_by(profile_user(signals(rows), HierarchyConfig(user_text_weight=0.9)))[("user", "u")]
    np.testing.assert_allclose(user["embedding"], unit(3 * E[0] + E[1]), atol=1e-6)
    assert user["n_texts"] == 0


def test_the_profile_does_not_depend_on_row_order():
    rng = np.random.default_rng(3)
    rows = [
        ("event", f"i{n:02d}", f"t00{n % 3}", f"t00{n % 3}.s0{n % 2}", float(rng.uniform(0.01, 5)),
         T0 - timedelta(minutes=n), rng.normal(size=16))
        for n in range(40)
    ] + [("text", f"h{n}", None, None, 1.0, None, rng.normal(size=16)) for n in range(5)]
    config = HierarchyConfig()
    expected = profile_user(signals(rows), config)
    for seed in range(3):
        permutation = np.random.default_rng(seed).permutation(len(rows))
        shuffled = signals([rows[i] for i in permutation])
        chunked = pa.Table.from_batches(shuffled.to_batches(max_chunksize=7))
        assert profile_user(chunked, config).equals(expected)
        got = np.array(profile_user(chunked, config)["embedding"].to_pylist(), dtype=np.float32)
        assert got.tobytes() == np.array(expected["embedding"].to_pylist(), dtype=np.float32).tobytes()


def test_profile_ddl_matches_profile_schema(spark):
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import StructType

    arrow = to_arrow_schema(StructType.fromDDL(PROFILE_DDL), timezone="UTC")
    assert [(f.name, f.type) for f in arrow] == [(f.name, f.type) for f in PROFILE_SCHEMA]


def test_engagement_signals_weigh_event_type_and_recency(spark):
    ds = "2026-03-10"
    day_end = datetime(2026, 3, 11, tzinfo=UTC)
    config = HierarchyConfig(event_weights={"click": 1.0, "like": 2.0, "impression": 0.0}, half_life_days=7.0)
    events = spark.createDataFrame(
        [
            ("u1", "i1", "click", day_end - timedelta(days=1)),
            ("u1", "i1", "click", day_end - timedelta(days=8)),  # one half-life older
            ("u1", "i2", "like", day_end - timedelta(days=1)),
            ("u1", "i2", "impression", day_end - timedelta(days=1)),  # weight 0: drops out
            ("u1", None, "search", day_end - timedelta(days=1)),  # no weight, no item
            ("u1", "i9", "click", day_end - timedelta(days=1)),  # not in the catalog
            ("u2", "i2", "click", day_end),  # age 0
        ],
        "user_id string, item_id string, event_type string, event_ts timestamp",
    )
    items = spark.createDataFrame(
        [("i1", "t000", "t000.s00", [1.0, 0.0], "x"), ("i2", "t001", "t001.s00", [0.0, 1.0], "y")],
        "item_id string, topic_id string, subinterest_id string, embedding array<float>, text_hash string",
    )
    user_texts = spark.createDataFrame([("u3", "h1", T0)], "user_id string, text_hash string, text_ts timestamp")
    text_embeddings = spark.createDataFrame(
        [("h1", [0.6, 0.8]), ("h2", [1.0, 0.0])], "text_hash string, embedding array<float>"
    )
    frame = engagement_signals(events, items, ds, config).unionByName(text_signals(user_texts, text_embeddings))
    assert frame.columns == list(SIGNAL_COLUMNS)
    rows = sorted(
        (row["user_id"], row["source"], row["key"], row["topic_id"], round(row["weight"], 12), row["event_ts"])
        for row in frame.toArrow().to_pylist()
    )
    decay_one_day = 0.5 ** (1 / 7)
    assert rows == [
        ("u1", "event", "i1", "t000", round(decay_one_day / 2, 12), day_end - timedelta(days=8)),
        ("u1", "event", "i1", "t000", round(decay_one_day, 12), day_end - timedelta(days=1)),
        ("u1", "event", "i2", "t001", round(2 * decay_one_day, 12), day_end - timedelta(days=1)),
        ("u2", "event", "i2", "t001", 1.0, day_end),
        ("u3", "text", "h1", None, 1.0, T0),
    ]
