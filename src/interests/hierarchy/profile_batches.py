"""Profiles of many users per call: the rows and bits of ``profiles.profile_user``, user by user, in batches.

``profile_user`` is called once per user and needs every signal's 449-float vector in its rows, so
the nightly shuffle carried ~1.8 KB per engagement and Python ran once per group. Here the signals
are narrow (an event names its row of the night's item matrix, ``item_row``; only a text carries
its own vector), the item matrix is read once per Python worker, and one call profiles every whole
user of a batch with array operations over all of them.

Same bits as ``profile_user``: every floating-point result is computed by the same numpy operation
on the same operands in the same order as there, either over the whole batch where that operation
is the same per element or per row (decay weights, ``bincount`` and ``add.at`` sums, which add in row
order, row norms, shares, units) or in a loop per user where the result depends on the length of
the operands (``weights @ vectors`` and its norm, ``sum`` of a user's weights: BLAS blocking and
pairwise summation). The one batched approximation is the medoid search: similarities to a
sub-interest's vector are computed for all members at once, and wherever the best item is not ahead
of the next-best other item by more than ``MEDOID_MARGIN`` (far above their few-ulp disagreement),
that sub-interest is decided again exactly as ``profile_user`` does. ``tests/hierarchy/test_profile_batches.py``
compares the two on random signals bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from interests.behaviour.decay import decayed_weights
from interests.behaviour.space import SLACK
from interests.catalog import TIMESTAMP, embedding_matrix
from interests.hierarchy.profiles import (
    ENGAGEMENT,
    PROFILE_SCHEMA,
    SIGNAL_ORDER,
    SUBINTEREST,
    TEXT_ONLY,
    TOPIC,
    USER,
    ProfileSettings,
    codes_of,
    profile_table,
)

MEDOID_MARGIN = 1e-9
"""Batched and exact similarities agree to ~1e-13 (449 products of unit-bounded values); closer calls are redone exactly."""

_ORDER = [("user_id", "ascending"), *SIGNAL_ORDER]


class MissingItemRowError(ValueError):
    """An event signal without a row in the item matrix (or a row outside it)."""


def profile_partition(
    batches: Iterable[pa.RecordBatch], item_vectors: np.ndarray, settings: ProfileSettings
) -> Iterator[pa.RecordBatch]:
    """Profile rows of a partition whose signals arrive sorted by user_id (a user may straddle batches).

    Each batch's users but its last are whole, so they are profiled at once; the last user's rows wait
    for the next batch (or the end of the partition).
    """
    pending: pa.Table | None = None
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if batch.column("user_id").null_count:
            raise ValueError(f"{batch.column('user_id').null_count} signals have no user_id")
        table = pa.Table.from_batches([batch]) if pending is None else pa.concat_tables([pending, pa.Table.from_batches([batch])])
        users = table.column("user_id")
        last = users[-1]
        whole = pc.not_equal(users, last)
        complete = table.filter(whole)
        pending = table.filter(pc.invert(whole))
        if complete.num_rows:
            yield from _batches(profile_batch(complete, item_vectors, settings))
    if pending is not None and pending.num_rows:
        yield from _batches(profile_batch(pending, item_vectors, settings))


def _batches(table: pa.Table) -> Iterator[pa.RecordBatch]:
    return iter(table.to_batches()) if table.num_rows else iter(())


def profile_batch(signals: pa.Table, item_vectors: np.ndarray, settings: ProfileSettings) -> pa.Table:
    """Profile rows of every user in ``signals`` (whole users, any row order): topics, sub-interests, user row.

    ``signals`` has the narrow signal columns: ``item_row`` indexes ``item_vectors`` for events, and
    ``embedding`` is a text's own vector (null for events). Rows come out user by user in user_id
    order, each user's as ``profile_user`` orders them.
    """
    if signals.num_rows == 0:
        return PROFILE_SCHEMA.empty_table()
    signals = signals.sort_by(_ORDER).combine_chunks()
    user_ids = signals.column("user_id")
    starts = np.flatnonzero(
        np.concatenate([[True], pc.not_equal(user_ids[1:], user_ids[:-1]).to_numpy(zero_copy_only=False)])
    )
    n = signals.num_rows
    ends = np.append(starts[1:], n)
    user_of = np.repeat(np.arange(len(starts)), ends - starts)
    source = signals.column("source")
    is_event = pc.equal(source, "event").to_numpy(zero_copy_only=False)
    unknown = pc.sum(pc.invert(pc.is_in(source, pa.array(["event", "text"])))).as_py()
    if unknown:
        raise ValueError(f"{unknown} signals have a source other than 'event' or 'text'")

    seconds = pc.cast(signals.column("event_ts"), pa.int64()).to_numpy(zero_copy_only=False)
    seconds = np.where(np.isnan(seconds.astype(np.float64)), settings.reference_seconds * 1e6, seconds) / 1e6
    weights = decayed_weights(
        signals.column("base_weight").to_numpy(zero_copy_only=False), seconds,
        settings.reference_seconds, settings.half_life_days,
    )
    vectors = _signal_vectors(signals, is_event, item_vectors)

    # Events sort before texts ('event' < 'text'): a user's events are rows [start, start + n_events).
    n_events = np.bincount(user_of[is_event], minlength=len(starts))
    user_part, engagement_weight = _user_part(signals, starts, ends, n_events, weights, vectors)
    active = (n_events > 0) & (engagement_weight > 0)
    event_rows = np.flatnonzero(is_event & active[user_of])
    parts = []
    if len(event_rows):
        events = signals.take(event_rows)
        w, v = weights[event_rows], vectors[event_rows]
        contributions = w[:, None] * v  # profile_user's weights[:, None] * vectors, shared by both levels
        _, key_codes = codes_of(events.column("key"))
        for position, (level, column, keep) in enumerate((
            (TOPIC, "topic_id", settings.max_topics_per_user),
            (SUBINTEREST, "subinterest_id", settings.max_subinterests_per_user),
        )):
            parts.append(_level_part(
                level, position, events, user_of[event_rows], w, v, contributions, key_codes, column, keep,
            ))
    parts.append(user_part)
    order = np.lexsort((
        np.concatenate([part.rank for part in parts]),
        np.concatenate([np.full(len(part.user), part.level_position) for part in parts]),
        np.concatenate([part.user for part in parts]),
    ))
    return pa.concat_tables([part.table for part in parts]).take(order).combine_chunks()


@dataclass(frozen=True)
class _Part:
    """Profile rows of one level for many users: the rows, each row's user (batch index) and rank in its level."""

    table: pa.Table
    user: np.ndarray
    rank: np.ndarray
    level_position: int  # topics 0, sub-interests 1, user rows 2: profile_user's order


