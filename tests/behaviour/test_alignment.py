"""Tonight's behaviour factors rotated onto the night before's: orientation kept, every dot product unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

from interests.behaviour.alignment import align_factors


def nights(rank_before: int = 8, rank_tonight: int = 8, n: int = 200, seed: int = 7):
    rng = np.random.default_rng(seed)
    before = rng.normal(size=(n, rank_before)).astype(np.float32)
    width = max(rank_before, rank_tonight)
    rotation = ortho_group.rvs(width, random_state=seed)
    padded = np.zeros((n, width))
    padded[:, :rank_before] = before
    tonight = (padded @ rotation + rng.normal(scale=0.05, size=(n, width)))[:, :rank_tonight]
    return before, tonight.astype(np.float32)


def test_a_rotated_refit_comes_back_to_the_previous_orientation():
    before, tonight = nights()
    ids = [f"i{k}" for k in range(len(before))]
    result = align_factors(tonight, ids, before, ids, max_width=8)
    assert result.aligned and result.shared_items == 200
    assert result.cosine_before < 0.5 and result.cosine_after > 0.99
    np.testing.assert_allclose(result.factors, before, atol=0.2)
    # Every dot product between items is the rotation-free one.
    np.testing.assert_allclose(result.factors @ result.factors.T, tonight @ tonight.T, rtol=1e-4, atol=1e-3)


def test_only_shared_items_steer_the_rotation_and_new_items_turn_with_the_rest():
    before, tonight = nights()
    ids = [f"i{k}" for k in range(200)]
    result = align_factors(tonight, ids[:150] + [f"new{k}" for k in range(50)], before[:150], ids[:150], max_width=8)
    assert result.shared_items == 150
    np.testing.assert_allclose(result.factors @ result.factors.T, tonight @ tonight.T, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(result.factors[150:], before[150:], atol=0.2)  # not used for fitting, still aligned


@pytest.mark.parametrize(("rank_before", "rank_tonight"), [(4, 8), (8, 4)])
def test_different_ranks_are_padded_to_the_wider(rank_before, rank_tonight):
    before, tonight = nights(rank_before, rank_tonight)
    ids = [f"i{k}" for k in range(200)]
    result = align_factors(tonight, ids, before, ids, max_width=8)
    assert result.factors.shape == (200, 8) and result.aligned
    np.testing.assert_allclose(result.factors @ result.factors.T, tonight @ tonight.T, rtol=1e-4, atol=1e-3)


def test_nothing_to_align_on_keeps_the_factors():
    before, tonight = nights()
    ids = [f"i{k}" for k in range(200)]
    assert not align_factors(tonight, ids, None, None, max_width=8).aligned
    unshared = align_factors(tonight, ids, before, [f"other{k}" for k in range(200)], max_width=8)
    too_wide = align_factors(tonight, ids, np.zeros((200, 16), np.float32), ids, max_width=8)
    for result in (unshared, too_wide):
        assert not result.aligned
        np.testing.assert_array_equal(result.factors, tonight)
