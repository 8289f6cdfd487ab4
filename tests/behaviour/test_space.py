"""The retrieval space: unit items, slack-free queries, and the documented behaviour/text mix."""

from __future__ import annotations

import numpy as np
import pytest

from interests.behaviour.space import (
    as_query,
    behaviour_scale,
    normalize_rows,
    pad_columns,
    retrieval_dimension,
    retrieval_vectors,
)

RNG = np.random.default_rng(4)
BEHAVIOUR = RNG.normal(size=(12, 5)) * RNG.uniform(0.1, 3.0, size=(12, 1))
TEXT = normalize_rows(RNG.normal(size=(12, 8)))
WIDTH = 7


@pytest.mark.parametrize("text_weight", [0.0, 0.1, 0.5, 1.0])
def test_every_item_vector_is_unit_length_and_of_the_space_width(text_weight):
    vectors = retrieval_vectors(BEHAVIOUR, TEXT, text_weight, WIDTH)
    assert vectors.shape == (12, retrieval_dimension(WIDTH, 8)) == (12, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("text_weight", [0.0, 0.2, 0.7])
def test_a_query_scores_items_by_the_documented_mix(text_weight):
    vectors = retrieval_vectors(BEHAVIOUR, TEXT, text_weight, WIDTH).astype(np.float64)
    weights = RNG.uniform(0.1, 2.0, size=12)
    query = as_query(weights @ vectors)[0].astype(np.float64)
    scale = behaviour_scale(BEHAVIOUR)
    raw = (1 - text_weight) / scale**2 * (weights @ BEHAVIOUR) @ BEHAVIOUR.T + text_weight * (weights @ TEXT) @ TEXT.T
    scores = query @ vectors.T
    assert query[-1] == 0.0 and np.linalg.norm(query) == pytest.approx(1.0, abs=1e-6)
    # The same scores up to the query's (positive) norm: the same ranking.
    np.testing.assert_allclose(scores / scores.max(), raw / raw.max(), atol=1e-5)
    assert list(np.argsort(-scores)) == list(np.argsort(-raw))


def test_longer_behaviour_vectors_get_less_slack():
    vectors = retrieval_vectors(BEHAVIOUR, TEXT, 0.3, WIDTH)
    lengths = np.linalg.norm(BEHAVIOUR, axis=1)
    assert np.argmin(vectors[:, -1]) == np.argmax(lengths)
    assert vectors[np.argmax(lengths), -1] == pytest.approx(0.0, abs=1e-6)


def test_text_weight_extremes():
    text_only = retrieval_vectors(BEHAVIOUR, TEXT, 1.0, WIDTH)
    np.testing.assert_allclose(text_only[:, WIDTH:-1], TEXT, atol=1e-6)
    assert np.all(text_only[:, :WIDTH] == 0) and np.all(text_only[:, -1] == 0)
    behaviour_only = retrieval_vectors(BEHAVIOUR, TEXT, 0.0, WIDTH)
    assert np.all(behaviour_only[:, WIDTH:-1] == 0)


def test_an_item_without_behaviour_is_text_plus_slack():
    behaviour = BEHAVIOUR.copy()
    behaviour[0] = 0.0
    vectors = retrieval_vectors(behaviour, TEXT, 0.36, WIDTH)
    assert np.all(vectors[0, :WIDTH] == 0)
    np.testing.assert_allclose(vectors[0, WIDTH:-1], 0.6 * TEXT[0], atol=1e-6)
    assert vectors[0, -1] == pytest.approx(0.8, abs=1e-6)


def test_a_given_scale_places_other_rows_in_the_same_nights_space():
    night = retrieval_vectors(BEHAVIOUR, TEXT, 0.2, WIDTH)
    alone = retrieval_vectors(BEHAVIOUR[:2], TEXT[:2], 0.2, WIDTH, scale=behaviour_scale(BEHAVIOUR))
    np.testing.assert_allclose(alone, night[:2], atol=1e-6)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="text_weight"):
        retrieval_vectors(BEHAVIOUR, TEXT, 1.5, WIDTH)
    with pytest.raises(ValueError, match="12 behaviour rows but 3 text rows"):
        retrieval_vectors(BEHAVIOUR, TEXT[:3], 0.5, WIDTH)
    with pytest.raises(ValueError, match="more than the space's 4"):
        pad_columns(BEHAVIOUR, 4)
