"""The topic tree: many fine k-means clusters, then Ward agglomeration of their centroids.

PinnerSage builds interests by hierarchical agglomerative (Ward) clustering; over a whole catalog
that is O(N^2), so the tree is built in two steps that scale:

1. **Fine clusters.** k-means into ``fine_clusters`` groups (default ``round(4 * sqrt(n))``, at
   most 1,000 and, up to 20,000 items where they are counted, at most the number of distinct
   vectors; above, a cluster k-means leaves empty is dropped): a full k-means up to 20,000 items,
   above that mini-batch k-means fitted on a seeded sample of at most ``sample_size`` items, every
   item then assigned to its nearest fine centroid in blocks (mini-batch seeds its centres at random:
   k-means++ over hundreds of centres costs more than the whole fit).
2. **Ward over the fine centroids**, each weighted by its size (Lance-Williams updates start from
   the sizes, so merging two fine clusters costs what merging their items would). One dendrogram
   is cut twice: at ``n_subinterests`` clusters and at ``n_topics`` clusters, so every topic is a
   union of sub-interests and the tree nests by construction.

**Counts from the data.** When a count is not pinned by config, it is the cut where the next Ward
merge costs the most relative to the previous one (the largest jump in merge height). Sub-interests
first, over ``[3, fine - 1]`` (``[n_topics + 1, fine - 1]`` when topics are pinned): the strongest jump
in the whole tree, below which merges only join fragments of one group; then topics over
``[2, min(30, sub-interests - 1)]``, the strongest structure above it. A jump means the next merge
would glue together groups that are far apart relative to everything merged so far.

Known weaknesses, measured on planted Gaussian topics (sub-interests within topics): a merge's cost
grows with the sizes merged, so when topic sizes are very unequal (Zipf) the last merge is often the
largest jump and 2 topics are chosen while the sub-interests are still found; and where topics are
farther apart than sub-interests are, that jump wins the sub-interest count too (5 sub-interests for
5 topics x 20). Silhouette on a sample and size-free merge distances choose those topics well but lose
the generator's topics in the encoder's space (6 to 20 topics instead of 4 and 8), so they are not
used. Pin ``n_topics`` / ``n_subinterests`` in config where that matters.

Deterministic: items are sorted by id first, k-means is seeded, ties are broken by index, and node
ids (``t0001``, ``s0001``) are numbered in order of each node's first item; ``stable_ids`` then
renames nodes to match the night before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from interests.hierarchy.labels import label_keywords, tokenize

__all__ = ["SUBINTEREST", "TOPIC", "Hierarchy", "build_hierarchy", "label_keywords", "tokenize"]

TOPIC = "topic"
SUBINTEREST = "subinterest"
MAX_FINE_CLUSTERS = 1_000
MAX_TOPICS_FROM_DATA = 30
ASSIGN_BLOCK = 65_536
FULL_KMEANS_MAX_ITEMS = 20_000
"""Up to this many items the fine clusters are a full k-means; above, mini-batch k-means on a sample."""


@dataclass(frozen=True)
class Hierarchy:
    """Item assignments, node centroids, sizes and medoids of a two-level tree."""

    item_ids: np.ndarray  # (n,) str, sorted
    topic_of_item: np.ndarray  # (n,) int index into topic_ids
    subinterest_of_item: np.ndarray  # (n,) int index into subinterest_ids
    topic_ids: list[str]
    subinterest_ids: list[str]
    parent_of_subinterest: np.ndarray  # (n_sub,) int index into topic_ids
    topic_centroids: np.ndarray  # (n_topics, d) float32, unit norm
    subinterest_centroids: np.ndarray  # (n_sub, d) float32, unit norm
    topic_medoids: list[str]  # item id nearest each topic's centroid
    subinterest_medoids: list[str]
    topic_sizes: np.ndarray  # (n_topics,) int
    subinterest_sizes: np.ndarray  # (n_sub,) int

    def renamed(self, topic_ids: list[str], subinterest_ids: list[str]) -> Hierarchy:
        """The same tree with other node ids (same order)."""
        return replace(self, topic_ids=list(topic_ids), subinterest_ids=list(subinterest_ids))


def _normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def default_fine_clusters(n_items: int) -> int:
    """``round(4 * sqrt(n))``, between 2 and 1,000."""
    return int(min(MAX_FINE_CLUSTERS, max(2, round(4 * math.sqrt(n_items)))))


def _fine_clusters(vectors: np.ndarray, k: int, seed: int, sample_size: int) -> np.ndarray:
    """Fine cluster label of every row: k-means on a seeded sample, then nearest centroid in blocks."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    n = len(vectors)
    if n <= FULL_KMEANS_MAX_ITEMS:
        model = KMeans(n_clusters=k, n_init=1, random_state=seed, algorithm="lloyd", max_iter=100).fit(vectors)
        return model.labels_.astype(np.int64)
    size = min(n, sample_size)
    sample = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
    # k-means++ seeding over hundreds of centres costs more than the whole fit (profiled: 10 of 13 s
    # at 50k items); random seeding is enough for fine clusters that Ward merges afterwards.
    model = MiniBatchKMeans(
        n_clusters=k, n_init=1, init="random", random_state=seed, batch_size=4096, max_iter=20,
        max_no_improvement=5,
    ).fit(vectors[sample])
    centroids = model.cluster_centers_.astype(np.float32)
    squared = np.einsum("ij,ij->i", centroids, centroids)
    labels = np.empty(n, dtype=np.int64)
    for begin in range(0, n, ASSIGN_BLOCK):
        block = vectors[begin : begin + ASSIGN_BLOCK]
        labels[begin : begin + ASSIGN_BLOCK] = np.argmin(squared[None, :] - 2.0 * block @ centroids.T, axis=1)
    return labels


