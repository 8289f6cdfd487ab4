"""The gate's comparisons with the previous published night: row counts, vector drift, evaluation figures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from published_lake import MODEL_VERSION, build_published_lake

from interests.catalog import ITEM_EMBEDDINGS, USER_EMBEDDINGS
from interests.config import QualityConfig
from interests.lake import Lake
from interests.publishing.comparison import drift_checks, evaluation_checks, row_count_checks
from interests.publishing.nights import PublishedNight, previous_night

RECALL = "build_hierarchy.evaluation.user.recall_at_10"


def night(row_counts=None, metrics=None, model_version=MODEL_VERSION) -> PublishedNight:
    return PublishedNight(ds="2026-11-19", run_id="r", published_at=datetime(2026, 11, 20, tzinfo=UTC),
                          table_versions={}, row_counts=row_counts or {}, metrics=metrics or {},
                          encoder_model_version=model_version)


def by_table(checks) -> dict[str, tuple[bool, str]]:
    return {check.table: (check.passed, check.detail) for check in checks}


@pytest.mark.parametrize(("tonight", "passed"), [(100, True), (50, True), (49, False), (200, True), (201, False)])
def test_row_counts_stay_within_the_bounds_of_the_previous_night(tonight, passed):
    quality = QualityConfig(row_ratio_tables=["user_embeddings"], min_row_ratio=0.5, max_row_ratio=2.0)
    checks = row_count_checks({"user_embeddings": tonight}, night({"user_embeddings": 100}), quality)
    assert [(c.table, c.check, c.passed) for c in checks] == [("user_embeddings", "row_count_vs_previous", passed)]
    assert f"{tonight} rows vs 100 on 2026-11-19" in checks[0].detail


def test_the_first_night_has_nothing_to_compare_and_passes():
    quality = QualityConfig()
    checks = row_count_checks({"user_embeddings": 5}, None, quality) + evaluation_checks({}, None, quality)
    assert all(check.passed for check in checks)
    assert all("no previous published night" in check.detail for check in checks)


@pytest.mark.parametrize(("tonight", "passed"), [(0.30, True), (0.24, True), (0.23, False), (float("nan"), False), (None, False)])
def test_evaluation_figures_keep_a_fraction_of_the_previous_nights(tonight, passed):
    quality = QualityConfig(compared_metrics=[RECALL], min_metric_fraction=0.8)
    metrics = {} if tonight is None else {RECALL: tonight}
    (check,) = evaluation_checks(metrics, night(metrics={RECALL: 0.30}), quality)
    assert (check.check, check.passed) == ("user.recall_at_10_vs_previous", passed)


USERS = "build_hierarchy.evaluation.users.report"


@pytest.mark.parametrize(("users", "passed"), [(35, True), (600, False), (None, False)])
def test_a_drop_within_the_noise_of_few_evaluated_users_passes(users, passed):
    # 0.37 vs 0.56, the tiny-preset soak's refused night: over 35 users a night's recall@10 has a standard
    # error up to ~0.08, so the drop (0.19) is within 3 standard errors of the difference (0.35); over 600
    # users (0.085) it is not, nor when the nights do not say how many users they evaluated.
    quality = QualityConfig(compared_metrics=[RECALL], min_metric_fraction=0.8, metric_noise_sigmas=3.0)
    counts = {} if users is None else {USERS: users}
    (check,) = evaluation_checks({RECALL: 0.37, **counts}, night(metrics={RECALL: 0.56, **counts}), quality)
    assert check.passed is passed, check.detail
    assert ("within" if passed else "beyond" if users else "0.4480)") in check.detail, check.detail


def test_without_a_noise_allowance_the_fraction_alone_decides():
    quality = QualityConfig(compared_metrics=[RECALL], min_metric_fraction=0.8, metric_noise_sigmas=0)
    metrics = {RECALL: 0.37, USERS: 35}
    (check,) = evaluation_checks(metrics, night(metrics={RECALL: 0.56, USERS: 35}), quality)
    assert not check.passed and "standard errors" not in check.detail


@pytest.fixture
def two_nights(tmp_path, spark):
    build_published_lake(tmp_path / "lake", published=("2026-11-18", "2026-11-19"), failed=None)
    lake = Lake(tmp_path / "lake", spark=spark)
    tonight = previous_night(lake, "2026-11-20")  # 2026-11-19, compared here with 2026-11-18
    return lake, tonight, previous_night(lake, tonight.ds)


def test_drift_is_the_mean_cosine_of_the_same_items_and_users(two_nights):
    lake, tonight, before = two_nights
    checks = by_table(drift_checks(lake, tonight.ds, tonight.table_versions, before, MODEL_VERSION,
                                   QualityConfig(min_item_cosine=0.5, min_user_cosine=0.5)))
    for name, key, count in (("item_embeddings", "item_id", 60), ("user_embeddings", "user_id", 12)):
        passed, detail = checks[name]
        assert passed and f"over {count} {key}s shared with 2026-11-18" in detail, detail
        cosine = float(detail.split("mean cosine ")[1].split()[0])
        assert 0.5 < cosine < 0.9999  # the generated nights moved a little, not at all nor completely

    strict = by_table(drift_checks(lake, tonight.ds, tonight.table_versions, before, MODEL_VERSION,
                                   QualityConfig(min_item_cosine=0.9999, min_user_cosine=0.5)))
    assert strict["item_embeddings"][0] is False and strict["user_embeddings"][0] is True


def test_drift_is_not_compared_across_encoder_versions_or_against_no_night(two_nights):
    lake, tonight, before = two_nights
    strict = QualityConfig(min_item_cosine=1.0, min_user_cosine=1.0)
    changed = by_table(drift_checks(lake, tonight.ds, tonight.table_versions, before, "another-model", strict))
    assert all(passed and "not compared: the encoder changed" in detail for passed, detail in changed.values())
    first = drift_checks(lake, tonight.ds, tonight.table_versions, None, MODEL_VERSION, strict)
    assert {(c.table, c.passed) for c in first} == {(ITEM_EMBEDDINGS.name, True), (USER_EMBEDDINGS.name, True)}
