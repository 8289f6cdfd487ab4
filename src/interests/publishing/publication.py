"""Publish one night: stage it, run the gate, then make it current in one step, or leave the last good one.

1. **Stage.** The night's tables are already written (each stage replaced its ds partitions). Their
   current Delta versions are recorded in a ``pipeline_runs`` row with status ``staged``. Readers
   resolve nights through ``publishing/nights.py`` and never see a staged night.
2. **Register candidates.** The encoder (once per model_version) and the night's hierarchy go to the
   MLflow registry with their metrics, the table versions they came from and the code version; the
   alias ``candidate`` moves to them.
3. **Gate.** Tonight's tables alone (``gate.night_checks``), then tonight against the previous
   published night (``comparison``): row counts, vector drift, evaluation figures.
4. **Publish or refuse.** Passed: the row becomes ``published`` (one Delta commit: the moment readers
   switch to the new night), then the alias ``production`` moves to the candidates. Failed: the row
   becomes ``failed_quality`` with every check and why, aliases and the current night stay as they
   were, and the job fails with exit 2 (no retry: the same tables fail the same way).

A publish killed between staging and step 4 leaves a ``staged`` row and the last good night current;
a rerun publishes from step 1. If it is killed between the published row and the alias move, the
rerun moves the alias.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from interests.behaviour.space import retrieval_dimension
from interests.catalog import OUTPUT_TABLES, PIPELINE_RUNS, TOPICS, table
from interests.config import PipelineConfig
from interests.encoding.model_files import model_identity
from interests.errors import BadInputError
from interests.lake import Lake
from interests.publishing.comparison import drift_checks, evaluation_checks, row_count_checks
from interests.publishing.gate import night_checks
from interests.publishing.nights import FAILED_QUALITY, PUBLISHED, STAGED, previous_night
from interests.publishing.quality import QualityCheck, checks_json
from interests.runtime import stage_results
from interests.version import code_version

logger = logging.getLogger(__name__)


class QualityGateError(BadInputError):
    """The night's tables failed the quality gate."""


@dataclass(frozen=True)
class StagedNight:
    """What the publish job knows of a night once its tables are staged."""

    ds: str
    run_id: str
    table_versions: dict[str, int]
    row_counts: dict[str, int]
    stage_counts: dict[str, int]
    metrics: dict[str, float]
    model_version: str


def stage_night(lake: Lake, ds: str, run_id: str, model_version: str) -> StagedNight:
    """Record the night's table versions and row counts in a ``staged`` row.

    The counts come from the Delta log (each file's numRecords) at the staged version; a table whose
    log has none is counted on the executors.
    """
    versions = {name: lake.version(table(name)) for name in OUTPUT_TABLES}
    row_counts = {name: _rows(lake, name, ds, versions[name]) for name in OUTPUT_TABLES}
    stage_counts, metrics = stage_results(lake, ds)
    staged = StagedNight(ds, run_id, {k: v for k, v in versions.items() if v is not None}, row_counts, stage_counts,
                         metrics, model_version)
    _write_row(lake, staged, STAGED, checks=[], registered={})
    logger.info("staged ds=%s (run %s) at table versions %s", ds, run_id, staged.table_versions)
    return staged


def _rows(lake: Lake, name: str, ds: str, version: int | None) -> int:
    logged = lake.logged_rows(table(name), ds=ds, version=version)
    return logged if logged is not None else lake.read_spark(table(name), ds=ds, version=version).count()


def gate_checks(lake: Lake, staged: StagedNight, config: PipelineConfig, text_dim: int) -> list[QualityCheck]:
    """Every check of the gate: tonight's tables alone, then against the previous published night."""
    quality = config.quality
    retrieval_dim = retrieval_dimension(config.behaviour.dim_behaviour, text_dim)
    previous = previous_night(lake, staged.ds)
    checks = night_checks(lake, staged.ds, quality, retrieval_dim, text_dim, staged.stage_counts, staged.table_versions)
    checks += row_count_checks(staged.row_counts, previous, quality)
    checks += drift_checks(lake, staged.ds, staged.table_versions, previous, staged.model_version, quality)
    checks += evaluation_checks(staged.metrics, previous, quality)
    return checks


