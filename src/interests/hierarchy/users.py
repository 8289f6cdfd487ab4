"""User vectors at three granularities: user-level, per topic and per sub-interest, in the retrieval space.

Spark prepares one row per signal of a user (an engagement with an item, or a text the user wrote,
with its retrieval-space vector and its base weight), groups by user, and ``profile_user`` turns one
user's rows into long-format profile rows with numpy. The math is the one of
``interests.behaviour.decay``: weights decay with age back from the end of ``ds``, a vector is the
normalized weighted sum of its signals' vectors taken as a query (slack coordinate dropped, see
``behaviour/space.py``), and the user level stores the sum's norm (``vector_mass``) so fresh events can
be folded in between nights. Rows are sorted inside the function, so floating-point sums do not
depend on the order a shuffle delivers them in and a rerun gives the same bits.

- A user with engagements: user level from engagements and texts; topics and sub-interests from
  engagements, each sub-interest with its medoid item (the engaged item nearest its vector).
- A user with texts but no engagement: a text-only user-level vector (``vector_source = text_only``),
  no topics or sub-interests.
- A user with neither has no signal, hence no row: the job counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from interests.behaviour.decay import decayed_weights
from interests.behaviour.space import SLACK
from interests.catalog import EMBEDDING, TIMESTAMP, embedding_matrix

USER, TOPIC, SUBINTEREST = "user", "topic", "subinterest"
ENGAGEMENT, TEXT_ONLY = "engagement", "text_only"

SIGNAL_COLUMNS = ("user_id", "source", "key", "topic_id", "subinterest_id", "base_weight", "event_ts", "embedding")
"""One signal: source 'event' (key = item_id) or 'text' (key = text_hash, no topic)."""

PROFILE_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("level", pa.string()),
        ("node_id", pa.string()),
        ("topic_id", pa.string()),
        ("weight", pa.float64()),
        ("embedding", EMBEDDING),
        ("n_engagements", pa.int64()),
        ("n_items", pa.int64()),
        ("n_texts", pa.int64()),
        ("engagement_weight", pa.float64()),
        ("last_event_ts", TIMESTAMP),
        ("vector_source", pa.string()),
        ("vector_mass", pa.float64()),
        ("medoid_item_id", pa.string()),
    ]
)
PROFILE_DDL = (
    "user_id string, level string, node_id string, topic_id string, weight double, "
    "embedding array<float>, n_engagements bigint, n_items bigint, n_texts bigint, "
    "engagement_weight double, last_event_ts timestamp, vector_source string, vector_mass double, "
    "medoid_item_id string"
)


@dataclass(frozen=True)
class ProfileSettings:
    """What one night's profiles depend on besides the signals."""

    reference_seconds: float  # end of ds (epoch seconds): ages are measured back from here
    half_life_days: float
    max_topics_per_user: int
    max_subinterests_per_user: int


def engagement_signals(engagements: DataFrame, items: DataFrame) -> DataFrame:
    """Signal rows of engagements (user_id, item_id, base_weight, event_ts) joined to item_embeddings of ds."""
    return engagements.join(
        items.select("item_id", "topic_id", "subinterest_id", "embedding"), on="item_id", how="inner"
    ).select(
        "user_id", F.lit("event").alias("source"), F.col("item_id").alias("key"),
        "topic_id", "subinterest_id", "base_weight", "event_ts", "embedding",
    )


def text_signals(user_texts: DataFrame, text_vectors: DataFrame, weight: float) -> DataFrame:
    """One signal per distinct text a user wrote; ``text_vectors`` has text_hash and a retrieval-space embedding."""
    return user_texts.join(text_vectors.select("text_hash", "embedding"), on="text_hash", how="inner").select(
        "user_id", F.lit("text").alias("source"), F.col("text_hash").alias("key"),
        F.lit(None).cast("string").alias("topic_id"), F.lit(None).cast("string").alias("subinterest_id"),
        F.lit(float(weight)).alias("base_weight"), F.col("text_ts").alias("event_ts"), "embedding",
    )


