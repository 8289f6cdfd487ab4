"""Next-day retrieval on a time split: who engaged with what on the held-out day, retrieved from the
whole catalog by a scorer built only from what came before it.

Protocol (the same for every method of a run, so their figures compare):
- the held-out day is the most recent day of engagements in the lookback window, by event time;
- a user counts when they engaged before it and engaged with at least one *new to them* item on it
  at an event-type weight of at least ``behaviour.positive_min_weight`` (clicks and stronger by
  default: an impression shows what the platform exposed, not what the user wanted);
- items the user engaged with before the split are not ranked (repeat engagements are not retrieval);
- ``recall@k`` is the share of the user's held-out items in the top k; ``ndcg@10`` uses binary gains;
  figures are means over users.

Scorers take a block of users (row positions in the sample) and return their (users, items) scores
over the catalog, in catalog order; blocks keep the score matrix small for large catalogs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from interests.behaviour.decay import decayed_weights
from interests.behaviour.space import as_query

Scorer = Callable[[np.ndarray], np.ndarray]
CUTOFFS = (10, 50)
BLOCK_USERS = 256


@dataclass(frozen=True)
class SplitSample:
    """Sampled users of a time split, their training engagements and held-out new items (catalog indices)."""

    user_ids: np.ndarray  # (n_users,) str
    tune: np.ndarray  # (n_users,) bool: the half hyperparameters are chosen on; the other half reports
    train_indptr: np.ndarray  # (n_users + 1,)
    train_items: np.ndarray  # catalog index per training engagement
    train_base_weight: np.ndarray  # event-type weight per training engagement
    train_seconds: np.ndarray  # event time (epoch seconds) per training engagement
    held_indptr: np.ndarray  # (n_users + 1,)
    held_items: np.ndarray  # distinct new catalog items per user on the held-out day
    split_seconds: float  # start of the held-out day (epoch seconds): ages are measured back from here
    n_items: int  # catalog size

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def rows(self, tune: bool) -> np.ndarray:
        """Row positions of the tuning half (True) or the reporting half (False)."""
        return np.flatnonzero(self.tune == tune)

    def weights(self, half_life_days: float) -> sp.csr_matrix:
        """(users, items) decayed engagement weights of the training part (repeats summed)."""
        values = decayed_weights(self.train_base_weight, self.train_seconds, self.split_seconds, half_life_days)
        return sp.csr_matrix((values, self.train_items, self.train_indptr), shape=(self.n_users, self.n_items))

    def engaged(self) -> sp.csr_matrix:
        """(users, items) 1 where the user engaged with the item before the split."""
        ones = np.ones(len(self.train_items), dtype=np.float64)
        matrix = sp.csr_matrix((ones, self.train_items, self.train_indptr), shape=(self.n_users, self.n_items))
        matrix.data[:] = 1.0
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores per row, best first (ties broken by item index)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    chosen = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -chosen), axis=1)
    return np.take_along_axis(part, order, axis=1)


def evaluate(
    scorer: Scorer, sample: SplitSample, rows: np.ndarray, held_filter: np.ndarray | None = None
) -> dict[str, float]:
    """recall@10, recall@50 and ndcg@10 of a scorer over the given sample rows.

    ``held_filter`` (a catalog-wide bool mask) keeps only those held-out items (e.g. items new tonight);
    users left with none are not counted.
    """
    k_max = max(CUTOFFS)
    if held_filter is not None:
        rows = np.asarray(
            [row for row in rows if held_filter[sample.held_items[sample.held_indptr[row] : sample.held_indptr[row + 1]]].any()],
            dtype=np.int64,
        )
    recalls = {k: [] for k in CUTOFFS}
    ndcgs: list[float] = []
    discounts = 1.0 / np.log2(np.arange(2, 12))
    for begin in range(0, len(rows), BLOCK_USERS):
        block = rows[begin : begin + BLOCK_USERS]
        scores = np.asarray(scorer(block), dtype=np.float64)
        for position, row in enumerate(block):
            seen = sample.train_items[sample.train_indptr[row] : sample.train_indptr[row + 1]]
            scores[position, seen] = -np.inf
        top = _top(scores, k_max)
        for position, row in enumerate(block):
            held = sample.held_items[sample.held_indptr[row] : sample.held_indptr[row + 1]]
            if held_filter is not None:
                held = held[held_filter[held]]
            hits = np.isin(top[position], held)
            for k in CUTOFFS:
                recalls[k].append(hits[:k].sum() / len(held))
            ideal = discounts[: min(len(held), 10)].sum()
            top10 = hits[:10]
            ndcgs.append(float((top10 * discounts[: len(top10)]).sum() / ideal))
    if not ndcgs:
        return {"users": 0.0, **{f"recall_at_{k}": float("nan") for k in CUTOFFS}, "ndcg_at_10": float("nan")}
    return {
        "users": float(len(ndcgs)),
        **{f"recall_at_{k}": float(np.mean(values)) for k, values in recalls.items()},
        "ndcg_at_10": float(np.mean(ndcgs)),
    }


# ------------------------------------------------------------------ scorers of the product


def user_level_scorer(weights: sp.csr_matrix, item_vectors: np.ndarray, retrieval_space: bool = True) -> Scorer:
    """Score = user vector . item vector, the user vector being the decayed weighted sum of their items'.

    In the retrieval space the sum is taken as a query (slack coordinate dropped, see behaviour/space.py).
    """
    users = np.asarray(weights @ item_vectors, dtype=np.float64)
    if retrieval_space:
        users = as_query(users)

    def score(block: np.ndarray) -> np.ndarray:
        return users[block] @ item_vectors.T

    return score


def subinterest_scorer(
    weights: sp.csr_matrix, item_vectors: np.ndarray, subinterest_of_item: np.ndarray, keep: int
) -> Scorer:
    """Score = max over the user's sub-interests of (weight share x sub-interest vector . item vector).

    A user's engagements are grouped by their items' sub-interest (the tree's); each group's vector is
    its decayed weighted sum, normalized; the ``keep`` heaviest groups count, their shares renormalized.
    Multiplying by the share lets a strong interest outrank a passing one (PinnerSage samples its
    medoids by importance for the same reason); the share is floored so that a minor interest still
    brings its nearest items in.
    """
    weights = weights.tocsr()
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    for row in range(weights.shape[0]):
        start, end = weights.indptr[row], weights.indptr[row + 1]
        items, values = weights.indices[start:end], weights.data[start:end]
        labels = subinterest_of_item[items]
        unique, inverse = np.unique(labels, return_inverse=True)
        mass = np.bincount(inverse, weights=values, minlength=len(unique))
        vectors = np.zeros((len(unique), item_vectors.shape[1]))
        np.add.at(vectors, inverse, values[:, None] * item_vectors[items])
        order = np.lexsort((unique, -mass))[:keep]
        share = mass[order] / mass[order].sum() if mass[order].sum() > 0 else mass[order]
        groups.append((as_query(vectors[order]), share))

    def score(block: np.ndarray) -> np.ndarray:
        out = np.empty((len(block), item_vectors.shape[0]))
        for position, row in enumerate(block):
            vectors, share = groups[row]
            similarity = vectors @ item_vectors.T
            out[position] = np.max(similarity * np.sqrt(share)[:, None], axis=0)
        return out

    return score


# ------------------------------------------------------------------ baselines


def popularity_scorer(popularity: np.ndarray) -> Scorer:
    """Most-popular: every user gets the items engaged with most before the split."""
    popularity = np.asarray(popularity, dtype=np.float64)

    def score(block: np.ndarray) -> np.ndarray:
        return np.broadcast_to(popularity, (len(block), len(popularity))).copy()

    return score


def text_mean_scorer(engaged: sp.csr_matrix, text: np.ndarray) -> Scorer:
    """Text only: the user is the mean of their engaged items' text vectors; cosine to every item's text."""
    return user_level_scorer(engaged, text, retrieval_space=False)


def ease_weights(engaged_top: sp.csr_matrix, regularization: float) -> np.ndarray:
    """EASE (Steck 2019): B = I - P / diag(P), P = (X^T X + lambda I)^-1, over the given item columns."""
    gram = np.asarray((engaged_top.T @ engaged_top).todense(), dtype=np.float64)
    gram[np.diag_indices_from(gram)] += regularization
    precision = np.linalg.inv(gram)
    weights = -precision / np.diag(precision)
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


def ease_scorer(history: sp.csr_matrix, weights: np.ndarray, top_items: np.ndarray) -> Scorer:
    """EASE on the most-engaged items, each user's (decayed, weighted) history as input; other items rank last."""
    user_top = history[:, top_items].tocsr()

    def score(block: np.ndarray) -> np.ndarray:
        out = np.full((len(block), history.shape[1]), -1e9)
        out[:, top_items] = np.asarray(user_top[block] @ weights)
        return out

    return score