def _signal_vectors(signals: pa.Table, is_event: np.ndarray, item_vectors: np.ndarray) -> np.ndarray:
    """(signals, width) float64 query vectors: an event's item row, a text's own vector; slack set to 0."""
    width = item_vectors.shape[1]
    vectors = np.empty((signals.num_rows, width), dtype=np.float64)
    if is_event.any():
        rows = signals.column("item_row").filter(pa.array(is_event))
        if rows.null_count:
            raise MissingItemRowError(f"{rows.null_count} event signals have no item_row")
        rows = rows.to_numpy(zero_copy_only=False).astype(np.int64)
        if rows.min() < 0 or rows.max() >= len(item_vectors):
            raise MissingItemRowError(f"item_row outside the {len(item_vectors)} rows of the item matrix")
        vectors[is_event] = item_vectors[rows]
    if not is_event.all():
        texts = signals.column("embedding").filter(pa.array(~is_event))
        if texts.null_count:
            raise ValueError(f"{texts.null_count} text signals have no embedding")
        vectors[~is_event] = embedding_matrix(texts, np.float64)
    vectors[:, SLACK] = 0.0  # queries carry no slack (behaviour/space.py)
    return vectors


def _user_part(
    signals: pa.Table, starts: np.ndarray, ends: np.ndarray, n_events: np.ndarray, weights: np.ndarray,
    vectors: np.ndarray,
) -> tuple[_Part, np.ndarray]:
    """The user rows (users whose weighted sum is not zero) and every user's engagement weight.

    A loop over users: ``weights @ vectors`` (BLAS) and ``sum`` (pairwise) give bits that depend on the
    operands' length, so each user's are computed on that user's rows alone, as in profile_user.
    """
    n_users = len(starts)
    engagement_weight = np.empty(n_users)
    mass = np.empty(n_users)
    totals = np.empty((n_users, vectors.shape[1]))
    for u, (start, end, events) in enumerate(zip(starts.tolist(), ends.tolist(), n_events.tolist())):
        engagement_weight[u] = float(weights[start:start + events].sum())
        total = weights[start:end] @ vectors[start:end]
        totals[u] = total
        mass[u] = float(np.linalg.norm(total))
    has = np.flatnonzero(mass > 0)
    user_ids = signals.column("user_id").take(starts[has])

    # Per-user counts over the events: distinct items (keys are sorted inside a user) and the last event.
    row_user = np.repeat(np.arange(n_users), ends - starts)
    is_event = np.arange(signals.num_rows) < np.repeat(starts + n_events, ends - starts)
    event_user = row_user[is_event]
    keys = signals.column("key").filter(pa.array(is_event))
    new_key = np.ones(len(keys), dtype=bool)
    if len(keys) > 1:
        new_key[1:] = pc.not_equal(keys[1:], keys[:-1]).to_numpy(zero_copy_only=False) | (event_user[1:] != event_user[:-1])
    n_items = np.bincount(event_user[new_key], minlength=n_users)
    micros = pc.cast(signals.column("event_ts"), pa.int64()).filter(pa.array(is_event))
    valid = pc.is_valid(micros).to_numpy(zero_copy_only=False)
    seen = np.bincount(event_user[valid], minlength=n_users) > 0
    last = np.full(n_users, np.iinfo(np.int64).min)
    np.maximum.at(last, event_user[valid], micros.drop_null().to_numpy())
    last_ts = pa.array(np.where(seen, last, 0), pa.int64(), mask=~seen).cast(TIMESTAMP)

    engaged = (n_events > 0) & (engagement_weight > 0)
    count = len(has)
    table = profile_table([{
        "user_id": user_ids, "level": pa.array([USER] * count, pa.string()), "node_id": user_ids,
        "topic_id": pa.nulls(count, pa.string()), "weight": np.ones(count),
        "embedding": (totals[has] / mass[has, None]).reshape(count, vectors.shape[1]),
        "n_engagements": n_events[has], "n_items": n_items[has], "n_texts": (ends - starts - n_events)[has],
        "engagement_weight": engagement_weight[has], "last_event_ts": last_ts.take(has),
        "vector_source": pa.array(np.where(engaged[has], ENGAGEMENT, TEXT_ONLY).tolist(), pa.string()),
        "vector_mass": mass[has], "medoid_item_id": pa.nulls(count, pa.string()),
    }])
    return _Part(table, has, np.zeros(count, dtype=np.int64), 2), engagement_weight


