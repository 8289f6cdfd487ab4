"""The nightly choice of hyperparameters: a grid scored on the pipeline's own time split.

ALS is fitted once per (rank, regularization) on the engagements before the held-out day; for each
fit, every (text weight, half-life) pair only changes how item vectors are mixed and how a user's
engagements are weighted, so those are scored without refitting. Candidates are ranked by recall@10 on
the *tuning* half of the sampled users (ndcg@10, then the simpler model, break ties); the other half
is kept for the figures the night reports, so the choice does not flatter them.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import asdict, dataclass

import numpy as np

from interests.behaviour.space import retrieval_vectors
from interests.behaviour.text_mapping import fit_text_to_behaviour
from interests.config import BehaviourConfig
from interests.evaluation.retrieval import SplitSample, evaluate, user_level_scorer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """One point of the grid."""

    rank: int
    regularization: float
    text_weight: float
    half_life_days: float


@dataclass(frozen=True)
class Scored:
    """A candidate and what it scored on the tuning half."""

    candidate: Candidate
    metrics: dict[str, float]

    def as_row(self, chosen: bool) -> dict:
        return {**asdict(self.candidate), **{name: self.metrics.get(name) for name in METRICS}, "chosen": chosen}


METRICS = ("users", "recall_at_10", "recall_at_50", "ndcg_at_10")


def default_candidate(config: BehaviourConfig) -> Candidate:
    """The grid's middle values: used when a night has no time split to validate on."""

    def middle(values):
        return sorted(values)[(len(values) - 1) // 2]

    return Candidate(
        rank=middle(config.ranks), regularization=middle(config.regularizations),
        text_weight=middle(config.text_weights), half_life_days=middle(config.half_lives_days),
    )


def behaviour_matrix(
    n_items: int, positions: np.ndarray, factors: np.ndarray, text: np.ndarray, ridge_regularization: float
) -> tuple[np.ndarray, np.ndarray]:
    """(catalog, rank) behaviour vectors: learned where engaged, predicted from text elsewhere; and the engaged mask."""
    rank = factors.shape[1]
    matrix = np.zeros((n_items, rank), dtype=np.float32)
    engaged = np.zeros(n_items, dtype=bool)
    matrix[positions] = factors
    engaged[positions] = True
    if engaged.any() and (~engaged).any():
        mapping = fit_text_to_behaviour(text[engaged], matrix[engaged], ridge_regularization)
        matrix[~engaged] = mapping.predict(text[~engaged])
    return matrix, engaged


def score_grid(
    sample: SplitSample, text: np.ndarray, behaviour_by_fit: dict[tuple[int, float], np.ndarray],
    config: BehaviourConfig,
) -> list[Scored]:
    """Every candidate of the grid scored on the tuning half (user level, retrieval space)."""
    rows = sample.rows(tune=True)
    scored = []
    for (rank, regularization), behaviour in sorted(behaviour_by_fit.items()):
        for text_weight, half_life in itertools.product(config.text_weights, config.half_lives_days):
            vectors = retrieval_vectors(behaviour, text, text_weight, config.dim_behaviour)
            metrics = evaluate(user_level_scorer(sample.weights(half_life), vectors), sample, rows)
            candidate = Candidate(rank, regularization, text_weight, half_life)
            logger.info("tuning %s: %s", candidate, {k: round(v, 4) for k, v in metrics.items()})
            scored.append(Scored(candidate, metrics))
    return scored


def choose(scored: list[Scored]) -> Scored:
    """The best candidate: recall@10, then ndcg@10, then the smaller rank and the stronger regularization."""
    if not scored:
        raise ValueError("no candidate was scored")
    return max(
        scored,
        key=lambda s: (
            np.nan_to_num(s.metrics["recall_at_10"], nan=-1.0), np.nan_to_num(s.metrics["ndcg_at_10"], nan=-1.0),
            -s.candidate.rank, s.candidate.regularization, -s.candidate.text_weight, s.candidate.half_life_days,
        ),
    )