def ward_merges(centroids: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Size-weighted Ward agglomeration of centroids: the (a, b) pairs merged in order, and each merge's cost.

    The cost of merging clusters i and j is ``n_i n_j / (n_i + n_j) * |c_i - c_j|^2``, the rise in
    within-cluster sum of squares; Lance-Williams updates keep it exact as clusters grow. A merged
    cluster keeps the smaller index of the two. O(k^2) memory, O(k^2) numpy work per merge.
    """
    k = len(centroids)
    c = np.asarray(centroids, dtype=np.float64)
    n = np.asarray(sizes, dtype=np.float64).copy()
    squared = np.einsum("ij,ij->i", c, c)
    distance = np.maximum(squared[:, None] + squared[None, :] - 2.0 * c @ c.T, 0.0)
    cost = (n[:, None] * n[None, :]) / (n[:, None] + n[None, :]) * distance
    alive = np.ones(k, dtype=bool)
    np.fill_diagonal(cost, np.inf)
    pairs = np.empty((max(k - 1, 0), 2), dtype=np.int64)
    heights = np.empty(max(k - 1, 0))
    for step in range(k - 1):
        flat = int(np.argmin(cost))
        a, b = divmod(flat, k)
        a, b = min(a, b), max(a, b)
        pairs[step], heights[step] = (a, b), cost[a, b]
        others = alive.copy()
        others[[a, b]] = False
        n_a, n_b, n_o = n[a], n[b], n[others]
        updated = ((n_o + n_a) * cost[a, others] + (n_o + n_b) * cost[b, others] - n_o * cost[a, b]) / (n_o + n_a + n_b)
        cost[a, others] = updated
        cost[others, a] = updated
        cost[b, :] = np.inf
        cost[:, b] = np.inf
        n[a] += n[b]
        alive[b] = False
    return pairs, heights


def cut(pairs: np.ndarray, n_leaves: int, n_clusters: int) -> np.ndarray:
    """Cluster label of each leaf when the merges stop at ``n_clusters`` clusters (labels 0..n_clusters-1)."""
    parent = np.arange(n_leaves)
    for a, b in pairs[: n_leaves - n_clusters]:
        parent[parent == b] = a
    _, labels = np.unique(parent, return_inverse=True)
    return labels.astype(np.int64)


def count_from_heights(heights: np.ndarray, n_leaves: int, low: int, high: int) -> int:
    """The number of clusters in [low, high] before the largest relative jump in Ward merge cost."""
    high = min(high, n_leaves - 1)
    if high < low:
        return max(1, min(low, n_leaves))
    best, best_ratio = low, -1.0
    for k in range(low, high + 1):
        # Going from k+1 to k clusters is merge number n - k - 1 (0-based); from k to k-1 the next one.
        before, after = heights[n_leaves - k - 1], heights[n_leaves - k]
        ratio = after / before if before > 0 else (np.inf if after > 0 else 1.0)
        if ratio > best_ratio:
            best, best_ratio = k, ratio
    return best


def _renumber_by_first_item(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered in order of their first row (rows are sorted by item id)."""
    _, first = np.unique(labels, return_index=True)
    order = np.unique(labels)[np.argsort(first)]
    mapping = np.empty(labels.max() + 1, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    return mapping[labels]


def _centroids_and_medoids(vectors: np.ndarray, labels: np.ndarray, k: int, item_ids: np.ndarray):
    sums = np.zeros((k, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, vectors)
    centroids = _normalize(sums)
    similarity = np.einsum("ij,ij->i", vectors, centroids[labels])
    medoids = []
    for node in range(k):
        members = np.flatnonzero(labels == node)
        medoids.append(str(item_ids[members[np.argmax(similarity[members])]]))  # argmax: first (smallest id) of ties
    return centroids, medoids, np.bincount(labels, minlength=k)


def build_hierarchy(
    item_ids: np.ndarray, vectors: np.ndarray, *, n_topics: int | None, n_subinterests: int | None, seed: int,
    fine_clusters: int | None = None, sample_size: int = 200_000,
) -> Hierarchy:
    """Topics and sub-interests over item vectors; counts pinned or chosen from the data (module docstring)."""
    if len(item_ids) == 0:
        raise ValueError("cannot build a hierarchy from zero items")
    if len(item_ids) != len(vectors):
        raise ValueError(f"{len(item_ids)} item ids but {len(vectors)} vectors")
    order = np.argsort(np.asarray(item_ids), kind="stable")
    item_ids = np.asarray(item_ids)[order]
    vectors = _normalize(np.asarray(vectors, dtype=np.float32)[order])
    n = len(item_ids)

    distinct = len(np.unique(vectors, axis=0)) if n <= FULL_KMEANS_MAX_ITEMS else n
    k_fine = max(1, min(fine_clusters or default_fine_clusters(n), distinct))
    fine = _fine_clusters(vectors, k_fine, seed, sample_size) if k_fine > 1 else np.zeros(n, dtype=np.int64)
    fine = np.unique(fine, return_inverse=True)[1]  # k-means may leave a cluster empty
    k_fine = int(fine.max()) + 1
    sums = np.zeros((k_fine, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, fine, vectors)
    sizes = np.bincount(fine, minlength=k_fine)
    pairs, heights = ward_merges(sums / sizes[:, None], sizes)

    if n_subinterests is None:
        low = 3 if n_topics is None else n_topics + 1
        n_subinterests = count_from_heights(heights, k_fine, low, k_fine - 1)
    n_subinterests = max(1, min(n_subinterests, k_fine))
    if n_topics is None:
        n_topics = count_from_heights(heights, k_fine, 2, min(MAX_TOPICS_FROM_DATA, n_subinterests - 1))
    n_topics = max(1, min(n_topics, n_subinterests))

    subinterest_of_item = _renumber_by_first_item(cut(pairs, k_fine, n_subinterests)[fine])
    topic_of_item = _renumber_by_first_item(cut(pairs, k_fine, n_topics)[fine])
    n_sub, n_top = int(subinterest_of_item.max()) + 1, int(topic_of_item.max()) + 1
    parent = np.zeros(n_sub, dtype=np.int64)
    parent[subinterest_of_item] = topic_of_item
    topic_centroids, topic_medoids, topic_sizes = _centroids_and_medoids(vectors, topic_of_item, n_top, item_ids)
    sub_centroids, sub_medoids, sub_sizes = _centroids_and_medoids(vectors, subinterest_of_item, n_sub, item_ids)
    return Hierarchy(
        item_ids=item_ids,
        topic_of_item=topic_of_item,
        subinterest_of_item=subinterest_of_item,
        topic_ids=[f"t{i + 1:04d}" for i in range(n_top)],
        subinterest_ids=[f"s{i + 1:04d}" for i in range(n_sub)],
        parent_of_subinterest=parent,
        topic_centroids=topic_centroids,
        subinterest_centroids=sub_centroids,
        topic_medoids=topic_medoids,
        subinterest_medoids=sub_medoids,
        topic_sizes=topic_sizes,
        subinterest_sizes=sub_sizes,
    )