def _level_part(
    level: str, position: int, events: pa.Table, user: np.ndarray, weights: np.ndarray, vectors: np.ndarray,
    contributions: np.ndarray, key_codes: np.ndarray, column: str, keep: int,
) -> _Part:
    """The kept groups of one level of every user of ``events`` (event rows of engaged users, in signal order)."""
    distinct, label = codes_of(events.column(column))
    n_labels = max(len(distinct), 1)
    # Group = (user, label); np.unique orders groups by user, then by label as profile_user's codes do.
    groups, group_of = np.unique(user * n_labels + label, return_inverse=True)
    group_of = group_of.reshape(-1)
    group_user, group_label = groups // n_labels, groups % n_labels
    n_groups = len(groups)
    # bincount adds in row order from 0.0: each group's mass is profile_user's sequence of additions.
    mass = np.bincount(group_of, weights=weights, minlength=n_groups)
    sizes = np.bincount(group_of, minlength=n_groups)
    first_row = np.unique(group_of, return_index=True)[1]

    ranked = np.lexsort((group_label, -mass, group_user))  # per user: heaviest first, ties by label
    user_start = np.searchsorted(group_user[ranked], group_user[ranked], side="left")
    rank = np.arange(n_groups) - user_start
    kept = ranked[rank < keep]
    kept_rank = rank[rank < keep]
    kept_user = group_user[kept]
    # The kept mass of each user, summed over that user's groups alone, heaviest first (pairwise sum, as there).
    bounds = np.flatnonzero(np.concatenate([[True], kept_user[1:] != kept_user[:-1], [True]]))
    totals = np.array([mass[kept[a:b]].sum() for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())])
    total = np.repeat(totals, np.diff(bounds))
    weighty = total > 0
    kept, kept_rank, kept_user, total = kept[weighty], kept_rank[weighty], kept_user[weighty], total[weighty]

    # Vectors of the kept groups only (profile_user sums every group, then keeps these: the same bits).
    slot = np.full(n_groups, -1)
    slot[kept] = np.arange(len(kept))
    in_kept = np.flatnonzero(slot[group_of] >= 0)
    sums = _sums_in_row_order(slot[group_of[in_kept]], len(kept), contributions[in_kept])
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    units = sums / np.where(norms > 0, norms, 1.0)
    medoids = None
    if level == SUBINTEREST:
        best = _medoid_rows(group_of, kept, units, vectors, key_codes)
        medoids = events.column("key").take(best)
    count = len(kept)
    user_ids = events.column("user_id").take(first_row[kept])
    table = profile_table([{
        "user_id": user_ids,
        "level": pa.array([level] * count, pa.string()),
        "node_id": distinct.take(group_label[kept]),
        "topic_id": events.column("topic_id").take(first_row[kept]),
        "weight": mass[kept] / total,
        "embedding": units.reshape(count, vectors.shape[1]),
        "n_engagements": sizes[kept],
        "n_items": np.zeros(count, dtype=np.int64),
        "n_texts": np.zeros(count, dtype=np.int64),
        "engagement_weight": np.zeros(count),
        "last_event_ts": pa.nulls(count, TIMESTAMP),
        "vector_source": pa.array([ENGAGEMENT] * count, pa.string()),
        "vector_mass": np.zeros(count),
        "medoid_item_id": pa.nulls(count, pa.string()) if medoids is None else medoids,
    }])
    return _Part(table, kept_user, kept_rank, position)


