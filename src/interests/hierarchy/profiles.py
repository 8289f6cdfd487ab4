"""The profile of one user, defined on that user's signals alone: the reference the batched path reproduces.

A user's signals are sorted inside ``profile_user``, so floating-point sums do not depend on the order
a shuffle delivers them in and a rerun gives the same bits. The math is the one of
``interests.behaviour.decay``: weights decay with age back from the end of ``ds``, a vector is the
normalized weighted sum of its signals' vectors taken as a query (slack coordinate dropped, see
``behaviour/space.py``), and the user level stores the sum's norm (``vector_mass``) so fresh events can
be folded in between nights.

- A user with engagements: user level from engagements and texts; topics and sub-interests from
  engagements, each sub-interest with its medoid item (the engaged item nearest its vector).
- A user with texts but no engagement: a text-only user-level vector (``vector_source = text_only``),
  no topics or sub-interests.
- A user with neither has no signal, hence no row: the job counts them.

The nightly job runs ``profile_batches.profile_partition`` (many users per call, item vectors looked up
on the executors), which gives the same rows and bits as this function applied user by user; this one
stays as the readable definition and the reference of the tests and of ``bench_user_profiles``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from interests.behaviour.decay import decayed_weights
from interests.behaviour.space import SLACK
from interests.catalog import EMBEDDING, TIMESTAMP, embedding_matrix

USER, TOPIC, SUBINTEREST = "user", "topic", "subinterest"
ENGAGEMENT, TEXT_ONLY = "engagement", "text_only"

SIGNAL_ORDER = [("source", "ascending"), ("key", "ascending"), ("event_ts", "ascending"), ("base_weight", "ascending")]
"""How one user's signals are ordered before any sum (events before texts, then by key)."""

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