def _groups(labels: np.ndarray, weights: np.ndarray, vectors: np.ndarray, keep: int):
    """(labels, weight shares, unit vectors, member counts, member index lists) of the heaviest ``keep`` groups."""
    unique, inverse = np.unique(labels, return_inverse=True)
    mass = np.bincount(inverse, weights=weights, minlength=len(unique))
    sums = np.zeros((len(unique), vectors.shape[1]))
    np.add.at(sums, inverse, weights[:, None] * vectors)
    order = np.lexsort((unique, -mass))[:keep]
    total = mass[order].sum()
    if total <= 0:
        return []
    norms = np.linalg.norm(sums[order], axis=1, keepdims=True)
    units = sums[order] / np.where(norms > 0, norms, 1.0)
    counts = np.bincount(inverse, minlength=len(unique))[order]
    members = [np.flatnonzero(inverse == group) for group in order]
    return list(zip(unique[order].tolist(), (mass[order] / total).tolist(), units, counts.tolist(), members))


def profile_user(signals: pa.Table, settings: ProfileSettings) -> pa.Table:
    """Profile rows (levels user, topic, subinterest) of one user's signals."""
    order = [("source", "ascending"), ("key", "ascending"), ("event_ts", "ascending"), ("base_weight", "ascending")]
    signals = signals.sort_by(order)
    user_id = signals.column("user_id")[0].as_py()
    is_event = pc.equal(signals.column("source"), "event").to_numpy(zero_copy_only=False)
    seconds = pc.cast(signals.column("event_ts"), pa.int64()).to_numpy(zero_copy_only=False)
    seconds = np.where(np.isnan(seconds.astype(np.float64)), settings.reference_seconds * 1e6, seconds) / 1e6
    weights = decayed_weights(
        signals.column("base_weight").to_numpy(zero_copy_only=False), seconds,
        settings.reference_seconds, settings.half_life_days,
    )
    vectors = embedding_matrix(signals.column("embedding"), np.float64)
    vectors[:, SLACK] = 0.0  # queries carry no slack (behaviour/space.py)
    keys = np.asarray(signals.column("key").to_pylist(), dtype=object)
    rows: list[tuple] = []

    n_engagements = int(is_event.sum())
    n_texts = len(is_event) - n_engagements
    engagement_weight = float(weights[is_event].sum())
    timestamps = signals.column("event_ts").filter(pa.array(is_event))
    last_event = pc.max(timestamps).as_py() if len(timestamps) else None
    if n_engagements and engagement_weight > 0:
        w, v, item_keys = weights[is_event], vectors[is_event], keys[is_event]
        for level, column, keep in (
            (TOPIC, "topic_id", settings.max_topics_per_user),
            (SUBINTEREST, "subinterest_id", settings.max_subinterests_per_user),
        ):
            labels = np.asarray(signals.column(column).filter(pa.array(is_event)).to_pylist(), dtype=object)
            topics = np.asarray(signals.column("topic_id").filter(pa.array(is_event)).to_pylist(), dtype=object)
            for label, share, unit, count, members in _groups(labels, w, v, keep):
                medoid = None
                if level == SUBINTEREST:
                    similarity = v[members] @ unit
                    best = np.lexsort((item_keys[members], -similarity))[0]
                    medoid = item_keys[members][best]
                rows.append((user_id, level, label, topics[members[0]], share, unit, count, 0, 0, 0.0, None,
                             ENGAGEMENT, 0.0, medoid))
    total = weights @ vectors
    mass = float(np.linalg.norm(total))
    if mass > 0:
        source = ENGAGEMENT if n_engagements and engagement_weight > 0 else TEXT_ONLY
        rows.append((user_id, USER, user_id, None, 1.0, total / mass, n_engagements, len(set(keys[is_event])),
                     n_texts, engagement_weight, last_event, source, mass, None))
    return _profile_table(rows)


def _profile_table(rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows)) if rows else [[] for _ in PROFILE_SCHEMA]
    arrays = []
    for field, values in zip(PROFILE_SCHEMA, columns):
        if field.name == "embedding":
            matrix = np.asarray(values, dtype=np.float32)
            flat = pa.array(matrix.reshape(-1)) if len(values) else pa.array([], pa.float32())
            width = matrix.shape[1] if len(values) else 0
            offsets = pa.array(np.arange(0, len(values) + 1, dtype=np.int32) * width)
            arrays.append(pa.ListArray.from_arrays(offsets, flat))
        else:
            arrays.append(pa.array(list(values), field.type))
    return pa.Table.from_arrays(arrays, schema=PROFILE_SCHEMA)


def user_profiles(signals: DataFrame, settings: ProfileSettings) -> DataFrame:
    """Long-format profile rows of every user with at least one signal (grouped in Spark)."""

    def profile(table: pa.Table) -> pa.Table:
        return profile_user(table, settings)

    return signals.select(*SIGNAL_COLUMNS).groupBy("user_id").applyInArrow(profile, PROFILE_DDL)
