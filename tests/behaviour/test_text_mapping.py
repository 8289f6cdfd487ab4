"""The text -> behaviour ridge mapping and its held-back quality."""

from __future__ import annotations

import numpy as np
import pytest

from interests.behaviour.text_mapping import fit_text_to_behaviour, mapping_quality

RNG = np.random.default_rng(11)
TEXT = RNG.normal(size=(400, 6))
TRUE = RNG.normal(size=(6, 3))
FACTORS = TEXT @ TRUE + 0.5


def test_ridge_recovers_a_linear_map():
    model = fit_text_to_behaviour(TEXT, FACTORS, regularization=1e-6)
    np.testing.assert_allclose(model.coefficients, TRUE, atol=1e-5)
    np.testing.assert_allclose(model.intercept, 0.5, atol=1e-5)
    assert model.predict(TEXT[:2]).dtype == np.float32


def test_quality_is_high_on_a_linear_map_and_low_on_noise():
    good = mapping_quality(TEXT, FACTORS, 1.0, holdout_share=0.1, seed=1)
    assert good["held_back"] == 40 and good["cosine"] > 0.99 and good["r2"] > 0.99
    noise = mapping_quality(TEXT, RNG.normal(size=(400, 3)), 1.0, holdout_share=0.1, seed=1)
    assert noise["cosine"] < 0.3 and noise["r2"] < 0.1


def test_the_text_free_baseline_predicts_the_mean_factors():
    # Factors with a common direction (as ALS factors have): the mean alone scores a high cosine, and
    # only a mapping that uses the text beats it.
    shared = FACTORS + 3.0
    good = mapping_quality(TEXT, shared, 1.0, holdout_share=0.1, seed=1)
    assert good["cosine_mean_only"] > 0.6 and good["cosine"] > good["cosine_mean_only"] + 0.1
    noise = mapping_quality(TEXT, RNG.normal(size=(400, 3)) + 3.0, 1.0, holdout_share=0.1, seed=1)
    assert noise["cosine_mean_only"] > 0.8 and noise["cosine"] < noise["cosine_mean_only"] + 0.02


def test_too_few_items_to_hold_back_reports_nan_and_zero_items_refuse():
    assert np.isnan(mapping_quality(TEXT[:2], FACTORS[:2], 1.0, 0.5, 1)["cosine"])
    with pytest.raises(ValueError, match="zero items"):
        fit_text_to_behaviour(TEXT[:0], FACTORS[:0], 1.0)
