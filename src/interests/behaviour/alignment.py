"""Keep the behaviour space of one night in the orientation of the night before (orthogonal Procrustes).

ALS determines item factors only up to a rotation: refitted on a window that moved by one day, the
same items come out in an arbitrary new basis (measured on the generated week: mean cosine 0.09
between two nights' factors of the same items, 0.31 between the same users' vectors). Every score
*within* a night is unchanged by a rotation, but a reader who keeps yesterday's user vectors against
today's items, or the gate that compares the two nights, sees noise.

So tonight's factors ``F`` are rotated by the orthogonal ``R`` that brings them closest to the previous
published night's factors ``P`` of the same items (``argmin ||F R - P||``, from the SVD of ``F^T P``).
An orthogonal map keeps every dot product between items, and users are built from items, so
retrieval and the evaluation are the same up to float rounding; only the orientation changes. When
the two nights' ranks differ both are zero-padded to the wider one, so the rotated factors may be
wider than tonight's rank (never wider than the grid's widest rank, which the retrieval space pads to).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interests.behaviour.space import pad_columns

MIN_SHARED_ITEMS = 2
"""Fewer items shared with the night before than this: nothing to align on, the factors are kept as they are."""


@dataclass(frozen=True)
class Alignment:
    """How tonight's factors were rotated, and how close they came to the night before's."""

    factors: np.ndarray
    shared_items: int
    cosine_before: float
    cosine_after: float
    aligned: bool


def _mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    keep = norms > 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.sum(a[keep] * b[keep], axis=1) / norms[keep]))


def align_factors(
    factors: np.ndarray, item_ids: list[str], previous_factors: np.ndarray | None, previous_ids: list[str] | None,
    max_width: int,
) -> Alignment:
    """Tonight's factors rotated onto the previous night's over the items both have (see the module doc)."""
    factors = np.asarray(factors, dtype=np.float64)
    if previous_factors is None or previous_ids is None or len(previous_ids) == 0:
        return Alignment(factors.astype(np.float32), 0, float("nan"), float("nan"), False)
    previous_factors = np.asarray(previous_factors, dtype=np.float64)
    width = max(factors.shape[1], previous_factors.shape[1])
    position = {item: row for row, item in enumerate(previous_ids)}
    tonight_rows = [row for row, item in enumerate(item_ids) if item in position]
    if len(tonight_rows) < MIN_SHARED_ITEMS or width > max_width:
        return Alignment(factors.astype(np.float32), len(tonight_rows), float("nan"), float("nan"), False)
    mine = pad_columns(factors, width).astype(np.float64)
    theirs = pad_columns(previous_factors, width).astype(np.float64)[[position[item_ids[row]] for row in tonight_rows]]
    before = _mean_cosine(mine[tonight_rows], theirs)
    left, _, right = np.linalg.svd(mine[tonight_rows].T @ theirs)
    rotated = mine @ (left @ right)
    after = _mean_cosine(rotated[tonight_rows], theirs)
    return Alignment(rotated.astype(np.float32), len(tonight_rows), before, after, True)
