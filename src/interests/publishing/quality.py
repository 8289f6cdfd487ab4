"""The quality gate: checks a night's tables must pass before the night counts as published.

A check is computed in two steps, so that a table of any size costs the driver one small row:

1. ``measure`` folds per-row *figures* (0/1 flags, a norm error) of a DataFrame into one row of
   table figures in a single Spark aggregation on the executors (rows, nulls, wrong widths, ...).
2. The ``*_check`` functions turn those figures into ``QualityCheck`` results, the names and detail
   texts pipeline_runs.quality_checks records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

ROWS = "rows"
"""The figure every measurement has: the number of rows of the table."""

WEIGHT_ERROR = "weight_error"
"""The figure of a weighted per-user table: the largest |sum of a user's weights - 1|."""


@dataclass(frozen=True)
class QualityCheck:
    """One named check on one table, with what was measured."""

    table: str
    check: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Figure:
    """A per-row value and how a table's rows combine into its figure.

    Both combinations are associative, so per-user partial figures combine again into the table's
    figure (see ``measure``). A sum over no rows is 0; a max over none is None.
    """

    value: Column
    combine: Literal["sum", "max"]

    def over(self, value: Column) -> Column:
        """The combination of ``value`` over a frame's rows."""
        return F.sum(value) if self.combine == "sum" else F.max(value)


# ---------------------------------------------------------------- figures (Spark, on the executors)


def embedding_figures(column: str, dim: int) -> dict[str, Figure]:
    """Figures of one embedding column, named ``<column>_<figure>``: null, wrong_dim, checked, not_finite, norm_error.

    Only rows of the right dimension are ``checked`` for finiteness and norm. The sum of squares is
    taken in double, where float32 squares cannot overflow, so it is NaN, infinite or null exactly
    when an element is NaN, infinite or null: one pass over each vector gives both its finiteness
    and its norm. A row with a NaN has no norm error (it fails ``embedding_finite`` instead); a row
    with an infinity has an infinite one.
    """
    vector = F.col(column)
    right_dim = vector.isNotNull() & (F.size(vector) == dim)
    squares = F.aggregate(vector, F.lit(0.0).cast("double"), lambda total, x: total + x.cast("double") * x.cast("double"))
    not_finite = squares.isNull() | F.isnan(squares) | (squares == float("inf"))
    norm_error = F.abs(F.sqrt(squares) - 1.0)
    return {
        f"{column}_null": Figure(_flag(vector.isNull()), "sum"),
        f"{column}_wrong_dim": Figure(_flag(vector.isNotNull() & (F.size(vector) != dim)), "sum"),
        f"{column}_checked": Figure(_flag(right_dim), "sum"),
        f"{column}_not_finite": Figure(_flag(right_dim & not_finite), "sum"),
        f"{column}_norm_error": Figure(F.when(right_dim & ~squares.isNull() & ~F.isnan(squares), norm_error), "max"),
    }


def with_assignment_flags(items: DataFrame, topics: DataFrame) -> DataFrame:
    """Items with ``unknown_topic`` and ``misplaced_subinterest`` 0/1 columns, joined to the topics table.

    The topics table is bounded by the number of hierarchy nodes, so it is broadcast and the items
    (catalog-sized) never move. A sub-interest is misplaced unless it exists and its parent is the
    item's topic.
    """
    topic_nodes = topics.where(F.col("level") == "topic").select(
        F.col("node_id").alias("topic_id"), F.lit(True).alias("_topic_known")
    )
    subinterest_nodes = topics.where(F.col("level") == "subinterest").select(
        F.col("node_id").alias("subinterest_id"), F.col("parent_id").alias("_parent_id")
    )
    joined = items.join(F.broadcast(topic_nodes), "topic_id", "left").join(
        F.broadcast(subinterest_nodes), "subinterest_id", "left"
    )
    placed = F.col("_parent_id").isNotNull() & (F.col("_parent_id") == F.col("topic_id"))
    return joined.select(
        "*",
        _flag(F.col("_topic_known").isNull()).alias("unknown_topic"),
        _flag(~F.coalesce(placed, F.lit(False))).alias("misplaced_subinterest"),
    ).drop("_topic_known", "_parent_id")


def assignment_figures() -> dict[str, Figure]:
    """Figures of the flags ``with_assignment_flags`` adds."""
    return {"unknown_topic": Figure(F.col("unknown_topic"), "sum"),
            "misplaced_subinterest": Figure(F.col("misplaced_subinterest"), "sum")}


def measure(frame: DataFrame, figures: Mapping[str, Figure], weights_per_user: bool = False) -> dict[str, Any]:
    """The table's figures (and ``rows``) in one Spark aggregation; only this one row reaches the driver.

    With ``weights_per_user`` the frame's ``weight`` column is summed per ``user_id`` in the same
    pass, and ``weight_error`` is the largest |sum - 1| (None without rows).
    """
    figures = {ROWS: Figure(F.lit(1), "sum"), **figures}
    if weights_per_user:
        frame = frame.groupBy("user_id").agg(
            F.sum("weight").alias("_weight_sum"), *(figure.over(figure.value).alias(name) for name, figure in figures.items())
        )
        totals = [F.max(F.abs(F.col("_weight_sum") - 1.0)).alias(WEIGHT_ERROR)]
        totals += [figure.over(F.col(name)).alias(name) for name, figure in figures.items()]
    else:
        totals = [figure.over(figure.value).alias(name) for name, figure in figures.items()]
    row = frame.agg(*totals).first().asDict()
    counts = {name for name, figure in figures.items() if figure.combine == "sum"}
    return {name: 0 if value is None and name in counts else value for name, value in row.items()}


