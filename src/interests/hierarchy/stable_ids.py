"""Stable node ids: tonight's tree nodes matched to last night's, so a node keeps its id while it persists.

At each level, tonight's and last night's centroids are matched one to one by the Hungarian
algorithm (``scipy.optimize.linear_sum_assignment``) on cosine similarity; a pair above
``min_similarity`` keeps last night's id. Every other node of tonight is new and gets the next
number after the largest id of its level seen last night; last night's unmatched nodes vanished.
Churn (per level: kept, new, vanished, and items_moved among the items both nights have) goes to
stage_runs, pipeline_runs and MLflow. Centroids are compared as unit vectors; when last night's have
another dimension (the item space changed), nothing matches: every node is new, with a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from interests.catalog import embedding_matrix
from interests.hierarchy.clustering import SUBINTEREST, TOPIC, Hierarchy

logger = logging.getLogger(__name__)

MIN_SIMILARITY = 0.7
"""Least centroid cosine for a node to keep last night's id."""

_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class PreviousLevel:
    """One level of last night's tree."""

    node_ids: list[str]
    centroids: np.ndarray  # (nodes, d)
    node_of_item: dict[str, str]  # item_id -> node id


@dataclass(frozen=True)
class PreviousHierarchy:
    """Last night's tree, as the matching needs it."""

    topic: PreviousLevel
    subinterest: PreviousLevel


def previous_hierarchy(topics: pa.Table, items: pa.Table) -> PreviousHierarchy | None:
    """From last night's topics rows (level, node_id, centroid) and item_embeddings rows (item_id, topic_id, subinterest_id)."""
    if topics.num_rows == 0:
        return None
    item_ids = items.column("item_id").to_pylist()
    levels = {}
    for level, column in ((TOPIC, "topic_id"), (SUBINTEREST, "subinterest_id")):
        rows = topics.filter(pc.equal(topics.column("level"), level)).sort_by("node_id")
        levels[level] = PreviousLevel(
            node_ids=rows.column("node_id").to_pylist(),
            centroids=embedding_matrix(rows.column("centroid"), np.float64),
            node_of_item=dict(zip(item_ids, items.column(column).to_pylist())),
        )
    return PreviousHierarchy(topic=levels[TOPIC], subinterest=levels[SUBINTEREST])


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float64, so a dot product is the cosine whatever was stored."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        matrix = matrix.reshape(len(matrix), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _number(node_id: str) -> int:
    match = _NUMBER.search(node_id)
    return int(match.group(1)) if match else 0


def match_level(
    centroids: np.ndarray, previous: PreviousLevel | None, prefix: str, min_similarity: float = MIN_SIMILARITY
) -> tuple[list[str], dict[str, int]]:
    """Ids for tonight's nodes of one level (in order), and kept/new/vanished counts."""
    n = len(centroids)
    if previous is None or len(previous.node_ids) == 0 or n == 0:
        return [f"{prefix}{i + 1:04d}" for i in range(n)], {"kept": 0, "new": n, "vanished": 0}
    from scipy.optimize import linear_sum_assignment

    ids: list[str | None] = [None] * n
    tonight, before = _unit_rows(centroids), _unit_rows(previous.centroids)
    if tonight.shape[1] != before.shape[1]:
        # Another vector space (e.g. text-only one night, text + behaviour the next): centroids cannot
        # be compared, so every node is new and last night's all vanished, which the churn then says.
        logger.warning(
            "%s-level centroids have dimension %d tonight but %d last night: no node keeps its id",
            prefix, tonight.shape[1], before.shape[1],
        )
    else:
        similarity = tonight @ before.T
        rows, columns = linear_sum_assignment(-similarity)
        for row, column in zip(rows, columns):
            if similarity[row, column] >= min_similarity:
                ids[row] = previous.node_ids[column]
    kept = sum(node is not None for node in ids)
    next_number = max(_number(node) for node in previous.node_ids) + 1
    for i in range(n):
        if ids[i] is None:
            ids[i] = f"{prefix}{next_number:04d}"
            next_number += 1
    return ids, {"kept": kept, "new": n - kept, "vanished": len(previous.node_ids) - kept}


def stabilize_ids(
    hierarchy: Hierarchy, previous: PreviousHierarchy | None, min_similarity: float = MIN_SIMILARITY
) -> tuple[Hierarchy, dict[str, int]]:
    """The tree renamed to last night's ids where nodes match, and the churn counts."""
    topic_ids, topic_churn = match_level(
        hierarchy.topic_centroids, previous.topic if previous else None, "t", min_similarity
    )
    sub_ids, sub_churn = match_level(
        hierarchy.subinterest_centroids, previous.subinterest if previous else None, "s", min_similarity
    )
    renamed = hierarchy.renamed(topic_ids, sub_ids)
    churn: dict[str, int] = {}
    for level, counts, labels, ids, prev in (
        (TOPIC, topic_churn, renamed.topic_of_item, topic_ids, previous.topic if previous else None),
        (SUBINTEREST, sub_churn, renamed.subinterest_of_item, sub_ids, previous.subinterest if previous else None),
    ):
        churn.update({f"{level}.{name}": value for name, value in counts.items()})
        moved = 0
        if prev is not None:
            for item_id, label in zip(renamed.item_ids.tolist(), labels.tolist()):
                before = prev.node_of_item.get(item_id)
                moved += before is not None and before != ids[label]
        churn[f"{level}.items_moved"] = int(moved)
    return renamed, churn
