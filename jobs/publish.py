"""Gate, record and register one night: quality checks, a pipeline_runs row, MLflow models.

    python jobs/publish.py --ds 2026-11-20 [--run-id ID]

A night that fails a quality check gets a pipeline_runs row with status 'failed_quality' and the
job exits non-zero, so the DAG run fails and nothing is registered for it.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime

import pyarrow as pa

from interests.catalog import (
    EVENTS_CLEAN,
    ITEM_EMBEDDINGS,
    OUTPUT_TABLES,
    PIPELINE_RUNS,
    STAGE_RUNS,
    TOPICS,
    USER_EMBEDDINGS,
    USER_SUBINTERESTS,
    USER_TOPICS,
    table,
)
from interests.encoding.encoder import model_identity
from interests.publishing.quality import (
    QualityCheck,
    assignment_checks,
    checks_json,
    conservation_check,
    embedding_checks,
    min_rows_check,
    weight_sum_check,
)
from interests.runtime import BadInputError, JobContext, run_job

logger = logging.getLogger("jobs.publish")

EMBEDDING_DIM_TABLES = (ITEM_EMBEDDINGS, USER_EMBEDDINGS, USER_TOPICS, USER_SUBINTERESTS)


class QualityGateError(BadInputError):
    """The night's tables failed the quality gate."""


def _stage_counts(context: JobContext) -> dict[str, int]:
    rows = context.lake.read(STAGE_RUNS, ds=context.ds).to_pylist()
    counts: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: r["stage"]):
        if row["stage"] == "publish":  # an earlier publish of this ds, not part of this night's lineage
            continue
        counts.update({f"{row['stage']}.{key}": value for key, value in row["counts"]})
    return counts


def quality_checks(context: JobContext, dim: int, stage_counts: dict[str, int]) -> list[QualityCheck]:
    """Every check of the gate for the night."""
    lake, ds, quality = context.lake, context.ds, context.config.quality
    checks = [conservation_check({k.split(".", 1)[1]: v for k, v in stage_counts.items() if k.startswith("clean_events.")})]
    checks.append(min_rows_check(EVENTS_CLEAN.name, lake.read(EVENTS_CLEAN, ds=ds, columns=["ds"]).num_rows, 1))
    for spec in EMBEDDING_DIM_TABLES:
        rows = lake.read(spec, ds=ds, columns=["embedding"])
        minimum = {ITEM_EMBEDDINGS.name: quality.min_items, USER_EMBEDDINGS.name: quality.min_users}.get(spec.name, 0)
        checks.append(min_rows_check(spec.name, rows.num_rows, minimum))
        checks.extend(embedding_checks(spec.name, rows.column("embedding"), dim, quality.norm_tolerance))
    topics = lake.read(TOPICS, ds=ds)
    checks.extend(embedding_checks(TOPICS.name, topics.column("centroid"), dim, quality.norm_tolerance))
    checks.extend(assignment_checks(lake.read(ITEM_EMBEDDINGS, ds=ds, columns=["topic_id", "subinterest_id"]), topics))
    for spec in (USER_TOPICS, USER_SUBINTERESTS):
        checks.append(weight_sum_check(spec.name, lake.read(spec, ds=ds, columns=["user_id", "weight"])))
    return checks


def publish(context: JobContext) -> dict[str, int]:
    config, ds, lake = context.config, context.ds, context.lake
    model = model_identity(config.encoder.model_path, config.encoder.model_name)
    model_dir, model_version, dim = model.model_dir, model.model_version, model.dim
    stage_counts = _stage_counts(context)
    checks = quality_checks(context, dim, stage_counts)
    passed = all(check.passed for check in checks)
    row_counts = {name: lake.read(table(name), ds=ds, columns=["ds"]).num_rows for name in OUTPUT_TABLES}
    versions = {name: lake.version(table(name)) for name in OUTPUT_TABLES}
    registered: dict[str, str] = {}
    if passed:
        from interests.publishing.mlflow_models import register_night

        registered = register_night(
            tracking_uri=config.mlflow_uri,
            artifact_root=None if config.paths.mlflow_tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
            else config.mlflow_dir / "artifacts",
            ds=ds, run_id=context.run_id, model_dir=model_dir, model_version=model_version,
            encoder_config={
                "model_name": config.encoder.model_name, "batch_size": config.encoder.batch_size,
                "max_length": config.encoder.max_length, "device": "auto",
            },
            topics=lake.read(TOPICS, ds=ds),
            params={
                "ds": ds, "n_topics": str(config.hierarchy.n_topics),
                "subinterests_per_topic": str(config.hierarchy.subinterests_per_topic),
                "seed": str(config.hierarchy.seed), "lookback_days": str(config.hierarchy.lookback_days),
                "half_life_days": str(config.hierarchy.half_life_days), "encoder_model_version": model_version,
            },
            metrics={f"rows.{name}": float(count) for name, count in row_counts.items()}
            | {f"stage.{name}": float(value) for name, value in stage_counts.items()},
        )
    status = "published" if passed else "failed_quality"
    row = {
        "ds": ds, "run_id": context.run_id, "status": status, "published_at": datetime.now(UTC),
        "row_counts": sorted(row_counts.items()), "stage_counts": sorted(stage_counts.items()),
        "table_versions": sorted((k, v) for k, v in versions.items() if v is not None),
        "quality_passed": passed, "quality_checks": checks_json(checks),
        "encoder_model_version": model_version, "registered_models": sorted(registered.items()),
    }
    lake.write_partition(PIPELINE_RUNS, ds, pa.Table.from_pylist([row], schema=PIPELINE_RUNS.schema),
                         where={"run_id": context.run_id})
    for check in checks:
        (logger.info if check.passed else logger.error)("quality %s.%s: %s", check.table, check.check, check.detail)
    if not passed:
        failed = [f"{c.table}.{c.check} ({c.detail})" for c in checks if not c.passed]
        raise QualityGateError(f"ds={ds} failed the quality gate: {failed}")
    return {"quality.checks": len(checks), "quality.failed": 0, **{f"rows.{k}": v for k, v in row_counts.items()}}


if __name__ == "__main__":
    sys.exit(run_job("publish", publish))
