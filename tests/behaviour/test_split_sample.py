"""The time split's driver-side sample (interests.evaluation.split), which the behaviour tuning scores on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from interests.evaluation.split import (
    CatalogIndex,
    collect_split_sample,
    engagement_matrix,
    item_popularity,
)

SPLIT = datetime(2026, 3, 10, tzinfo=UTC)
CATALOG = CatalogIndex(np.array(["a", "b", "c", "d"], dtype=object))


def test_catalog_positions_of_an_arrow_column_equal_those_of_a_list():
    ids = ["d", "a", "d", "c"]
    assert CATALOG.positions(pa.chunked_array([ids[:2], ids[2:]])).tolist() == CATALOG.positions(ids).tolist() == [3, 0, 3, 2]
    assert CATALOG.positions(pa.array([], pa.string())).tolist() == []


@pytest.mark.parametrize("ids", [["a", "zz"], pa.array(["a", "zz"])])
def test_catalog_positions_of_an_unknown_id_raise(ids):
    with pytest.raises(KeyError, match="zz"):
        CATALOG.positions(ids)


@pytest.fixture(scope="module")
def engagements(spark):
    before, after = SPLIT - timedelta(hours=5), SPLIT + timedelta(hours=2)
    rows = [
        ("u2", "b", 1.0, before), ("u2", "a", 1.0, before - timedelta(hours=1)), ("u2", "c", 2.0, after),
        ("u1", "a", 1.0, before), ("u1", "d", 1.0, after), ("u1", "a", 1.0, after),  # a is not new to u1
        ("u3", "c", 0.1, before), ("u3", "d", 0.1, after),  # an impression is not a positive
        ("u4", "b", 1.0, after),  # nothing before the split
    ]
    return spark.createDataFrame(rows, "user_id string, item_id string, base_weight double, event_ts timestamp")


@pytest.mark.integration
def test_the_split_sample_holds_the_users_their_history_and_their_new_items(engagements):
    sample = collect_split_sample(engagements, CATALOG, SPLIT, max_users=10, seed=3, positive_min_weight=1.0)
    assert sample.user_ids.tolist() == ["u1", "u2"]
    assert sample.train_indptr.tolist() == [0, 1, 3]
    assert sample.train_items.tolist() == [0, 0, 1]  # u1: a; u2: a then b (event time order)
    assert sample.held_indptr.tolist() == [0, 1, 2] and sample.held_items.tolist() == [3, 2]
    assert sample.train_base_weight.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.integration
def test_popularity_and_the_engagement_matrix_are_in_catalog_and_user_order(engagements):
    train = engagements.where(engagements.event_ts < SPLIT)
    assert item_popularity(train, CATALOG).tolist() == [2.0, 1.0, 1.0, 0.0]
    matrix = engagement_matrix(train, CATALOG, np.array([1, 0]), max_pairs=100, seed=3, min_weight=1.0)
    # users u1, u2 (id order) x items b, a (the order asked for); u3's impression is below min_weight
    assert matrix.toarray().tolist() == [[0.0, 1.0], [1.0, 1.0]]
