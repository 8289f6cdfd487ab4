"""Gate, record and register one night: quality checks, a pipeline_runs row, MLflow models.

    python jobs/publish.py --ds 2026-11-20 [--run-id ID]

A night that fails a quality check gets a pipeline_runs row with status 'failed_quality' and the
job exits 2 (bad input: a retry would fail the same way), so the DAG run fails and nothing is
registered for it. The checks and row counts are Spark aggregations (launched by spark-submit in the
DAG, or a local session when run with python), so the driver holds one row of figures per table.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from datetime import UTC, datetime

import pyarrow as pa

from interests.behaviour.space import retrieval_dimension
from interests.catalog import OUTPUT_TABLES, PIPELINE_RUNS, STAGE_RUNS, TOPICS, table
from interests.encoding.model_files import model_identity
from interests.lake import Lake
from interests.publishing.gate import night_checks
from interests.publishing.quality import checks_json
from interests.runtime import BadInputError, JobContext, run_job

logger = logging.getLogger("jobs.publish")


class QualityGateError(BadInputError):
    """The night's tables failed the quality gate."""


def _stage_results(context: JobContext) -> tuple[dict[str, int], dict[str, float]]:
    """The night's stage counts and metrics, each key prefixed by its stage."""
    rows = context.lake.read(STAGE_RUNS, ds=context.ds).to_pylist()
    counts: dict[str, int] = {}
    metrics: dict[str, float] = {}
    for row in sorted(rows, key=lambda r: r["stage"]):
        if row["stage"] == "publish":  # an earlier publish of this ds, not part of this night's lineage
            continue
        counts.update({f"{row['stage']}.{key}": value for key, value in row["counts"]})
        metrics.update({f"{row['stage']}.{key}": value for key, value in (row.get("metrics") or [])})
    return counts, metrics


def _row_counts(lake: Lake, ds: str) -> dict[str, int]:
    """Rows of each output table for ds, counted by the executors: only the counts reach the driver."""
    return {name: lake.read_spark(table(name), ds=ds).count() for name in OUTPUT_TABLES}


def publish(context: JobContext) -> dict[str, int]:
    # The gate and the row counts run on Spark: the night's tables grow with users, items and events,
    # and only their figures come back to the driver.
    config, ds, lake = context.config, context.ds, context.spark_lake
    model = model_identity(config.encoder.model_path, config.encoder.model_name)
    model_dir, model_version, dim = model.model_dir, model.model_version, model.dim
    stage_counts, stage_metrics = _stage_results(context)
    retrieval_dim = retrieval_dimension(config.behaviour.dim_behaviour, dim)
    checks = night_checks(lake, ds, config.quality, retrieval_dim, dim, stage_counts)
    passed = all(check.passed for check in checks)
    row_counts = _row_counts(lake, ds)
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
                "max_length": config.encoder.max_length, "device": "auto", "backend": config.encoder.backend,
            },
            topics=lake.read(TOPICS, ds=ds),
            params={
                "ds": ds, "n_topics": str(config.hierarchy.n_topics or "from data"),
                "n_subinterests": str(config.hierarchy.n_subinterests or "from data"),
                "seed": str(config.hierarchy.seed), "lookback_days": str(config.hierarchy.lookback_days),
                "grid.ranks": str(config.behaviour.ranks), "grid.regularizations": str(config.behaviour.regularizations),
                "grid.text_weights": str(config.behaviour.text_weights),
                "grid.half_lives_days": str(config.behaviour.half_lives_days),
                "retrieval_dim": str(retrieval_dim), "encoder_model_version": model_version,
            },
            metrics={f"rows.{name}": float(count) for name, count in row_counts.items()}
            | {f"stage.{name}": float(value) for name, value in stage_counts.items()}
            | {name: float(value) for name, value in stage_metrics.items() if not math.isnan(value)},
        )
    status = "published" if passed else "failed_quality"
    row = {
        "ds": ds, "run_id": context.run_id, "status": status, "published_at": datetime.now(UTC),
        "row_counts": sorted(row_counts.items()), "stage_counts": sorted(stage_counts.items()),
        "metrics": sorted(stage_metrics.items()),
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