def publish_night(lake: Lake, config: PipelineConfig, ds: str, run_id: str) -> dict[str, int]:
    """Stage, register candidates, gate, then publish (or record the failure and raise QualityGateError)."""
    model = model_identity(config.encoder.model_path, config.encoder.model_name)
    staged = stage_night(lake, ds, run_id, model.model_version)
    registered = _register_candidates(lake, config, staged, model)
    checks = gate_checks(lake, staged, config, model.dim)
    passed = all(check.passed for check in checks)
    for check in checks:
        (logger.info if check.passed else logger.error)("quality %s.%s: %s", check.table, check.check, check.detail)
    _write_row(lake, staged, PUBLISHED if passed else FAILED_QUALITY, checks, registered)
    if registered:
        from interests.publishing.mlflow_models import PRODUCTION, mark_gate_result

        mark_gate_result(config.mlflow_uri, registered, passed)
        if passed:
            logger.info("ds=%s published (run %s); alias %s moved to %s", ds, run_id, PRODUCTION, registered)
    if not passed:
        failed = [f"{c.table}.{c.check} ({c.detail})" for c in checks if not c.passed]
        raise QualityGateError(f"ds={ds} failed the quality gate; the last published night stays current: {failed}")
    return {"quality.checks": len(checks), "quality.failed": 0, **{f"rows.{k}": v for k, v in staged.row_counts.items()}}


def _write_row(lake: Lake, staged: StagedNight, status: str, checks: list[QualityCheck], registered: dict[str, str]) -> None:
    row = {
        "ds": staged.ds, "run_id": staged.run_id, "status": status, "published_at": datetime.now(UTC),
        "row_counts": sorted(staged.row_counts.items()), "stage_counts": sorted(staged.stage_counts.items()),
        "metrics": sorted(staged.metrics.items()), "table_versions": sorted(staged.table_versions.items()),
        "quality_passed": status == PUBLISHED, "quality_checks": checks_json(checks),
        "encoder_model_version": staged.model_version, "registered_models": sorted(registered.items()),
    }
    lake.write_partition(PIPELINE_RUNS, staged.ds, pa.Table.from_pylist([row], schema=PIPELINE_RUNS.schema),
                         where={"run_id": staged.run_id})


def _register_candidates(lake: Lake, config: PipelineConfig, staged: StagedNight, model) -> dict[str, str]:
    from interests.publishing.mlflow_models import register_night

    retrieval_dim = retrieval_dimension(config.behaviour.dim_behaviour, model.dim)
    return register_night(
        tracking_uri=config.mlflow_uri,
        artifact_root=None if config.paths.mlflow_tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        else config.mlflow_dir / "artifacts",
        ds=staged.ds, run_id=staged.run_id, model_dir=model.model_dir, model_version=model.model_version,
        encoder_config={
            "model_name": config.encoder.model_name, "batch_size": config.encoder.batch_size,
            "max_length": config.encoder.max_length, "device": "auto", "backend": config.encoder.backend,
        },
        topics=lake.read(TOPICS, ds=staged.ds, version=staged.table_versions.get(TOPICS.name)),
        params={
            "ds": staged.ds, "n_topics": str(config.hierarchy.n_topics or "from data"),
            "n_subinterests": str(config.hierarchy.n_subinterests or "from data"),
            "seed": str(config.hierarchy.seed), "lookback_days": str(config.hierarchy.lookback_days),
            "grid.ranks": str(config.behaviour.ranks), "grid.regularizations": str(config.behaviour.regularizations),
            "grid.text_weights": str(config.behaviour.text_weights),
            "grid.half_lives_days": str(config.behaviour.half_lives_days),
            "retrieval_dim": str(retrieval_dim), "encoder_model_version": model.model_version,
        },
        metrics={f"rows.{name}": float(count) for name, count in staged.row_counts.items()}
        | {f"stage.{name}": float(value) for name, value in staged.stage_counts.items()}
        | {name: float(value) for name, value in staged.metrics.items() if not math.isnan(value)},
        table_versions=staged.table_versions,
        code_version=code_version(),
    )