def codes_of(values: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """(the sorted distinct values, each value's index among them): ``np.unique`` of an Arrow column.

    Arrow sorts strings by their UTF-8 bytes, which is code-point order, the order Python sorts ``str``
    in, so the groups come out in the order the earlier object-array version gave them.
    """
    distinct = pc.unique(values)
    distinct = distinct.take(pc.sort_indices(distinct))
    codes = pc.index_in(values, value_set=distinct).to_numpy(zero_copy_only=False).astype(np.int64)
    return distinct, codes


@dataclass(frozen=True)
class _Groups:
    """The heaviest groups of one level of one user, heaviest first."""

    labels: np.ndarray  # (g,) index into the level's sorted distinct labels
    shares: np.ndarray  # (g,) float64, sum to 1
    units: np.ndarray  # (g, dim) float64 unit vectors
    counts: np.ndarray  # (g,) int64 signals per group
    members: list[np.ndarray]  # g arrays of signal indices, ascending


def _groups(codes: np.ndarray, n_labels: int, weights: np.ndarray, vectors: np.ndarray, keep: int) -> _Groups | None:
    """The heaviest ``keep`` groups of signals labelled ``codes`` (ties: the smaller label first); None if weightless."""
    mass = np.bincount(codes, weights=weights, minlength=n_labels)
    sums = np.zeros((n_labels, vectors.shape[1]))
    # add.at adds row after row in signal order: the sums are the same bits on every run.
    np.add.at(sums, codes, weights[:, None] * vectors)
    order = np.lexsort((np.arange(n_labels), -mass))[:keep]
    total = mass[order].sum()
    if total <= 0:
        return None
    norms = np.linalg.norm(sums[order], axis=1, keepdims=True)
    units = sums[order] / np.where(norms > 0, norms, 1.0)
    sizes = np.bincount(codes, minlength=n_labels)
    by_label = np.argsort(codes, kind="stable")  # signal indices grouped by label, ascending inside a label
    starts = np.concatenate([[0], np.cumsum(sizes)])
    members = [by_label[starts[label]:starts[label + 1]] for label in order]
    return _Groups(order, mass[order] / total, units, sizes[order], members)


def _level_rows(
    level: str, user_id: pa.Array, node_ids: pa.Array, topic_ids: pa.Array, groups: _Groups,
    medoid_item_ids: pa.Array | None,
) -> dict[str, pa.Array | np.ndarray]:
    """Profile columns of one level's groups (heaviest first)."""
    n = len(groups.labels)
    return {
        "user_id": user_id.take(np.zeros(n, dtype=np.int64)),
        "level": pa.array([level], pa.string()).take(np.zeros(n, dtype=np.int64)),
        "node_id": node_ids,
        "topic_id": topic_ids,
        "weight": groups.shares,
        "embedding": groups.units,
        "n_engagements": groups.counts,
        "n_items": np.zeros(n, dtype=np.int64),
        "n_texts": np.zeros(n, dtype=np.int64),
        "engagement_weight": np.zeros(n),
        "last_event_ts": pa.nulls(n, TIMESTAMP),
        "vector_source": pa.array([ENGAGEMENT], pa.string()).take(np.zeros(n, dtype=np.int64)),
        "vector_mass": np.zeros(n),
        "medoid_item_id": pa.nulls(n, pa.string()) if medoid_item_ids is None else medoid_item_ids,
    }


def profile_user(signals: pa.Table, settings: ProfileSettings) -> pa.Table:
    """Profile rows (levels topic, subinterest, then user) of one user's signals, with numpy and Arrow.

    No Python object per signal: labels become integer codes (``codes_of``), groups are sums over
    codes, and the only Python loop is over the kept groups of a level (at most
    ``max_subinterests_per_user``) to pick each sub-interest's medoid.
    """
    signals = signals.sort_by(SIGNAL_ORDER)
    user_id = signals.column("user_id").slice(0, 1).combine_chunks()
    event_mask = pc.equal(signals.column("source"), "event")
    is_event = event_mask.to_numpy(zero_copy_only=False)
    seconds = pc.cast(signals.column("event_ts"), pa.int64()).to_numpy(zero_copy_only=False)
    seconds = np.where(np.isnan(seconds.astype(np.float64)), settings.reference_seconds * 1e6, seconds) / 1e6
    weights = decayed_weights(
        signals.column("base_weight").to_numpy(zero_copy_only=False), seconds,
        settings.reference_seconds, settings.half_life_days,
    )
    vectors = embedding_matrix(signals.column("embedding"), np.float64)
    vectors[:, SLACK] = 0.0  # queries carry no slack (behaviour/space.py)
    events = signals.filter(event_mask)
    parts: list[dict] = []

    n_engagements = int(is_event.sum())
    n_texts = len(is_event) - n_engagements
    engagement_weight = float(weights[is_event].sum())
    if n_engagements and engagement_weight > 0:
        w, v = weights[is_event], vectors[is_event]
        item_keys = events.column("key")
        # Dense rank of the item id: breaks similarity ties between items in id order, as the id itself would.
        key_rank = pc.rank(item_keys, sort_keys="ascending", tiebreaker="dense").to_numpy(zero_copy_only=False)
        event_topics = events.column("topic_id")
        for level, column, keep in (
            (TOPIC, "topic_id", settings.max_topics_per_user),
            (SUBINTEREST, "subinterest_id", settings.max_subinterests_per_user),
        ):
            distinct, codes = codes_of(events.column(column))
            groups = _groups(codes, len(distinct), w, v, keep)
            if groups is None:
                continue
            first_members = np.array([members[0] for members in groups.members], dtype=np.int64)
            medoids = None
            if level == SUBINTEREST:
                best = np.empty(len(groups.members), dtype=np.int64)
                for g, (members, unit) in enumerate(zip(groups.members, groups.units)):
                    similarity = v[members] @ unit
                    best[g] = members[np.lexsort((key_rank[members], -similarity))[0]]
                medoids = item_keys.take(best)
            parts.append(_level_rows(
                level, user_id, distinct.take(groups.labels), event_topics.take(first_members), groups, medoids,
            ))
    total = weights @ vectors
    mass = float(np.linalg.norm(total))
    if mass > 0:
        source = ENGAGEMENT if n_engagements and engagement_weight > 0 else TEXT_ONLY
        last_event = pc.max(events.column("event_ts")).cast(TIMESTAMP)
        n_items = pc.count_distinct(events.column("key"), mode="all").as_py()
        parts.append({
            "user_id": user_id, "level": pa.array([USER]), "node_id": user_id, "topic_id": pa.nulls(1, pa.string()),
            "weight": np.array([1.0]), "embedding": (total / mass)[None, :],
            "n_engagements": np.array([n_engagements]), "n_items": np.array([n_items]),
            "n_texts": np.array([n_texts]), "engagement_weight": np.array([engagement_weight]),
            "last_event_ts": pa.array([last_event], TIMESTAMP), "vector_source": pa.array([source]),
            "vector_mass": np.array([mass]), "medoid_item_id": pa.nulls(1, pa.string()),
        })
    return profile_table(parts)


def profile_column(field: pa.Field, values) -> pa.Array:
    if field.name == "embedding":
        matrix = np.ascontiguousarray(values, dtype=np.float32)
        offsets = np.arange(0, matrix.size + 1, matrix.shape[1], dtype=np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(matrix.reshape(-1)))
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(field.type) if isinstance(values, pa.Array) else pa.array(values, field.type)


def profile_table(parts: list[dict]) -> pa.Table:
    """One table of the parts' columns, in the order given."""
    if not parts:
        return PROFILE_SCHEMA.empty_table()
    tables = [
        pa.Table.from_arrays([profile_column(field, part[field.name]) for field in PROFILE_SCHEMA], schema=PROFILE_SCHEMA)
        for part in parts
    ]
    return pa.concat_tables(tables).combine_chunks()


