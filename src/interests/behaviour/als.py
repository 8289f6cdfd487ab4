"""Co-engagement factors on Spark: implicit-feedback ALS over the lookback window's engagements.

Each (user, item) pair is rated with the sum of its engagements' event-type weights; ALS treats a
rating as confidence ``1 + alpha * rating`` that the user prefers the item (Hu, Koren and Volinsky).
Only the item factors leave Spark (one row of ``rank`` floats per engaged item: bounded by the
catalog, named in docs/operations.md); user factors are not used, users are built from their items.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

logger = logging.getLogger(__name__)

ENGAGEMENT_COLUMNS = ("user_id", "item_id", "base_weight", "event_ts")


@dataclass(frozen=True)
class ItemFactors:
    """Learned factors of the items that had engagements (rows follow ``item_ids``, sorted)."""

    item_ids: np.ndarray  # (n,) str, sorted
    factors: np.ndarray  # (n, rank) float32
    rank: int
    regularization: float


def engagements(events: DataFrame, item_ids: DataFrame, event_weights: dict[str, float]) -> DataFrame:
    """One row per weighted engagement with a catalog item: user_id, item_id, base_weight, event_ts."""
    weighted = {name: weight for name, weight in sorted(event_weights.items()) if weight > 0}
    if not weighted:
        raise ValueError("no event type has a positive weight: nothing to learn behaviour from")
    type_weight = F.create_map(*[value for name, w in weighted.items() for value in (F.lit(name), F.lit(w))])
    return (
        events.where(F.col("event_type").isin(*weighted) & F.col("item_id").isNotNull())
        .join(item_ids.select("item_id"), on="item_id", how="left_semi")
        .select("user_id", "item_id", type_weight[F.col("event_type")].alias("base_weight"), "event_ts")
    )


def last_day_start(engagements: DataFrame) -> datetime | None:
    """Midnight (UTC) that starts the most recent day with an engagement, by event time; None if empty."""
    row = engagements.select(F.max("event_ts").alias("last")).first()
    if row is None or row["last"] is None:
        return None
    last = row["last"]
    last = last.replace(tzinfo=UTC) if last.tzinfo is None else last.astimezone(UTC)
    return datetime(last.year, last.month, last.day, tzinfo=UTC)


def split_at(engagements: DataFrame, split_start: datetime) -> tuple[DataFrame, DataFrame]:
    """(before, from) split_start by event time: the training part and the held-out part."""
    boundary = F.lit(split_start)
    return engagements.where(F.col("event_ts") < boundary), engagements.where(F.col("event_ts") >= boundary)


def ratings(engagements: DataFrame) -> DataFrame:
    """user_id, item_id, rating (the sum of the pair's event-type weights, smallest first).

    Not ``F.sum``: a shuffle merges the partial sums of a pair in the order their blocks arrive, and
    floating point addition depends on order (0.1 + 1.0 + 0.1 is not 0.1 + 0.1 + 1.0), so a rerun's
    ratings, and through ALS its item factors, differed in the last bit. Adding the sorted weights
    gives one result whatever the partitions.
    """
    weights = F.array_sort(F.collect_list(F.col("base_weight").cast("double")))
    rating = F.aggregate(weights, F.lit(0.0).cast("double"), lambda total, weight: total + weight)
    return engagements.groupBy("user_id", "item_id").agg(rating.alias("rating"))


def _dense_index(frame: DataFrame, column: str) -> DataFrame:
    """column -> a dense int index in id order (deterministic)."""
    return frame.select(column).distinct().withColumn(
        f"{column}_index", (F.dense_rank().over(Window.orderBy(column)) - 1).cast("int")
    )


def fit_item_factors(
    pair_ratings: DataFrame, rank: int, regularization: float, alpha: float, max_iter: int, seed: int,
    blocks: int,
) -> ItemFactors:
    """Implicit ALS on the pair ratings; the item factors, collected to the driver in item-id order."""
    from pyspark.ml.recommendation import ALS

    users = _dense_index(pair_ratings, "user_id")
    items = _dense_index(pair_ratings, "item_id")
    # ``blocks`` input partitions, each sorted. Spark's ALS groups rating blocks by shuffle and adds a
    # factor's ratings in the order they arrive, so only one block (behaviour.als_blocks = 1, the
    # default) reproduces the factors bit for bit on a rerun; with more, a rerun of the same ratings
    # gave factors 1.5e-8 apart (test_night's rerun check, about 1 run in 2).
    indexed = (
        pair_ratings.join(users, "user_id").join(items, "item_id")
        .select("user_id_index", "item_id_index", "rating")
        .repartition(blocks).sortWithinPartitions("user_id_index", "item_id_index")
    )
    model = ALS(
        rank=rank, regParam=regularization, alpha=alpha, maxIter=max_iter, implicitPrefs=True, seed=seed,
        userCol="user_id_index", itemCol="item_id_index", ratingCol="rating", nonnegative=False,
        numUserBlocks=blocks, numItemBlocks=blocks, intermediateStorageLevel="MEMORY_ONLY",
        finalStorageLevel="MEMORY_ONLY",
    ).fit(indexed)
    factors = (
        model.itemFactors.join(items, model.itemFactors["id"] == items["item_id_index"])
        .select("item_id", "features").orderBy("item_id").toArrow()
    )
    item_ids = np.asarray(factors.column("item_id").to_pylist(), dtype=object)
    features = factors.column("features").combine_chunks()
    matrix = features.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(item_ids), rank)
    logger.info("ALS rank=%d reg=%g: factors for %d items", rank, regularization, len(item_ids))
    return ItemFactors(item_ids=item_ids, factors=matrix, rank=rank, regularization=regularization)
