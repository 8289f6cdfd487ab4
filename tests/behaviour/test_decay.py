"""Recency decay, and the fold-in of fresh events agreeing with a full nightly recompute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from interests.behaviour.decay import decayed_weights, fold_in
from interests.behaviour.space import normalize_rows, retrieval_vectors
from interests.catalog import EMBEDDING
from interests.hierarchy.users import ProfileSettings, profile_user

DAY1_END = datetime(2026, 11, 20, tzinfo=UTC)
DAY2_END = DAY1_END + timedelta(days=1)
HALF_LIFE = 3.0
RNG = np.random.default_rng(5)
ITEMS = retrieval_vectors(RNG.normal(size=(30, 6)), normalize_rows(RNG.normal(size=(30, 10))), 0.2, 8)


def test_a_half_life_halves_the_weight_and_future_events_do_not_grow():
    now = DAY1_END.timestamp()
    weights = decayed_weights(np.array([2.0, 2.0, 2.0]), np.array([now, now - 3 * 86400, now + 3600]), now, 3.0)
    np.testing.assert_allclose(weights, [2.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="half_life_days"):
        decayed_weights(np.ones(1), np.zeros(1), now, 0.0)


def _signals(events: list[tuple[int, float, datetime]]) -> pa.Table:
    return pa.table({
        "user_id": ["u"] * len(events),
        "source": ["event"] * len(events),
        "key": [f"i{item:02d}" for item, _, _ in events],
        "topic_id": ["t0001"] * len(events),
        "subinterest_id": ["s0001"] * len(events),
        "base_weight": pa.array([w for _, w, _ in events], pa.float64()),
        "event_ts": pa.array([ts for _, _, ts in events], pa.timestamp("us", tz="UTC")),
        "embedding": pa.array([ITEMS[item].tolist() for item, _, _ in events], EMBEDDING),
    })


def _user_row(events, end: datetime) -> dict:
    settings = ProfileSettings(end.timestamp(), HALF_LIFE, 5, 10)
    rows = profile_user(_signals(events), settings).to_pylist()
    return next(row for row in rows if row["level"] == "user")


def _events(count: int, day_end: datetime) -> list[tuple[int, float, datetime]]:
    return [
        (int(RNG.integers(0, 30)), float(RNG.choice([0.1, 1.0, 2.0, 4.0])),
         day_end - timedelta(seconds=float(RNG.uniform(0, 86400))))
        for _ in range(count)
    ]


# Measured: the largest difference over these users is about 1e-7 on the vector (the stored vector
# is float32) and 1e-7 relative on the mass; the bars leave room for BLAS differences only.
@pytest.mark.parametrize("user", range(5))
def test_folding_in_a_day_agrees_with_the_nightly_recompute(user):
    day1, day2 = _events(6 + user, DAY1_END), _events(3 + user, DAY2_END)
    stored = _user_row(day1, DAY1_END)
    recomputed = _user_row(day1 + day2, DAY2_END)
    vector, mass = fold_in(
        np.asarray(stored["embedding"]), stored["vector_mass"], DAY1_END, DAY2_END,
        ITEMS[[item for item, _, _ in day2]], np.array([w for _, w, _ in day2]),
        np.array([ts.timestamp() for _, _, ts in day2]), HALF_LIFE,
    )
    np.testing.assert_allclose(vector, recomputed["embedding"], atol=1e-6)
    assert mass == pytest.approx(recomputed["vector_mass"], rel=1e-6)


def test_two_fold_ins_chain_like_one():
    day2, day3 = _events(4, DAY2_END), _events(4, DAY2_END + timedelta(days=1))
    start = normalize_rows(RNG.normal(size=(1, ITEMS.shape[1])))[0].astype(np.float64)
    start[-1] = 0.0
    start /= np.linalg.norm(start)

    def fold(vector, mass, begin, end, events):
        return fold_in(vector, mass, begin, end, ITEMS[[i for i, _, _ in events]], np.array([w for _, w, _ in events]),
                       np.array([ts.timestamp() for _, _, ts in events]), HALF_LIFE)

    once, once_mass = fold(start, 2.0, DAY1_END, DAY2_END + timedelta(days=1), day2 + day3)
    first, first_mass = fold(start, 2.0, DAY1_END, DAY2_END, day2)
    twice, twice_mass = fold(first, first_mass, DAY2_END, DAY2_END + timedelta(days=1), day3)
    np.testing.assert_allclose(twice, once, atol=1e-12)
    assert twice_mass == pytest.approx(once_mass, rel=1e-12)


def test_a_fold_in_never_goes_back_in_time():
    with pytest.raises(ValueError, match="before reference"):
        fold_in(ITEMS[0], 1.0, DAY2_END, DAY1_END, ITEMS[:1], np.ones(1), np.zeros(1), HALF_LIFE)
