"""Recency decay of engagement weights, and folding fresh events into a stored user vector.

The nightly job builds a user's vector as ``S = sum_i w_i * x_i`` over the signals of the lookback
window, with ``w_i = base_i * 0.5 ** (age_i / half_life)`` and ages measured back from the end of
``ds``; it stores ``v = S / |S|`` and the mass ``m = |S|``. Decay multiplies every weight by the same
factor as time passes, so between nights a service can fold fresh events in without the history:

    v' = normalize(v + sum_j a_j * y_j),   a_j = w_j / (f * m),   f = 0.5 ** (elapsed / half_life)

which is exactly the nightly vector over the same events, up to float rounding (events that leave
the lookback window are the one difference: the nightly job forgets them, a fold-in does not).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from interests.behaviour.space import SLACK

SECONDS_PER_DAY = 86_400.0


def _seconds(moment: datetime | float) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def decayed_weights(
    base_weights: np.ndarray, event_seconds: np.ndarray, reference: datetime | float, half_life_days: float
) -> np.ndarray:
    """``base * 0.5 ** (age in days / half-life)``; an event after the reference has age 0."""
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    age_days = np.maximum(0.0, (_seconds(reference) - np.asarray(event_seconds, dtype=np.float64)) / SECONDS_PER_DAY)
    return np.asarray(base_weights, dtype=np.float64) * np.power(0.5, age_days / half_life_days)


def weighted_sum(vectors: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """The unit direction and the norm (mass) of ``sum_i weights_i * vectors_i``."""
    total = np.asarray(weights, dtype=np.float64) @ np.asarray(vectors, dtype=np.float64)
    mass = float(np.linalg.norm(total))
    return (total / mass if mass > 0 else total), mass


def fold_in(
    vector: np.ndarray, mass: float, reference: datetime | float, new_reference: datetime | float,
    item_vectors: np.ndarray, base_weights: np.ndarray, event_seconds: np.ndarray, half_life_days: float,
) -> tuple[np.ndarray, float]:
    """A stored user vector (and mass, at ``reference``) with fresh events folded in, at ``new_reference``.

    Same math as the nightly job: ``v' = normalize(v + sum_j a_j * y_j)`` with ``a_j`` from the decay.
    ``item_vectors`` are the items' retrieval vectors (item_embeddings.embedding); like the nightly job,
    the fold-in takes them as queries (slack coordinate dropped). ``vector``, ``mass`` and ``reference``
    are a user_embeddings row's embedding, vector_mass and the end of its ds. Returns the new unit vector
    and mass, so fold-ins chain.
    """
    elapsed_days = (_seconds(new_reference) - _seconds(reference)) / SECONDS_PER_DAY
    if elapsed_days < 0:
        raise ValueError("new_reference is before reference: a fold-in only moves forward in time")
    factor = 0.5 ** (elapsed_days / half_life_days)
    fresh = decayed_weights(base_weights, event_seconds, new_reference, half_life_days)
    stored = np.asarray(vector, dtype=np.float64) * (factor * mass)
    items = np.array(item_vectors, dtype=np.float64, copy=True, ndmin=2)
    items[:, SLACK] = 0.0
    total = stored + fresh @ items
    new_mass = float(np.linalg.norm(total))
    return (total / new_mass if new_mass > 0 else total), new_mass
