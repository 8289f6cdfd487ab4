"""User vectors at three granularities, in Spark: the signals, the profiles of every user, their counts.

Spark prepares one narrow row per signal of a user (an engagement names its item's row in the night's
item matrix; a text the user wrote carries its own retrieval-space vector), shuffles them by user,
sorts each partition by user, and ``profile_batches.profile_partition`` profiles every whole user of
an Arrow batch at once (the item matrix is broadcast, read once per Python worker). The rows and
bits are those of ``profiles.profile_user`` applied to each user (see there for the math). The
profiles never come to the driver: ``tables.split_profiles`` splits them into the three user tables
in Spark and ``profile_counts`` counts them with Spark aggregations.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from interests.hierarchy.profile_batches import profile_partition
from interests.hierarchy.profiles import (
    ENGAGEMENT,
    PROFILE_DDL,
    PROFILE_SCHEMA,
    SUBINTEREST,
    TEXT_ONLY,
    TOPIC,
    USER,
    ProfileSettings,
    profile_user,
)

__all__ = [
    "ENGAGEMENT", "PROFILE_DDL", "PROFILE_SCHEMA", "SIGNAL_COLUMNS", "SUBINTEREST", "TEXT_ONLY", "TOPIC", "USER",
    "ProfileSettings", "engagement_signals", "item_rows", "profile_counts", "profile_user", "text_signals",
    "user_profiles",
]

SIGNAL_COLUMNS = (
    "user_id", "source", "key", "topic_id", "subinterest_id", "base_weight", "event_ts", "item_row", "embedding",
)
"""One signal: source 'event' (key = item_id, item_row = its row of the item matrix, no embedding) or
'text' (key = text_hash, its own embedding, no topic and no item_row)."""


def item_rows(spark: SparkSession, items: pa.Table) -> DataFrame:
    """(item_id, topic_id, subinterest_id, item_row) of item_embeddings rows held on the driver; item_row = row number.

    ``embedding_matrix(items["embedding"])`` is the matrix those rows index, for ``user_profiles``.
    """
    rows = items.select(["item_id", "topic_id", "subinterest_id"]).append_column(
        "item_row", pa.array(np.arange(items.num_rows, dtype=np.int64))
    )
    return spark.createDataFrame(rows)


def engagement_signals(engagements: DataFrame, items: DataFrame) -> DataFrame:
    """Signal rows of engagements (user_id, item_id, base_weight, event_ts) joined to ``item_rows`` of ds."""
    return engagements.join(
        items.select("item_id", "topic_id", "subinterest_id", "item_row"), on="item_id", how="inner"
    ).select(
        "user_id", F.lit("event").alias("source"), F.col("item_id").alias("key"),
        "topic_id", "subinterest_id", "base_weight", "event_ts", "item_row",
        F.lit(None).cast("array<float>").alias("embedding"),
    )


def text_signals(user_texts: DataFrame, text_vectors: DataFrame, weight: float) -> DataFrame:
    """One signal per distinct text a user wrote; ``text_vectors`` has text_hash and a retrieval-space embedding."""
    return user_texts.join(text_vectors.select("text_hash", "embedding"), on="text_hash", how="inner").select(
        "user_id", F.lit("text").alias("source"), F.col("text_hash").alias("key"),
        F.lit(None).cast("string").alias("topic_id"), F.lit(None).cast("string").alias("subinterest_id"),
        F.lit(float(weight)).alias("base_weight"), F.col("text_ts").alias("event_ts"),
        F.lit(None).cast("long").alias("item_row"), "embedding",
    )


def user_profiles(signals: DataFrame, settings: ProfileSettings, item_vectors: np.ndarray) -> DataFrame:
    """Long-format profile rows of every user with at least one signal; ``item_vectors`` are the rows item_row indexes.

    The shuffle moves narrow rows (no vector per engagement); the item matrix goes to the executors
    once, as a broadcast (items x width float32: 1.8 GB at 1M items of width 449).
    """
    matrix = signals.sparkSession.sparkContext.broadcast(np.ascontiguousarray(item_vectors, dtype=np.float32))

    def profile(batches):
        return profile_partition(batches, matrix.value, settings)

    # An explicit partition count: adaptive execution would coalesce a by-column repartition of narrow rows
    # into a few partitions (3 of 8 measured), and on 2 cores the third then runs alone.
    partitions = int(signals.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    return (
        signals.select(*SIGNAL_COLUMNS).repartition(partitions, "user_id").sortWithinPartitions("user_id")
        .mapInArrow(profile, PROFILE_DDL)
    )


def profile_counts(profiles: DataFrame, events: DataFrame) -> dict[str, int]:
    """Rows per user table, text-only users and users seen in ``events`` without a profile (Spark aggregations).

    Only the counts come to the driver: one aggregated row and one anti-join count, never the user ids.
    """
    level = F.col("level")

    def rows_where(condition):
        return F.coalesce(F.sum(condition.cast("long")), F.lit(0))

    row = profiles.agg(
        rows_where(level == USER).alias("user_embeddings"),
        rows_where(level == TOPIC).alias("user_topics"),
        rows_where(level == SUBINTEREST).alias("user_subinterests"),
        rows_where((level == USER) & (F.col("vector_source") == TEXT_ONLY)).alias("users.text_only"),
    ).first()
    without_signal = events.select("user_id").distinct().join(profiles.select("user_id"), "user_id", "left_anti").count()
    return {**{name: int(row[name]) for name in row.asDict()}, "users.without_signal": int(without_signal)}
