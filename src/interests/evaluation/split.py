"""Spark side of the time split: which users are evaluated, and what the driver needs to score them.

Everything collected here is bounded: at most ``max_users`` users with their engagements, one
popularity figure per catalog item, and the engagement pairs of the most-engaged ``max_items`` items
(sampled down to ``max_pairs``) for the EASE baseline. Users are sampled by a seeded hash of their id,
so the tuning (learn_behaviour) and the evaluation (build_hierarchy) of a night see the same users.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from interests.behaviour.als import split_at
from interests.evaluation.retrieval import SplitSample


class CatalogIndex:
    """item_id -> row of the catalog (items sorted by id), for the items of one night."""

    def __init__(self, item_ids: np.ndarray):
        self.item_ids = np.asarray(item_ids, dtype=object)
        self._position = {item_id: i for i, item_id in enumerate(self.item_ids.tolist())}
        self._arrow = pa.array(self.item_ids.tolist(), pa.string())

    def __len__(self) -> int:
        return len(self.item_ids)

    def positions(self, item_ids) -> np.ndarray:
        """Catalog rows of the ids (KeyError for an id not in the catalog); an Arrow column is looked up in Arrow."""
        if isinstance(item_ids, pa.Array | pa.ChunkedArray):
            return _positions_in(item_ids, self._arrow)
        return np.fromiter((self._position[i] for i in item_ids), dtype=np.int64, count=len(item_ids))


def _positions_in(values: pa.Array | pa.ChunkedArray, value_set: pa.Array) -> np.ndarray:
    """Index of every value in ``value_set`` (distinct values), without a Python object per value."""
    index = pc.index_in(values, value_set=value_set)
    if index.null_count:
        unknown = pc.filter(values, pc.is_null(index))
        raise KeyError(f"{index.null_count} ids not found, e.g. {unknown[0].as_py()!r}")
    return index.to_numpy(zero_copy_only=False).astype(np.int64)


def _grouped(user_positions: np.ndarray, n_users: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(user_positions, minlength=n_users))]).astype(np.int64)


def collect_split_sample(
    engagements: DataFrame, catalog: CatalogIndex, split_start: datetime, max_users: int, seed: int,
    positive_min_weight: float = 0.0,
) -> SplitSample:
    """Users with engagements before ``split_start`` and new items from it on, sampled; their data.

    The held-out items are those engaged with at an event-type weight of at least ``positive_min_weight``
    (clicks and stronger by default: an impression is exposure) and not engaged with before the split.
    """
    train, held = split_at(engagements, split_start)
    train_pairs = train.select("user_id", "item_id").distinct()
    positives = held.where(F.col("base_weight") >= F.lit(float(positive_min_weight)))
    novel = positives.select("user_id", "item_id").distinct().join(train_pairs, ["user_id", "item_id"], "left_anti")
    candidates = novel.select("user_id").distinct().join(train.select("user_id").distinct(), "user_id")
    sampled = (
        candidates.withColumn("order", F.xxhash64("user_id", F.lit(seed)))
        .orderBy("order", "user_id").limit(max_users).select("user_id", "order")
    )
    users = sampled.orderBy("user_id").toArrow()
    sampled_ids = users.column("user_id").combine_chunks()
    user_ids = np.asarray(sampled_ids.to_pylist(), dtype=object)  # at most max_users
    tune = (users.column("order").to_numpy() & 1) == 0

    rows = train.join(F.broadcast(sampled.select("user_id")), "user_id").orderBy("user_id", "event_ts", "item_id").toArrow()
    users_of = _positions_in(rows.column("user_id"), sampled_ids)
    held_rows = novel.join(F.broadcast(sampled.select("user_id")), "user_id").orderBy("user_id", "item_id").toArrow()
    held_users = _positions_in(held_rows.column("user_id"), sampled_ids)
    seconds = pc.cast(rows.column("event_ts"), "int64").to_numpy(zero_copy_only=False) / 1e6
    return SplitSample(
        user_ids=user_ids,
        tune=tune,
        train_indptr=_grouped(users_of, len(user_ids)),
        train_items=catalog.positions(rows.column("item_id")),
        train_base_weight=rows.column("base_weight").to_numpy(zero_copy_only=False).astype(np.float64),
        train_seconds=seconds,
        held_indptr=_grouped(held_users, len(user_ids)),
        held_items=catalog.positions(held_rows.column("item_id")),
        split_seconds=split_start.timestamp(),
        n_items=len(catalog),
    )


def item_popularity(train: DataFrame, catalog: CatalogIndex) -> np.ndarray:
    """Engagements per catalog item before the split (0 for items nobody engaged with)."""
    counts = train.groupBy("item_id").count().toArrow()
    popularity = np.zeros(len(catalog))
    popularity[catalog.positions(counts.column("item_id"))] = counts.column("count").to_numpy()
    return popularity


def engagement_matrix(
    train: DataFrame, catalog: CatalogIndex, items: np.ndarray, max_pairs: int, seed: int, min_weight: float = 0.0
) -> sp.csr_matrix:
    """(users, len(items)) 0/1: engaged before the split at an event-type weight >= min_weight, over the given items.

    Users are sampled by hash when there are more than ``max_pairs`` pairs, so the driver holds a bounded matrix.
    """
    chosen = catalog.item_ids[items]
    pairs = (
        train.where(F.col("base_weight") >= F.lit(float(min_weight))).select("user_id", "item_id").distinct()
        .where(F.col("item_id").isin(chosen.tolist()))
    )
    total = pairs.count()
    if total > max_pairs:
        keep = max_pairs / total
        pairs = pairs.where((F.abs(F.xxhash64("user_id", F.lit(seed + 1))) % 1_000_000) < int(keep * 1_000_000))
    table = pairs.toArrow()
    # Rows in user-id order (as np.unique gave them), columns in the order of ``items``; no Python object per pair.
    user_ids = pc.unique(table.column("user_id"))
    user_codes = _positions_in(table.column("user_id"), user_ids.take(pc.sort_indices(user_ids)))
    columns = _positions_in(table.column("item_id"), pa.array(chosen.tolist(), pa.string()))
    n_users = int(user_codes.max()) + 1 if len(user_codes) else 0
    return sp.csr_matrix((np.ones(len(columns)), (user_codes, columns)), shape=(n_users, len(items)))
