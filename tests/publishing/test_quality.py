"""The quality gate's checks: each passes on good data and fails on the bad data it exists to catch.

The figures are measured by Spark (the shared local session), as the gate measures a night.
"""

from __future__ import annotations

import json

import pytest
from pyspark.sql.types import ArrayType, DoubleType, FloatType, StringType, StructField, StructType

from interests.publishing.quality import (
    ROWS,
    QualityCheck,
    assignment_checks,
    assignment_figures,
    checks_json,
    conservation_check,
    embedding_checks,
    embedding_figures,
    measure,
    min_rows_check,
    weight_sum_check,
    with_assignment_flags,
)

GOOD = [[1.0, 0.0, 0.0], [0.0, 0.6, 0.8], [0.0, 0.0, 1.0]]
NAN = float("nan")
VECTORS = StructType([StructField("embedding", ArrayType(FloatType()))])


def results(checks: list[QualityCheck]) -> dict[str, bool]:
    return {check.check: check.passed for check in checks}


def embedding_results(spark, vectors, dim=3, tolerance=1e-3, partitions=1) -> list[QualityCheck]:
    frame = spark.createDataFrame([(vector,) for vector in vectors], VECTORS).repartition(partitions)
    return embedding_checks("t", measure(frame, embedding_figures("embedding", dim)), "embedding", dim, tolerance)


@pytest.mark.parametrize("partitions", [1, 2])
def test_good_embeddings_pass_every_check(spark, partitions):
    frame = spark.createDataFrame([(vector,) for vector in GOOD], VECTORS).repartition(partitions)
    figures = measure(frame, embedding_figures("embedding", 3))
    assert figures[ROWS] == 3 and figures["embedding_checked"] == 3
    checks = embedding_checks("item_embeddings", figures, "embedding", dim=3, tolerance=1e-3)
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
        ([1.0, None, 0.0], ["embedding_finite"]),  # a null element is no number either
        ([float("inf"), 0.0, 0.0], ["embedding_finite", "embedding_unit_norm"]),
        ([float("-inf"), 0.0, 0.0], ["embedding_finite", "embedding_unit_norm"]),
        ([1.1, 0.0, 0.0], ["embedding_unit_norm"]),
        ([0.0, 0.0, 0.0], ["embedding_unit_norm"]),
        ([0.999, 0.0, 0.0], []),  # within the 1e-3 tolerance
    ],
)
def test_each_bad_embedding_fails_its_check(spark, bad_row, failing):
    checks = results(embedding_results(spark, [*GOOD, bad_row]))
    assert [name for name, passed in checks.items() if not passed] == failing
    if failing == ["embedding_dimension"]:
        assert set(checks) == {"embedding_not_null", "embedding_dimension"}  # no norm of a ragged matrix


def test_the_unit_norm_detail_names_the_worst_row(spark):
    check = embedding_results(spark, [*GOOD, [1.1, 0.0, 0.0], [1.05, 0.0, 0.0]], partitions=2)[-1]
    assert check.check == "embedding_unit_norm"
    assert check.detail == "max |norm-1| = 1.00e-01 (tol 0.001)"


def test_an_empty_table_has_no_norm_to_check(spark):
    checks = embedding_results(spark, [])
    assert results(checks) == {"embedding_not_null": True, "embedding_dimension": True}
    assert [check.detail for check in checks] == ["0 null", "0 rows not of dim 3"]


def test_the_details_count_the_bad_rows(spark):
    checks = embedding_results(spark, [*GOOD, [NAN, 0.0, 0.0], [0.0, NAN, 0.0], None], partitions=2)
    assert [check.detail for check in checks[:3]] == ["1 null", "0 rows not of dim 3", "2 rows with NaN/inf"]
    # The NaN rows have no norm. The float32 [0, 0.6, 0.8] is 2.38e-8 off unit length in double
    # (the figure numpy gave on float64); in float32 it would be 0.
    assert checks[3].detail == "max |norm-1| = 2.38e-08 (tol 0.001)"


@pytest.mark.parametrize(("rows", "minimum", "passed"), [(1, 1, True), (0, 1, False), (0, 0, True), (9, 10, False)])
def test_min_rows_check(rows, minimum, passed):
    check = min_rows_check("user_embeddings", rows, minimum)
    assert (check.check, check.passed) == ("min_rows", passed)


TOPICS = [
    ("topic", "t000", None), ("topic", "t001", None),
    ("subinterest", "t000.s00", "t000"), ("subinterest", "t000.s01", "t000"), ("subinterest", "t001.s00", "t001"),
]
TOPIC_SCHEMA = StructType([StructField(name, StringType()) for name in ("level", "node_id", "parent_id")])
ITEM_SCHEMA = StructType([StructField(name, StringType()) for name in ("item_id", "topic_id", "subinterest_id")])


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
def test_assignment_checks(spark, pairs, expected):
    items = spark.createDataFrame([(f"i{n}", t, s) for n, (t, s) in enumerate(pairs)], ITEM_SCHEMA)
    topics = spark.createDataFrame(TOPICS, TOPIC_SCHEMA)
    figures = measure(with_assignment_flags(items, topics), assignment_figures())
    assert figures[ROWS] == len(pairs)  # the join neither drops nor repeats an item
    checks = assignment_checks(figures)
    assert results(checks) == expected
    assert {check.table for check in checks} == {"item_embeddings"}