def _flag(condition: Column) -> Column:
    return F.when(condition, 1).otherwise(0)


# ---------------------------------------------------------------- checks (from figures, on the driver)


def embedding_checks(table_name: str, figures: Mapping[str, Any], column: str, dim: int, tolerance: float) -> list[QualityCheck]:
    """Embeddings present, of dimension dim, finite, and of unit L2 norm within tolerance."""
    nulls, wrong_dim = figures[f"{column}_null"], figures[f"{column}_wrong_dim"]
    checks = [
        QualityCheck(table_name, "embedding_not_null", nulls == 0, f"{nulls} null"),
        QualityCheck(table_name, "embedding_dimension", wrong_dim == 0, f"{wrong_dim} rows not of dim {dim}"),
    ]
    if wrong_dim or figures[f"{column}_checked"] == 0:
        return checks
    not_finite = figures[f"{column}_not_finite"]
    checks.append(QualityCheck(table_name, "embedding_finite", not_finite == 0, f"{not_finite} rows with NaN/inf"))
    worst = figures[f"{column}_norm_error"]
    worst = 0.0 if worst is None else float(worst)  # every checked row had a NaN: embedding_finite failed
    checks.append(
        QualityCheck(table_name, "embedding_unit_norm", worst <= tolerance, f"max |norm-1| = {worst:.2e} (tol {tolerance:g})")
    )
    return checks


def min_rows_check(table_name: str, rows: int, minimum: int) -> QualityCheck:
    """The table has at least ``minimum`` rows for the night."""
    return QualityCheck(table_name, "min_rows", rows >= minimum, f"{rows} rows (min {minimum})")


def assignment_checks(figures: Mapping[str, Any]) -> list[QualityCheck]:
    """Every item has a topic and sub-interest that exist in the topics table, under the right parent."""
    bad_topic, bad_sub = figures["unknown_topic"], figures["misplaced_subinterest"]
    return [
        QualityCheck("item_embeddings", "topic_exists", bad_topic == 0, f"{bad_topic} items with an unknown topic"),
        QualityCheck(
            "item_embeddings", "subinterest_under_topic", bad_sub == 0,
            f"{bad_sub} items whose sub-interest is unknown or under another topic",
        ),
    ]


def weight_sum_check(table_name: str, figures: Mapping[str, Any], tolerance: float = 1e-6) -> QualityCheck:
    """A user's weights in a per-topic or per-sub-interest table sum to 1 (figures of ``measure(..., weights_per_user=True)``)."""
    if figures[ROWS] == 0:
        return QualityCheck(table_name, "weights_sum_to_one", True, "no rows")
    worst = float(figures[WEIGHT_ERROR])
    return QualityCheck(table_name, "weights_sum_to_one", worst <= tolerance, f"max |sum-1| = {worst:.2e}")


CONSERVED_SOURCES = ("events", "items", "user_texts")
"""Landing sources whose lines the cleaning job counts: each obeys landing lines = raw = clean + duplicate + rejected."""


def conservation_check(stage_counts: dict[str, int]) -> QualityCheck:
    """landing lines = raw = clean + duplicate + rejected for the night's events, items and user texts.

    ``<source>.landing_lines`` is counted from the landing files' bytes, apart from Spark (see
    ``landing.survey_landing_files``), so a line Spark dropped or invented fails the check; raw =
    clean + duplicate + rejected holds by construction of the classifiers. A remote landing zone is
    not surveyed: without ``<source>.landing_lines`` only the second equation is checked, and the
    detail says so. The events' counts must be there; items and user texts are checked when their
    ``<source>.raw`` is (counts recorded before they were surveyed have none).
    """
    passed, details = True, []
    for source in CONSERVED_SOURCES:
        if source != "events" and f"{source}.raw" not in stage_counts:
            continue
        raw = stage_counts.get(f"{source}.raw", -1)
        parts = sum(stage_counts.get(f"{source}.{name}", 0) for name in ("clean", "duplicate", "rejected"))
        landing = stage_counts.get(f"{source}.landing_lines")
        passed = passed and raw >= 0 and raw == parts and (landing is None or landing == raw)
        counted = "not counted (remote landing zone)" if landing is None else str(landing)
        prefix = "" if source == "events" else f"; {source}: "
        details.append(f"{prefix}landing lines {counted} vs raw {raw} vs clean+duplicate+rejected {parts}")
    return QualityCheck("events_clean", "conservation", passed, "".join(details))


def checks_json(checks: list[QualityCheck]) -> str:
    """The checks as a JSON list, for pipeline_runs.quality_checks."""
    return json.dumps([asdict(check) for check in checks], sort_keys=True)
