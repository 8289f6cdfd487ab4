"""Two-level topic hierarchy from item embeddings: topics (coarse), then sub-interests inside each.

Pure numpy/scikit-learn on the driver: the items are sorted by id before clustering and node ids
are ordered by each cluster's smallest item id, so the same input and seed give the same tree.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

TOPIC = "topic"
SUBINTEREST = "subinterest"

_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_STOPWORDS = frozenset(
    ["the", "and", "for", "with", "this", "that", "from", "your", "you", "are", "was", "were", "have", "has", "had", "not", "but", "all", "any", "can", "its", "our", "out", "who", "how", "why", "what", "when", "where", "which", "will", "just", "more", "most", "very", "into", "over", "than", "then", "them", "they", "their", "there", "these", "those", "about", "after", "before", "also", "been", "being", "both", "each", "few", "here", "some", "such", "only", "own", "same", "too", "under", "until", "while", "would", "could", "should", "may", "might", "must", "shall", "one", "two", "new", "best", "great", "good", "today"]
)


@dataclass(frozen=True)
class Hierarchy:
    """Item assignments and node centroids of a two-level hierarchy."""

    item_ids: np.ndarray  # (n,) str, sorted
    topic_of_item: np.ndarray  # (n,) int index into topic_ids
    subinterest_of_item: np.ndarray  # (n,) int index into subinterest_ids
    topic_ids: list[str]
    subinterest_ids: list[str]
    parent_of_subinterest: np.ndarray  # (n_sub,) int index into topic_ids
    topic_centroids: np.ndarray  # (n_topics, d) float32, unit norm
    subinterest_centroids: np.ndarray  # (n_sub, d) float32, unit norm


def _normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _kmeans(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Cluster labels of unit vectors (k-means on the sphere is k-means on normalized rows)."""
    from sklearn.cluster import KMeans

    k = max(1, min(k, len(np.unique(vectors, axis=0))))
    if k == 1:
        return np.zeros(len(vectors), dtype=np.int64)
    model = KMeans(n_clusters=k, n_init=4, random_state=seed, algorithm="lloyd")
    return model.fit_predict(vectors.astype(np.float64)).astype(np.int64)


def _relabel_by_first_member(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters in order of their first member (rows are sorted by item id)."""
    _, first_index = np.unique(labels, return_index=True)
    order = np.unique(labels)[np.argsort(first_index)]
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping[label] for label in labels], dtype=np.int64)


def build_hierarchy(
    item_ids: np.ndarray, vectors: np.ndarray, n_topics: int, subinterests_per_topic: int, seed: int
) -> Hierarchy:
    """Cluster items into topics, then each topic's items into sub-interests."""
    if len(item_ids) == 0:
        raise ValueError("cannot build a hierarchy from zero items")
    if len(item_ids) != len(vectors):
        raise ValueError(f"{len(item_ids)} item ids but {len(vectors)} vectors")
    order = np.argsort(item_ids, kind="stable")
    item_ids = np.asarray(item_ids)[order]
    vectors = _normalize(np.asarray(vectors, dtype=np.float32)[order])

    topic_of_item = _relabel_by_first_member(_kmeans(vectors, n_topics, seed))
    subinterest_of_item = np.empty(len(item_ids), dtype=np.int64)
    parents: list[int] = []
    for topic in range(topic_of_item.max() + 1):
        members = np.flatnonzero(topic_of_item == topic)
        local = _relabel_by_first_member(_kmeans(vectors[members], subinterests_per_topic, seed + topic))
        subinterest_of_item[members] = len(parents) + local
        parents.extend([topic] * (local.max() + 1))

    n_topics_found = int(topic_of_item.max()) + 1
    topic_ids = [f"t{topic:03d}" for topic in range(n_topics_found)]
    local_index = Counter()
    subinterest_ids = []
    for parent in parents:
        subinterest_ids.append(f"{topic_ids[parent]}.s{local_index[parent]:02d}")
        local_index[parent] += 1
    return Hierarchy(
        item_ids=item_ids,
        topic_of_item=topic_of_item,
        subinterest_of_item=subinterest_of_item,
        topic_ids=topic_ids,
        subinterest_ids=subinterest_ids,
        parent_of_subinterest=np.array(parents, dtype=np.int64),
        topic_centroids=_centroids(vectors, topic_of_item, n_topics_found),
        subinterest_centroids=_centroids(vectors, subinterest_of_item, len(parents)),
    )


def _centroids(vectors: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    sums = np.zeros((k, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, vectors)
    return _normalize(sums)


def tokenize(text: str) -> list[str]:
    """Lower-case words of three letters or more, without stopwords."""
    return [word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


def label_keywords(texts: list[str], labels: np.ndarray, k: int, n_keywords: int) -> list[list[str]]:
    """Top keywords per cluster by class-based TF-IDF (a word's share in the cluster x its rarity across clusters)."""
    counts = [Counter() for _ in range(k)]
    for text, label in zip(texts, labels):
        counts[label].update(tokenize(text))
    clusters_with = Counter()
    for counter in counts:
        clusters_with.update(counter.keys())
    keywords = []
    for counter in counts:
        total = sum(counter.values()) or 1
        scored = sorted(
            counter.items(),
            key=lambda pair: (-(pair[1] / total) * math.log(1 + k / clusters_with[pair[0]]), pair[0]),
        )
        keywords.append([word for word, _ in scored[:n_keywords]])
    return keywords
