"""The retrieval space: one L2-normalized vector per item that joins a behaviour part and a text part.

An item's retrieval vector has three parts::

    x = [ sqrt(1 - w) * b / Q,   sqrt(w) * t,   sqrt((1 - w) * (1 - |b|^2 / Q^2)) ]

``b`` is the item's behaviour vector (its ALS factors, zero-padded to the widest rank of the grid so
the dimension stays the same from night to night), ``Q`` the largest behaviour norm of the night,
``t`` the unit text embedding and ``w`` the text weight. The last coordinate is the slack that makes
every item unit length (the inner-product to cosine reduction of Bachrach et al., 2014): the length of
``b`` carries how strongly behaviour backs an item (ALS gives well-engaged items longer factors), and
dropping it would throw that signal away (measured: recall@10 0.25 with unit ``b``, 0.31 without; see
docs/decisions.md).

A user (or interest) vector is a weighted sum of item vectors *with the slack coordinate set to 0*,
normalized, so its dot product with an item is ``(1 - w) / Q^2 * (sum a b) . b_i + w * (sum a t) . t_i``:
ALS-style affinity mixed with text similarity. Queries never carry slack, items always do.
"""

from __future__ import annotations

import numpy as np

SLACK = -1
"""Index of the slack coordinate (the last one) in the retrieval space."""


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def pad_columns(matrix: np.ndarray, width: int) -> np.ndarray:
    """Zero-pad (n, r) to (n, width); r must not exceed width."""
    n, r = matrix.shape
    if r > width:
        raise ValueError(f"behaviour vectors have {r} columns, more than the space's {width}")
    padded = np.zeros((n, width), dtype=np.float32)
    padded[:, :r] = matrix
    return padded


def retrieval_dimension(behaviour_width: int, text_dimension: int) -> int:
    """Width of the retrieval space: behaviour part, text part, one slack coordinate."""
    return behaviour_width + text_dimension + 1


def behaviour_scale(behaviour: np.ndarray) -> float:
    """``Q``: the largest behaviour norm of the night's items (1.0 when there is none)."""
    norms = np.linalg.norm(np.asarray(behaviour, dtype=np.float64), axis=1)
    return float(norms.max()) if len(norms) and norms.max() > 0 else 1.0


def retrieval_vectors(
    behaviour: np.ndarray, text: np.ndarray, text_weight: float, behaviour_width: int, scale: float | None = None
) -> np.ndarray:
    """(n, behaviour_width + text dim + 1) unit vectors joining behaviour and text.

    ``scale`` is the night's ``Q`` (default: that of ``behaviour`` itself, right for the whole catalog);
    pass the catalog's when placing other things (a user's texts) in the same night's space. A
    behaviour vector longer than ``Q`` gets no slack and the whole is renormalized.
    """
    if not 0.0 <= text_weight <= 1.0:
        raise ValueError(f"text_weight must lie in [0, 1], got {text_weight}")
    if len(behaviour) != len(text):
        raise ValueError(f"{len(behaviour)} behaviour rows but {len(text)} text rows")
    behaviour = pad_columns(np.asarray(behaviour, dtype=np.float64), behaviour_width).astype(np.float64)
    scale = behaviour_scale(behaviour) if scale is None else scale
    relative = np.linalg.norm(behaviour, axis=1) / scale
    slack = np.sqrt(np.clip((1.0 - text_weight) * (1.0 - relative**2), 0.0, None))
    parts = np.hstack(
        [np.sqrt(1.0 - text_weight) * behaviour / scale, np.sqrt(text_weight) * normalize_rows(text), slack[:, None]]
    )
    return normalize_rows(parts)


def as_query(vectors: np.ndarray) -> np.ndarray:
    """Item-space vectors (or sums of them) as query vectors: slack coordinate dropped (0), unit length."""
    query = np.array(vectors, dtype=np.float64, copy=True, ndmin=2)
    query[:, SLACK] = 0.0
    return normalize_rows(query)
