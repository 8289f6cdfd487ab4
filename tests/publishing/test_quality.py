"""The quality gate: each check passes on good data and fails on the bad data it exists to catch."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from interests.catalog import EMBEDDING
from interests.publishing.quality import (
    QualityCheck,
    assignment_checks,
    checks_json,
    conservation_check,
    embedding_checks,
    min_rows_check,
    weight_sum_check,
)

GOOD = [[1.0, 0.0, 0.0], [0.0, 0.6, 0.8], [0.0, 0.0, 1.0]]
NAN = float("nan")


def results(checks: list[QualityCheck]) -> dict[str, bool]:
    return {check.check: check.passed for check in checks}


@pytest.mark.parametrize("chunked", [False, True])
def test_good_embeddings_pass_every_check(chunked):
    embeddings = pa.array(GOOD, EMBEDDING)
    if chunked:
        embeddings = pa.chunked_array([embeddings.slice(0, 1), embeddings.slice(1)])
    checks = embedding_checks("item_embeddings", embeddings, dim=3, tolerance=1e-3)
    assert results(checks) == {
        "embedding_not_null": True, "embedding_dimension": True, "embedding_finite": True, "embedding_unit_norm": True,
    }
    assert {check.table for check in checks} == {"item_embeddings"}


@pytest.mark.parametrize(
    ("bad_row", "failing"),
    [
        (None, ["embedding_not_null"]),
        ([1.0, 0.0], ["embedding_dimension"]),
        ([1.0, 0.0, 0.0, 0.0], ["embedding_dimension"]),
        ([NAN, 0.0, 0.0], ["embedding_finite"]),
        ([float("inf"), 0.0, 0.0], ["embedding_finite", "embedding_unit_norm"]),
        ([1.1, 0.0, 0.0], ["embedding_unit_norm"]),
        ([0.0, 0.0, 0.0], ["embedding_unit_norm"]),
        ([0.999, 0.0, 0.0], []),  # within the 1e-3 tolerance
    ],
)
def test_each_bad_embedding_fails_its_check(bad_row, failing):
    checks = results(embedding_checks("t", pa.array([*GOOD, bad_row], EMBEDDING), dim=3, tolerance=1e-3))
    assert [name for name, passed in checks.items() if not passed] == failing
    if failing == ["embedding_dimension"]:
        assert set(checks) == {"embedding_not_null", "embedding_dimension"}  # no norm of a ragged matrix


def test_the_unit_norm_detail_names_the_worst_row():
    check = embedding_checks("t", pa.array([*GOOD, [1.1, 0.0, 0.0]], EMBEDDING), dim=3, tolerance=1e-3)[-1]
    assert check.check == "embedding_unit_norm" and "1.00e-01" in check.detail


def test_a_sliced_array_is_checked_on_its_own_rows_only():
    embeddings = pa.array([*GOOD, [NAN, 0.0, 0.0]], EMBEDDING).slice(0, 3)
    assert all(results(embedding_checks("t", embeddings, dim=3, tolerance=1e-3)).values())


@pytest.mark.parametrize(("rows", "minimum", "passed"), [(1, 1, True), (0, 1, False), (0, 0, True), (9, 10, False)])
def test_min_rows_check(rows, minimum, passed):
    check = min_rows_check("user_embeddings", rows, minimum)
    assert (check.check, check.passed) == ("min_rows", passed)


TOPICS = pa.table(
    {
        "level": ["topic", "topic", "subinterest", "subinterest", "subinterest"],
        "node_id": ["t000", "t001", "t000.s00", "t000.s01", "t001.s00"],
        "parent_id": [None, None, "t000", "t000", "t001"],
    }
)


def item_assignments(pairs: list[tuple[str, str]]) -> pa.Table:
    return pa.table({"topic_id": [t for t, _ in pairs], "subinterest_id": [s for _, s in pairs]})


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("t000", "t000.s00"), ("t000", "t000.s01"), ("t001", "t001.s00")], {"topic_exists": True,
                                                                            "subinterest_under_topic": True}),
        ([("t000", "t000.s00"), ("t009", "t009.s00")], {"topic_exists": False, "subinterest_under_topic": False}),
        ([("t000", "t000.s00"), ("t001", "t000.s01")], {"topic_exists": True, "subinterest_under_topic": False}),
        ([("t000", "t000.s07")], {"topic_exists": True, "subinterest_under_topic": False}),
        ([("t000.s00", "t000.s00")], {"topic_exists": False, "subinterest_under_topic": False}),
    ],
    ids=["good", "unknown_topic", "subinterest_under_the_wrong_topic", "unknown_subinterest", "level_mixed_up"],
)
def test_assignment_checks(pairs, expected):
    checks = assignment_checks(item_assignments(pairs), TOPICS)
    assert results(checks) == expected
    assert {check.table for check in checks} == {"item_embeddings"}


@pytest.mark.parametrize(
    ("users", "weights", "passed"),
    [
        (["u1", "u1", "u2"], [0.25, 0.75, 1.0], True),
        (["u1", "u1", "u2"], [0.2, 0.7, 1.0], False),  # u1 sums to 0.9
        (["u1", "u2"], [1.0, 1.1], False),
        (["u1"] * 3, [0.1, 0.2, 0.7], True),  # 0.1 + 0.2 + 0.7 != 1.0 exactly, within the tolerance
    ],
)
def test_weight_sum_check(users, weights, passed):
    table = pa.table({"user_id": users, "weight": pa.array(weights, pa.float64())})
    check = weight_sum_check("user_topics", table)
    assert (check.check, check.passed) == ("weights_sum_to_one", passed)


def test_weight_sum_check_passes_an_empty_table():
    empty = pa.table({"user_id": pa.array([], pa.string()), "weight": pa.array([], pa.float64())})
    assert weight_sum_check("user_topics", empty).passed


@pytest.mark.parametrize(
    ("counts", "passed"),
    [
        ({"events.raw": 10, "events.clean": 7, "events.duplicate": 1, "events.rejected": 2}, True),
        ({"events.raw": 10, "events.clean": 7, "events.duplicate": 1, "events.rejected": 1}, False),
        ({"events.raw": 10, "events.clean": 8, "events.duplicate": 1, "events.rejected": 2}, False),
        ({"events.raw": 3, "events.clean": 3}, True),
        ({"events.raw": 0}, True),
        ({"events.clean": 0}, False),  # raw missing
        ({}, False),
    ],
)
def test_conservation_check(counts, passed):
    check = conservation_check(counts)
    assert (check.check, check.passed) == ("conservation", passed)


def test_checks_json_round_trips():
    checks = [min_rows_check("topics", 3, 1), conservation_check({"events.raw": 1})]
    decoded = json.loads(checks_json(checks))
    assert [QualityCheck(**entry) for entry in decoded] == checks
    assert np.array([entry["passed"] for entry in decoded]).tolist() == [True, False]
