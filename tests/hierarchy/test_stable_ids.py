"""Stable node ids: a node matched to last night's keeps its id; churn is counted."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from interests.catalog import EMBEDDING
from interests.hierarchy.clustering import build_hierarchy
from interests.hierarchy.stable_ids import match_level, previous_hierarchy, stabilize_ids

SEED = 3


def blobs(centres: np.ndarray, per: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = np.repeat(centres, per, axis=0) + rng.normal(0, 0.01, (len(centres) * per, centres.shape[1]))
    return np.array([f"i{n:04d}" for n in range(len(vectors))]), vectors


def as_previous(tree):
    """The tables a night writes, read back as last night's tree."""
    topics = pa.table({
        "level": ["topic"] * len(tree.topic_ids) + ["subinterest"] * len(tree.subinterest_ids),
        "node_id": tree.topic_ids + tree.subinterest_ids,
        "parent_id": [None] * len(tree.topic_ids) + [tree.topic_ids[p] for p in tree.parent_of_subinterest],
        "centroid": pa.array(
            np.vstack([tree.topic_centroids, tree.subinterest_centroids]).tolist(), EMBEDDING
        ),
    })
    items = pa.table({
        "item_id": tree.item_ids.tolist(),
        "topic_id": [tree.topic_ids[t] for t in tree.topic_of_item],
        "subinterest_id": [tree.subinterest_ids[s] for s in tree.subinterest_of_item],
    })
    return previous_hierarchy(topics, items)


CENTRES = np.eye(6)[:, :6] * 1.0


def tree_of(centres, per=5, seed=0, topics=2, subs=None):
    ids, vectors = blobs(centres, per, seed)
    return build_hierarchy(ids, vectors, n_topics=topics, n_subinterests=subs or len(centres), seed=SEED)


def test_the_same_tree_twice_keeps_every_id_and_has_no_churn():
    first = tree_of(CENTRES)
    again, churn = stabilize_ids(tree_of(CENTRES), as_previous(first))
    assert again.topic_ids == first.topic_ids and again.subinterest_ids == first.subinterest_ids
    assert churn == {
        "topic.kept": 2, "topic.new": 0, "topic.vanished": 0, "topic.items_moved": 0,
        "subinterest.kept": 6, "subinterest.new": 0, "subinterest.vanished": 0, "subinterest.items_moved": 0,
    }


def test_a_reordered_tree_gets_last_nights_ids_back():
    first = tree_of(CENTRES)
    # Tonight's items come in another order, so the fresh numbering differs; matching restores it.
    ids, vectors = blobs(CENTRES[::-1], 5, 0)
    tonight = build_hierarchy(ids, vectors, n_topics=2, n_subinterests=6, seed=SEED)
    renamed, churn = stabilize_ids(tonight, as_previous(first))
    blob_of = {int(np.argmax(c)): node for c, node in zip(first.subinterest_centroids, first.subinterest_ids)}
    assert len(blob_of) == 6
    for centroid, node in zip(renamed.subinterest_centroids, renamed.subinterest_ids):
        assert blob_of[int(np.argmax(centroid))] == node
    assert churn["subinterest.kept"] == 6
    # The item ids are the same strings but sit in other clusters: every item moved.
    assert churn["subinterest.items_moved"] > 0


def test_a_new_cluster_gets_a_new_id_after_the_largest_and_a_gone_one_vanishes():
    first = tree_of(CENTRES[:5], subs=5)
    centres = np.vstack([CENTRES[:4], CENTRES[5:6]])  # blob 4 gone, blob 5 new
    tonight, churn = stabilize_ids(tree_of(centres, subs=5), as_previous(first))
    assert churn["subinterest.kept"] == 4 and churn["subinterest.new"] == 1 and churn["subinterest.vanished"] == 1
    new = sorted(set(tonight.subinterest_ids) - set(first.subinterest_ids))
    assert new == ["s0006"]  # last night's largest was s0005


def test_no_previous_night_numbers_from_one():
    ids, counts = match_level(np.eye(3), None, "t")
    assert ids == ["t0001", "t0002", "t0003"] and counts == {"kept": 0, "new": 3, "vanished": 0}


def test_a_weak_match_is_not_kept():
    previous = as_previous(tree_of(CENTRES))
    opposite = -np.eye(6)  # cosine -1 or 0 to every centroid of last night
    ids, counts = match_level(opposite, previous.subinterest, "s")
    assert counts["kept"] == 0 and counts["new"] == 6
    assert ids == [f"s{n:04d}" for n in range(7, 13)]


def test_items_moved_counts_exactly_the_items_whose_node_changed():
    first = tree_of(CENTRES)
    ids, vectors = blobs(CENTRES, 5, 0)
    vectors[[0, 1]] = vectors[[25, 26]]  # two items of blob 0 now sit in blob 5, the rest stay
    tonight, churn = stabilize_ids(
        build_hierarchy(ids, vectors, n_topics=2, n_subinterests=6, seed=SEED), as_previous(first)
    )
    assert churn["subinterest.kept"] == 6 and churn["subinterest.items_moved"] == 2
    moved = {
        item for item, node in zip(tonight.item_ids, tonight.subinterest_of_item)
        if tonight.subinterest_ids[node] != first.subinterest_ids[first.subinterest_of_item[int(item[1:])]]
    }
    assert moved == {"i0000", "i0001"}


def test_stored_centroids_need_not_be_unit_length():
    previous = as_previous(tree_of(CENTRES))
    scaled = type(previous.subinterest)(
        previous.subinterest.node_ids, previous.subinterest.centroids * 0.3, previous.subinterest.node_of_item
    )
    ids, counts = match_level(tree_of(CENTRES).subinterest_centroids, scaled, "s", min_similarity=0.99)
    assert ids == previous.subinterest.node_ids and counts["kept"] == 6


def test_another_vector_dimension_keeps_no_id(caplog):
    previous = as_previous(tree_of(CENTRES))
    wider = np.hstack([tree_of(CENTRES).subinterest_centroids, np.zeros((6, 2), dtype=np.float32)])
    with caplog.at_level("WARNING"):
        ids, counts = match_level(wider, previous.subinterest, "s")
    assert counts == {"kept": 0, "new": 6, "vanished": 6}
    assert ids == [f"s{n:04d}" for n in range(7, 13)]
    assert "dimension 8 tonight but 6 last night" in caplog.text
