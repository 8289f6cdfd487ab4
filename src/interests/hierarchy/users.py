"""User vectors at three granularities: user-level, per topic and per sub-interest.

Spark prepares one row per weighted signal of a user (an engagement with an item, or a text the
user wrote), groups by user, and ``profile_user`` turns one user's rows into long-format profile
rows with numpy. Rows are sorted inside the function, so floating-point sums do not depend on
the order a shuffle delivers them in and a rerun gives the same bits.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from interests.catalog import EMBEDDING, TIMESTAMP, embedding_matrix
from interests.config import HierarchyConfig

USER, TOPIC, SUBINTEREST = "user", "topic", "subinterest"

SIGNAL_COLUMNS = ("user_id", "source", "key", "topic_id", "subinterest_id", "weight", "event_ts", "embedding")
"""One weighted signal: source 'event' (key = item_id) or 'text' (key = text_hash, no topic)."""

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
    ]
)
PROFILE_DDL = (
    "user_id string, level string, node_id string, topic_id string, weight double, "
    "embedding array<float>, n_engagements bigint, n_items bigint, n_texts bigint, "
    "engagement_weight double, last_event_ts timestamp"
)


def engagement_signals(
    events: DataFrame, items: DataFrame, ds: str, hierarchy: HierarchyConfig
) -> DataFrame:
    """Weighted engagement rows: event-type weight x 0.5 ** (age in days / half-life), joined to item vectors.

    ``events`` are events_clean rows of the lookback window; ``items`` are item_embeddings of ds.
    Events of types without a weight, and items not in the catalog, drop out.
    """
    weighted_types = {name: weight for name, weight in hierarchy.event_weights.items() if weight > 0}
    type_weight = F.create_map(*[item for name, w in sorted(weighted_types.items()) for item in (F.lit(name), F.lit(w))])
    day_end = datetime.combine(date.fromisoformat(ds) + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    age_days = F.greatest(
        F.lit(0.0), (F.lit(day_end).cast("double") - F.col("event_ts").cast("double")) / 86400.0
    )
    weight = type_weight[F.col("event_type")] * F.pow(F.lit(0.5), age_days / F.lit(hierarchy.half_life_days))
    return (
        events.where(F.col("event_type").isin(*weighted_types) & F.col("item_id").isNotNull())
        .join(items.select("item_id", "topic_id", "subinterest_id", "embedding"), on="item_id", how="inner")
        .select(
            "user_id", F.lit("event").alias("source"), F.col("item_id").alias("key"),
            "topic_id", "subinterest_id", weight.alias("weight"), "event_ts", "embedding",
        )
    )


def text_signals(user_texts: DataFrame, text_embeddings: DataFrame) -> DataFrame:
    """One unit-weight row per distinct text a user wrote, with its embedding."""
    return user_texts.join(text_embeddings.select("text_hash", "embedding"), on="text_hash", how="inner").select(
        "user_id", F.lit("text").alias("source"), F.col("text_hash").alias("key"),
        F.lit(None).cast("string").alias("topic_id"), F.lit(None).cast("string").alias("subinterest_id"),
        F.lit(1.0).alias("weight"), F.col("text_ts").alias("event_ts"), "embedding",
    )


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


def _weighted_groups(
    labels: np.ndarray, weights: np.ndarray, vectors: np.ndarray, keep: int
) -> list[tuple[str, float, np.ndarray, int]]:
    """(label, weight share, unit vector, n) of the heaviest ``keep`` groups; shares renormalized to 1."""
    groups = []
    for label in np.unique(labels):
        mask = labels == label
        groups.append((str(label), float(weights[mask].sum()), _unit(weights[mask] @ vectors[mask]), int(mask.sum())))
    groups.sort(key=lambda group: (-group[1], group[0]))
    kept = groups[:keep]
    total = sum(group[1] for group in kept)
    return [(label, weight / total, vector, n) for label, weight, vector, n in kept] if total > 0 else []


def profile_user(signals: pa.Table, hierarchy: HierarchyConfig) -> pa.Table:
    """Profile rows (levels user, topic, subinterest) of one user's signals."""
    order = [("source", "ascending"), ("key", "ascending"), ("event_ts", "ascending"), ("weight", "ascending")]
    signals = signals.sort_by(order)
    user_id = signals.column("user_id")[0].as_py()
    source = np.asarray(signals.column("source").to_pylist())
    weights = signals.column("weight").to_numpy(zero_copy_only=False).astype(np.float64)
    vectors = embedding_matrix(signals.column("embedding"), np.float64)
    is_event = source == "event"
    n_texts = int((~is_event).sum())
    rows: list[dict] = []

    event_vector = None
    engagement_weight = float(weights[is_event].sum())
    n_engagements = int(is_event.sum())
    keys = np.asarray(signals.column("key").to_pylist(), dtype=object)
    n_items = len(set(keys[is_event]))
    timestamps = signals.column("event_ts").filter(pa.array(is_event))
    last_event = max((ts for ts in timestamps.to_pylist() if ts is not None), default=None)
    if n_engagements and engagement_weight > 0:
        w, v = weights[is_event], vectors[is_event]
        event_vector = _unit(w @ v)
        topics = np.asarray(signals.column("topic_id").filter(pa.array(is_event)).to_pylist())
        subinterests = np.asarray(signals.column("subinterest_id").filter(pa.array(is_event)).to_pylist())
        for level, labels, keep in (
            (TOPIC, topics, hierarchy.max_topics_per_user),
            (SUBINTEREST, subinterests, hierarchy.max_subinterests_per_user),
        ):
            for label, share, vector, n in _weighted_groups(labels, w, v, keep):
                topic_id = label if level == TOPIC else label.split(".")[0]
                rows.append(_row(user_id, level, label, topic_id, share, vector, n, 0, 0, 0.0, None))
    text_vector = _unit(vectors[~is_event].mean(axis=0)) if n_texts else None
    if event_vector is not None and text_vector is not None:
        alpha = hierarchy.user_text_weight
        user_vector = _unit((1 - alpha) * event_vector + alpha * text_vector)
    else:
        user_vector = event_vector if event_vector is not None else text_vector
    if user_vector is not None:
        rows.append(
            _row(user_id, USER, user_id, None, 1.0, user_vector, n_engagements, n_items, n_texts,
                 engagement_weight, last_event)
        )
    return pa.Table.from_pylist(rows, schema=PROFILE_SCHEMA)


def _row(user_id, level, node_id, topic_id, weight, vector, n_engagements, n_items, n_texts, engagement_weight, last):
    return {
        "user_id": user_id, "level": level, "node_id": node_id, "topic_id": topic_id, "weight": weight,
        "embedding": vector.astype(np.float32).tolist(), "n_engagements": n_engagements, "n_items": n_items,
        "n_texts": n_texts, "engagement_weight": engagement_weight, "last_event_ts": last,
    }


def user_profiles(signals: DataFrame, hierarchy: HierarchyConfig) -> DataFrame:
    """Long-format profile rows of every user with at least one signal (grouped in Spark)."""

    def profile(table: pa.Table) -> pa.Table:
        return profile_user(table, hierarchy)

    return signals.select(*SIGNAL_COLUMNS).groupBy("user_id").applyInArrow(profile, PROFILE_DDL)
