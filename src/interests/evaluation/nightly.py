"""The night's own evaluation: next-day retrieval of the product's levels next to three baselines.

Everything is scored on the *reporting* half of the sampled users (the tuning half chose the
hyperparameters), with vectors rebuilt from the engagements before the held-out day: item factors
fitted without it (item_factors.validation_factors), the chosen text weight and half-life, and the
night's tree for the sub-interest grouping (the tree is built on text embeddings, which do not see
engagements, so it leaks nothing of the held-out day).

Figures (``<method>.<metric>``): ``user`` and ``subinterest`` levels, ``popular`` (most engaged
before the split), ``text`` (mean of the user's items' text vectors), ``ease`` (EASE on the most
engaged items, its regularization chosen on the tuning half); ``multi_interest.*`` for users whose
engagements spread over three or more sub-interests (each at least 10% of their weight);
``new_items.*`` counts only held-out engagements with items nobody had engaged with before the split.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from interests.behaviour.space import retrieval_vectors
from interests.evaluation.retrieval import (
    SplitSample,
    ease_scorer,
    ease_weights,
    evaluate,
    popularity_scorer,
    subinterest_scorer,
    text_mean_scorer,
    user_level_scorer,
)

logger = logging.getLogger(__name__)

EASE_REGULARIZATIONS = (30.0, 100.0, 300.0, 1000.0)
MULTI_INTEREST_MIN = 3
MULTI_INTEREST_SHARE = 0.1


def multi_interest_rows(weights: sp.csr_matrix, subinterest_of_item: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows whose training weight spreads over >= 3 sub-interests of >= 10% each."""
    keep = []
    for row in rows:
        start, end = weights.indptr[row], weights.indptr[row + 1]
        labels, values = subinterest_of_item[weights.indices[start:end]], weights.data[start:end]
        if values.sum() <= 0:
            continue
        _, inverse = np.unique(labels, return_inverse=True)
        shares = np.bincount(inverse, weights=values) / values.sum()
        if (shares >= MULTI_INTEREST_SHARE).sum() >= MULTI_INTEREST_MIN:
            keep.append(row)
    return np.asarray(keep, dtype=np.int64)


def evaluate_night(
    sample: SplitSample, text: np.ndarray, validation_behaviour: np.ndarray, engaged_before_split: np.ndarray,
    text_weight: float, half_life_days: float, behaviour_width: int, subinterest_of_item: np.ndarray,
    max_subinterests: int, popularity: np.ndarray, ease_items: np.ndarray, ease_matrix: sp.csr_matrix,
) -> dict[str, float]:
    """All figures of the night's evaluation, flat (``method.metric``)."""
    tune, report = sample.rows(tune=True), sample.rows(tune=False)
    vectors = retrieval_vectors(validation_behaviour, text, text_weight, behaviour_width)
    weights = sample.weights(half_life_days)
    engaged = sample.engaged()
    scorers = {
        "user": user_level_scorer(weights, vectors),
        "subinterest": subinterest_scorer(weights, vectors, subinterest_of_item, max_subinterests),
        "popular": popularity_scorer(popularity),
        "text": text_mean_scorer(engaged, text),
    }
    if ease_matrix.shape[0] > 0 and len(ease_items) > 0:
        # Fitted on who engaged with what at click strength or more, fed each user's decayed, weighted
        # history (the same input as ours): the strongest of the EASE variants we measured
        # (docs/decisions.md), its regularization chosen on the tuning half like our hyperparameters.
        best = max(
            EASE_REGULARIZATIONS,
            key=lambda lam: evaluate(ease_scorer(weights, ease_weights(ease_matrix, lam), ease_items), sample, tune)[
                "recall_at_10"
            ],
        )
        scorers["ease"] = ease_scorer(weights, ease_weights(ease_matrix, best), ease_items)
    figures: dict[str, float] = {"users.report": float(len(report)), "users.tune": float(len(tune))}
    if scorers.get("ease") is not None:
        figures["ease.regularization"] = best
    multi = multi_interest_rows(weights, subinterest_of_item, report)
    new_items = ~engaged_before_split
    for name, scorer in scorers.items():
        for prefix, rows, held_filter in (("", report, None), ("multi_interest.", multi, None)):
            for metric, value in evaluate(scorer, sample, rows, held_filter).items():
                figures[f"{prefix}{name}.{metric}"] = value
        if name in ("user", "subinterest", "text", "popular"):
            for metric, value in evaluate(scorer, sample, report, new_items).items():
                figures[f"new_items.{name}.{metric}"] = value
    best_level = max(figures["user.recall_at_10"], figures["subinterest.recall_at_10"])
    if "ease.recall_at_10" in figures and figures["ease.recall_at_10"] > 0:
        figures["ratio.best_level_to_ease"] = best_level / figures["ease.recall_at_10"]
    if figures["popular.recall_at_10"] > 0:
        figures["ratio.best_level_to_popular"] = best_level / figures["popular.recall_at_10"]
    logger.info("evaluation: %s", {k: round(v, 4) for k, v in sorted(figures.items())})
    return figures
