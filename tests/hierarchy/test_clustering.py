"""build_hierarchy (fine k-means, then size-weighted Ward) on synthetic blobs, and the node labels."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from interests.hierarchy.clustering import (
    build_hierarchy,
    count_from_heights,
    cut,
    label_keywords,
    tokenize,
    ward_merges,
)

N_TOPICS, SUBS_PER_TOPIC, ITEMS_PER_SUB, DIM = 4, 3, 5, 16
SEED = 7


@pytest.fixture(scope="module")
def blobs():
    """4 topics x 3 sub-clusters x 5 items in 16-d, given to build_hierarchy in shuffled order.

    Topic t points along axis t; its sub-cluster s leans towards axis 4 + 3t + s; small noise.
    Returns item ids, vectors, true topic and true (global) sub-cluster per item.
    """
    rng = np.random.default_rng(0)
    vectors, topics, subs = [], [], []
    for topic in range(N_TOPICS):
        for sub in range(SUBS_PER_TOPIC):
            centre = np.zeros(DIM)
            centre[topic] = 1.0
            centre[N_TOPICS + SUBS_PER_TOPIC * topic + sub] = 0.5
            for _ in range(ITEMS_PER_SUB):
                vectors.append(centre + rng.normal(0, 0.02, DIM))
                topics.append(topic)
                subs.append(topic * SUBS_PER_TOPIC + sub)
    n = len(vectors)
    order = rng.permutation(n)
    item_ids = np.array([f"item-{i:03d}" for i in rng.permutation(n)])
    return item_ids, np.array(vectors)[order], np.array(topics)[order], np.array(subs)[order]


@pytest.fixture(scope="module")
def hierarchy(blobs):
    item_ids, vectors, _, _ = blobs
    return build_hierarchy(item_ids, vectors, n_topics=N_TOPICS, n_subinterests=N_TOPICS * SUBS_PER_TOPIC, seed=SEED)


def true_labels_in_hierarchy_order(blobs, hierarchy):
    item_ids, _, topics, subs = blobs
    position = {item_id: i for i, item_id in enumerate(item_ids)}
    rows = [position[item_id] for item_id in hierarchy.item_ids]
    return topics[rows], subs[rows]


def test_recovers_the_topics_and_sub_clusters(blobs, hierarchy):
    topics, subs = true_labels_in_hierarchy_order(blobs, hierarchy)
    assert len(hierarchy.topic_ids) == N_TOPICS
    assert len(hierarchy.subinterest_ids) == N_TOPICS * SUBS_PER_TOPIC
    assert normalized_mutual_info_score(topics, hierarchy.topic_of_item) > 0.95
    assert normalized_mutual_info_score(subs, hierarchy.subinterest_of_item) > 0.95


def test_items_are_sorted_by_id_and_shapes_fit(blobs, hierarchy):
    assert list(hierarchy.item_ids) == sorted(blobs[0])
    n = len(blobs[0])
    assert hierarchy.topic_of_item.shape == hierarchy.subinterest_of_item.shape == (n,)
    assert hierarchy.topic_centroids.shape == (N_TOPICS, DIM)
    assert hierarchy.subinterest_centroids.shape == (N_TOPICS * SUBS_PER_TOPIC, DIM)
    assert hierarchy.topic_centroids.dtype == hierarchy.subinterest_centroids.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(hierarchy.topic_centroids, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(hierarchy.subinterest_centroids, axis=1), 1.0, atol=1e-6)


def test_same_seed_and_input_give_identical_arrays_whatever_the_input_order(blobs, hierarchy):
    item_ids, vectors, _, _ = blobs
    reverse = np.arange(len(item_ids))[::-1]
    again = build_hierarchy(
        item_ids[reverse], vectors[reverse], n_topics=N_TOPICS, n_subinterests=N_TOPICS * SUBS_PER_TOPIC, seed=SEED
    )
    for field in fields(hierarchy):
        first, second = getattr(hierarchy, field.name), getattr(again, field.name)
        if isinstance(first, np.ndarray):
            assert first.dtype == second.dtype and np.array_equal(first, second), field.name
        else:
            assert first == second, field.name


def test_node_ids_are_ordered_by_first_member(hierarchy):
    first_topic_member = [int(np.flatnonzero(hierarchy.topic_of_item == t)[0]) for t in range(N_TOPICS)]
    assert first_topic_member == sorted(first_topic_member) and first_topic_member[0] == 0
    assert hierarchy.topic_ids == [f"t{t + 1:04d}" for t in range(N_TOPICS)]
    n_subs = len(hierarchy.subinterest_ids)
    first_sub_member = [int(np.flatnonzero(hierarchy.subinterest_of_item == s)[0]) for s in range(n_subs)]
    assert first_sub_member == sorted(first_sub_member)
    assert hierarchy.subinterest_ids == [f"s{s + 1:04d}" for s in range(n_subs)]


def test_every_sub_interest_lies_under_the_topic_of_its_members(hierarchy):
    parents = hierarchy.parent_of_subinterest[hierarchy.subinterest_of_item]
    assert np.array_equal(parents, hierarchy.topic_of_item)


def test_counts_chosen_from_the_data_recover_the_planted_ones(blobs):
    item_ids, vectors, topics, subs = blobs
    tree = build_hierarchy(item_ids, vectors, n_topics=None, n_subinterests=None, seed=SEED)
    assert (len(tree.topic_ids), len(tree.subinterest_ids)) == (N_TOPICS, N_TOPICS * SUBS_PER_TOPIC)
    rows = np.argsort(item_ids)
    assert normalized_mutual_info_score(topics[rows], tree.topic_of_item) > 0.95
    assert normalized_mutual_info_score(subs[rows], tree.subinterest_of_item) > 0.95


def test_medoids_are_members_nearest_their_centroid(hierarchy, blobs):
    item_ids, vectors, _, _ = blobs
    order = np.argsort(item_ids)
    unit = vectors[order] / np.linalg.norm(vectors[order], axis=1, keepdims=True)
    for labels, centroids, medoids, sizes in (
        (hierarchy.topic_of_item, hierarchy.topic_centroids, hierarchy.topic_medoids, hierarchy.topic_sizes),
        (hierarchy.subinterest_of_item, hierarchy.subinterest_centroids, hierarchy.subinterest_medoids,
         hierarchy.subinterest_sizes),
    ):
        for node, medoid in enumerate(medoids):
            members = np.flatnonzero(labels == node)
            assert sizes[node] == len(members)
            assert medoid in set(hierarchy.item_ids[members])
            best = members[np.argmax(unit[members] @ centroids[node])]
            assert hierarchy.item_ids[best] == medoid


def test_ward_merges_weigh_clusters_by_size():
    # Two heavy points far apart and one light point between, nearer the left one: merging the light
    # point into the heavy left costs less than into the heavy right; sizes change the cost.
    centroids = np.array([[0.0], [4.0], [10.0]])
    pairs, heights = ward_merges(centroids, np.array([100, 1, 100]))
    assert tuple(pairs[0]) == (0, 1)
    np.testing.assert_allclose(heights[0], 100 * 1 / 101 * 16.0)
    assert heights[1] > heights[0]
    assert cut(pairs, 3, 2).tolist() == [0, 0, 1]
    assert cut(pairs, 3, 3).tolist() == [0, 1, 2]
    # Unweighted, the light point is still nearer the left one, but the cost differs.
    _, unweighted = ward_merges(centroids, np.array([1, 1, 1]))
    assert unweighted[0] == pytest.approx(8.0)


def test_count_from_heights_takes_the_largest_jump():
    # 6 leaves; merge costs in order. With 3 clusters left the next merge costs 3x the previous one.
    heights = np.array([1.0, 1.1, 3.0, 9.0, 10.0])
    assert count_from_heights(heights, 6, 2, 5) == 3
    # With 3 excluded, the next largest jump (1.1 -> 3.0, with 4 clusters left) wins.
    assert count_from_heights(heights, 6, 4, 5) == 4


@pytest.mark.parametrize(
    ("vectors", "expected_topics", "expected_subs"),
    [
        (np.eye(3), 3, 3),  # fewer items than topics: one topic per item
        (np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]]), 2, 2),  # only two distinct vectors
        (np.array([[0.3, 0.4]] * 5), 1, 1),  # all identical
    ],
)
def test_fewer_items_or_distinct_vectors_than_clusters(vectors, expected_topics, expected_subs):
    item_ids = np.array([f"i{n}" for n in range(len(vectors))])
    tree = build_hierarchy(item_ids, vectors, n_topics=8, n_subinterests=32, seed=SEED)
    assert len(tree.topic_ids) == expected_topics
    assert len(tree.subinterest_ids) == expected_subs
    assert np.array_equal(tree.parent_of_subinterest[tree.subinterest_of_item], tree.topic_of_item)
    assert tree.topic_of_item[0] == 0 and tree.subinterest_of_item[0] == 0


@pytest.mark.parametrize(
    ("item_ids", "vectors", "message"),
    [(np.array([]), np.zeros((0, 4)), "zero items"), (np.array(["a", "b"]), np.eye(3), "2 item ids but 3 vectors")],
)
def test_bad_input_is_refused(item_ids, vectors, message):
    with pytest.raises(ValueError, match=message):
        build_hierarchy(item_ids, vectors, n_topics=2, n_subinterests=4, seed=SEED)


# ---------------------------------------------------------------- labels


def test_tokenize_drops_short_words_and_stopwords():
    assert tokenize("The Bread's crust, AN ok bread-maker WITH yeast") == ["bread's", "crust", "bread-maker", "yeast"]


def test_label_keywords_picks_each_clusters_distinctive_words():
    texts = [
        "bread flour weekly", "bread flour weekly", "the bread",
        "goal match weekly", "goal match weekly", "goal and the referee",
    ]
    labels = np.array([0, 0, 0, 1, 1, 1])
    keywords = label_keywords(texts, labels, k=2, n_keywords=3)
    # "weekly" is as frequent as "flour"/"match" but is in both clusters, so it ranks below them.
    assert keywords == [["bread", "flour", "weekly"], ["goal", "match", "weekly"]]
    assert label_keywords(texts, labels, k=2, n_keywords=1) == [["bread"], ["goal"]]


def test_label_keywords_of_an_empty_or_wordless_cluster_is_empty():
    assert label_keywords(["bread loaf", "a to"], np.array([0, 1]), k=3, n_keywords=2) == [["bread", "loaf"], [], []]
