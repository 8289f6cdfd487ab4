"""The batched profiles equal profile_user applied user by user, bit for bit, on random signals."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from interests.catalog import EMBEDDING, TIMESTAMP
from interests.hierarchy.profile_batches import (
    MissingItemRowError,
    profile_batch,
    profile_partition,
)
from interests.hierarchy.profiles import PROFILE_SCHEMA, ProfileSettings, profile_user

END = datetime(2026, 3, 11, tzinfo=UTC)
SETTINGS = ProfileSettings(END.timestamp(), half_life_days=3.0, max_topics_per_user=2, max_subinterests_per_user=3)


def random_signals(seed: int, users: int = 40, dim: int = 9) -> tuple[pa.Table, pa.Table, np.ndarray]:
    """(narrow signals, the same signals with every vector in the row, item matrix) of random users.

    Ties on purpose: items 0-3 share one vector (medoid ties between different items), weights come
    from a few values (mass ties between groups), repeated engagements with one item; and users with
    texts only, with zero weights only, with one huge weight, with a text-only null timestamp.
    """
    rng = np.random.default_rng(seed)
    items = rng.normal(size=(30, dim)).astype(np.float32)
    items[1:4] = items[0]
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    topic_of = rng.integers(0, 4, len(items))
    subinterest_of = topic_of * 3 + rng.integers(0, 3, len(items))
    texts = rng.normal(size=(5, dim)).astype(np.float32)
    rows = []
    for u in range(users):
        kind = u % 6
        n_events = 0 if kind == 0 else int(rng.integers(1, 25 if kind != 5 else 200))
        for _ in range(n_events):
            item = int(rng.integers(0, 4)) if rng.random() < 0.3 else int(rng.integers(0, len(items)))
            weight = 0.0 if kind == 1 else float(rng.choice([0.1, 1.0, 1.0, 2.0, 1e6 if kind == 4 else 3.0]))
            ts = int(END.timestamp() * 1e6) - int(rng.integers(0, 10 * 86400)) * 1_000_000
            rows.append((f"u{u:03d}", "event", f"i{item:03d}", f"t{topic_of[item]}", f"s{subinterest_of[item]:02d}",
                         weight, ts, item, None))
        for _ in range(int(rng.integers(1, 3)) if kind in (0, 3) or u % 12 == 1 else 0):
            text = int(rng.integers(0, len(texts)))
            ts = None if rng.random() < 0.3 else int(END.timestamp() * 1e6) - 3_600_000_000
            rows.append((f"u{u:03d}", "text", f"h{text}", None, None, 0.25, ts, None, texts[text].tolist()))
    rng.shuffle(rows)
    columns = list(zip(*rows))
    narrow = pa.table({
        "user_id": pa.array(columns[0], pa.string()), "source": pa.array(columns[1], pa.string()),
        "key": pa.array(columns[2], pa.string()), "topic_id": pa.array(columns[3], pa.string()),
        "subinterest_id": pa.array(columns[4], pa.string()), "base_weight": pa.array(columns[5], pa.float64()),
        "event_ts": pa.array(columns[6], pa.int64()).cast(TIMESTAMP), "item_row": pa.array(columns[7], pa.int64()),
        "embedding": pa.array(columns[8], EMBEDDING),
    })
    vectors = [items[row].tolist() if row is not None else text for row, text in zip(columns[7], columns[8])]
    wide = narrow.drop_columns(["item_row", "embedding"]).append_column("embedding", pa.array(vectors, EMBEDDING))
    return narrow, wide, items


def reference(wide: pa.Table, settings: ProfileSettings) -> pa.Table:
    """profile_user user by user, users in id order."""
    tables = []
    for user in sorted(set(wide.column("user_id").to_pylist())):
        tables.append(profile_user(wide.filter(pa.compute.equal(wide.column("user_id"), user)), settings))
    return pa.concat_tables(tables).combine_chunks()


@pytest.mark.parametrize("seed", range(6))
def test_batched_profiles_are_profile_user_bit_for_bit(seed):
    narrow, wide, items = random_signals(seed)
    expected = reference(wide, SETTINGS)
    got = profile_batch(narrow, items, SETTINGS)
    assert got.schema == PROFILE_SCHEMA
    assert got.num_rows == expected.num_rows > 0
    assert got.equals(expected)  # same rows, same order, same bits (float32 vectors, float64 weights and masses)


def test_the_fixture_reaches_the_cases_it_claims():
    _, wide, _ = random_signals(0)
    profiles = reference(wide, SETTINGS).to_pylist()
    users = {row["user_id"]: row for row in profiles if row["level"] == "user"}
    assert {row["vector_source"] for row in users.values()} == {"engagement", "text_only"}
    assert users["u000"]["vector_source"] == "text_only" and users["u000"]["n_engagements"] == 0
    # Zero-weight engagements: with a text, a text-only vector that still counts them; without, no row.
    assert users["u001"]["vector_source"] == "text_only" and users["u001"]["n_engagements"] > 0
    assert "u007" not in users and not [row for row in profiles if row["user_id"] == "u007"]
    assert max(row["n_engagements"] for row in users.values()) > 100
    medoids = {row["medoid_item_id"] for row in profiles if row["level"] == "subinterest"}
    assert medoids & {"i000", "i001", "i002", "i003"}  # the tied items are in play


@pytest.mark.parametrize("batch_rows", [1, 7, 64, 100_000])
def test_a_partition_in_batches_that_split_users_gives_the_same_rows(batch_rows):
    narrow, wide, items = random_signals(3)
    ordered = narrow.sort_by("user_id")
    batches = ordered.to_batches(max_chunksize=batch_rows)
    got = pa.Table.from_batches(list(profile_partition(batches, items, SETTINGS)), schema=PROFILE_SCHEMA)
    assert got.equals(reference(wide, SETTINGS))


def test_a_rerun_in_another_row_order_gives_the_same_bits():
    narrow, _, items = random_signals(4)
    again = narrow.take(np.random.default_rng(9).permutation(narrow.num_rows))
    assert profile_batch(narrow, items, SETTINGS).equals(profile_batch(again, items, SETTINGS))


def test_an_event_without_an_item_row_is_refused():
    narrow, _, items = random_signals(1, users=6)
    broken = narrow.set_column(7, "item_row", pa.array([None] * narrow.num_rows, pa.int64()))
    with pytest.raises(MissingItemRowError, match="no item_row"):
        profile_batch(broken, items, SETTINGS)
    with pytest.raises(MissingItemRowError, match="outside"):
        profile_batch(narrow, items[:2], SETTINGS)


def test_no_signals_no_rows():
    narrow, _, items = random_signals(1, users=6)
    assert profile_batch(narrow.slice(0, 0), items, SETTINGS).equals(PROFILE_SCHEMA.empty_table())
    assert list(profile_partition([], items, SETTINGS)) == []


def test_a_signal_without_a_user_is_refused_not_dropped():
    narrow, _, items = random_signals(1, users=6)
    broken = narrow.set_column(0, "user_id", pa.array([None] * narrow.num_rows, pa.string()))
    with pytest.raises(ValueError, match="no user_id"):
        list(profile_partition(broken.to_batches(), items, SETTINGS))
