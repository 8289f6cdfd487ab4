"""Behaviour from text: a ridge regression from an item's text embedding to its behaviour factors.

Learned each night from the items that have both, it gives an item nobody engaged with yet (new
tonight) a behaviour part, so it is retrievable the night it lands; the same mapping places a
user's own texts in the retrieval space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TextToBehaviour:
    """``factors ~ text @ coefficients + intercept`` (closed-form ridge, float64)."""

    coefficients: np.ndarray  # (text dim, rank)
    intercept: np.ndarray  # (rank,)

    def predict(self, text: np.ndarray) -> np.ndarray:
        """Predicted behaviour factors, (n, rank) float32."""
        return (np.asarray(text, dtype=np.float64) @ self.coefficients + self.intercept).astype(np.float32)


def fit_text_to_behaviour(text: np.ndarray, factors: np.ndarray, regularization: float) -> TextToBehaviour:
    """Fit the ridge mapping on items that have both a text embedding and behaviour factors."""
    if len(text) != len(factors):
        raise ValueError(f"{len(text)} text rows but {len(factors)} factor rows")
    if len(text) == 0:
        raise ValueError("cannot fit the text -> behaviour mapping on zero items")
    x = np.asarray(text, dtype=np.float64)
    y = np.asarray(factors, dtype=np.float64)
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - x_mean, y - y_mean
    gram = xc.T @ xc + regularization * np.eye(x.shape[1])
    coefficients = np.linalg.solve(gram, xc.T @ yc)
    return TextToBehaviour(coefficients=coefficients, intercept=y_mean - x_mean @ coefficients)


def mapping_quality(
    text: np.ndarray, factors: np.ndarray, regularization: float, holdout_share: float, seed: int
) -> dict[str, float]:
    """How well the mapping predicts the factors of engaged items it was not fitted on.

    ``cosine``: mean cosine between predicted and learned factors of held-back items (what matters
    for retrieval, the vectors are normalized); ``cosine_mean_only``: the same for the prediction
    that ignores the text, the training items' mean factors (ALS factors share a common direction, so
    this baseline is well above 0 and moves with the rank; "text predicts behaviour" means beating it);
    ``r2``: share of the factors' variance explained.
    """
    n = len(text)
    held = max(1, round(n * holdout_share))
    if n - held < 2:
        return {"items": float(n), "held_back": 0.0, "cosine": float("nan"), "cosine_mean_only": float("nan"),
                "r2": float("nan")}
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:held], order[held:]
    model = fit_text_to_behaviour(text[train], factors[train], regularization)
    predicted = model.predict(text[test]).astype(np.float64)
    truth = np.asarray(factors[test], dtype=np.float64)
    mean_only = np.broadcast_to(np.asarray(factors[train], dtype=np.float64).mean(axis=0), truth.shape)
    residual = np.sum((truth - predicted) ** 2)
    total = np.sum((truth - truth.mean(axis=0)) ** 2)
    return {
        "items": float(n), "held_back": float(held), "cosine": _mean_cosine(predicted, truth),
        "cosine_mean_only": _mean_cosine(mean_only, truth),
        "r2": float(1.0 - residual / total) if total > 0 else float("nan"),
    }


def _mean_cosine(predicted: np.ndarray, truth: np.ndarray) -> float:
    norms = np.linalg.norm(predicted, axis=1) * np.linalg.norm(truth, axis=1)
    return float((np.sum(predicted * truth, axis=1) / np.where(norms > 0, norms, 1.0)).mean())
