"""The hierarchy and profiles shaped as catalog tables."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import DataFrame

from interests.catalog import (
    EMBEDDING,
    ITEM_EMBEDDINGS,
    TOPICS,
    USER_EMBEDDINGS,
    USER_SUBINTERESTS,
    USER_TOPICS,
)
from interests.hierarchy.clustering import build_hierarchy
from interests.hierarchy.tables import (
    MissingEmbeddingsError,
    item_embeddings_table,
    item_vectors,
    split_profiles,
    topics_table,
)
from interests.hierarchy.users import PROFILE_DDL, PROFILE_SCHEMA
from interests.lake import conform

DS = "2026-03-10"
CACHE = pa.table(
    {
        "text_hash": ["h1", "h2", "h3"],
        "embedding": pa.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], EMBEDDING),
    }
)


def items(hashes: list[str]) -> pa.Table:
    return pa.table({"item_id": [f"i{n}" for n in range(len(hashes))], "text_hash": hashes})


def test_item_vectors_are_looked_up_in_item_order():
    vectors = item_vectors(items(["h3", "h1", "h3"]), CACHE, "m1")
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, np.array([[0.6, 0.8], [1.0, 0.0], [0.6, 0.8]], dtype=np.float32))


def test_item_vectors_work_on_a_chunked_cache():
    chunked = pa.concat_tables([CACHE.slice(0, 1), CACHE.slice(1, 2)])
    np.testing.assert_array_equal(
        item_vectors(items(["h2", "h3"]), chunked, "m1"), np.array([[0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    )


@pytest.mark.parametrize(("hashes", "missing"), [(["h1", "nope"], 1), (["x", "y", "h2"], 2)])
def test_item_vectors_raise_for_an_item_without_a_cached_embedding(hashes, missing):
    with pytest.raises(MissingEmbeddingsError, match=f"{missing} of {len(hashes)} items .* for m1"):
        item_vectors(items(hashes), CACHE, "m1")


def profiles() -> pa.Table:
    ts = datetime(2026, 3, 10, 12, tzinfo=UTC)
    rows = [
        ("u1", "user", "u1", None, 1.0, [1.0, 0.0], 3, 2, 1, 2.5, ts, "engagement", 3.5, None),
        ("u1", "topic", "t0001", "t0001", 0.7, [1.0, 0.0], 2, 0, 0, 0.0, None, "engagement", 0.0, None),
        ("u1", "topic", "t0002", "t0002", 0.3, [0.0, 1.0], 1, 0, 0, 0.0, None, "engagement", 0.0, None),
        ("u1", "subinterest", "s0002", "t0001", 1.0, [1.0, 0.0], 3, 0, 0, 0.0, None, "engagement", 0.0, "i7"),
        ("u2", "user", "u2", None, 1.0, [0.0, 1.0], 0, 0, 2, 0.0, None, "text_only", 0.5, None),
    ]
    return pa.Table.from_pylist([dict(zip(PROFILE_SCHEMA.names, row)) for row in rows], schema=PROFILE_SCHEMA)


def user_tables(spark, profile_rows: pa.Table, half_life_days: float) -> dict[str, pa.Table]:
    """split_profiles on a Spark frame of the rows, each table collected here (in the test) and conformed."""
    frames = split_profiles(DS, spark.createDataFrame(profile_rows, schema=PROFILE_DDL), half_life_days)
    assert all(isinstance(frame, DataFrame) for frame in frames.values())
    specs = {spec.name: spec for spec in (USER_EMBEDDINGS, USER_TOPICS, USER_SUBINTERESTS)}
    return {
        name: conform(specs[name], frame.toArrow()).sort_by([(c, "ascending") for c in specs[name].key])
        for name, frame in frames.items()
    }


def test_split_profiles_gives_the_three_user_tables(spark):
    tables = user_tables(spark, profiles(), half_life_days=3.0)
    assert set(tables) == {"user_embeddings", "user_topics", "user_subinterests"}
    users, topics, subinterests = tables["user_embeddings"], tables["user_topics"], tables["user_subinterests"]

    assert [(r["user_id"], r["n_engagements"], r["n_texts"], r["engagement_weight"]) for r in users.to_pylist()] == [
        ("u1", 3, 1, 2.5), ("u2", 0, 2, 0.0)
    ]
    assert [(r["vector_source"], r["vector_mass"], r["half_life_days"]) for r in users.to_pylist()] == [
        ("engagement", 3.5, 3.0), ("text_only", 0.5, 3.0)
    ]
    assert users["last_event_ts"].to_pylist()[1] is None
    assert [(r["user_id"], r["topic_id"], r["weight"], r["n_engagements"]) for r in topics.to_pylist()] == [
        ("u1", "t0001", 0.7, 2), ("u1", "t0002", 0.3, 1)
    ]
    assert [(r["user_id"], r["subinterest_id"], r["topic_id"], r["medoid_item_id"]) for r in subinterests.to_pylist()] == [
        ("u1", "s0002", "t0001", "i7")
    ]
    assert topics["embedding"].to_pylist() == [[1.0, 0.0], [0.0, 1.0]]
    for table in (users, topics, subinterests):
        assert set(table["ds"].to_pylist()) == {DS}


def test_split_profiles_of_no_rows_gives_empty_tables_that_fit_the_catalog(spark):
    tables = user_tables(spark, PROFILE_SCHEMA.empty_table(), half_life_days=7.0)
    assert [table.num_rows for table in tables.values()] == [0, 0, 0]


@pytest.fixture(scope="module")
def small_tree():
    item_table = pa.table(
        {
            "item_id": ["b", "a", "d", "c"],
            "text": ["bread flour", "bread loaf", "goal match", "goal referee"],
            "text_hash": ["hb", "ha", "hd", "hc"],
        }
    )
    vectors = np.array([[1.0, 0.1], [2.0, 0.0], [0.0, 3.0], [0.1, 1.0]], dtype=np.float32)
    tree = build_hierarchy(np.array(item_table["item_id"].to_pylist()), vectors, n_topics=2, n_subinterests=2, seed=1)
    return item_table, vectors, tree


def test_item_embeddings_table_keeps_item_order_and_both_spaces(small_tree):
    item_table, vectors, tree = small_tree
    retrieval = np.array([[0.6, 0.8, 0.0]] * 4, dtype=np.float32)
    engaged = np.array([True, False, True, True])
    table = conform(ITEM_EMBEDDINGS, item_embeddings_table(DS, item_table, retrieval, vectors, engaged, tree, "m1"))
    assert table["item_id"].to_pylist() == ["b", "a", "d", "c"]
    assert table["topic_id"].to_pylist() == ["t0001", "t0001", "t0002", "t0002"]
    assert table["subinterest_id"].to_pylist() == ["s0001", "s0001", "s0002", "s0002"]
    assert table["embedding"].to_pylist()[0] == pytest.approx([0.6, 0.8, 0.0])
    assert table["text_embedding"].to_pylist()[2] == pytest.approx([0.0, 3.0])
    assert table["factors_source"].to_pylist() == ["engagement", "text", "engagement", "engagement"]
    assert table["text_hash"].to_pylist() == ["hb", "ha", "hd", "hc"]


def test_topics_table_has_both_levels_with_parents_sizes_labels_and_medoids(small_tree):
    item_table, _, tree = small_tree
    table = conform(TOPICS, topics_table(DS, item_table, tree, n_keywords=2)).to_pylist()
    topics = [row for row in table if row["level"] == "topic"]
    subs = [row for row in table if row["level"] == "subinterest"]
    assert [(row["node_id"], row["parent_id"], row["size"]) for row in topics] == [("t0001", None, 2), ("t0002", None, 2)]
    assert [(row["node_id"], row["parent_id"]) for row in subs] == [("s0001", "t0001"), ("s0002", "t0002")]
    assert topics[0]["keywords"][0] == "bread" and topics[1]["keywords"][0] == "goal"
    assert topics[0]["label"] == " / ".join(topics[0]["keywords"][:3])
    # a: (2, 0) and b: (1, 0.1); the centroid of the bread topic leans to the x axis: a is nearest.
    assert topics[0]["medoid_item_id"] == "a" and topics[1]["medoid_item_id"] == "d"