def test_assignment_details_count_the_bad_items(spark):
    pairs = [("t000", "t000.s00"), ("t009", "t009.s00"), ("t001", "t000.s01"), ("t001", "t001.s00")]
    items = spark.createDataFrame([(f"i{n}", t, s) for n, (t, s) in enumerate(pairs)], ITEM_SCHEMA).repartition(2)
    topics = spark.createDataFrame(TOPICS, TOPIC_SCHEMA)
    checks = assignment_checks(measure(with_assignment_flags(items, topics), assignment_figures()))
    assert [check.detail for check in checks] == [
        "1 items with an unknown topic", "2 items whose sub-interest is unknown or under another topic",
    ]


WEIGHTS = StructType([StructField("user_id", StringType()), StructField("weight", DoubleType())])


@pytest.mark.parametrize(
    ("users", "weights", "passed"),
    [
        (["u1", "u1", "u2"], [0.25, 0.75, 1.0], True),
        (["u1", "u1", "u2"], [0.2, 0.7, 1.0], False),  # u1 sums to 0.9
        (["u1", "u2"], [1.0, 1.1], False),
        (["u1"] * 3, [0.1, 0.2, 0.7], True),  # 0.1 + 0.2 + 0.7 != 1.0 exactly, within the tolerance
    ],
)
def test_weight_sum_check(spark, users, weights, passed):
    # Two partitions: a user's rows may lie in different tasks, and are summed after the shuffle.
    frame = spark.createDataFrame(list(zip(users, weights)), WEIGHTS).repartition(2)
    check = weight_sum_check("user_topics", measure(frame, {}, weights_per_user=True))
    assert (check.check, check.passed) == ("weights_sum_to_one", passed)


def test_weights_and_embeddings_are_measured_in_one_pass_per_user(spark):
    schema = StructType([*WEIGHTS.fields, *VECTORS.fields])
    rows = [("u1", 0.2, GOOD[0]), ("u1", 0.7, [NAN, 0.0, 0.0]), ("u2", 1.0, None), ("u2", 0.0, [1.1, 0.0, 0.0])]
    figures = measure(spark.createDataFrame(rows, schema).repartition(2), embedding_figures("embedding", 3),
                      weights_per_user=True)
    assert figures[ROWS] == 4
    assert (figures["embedding_null"], figures["embedding_checked"], figures["embedding_not_finite"]) == (1, 3, 1)
    assert figures["embedding_norm_error"] == pytest.approx(0.1, abs=1e-6)
    assert weight_sum_check("user_topics", figures).detail == "max |sum-1| = 1.00e-01"


def test_weight_sum_check_passes_an_empty_table(spark):
    figures = measure(spark.createDataFrame([], WEIGHTS), {}, weights_per_user=True)
    check = weight_sum_check("user_topics", figures)
    assert (check.passed, check.detail) == (True, "no rows")


@pytest.mark.parametrize(
    ("counts", "passed"),
    [
        ({"events.raw": 10, "events.clean": 7, "events.duplicate": 1, "events.rejected": 2}, True),
        ({"events.raw": 10, "events.clean": 7, "events.duplicate": 1, "events.rejected": 1}, False),
        ({"events.raw": 10, "events.clean": 8, "events.duplicate": 1, "events.rejected": 2}, False),
        ({"events.raw": 3, "events.clean": 3}, True),
        ({"events.raw": 0}, True),
        ({"events.landing_lines": 10, "events.raw": 10, "events.clean": 9, "events.rejected": 1}, True),
        # Spark lost a line: the classifier's own counts still add up, the landing count does not.
        ({"events.landing_lines": 11, "events.raw": 10, "events.clean": 9, "events.rejected": 1}, False),
        ({"events.landing_lines": 9, "events.raw": 10, "events.clean": 9, "events.rejected": 1}, False),
        ({"events.clean": 0}, False),  # raw missing
        ({}, False),
    ],
)
def test_conservation_check(counts, passed):
    check = conservation_check(counts)
    assert (check.check, check.passed) == ("conservation", passed)


EVENTS_OK = {"events.landing_lines": 10, "events.raw": 10, "events.clean": 9, "events.rejected": 1}


@pytest.mark.parametrize(
    ("counts", "passed"),
    [
        ({**EVENTS_OK, "items.landing_lines": 4, "items.raw": 4, "items.clean": 3, "items.rejected": 1,
          "user_texts.landing_lines": 0, "user_texts.raw": 0, "user_texts.clean": 0, "user_texts.rejected": 0}, True),
        # Spark lost an item line (or read one from a file that grew): the landing count disagrees.
        ({**EVENTS_OK, "items.landing_lines": 5, "items.raw": 4, "items.clean": 3, "items.rejected": 1}, False),
        ({**EVENTS_OK, "user_texts.raw": 4, "user_texts.clean": 2, "user_texts.rejected": 1}, False),
        ({**EVENTS_OK, "user_texts.raw": 3, "user_texts.clean": 2, "user_texts.rejected": 1}, True),  # remote zone
        (EVENTS_OK, True),  # counts recorded before the text sources were surveyed
        ({"items.landing_lines": 1, "items.raw": 1, "items.clean": 1}, False),  # the events' counts are required
    ],
)
def test_conservation_check_covers_items_and_user_texts(counts, passed):
    check = conservation_check(counts)
    assert (check.check, check.passed) == ("conservation", passed)
    for source in ("items", "user_texts"):
        assert (f"{source}: " in check.detail) == (f"{source}.raw" in counts)


def test_checks_json_round_trips():
    checks = [min_rows_check("topics", 3, 1), conservation_check({"events.raw": 1})]
    decoded = json.loads(checks_json(checks))
    assert [QualityCheck(**entry) for entry in decoded] == checks
    assert [entry["passed"] for entry in decoded] == [True, False]
