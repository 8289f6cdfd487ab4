"""The quality gate: checks a night's tables must pass before the night counts as published."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from interests.catalog import embedding_matrix


@dataclass(frozen=True)
class QualityCheck:
    """One named check on one table, with what was measured."""

    table: str
    check: str
    passed: bool
    detail: str


def embedding_checks(table_name: str, embeddings: pa.ChunkedArray | pa.Array, dim: int, tolerance: float) -> list[QualityCheck]:
    """Embeddings present, of dimension dim, finite, and of unit L2 norm within tolerance."""
    if isinstance(embeddings, pa.ChunkedArray):
        embeddings = embeddings.combine_chunks()
    checks = [QualityCheck(table_name, "embedding_not_null", embeddings.null_count == 0, f"{embeddings.null_count} null")]
    valid = embeddings.drop_null()
    lengths = pc.list_value_length(valid).to_numpy(zero_copy_only=False) if len(valid) else np.array([], dtype=np.int64)
    wrong_dim = int((lengths != dim).sum())
    checks.append(QualityCheck(table_name, "embedding_dimension", wrong_dim == 0, f"{wrong_dim} rows not of dim {dim}"))
    if wrong_dim or len(valid) == 0:
        return checks
    matrix = embedding_matrix(valid, np.float64)
    not_finite = int((~np.isfinite(matrix)).any(axis=1).sum())
    checks.append(QualityCheck(table_name, "embedding_finite", not_finite == 0, f"{not_finite} rows with NaN/inf"))
    norms = np.linalg.norm(matrix, axis=1)
    worst = float(np.nanmax(np.abs(norms - 1.0))) if len(norms) else 0.0
    checks.append(
        QualityCheck(table_name, "embedding_unit_norm", worst <= tolerance, f"max |norm-1| = {worst:.2e} (tol {tolerance:g})")
    )
    return checks


def min_rows_check(table_name: str, rows: int, minimum: int) -> QualityCheck:
    """The table has at least ``minimum`` rows for the night."""
    return QualityCheck(table_name, "min_rows", rows >= minimum, f"{rows} rows (min {minimum})")


def assignment_checks(item_embeddings: pa.Table, topics: pa.Table) -> list[QualityCheck]:
    """Every item has a topic and sub-interest that exist in the topics table, under the right parent."""
    topic_ids = set(topics.filter(pc.equal(topics["level"], "topic"))["node_id"].to_pylist())
    sub = topics.filter(pc.equal(topics["level"], "subinterest"))
    parent = dict(zip(sub["node_id"].to_pylist(), sub["parent_id"].to_pylist()))
    bad_topic = sum(1 for t in item_embeddings["topic_id"].to_pylist() if t not in topic_ids)
    bad_sub = sum(
        1 for t, s in zip(item_embeddings["topic_id"].to_pylist(), item_embeddings["subinterest_id"].to_pylist())
        if parent.get(s) != t
    )
    return [
        QualityCheck("item_embeddings", "topic_exists", bad_topic == 0, f"{bad_topic} items with an unknown topic"),
        QualityCheck(
            "item_embeddings", "subinterest_under_topic", bad_sub == 0,
            f"{bad_sub} items whose sub-interest is unknown or under another topic",
        ),
    ]


def weight_sum_check(table_name: str, weights: pa.Table, tolerance: float = 1e-6) -> QualityCheck:
    """A user's weights in a per-topic or per-sub-interest table sum to 1."""
    if weights.num_rows == 0:
        return QualityCheck(table_name, "weights_sum_to_one", True, "no rows")
    sums = weights.group_by("user_id").aggregate([("weight", "sum")])["weight_sum"].to_numpy()
    worst = float(np.max(np.abs(sums - 1.0)))
    return QualityCheck(table_name, "weights_sum_to_one", worst <= tolerance, f"max |sum-1| = {worst:.2e}")


def conservation_check(stage_counts: dict[str, int]) -> QualityCheck:
    """raw = clean + duplicate + rejected for the night's events."""
    raw = stage_counts.get("events.raw", -1)
    parts = sum(stage_counts.get(f"events.{name}", 0) for name in ("clean", "duplicate", "rejected"))
    return QualityCheck("events_clean", "conservation", raw == parts and raw >= 0, f"raw {raw} vs clean+duplicate+rejected {parts}")


def checks_json(checks: list[QualityCheck]) -> str:
    """The checks as a JSON list, for pipeline_runs.quality_checks."""
    return json.dumps([asdict(check) for check in checks], sort_keys=True)