def _sums_in_row_order(group_of: np.ndarray, n_groups: int, contributions: np.ndarray) -> np.ndarray:
    """Per-group sums of contribution rows with ``np.add.at(sums, group_of, contributions)``'s bits, faster.

    ``add.at`` on rows goes the slow way, element by element (py-spy: 45% of the batch's time);
    ``bincount`` over (group, column) cells adds the same values into each cell in the same row order,
    starting from 0.0, in one tight loop.
    """
    width = contributions.shape[1]
    cells = (group_of[:, None] * width + np.arange(width)).reshape(-1)
    return np.bincount(cells, weights=contributions.reshape(-1), minlength=n_groups * width).reshape(n_groups, width)


def _medoid_rows(
    group_of: np.ndarray, kept: np.ndarray, units: np.ndarray, vectors: np.ndarray, key_codes: np.ndarray
) -> np.ndarray:
    """Each kept group's medoid row: the member most similar to the group's unit vector, ties to the smaller key.

    Inside a user, event rows are sorted by key, so "the smaller key" is "the earlier row". Similarities
    are computed for all members at once; a group whose best item leads every other item by no more
    than MEDOID_MARGIN is decided again with profile_user's own expression (``v[members] @ unit``).
    """
    slot = np.full(len(group_of) and group_of.max() + 1, -1)
    slot[kept] = np.arange(len(kept))
    rows = np.flatnonzero(slot[group_of] >= 0)
    row_slot = slot[group_of[rows]]
    similarity = np.einsum("ij,ij->i", vectors[rows], units[row_slot])
    order = np.lexsort((rows, -similarity, row_slot))  # per group: most similar first, then the earlier row
    first = np.concatenate([[True], row_slot[order][1:] != row_slot[order][:-1]])
    best = np.empty(len(kept), dtype=np.int64)
    best_similarity = np.empty(len(kept))
    best[row_slot[order][first]] = rows[order][first]
    best_similarity[row_slot[order][first]] = similarity[order][first]
    other = np.full(len(kept), -np.inf)
    different = key_codes[rows] != key_codes[best[row_slot]]
    np.maximum.at(other, row_slot[different], similarity[different])
    for g in np.flatnonzero(~(best_similarity - other > MEDOID_MARGIN)):
        members = rows[row_slot == g]  # ascending rows, as profile_user's members
        exact = vectors[members] @ units[g]
        best[g] = members[np.lexsort((key_codes[members], -exact))[0]]
    return best
