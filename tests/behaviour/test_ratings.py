"""Pair ratings: one result whatever order the shuffle delivers a pair's events in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from interests.behaviour import als

pytestmark = pytest.mark.integration  # real Spark

SCHEMA = "user_id string, item_id string, base_weight double, event_ts timestamp"


def _rating(spark, weights: list[float]) -> float:
    """The rating of one pair whose events sit one per input partition, in the order given."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [("u1", "i1", weight, at) for weight in weights]
    frame = spark.createDataFrame(spark.sparkContext.parallelize(rows, len(rows)), SCHEMA)
    [row] = als.ratings(frame).collect()
    return row["rating"]


def test_a_pairs_rating_does_not_depend_on_the_order_its_events_arrive_in(spark):
    orders = ([1.0, 0.1, 0.1], [0.1, 0.1, 1.0], [0.1, 1.0, 0.1])
    # The orders do add up differently one by one: a sum in arrival order would not be reproducible.
    assert len({(a + b) + c for a, b, c in orders}) > 1
    ratings = {_rating(spark, weights) for weights in orders}
    assert ratings == {(0.1 + 0.1) + 1.0}


def test_ratings_sum_each_pairs_weights(spark):
    at = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [("u1", "i1", 1.0, at), ("u1", "i1", 2.0, at), ("u1", "i2", 0.5, at), ("u2", "i1", 3.0, at)]
    got = {(r["user_id"], r["item_id"]): r["rating"] for r in als.ratings(spark.createDataFrame(rows, SCHEMA)).collect()}
    assert got == {("u1", "i1"): 3.0, ("u1", "i2"): 0.5, ("u2", "i1"): 3.0}
