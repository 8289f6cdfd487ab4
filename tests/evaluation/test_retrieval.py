"""Retrieval metrics on hand-computed cases, and the scorers' behaviour on planted structure."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from interests.evaluation.nightly import multi_interest_rows
from interests.evaluation.retrieval import (
    SplitSample,
    ease_scorer,
    ease_weights,
    evaluate,
    popularity_scorer,
    subinterest_scorer,
)


def sample(train: list[list[int]], held: list[list[int]], n_items: int, tune: list[bool] | None = None) -> SplitSample:
    def csr(lists):
        return np.concatenate([[0], np.cumsum([len(x) for x in lists])]), np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])

    train_indptr, train_items = csr(train)
    held_indptr, held_items = csr(held)
    return SplitSample(
        user_ids=np.array([f"u{i}" for i in range(len(train))], dtype=object),
        tune=np.array(tune if tune is not None else [False] * len(train)),
        train_indptr=train_indptr, train_items=train_items,
        train_base_weight=np.ones(len(train_items)), train_seconds=np.zeros(len(train_items)),
        held_indptr=held_indptr, held_items=held_items, split_seconds=0.0, n_items=n_items,
    )


def fixed_scores(order: list[int], n_items: int):
    """Every user gets the same ranking: items in ``order`` first."""
    scores = np.zeros(n_items)
    scores[order] = np.arange(len(order), 0, -1)
    return popularity_scorer(scores)


def test_recall_and_ndcg_by_hand_with_engaged_items_excluded():
    # 60 items. User 0 engaged with item 0 before; its held-out items are 1 and 55.
    s = sample([[0], [2]], [[1, 55], [3]], n_items=60)
    # Ranking 0, 1, 2, 3, ... : for user 0, item 0 is excluded, so 1 is at rank 1 and 55 at rank 55.
    result = evaluate(fixed_scores(list(range(60)), 60), s, np.array([0, 1]))
    # user 0: recall@10 = 1/2, recall@50 = 1/2 (55 is 55th... after exclusion 55th -> not in top 50)
    # user 1: item 2 excluded; ranking 0, 1, 3: item 3 at rank 3: recall 1, ndcg 1/log2(4)
    assert result["users"] == 2
    assert result["recall_at_10"] == pytest.approx((0.5 + 1.0) / 2)
    assert result["recall_at_50"] == pytest.approx((0.5 + 1.0) / 2)
    ideal_two = 1 + 1 / np.log2(3)
    assert result["ndcg_at_10"] == pytest.approx((1 / ideal_two + 1 / np.log2(4)) / 2)


def test_held_filter_keeps_only_chosen_items_and_drops_users_left_with_none():
    s = sample([[0], [2]], [[1, 55], [3]], n_items=60)
    only_55 = np.zeros(60, dtype=bool)
    only_55[55] = True
    result = evaluate(fixed_scores(list(range(60)), 60), s, np.array([0, 1]), held_filter=only_55)
    assert result["users"] == 1 and result["recall_at_50"] == 0.0


def test_tune_and_report_rows_split_the_sample():
    s = sample([[0], [1], [2]], [[1], [2], [3]], n_items=5, tune=[True, False, True])
    assert s.rows(True).tolist() == [0, 2] and s.rows(False).tolist() == [1]


def test_ease_learns_a_planted_co_engagement():
    # Items 0 and 1 always together, 2 and 3 always together.
    history = sp.csr_matrix(np.array([[1, 1, 0, 0]] * 20 + [[0, 0, 1, 1]] * 20, dtype=float))
    weights = ease_weights(history, regularization=1.0)
    assert np.all(np.diag(weights) == 0)
    s = sample([[0], [2]], [[1], [3]], n_items=4)
    scorer = ease_scorer(s.engaged(), weights, np.arange(4))
    result = evaluate(scorer, s, np.array([0, 1]))
    assert result["ndcg_at_10"] == pytest.approx(1.0)


def test_the_subinterest_scorer_prefers_the_heavier_interest():
    # Two interests: items 0-1 (sub-interest 0) and 2-3 (sub-interest 1); user weight 3:1 towards 0.
    vectors = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]], dtype=float)
    vectors = np.hstack([vectors, np.zeros((4, 1))])  # slack coordinate
    weights = sp.csr_matrix(([3.0, 1.0], ([0, 0], [0, 2])), shape=(1, 4))
    scores = subinterest_scorer(weights, vectors, np.array([0, 0, 1, 1]), keep=10)(np.array([0]))[0]
    assert scores[1] > scores[3] > 0


def test_multi_interest_rows_need_three_interests_of_ten_percent():
    weights = sp.csr_matrix(np.array([[1, 1, 1, 0], [1, 1, 0.05, 0], [1, 1, 1, 1]], dtype=float))
    labels = np.array([0, 1, 2, 2])
    assert multi_interest_rows(weights, labels, np.arange(3)).tolist() == [0, 2]
