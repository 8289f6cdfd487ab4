"""Lake maintenance: compact small files, vacuum old ones, trim the Delta log, never losing a kept night.

Readers read each table *at the Delta version* a published night names (``publishing/nights.py``), so
a file the current version no longer lists can still be read by a published night. The retention
rule keeps every file the last ``keep_nights`` published nights read:

- for a table those nights name, the **oldest** version any of them names is found, then when it was
  committed; vacuum retains every file removed after that moment less ``retention_margin_hours``
  (``retention_hours = ceil(now - commit time) + margin``). A kept night's version was committed at or
  after that moment, and any file it reads was removed later still, so none is deleted. Every version
  in between (staged reruns, compactions) stays readable too.
- a table no published night names (``text_embeddings``, ``stage_runs``, ``pipeline_runs``), or every
  table while no night is published, gets ``default_retention_hours``.
- the Delta log: both engines drop a log file only once it is older than
  ``delta.logRetentionDuration`` and a checkpoint older than that follows it (delta-rs 1.6's
  ``cleanup_metadata`` included), so each table's property is set to ``log_retention_hours``, or to the
  vacuum retention when that is longer, before delta-rs checkpoints and cleans up: the kept nights'
  versions are younger than it, so they stay loadable. ``delta.deletedFileRetentionDuration`` (how long
  a checkpoint remembers a removed file) is raised to the vacuum retention where shorter.

Compaction merges small files of the ds partitions of the ``compact_days`` days up to the run's ds
(the nights since the last runs; each night writes a partition as many files, and ``stage_runs`` and
``pipeline_runs`` grow a file per write) and of whole tables not partitioned by ds (``text_embeddings``,
one small append per night). Before that, a key the cache holds twice (two nights that encoded the
same new text at once, e.g. a backfill beside the nightly run) is dropped to one row, in one rewrite of
its partition. Compaction adds a version with the same rows; the replaced files are vacuumed by
a later run, once no kept night reads them. The run's ds partition is the newest it touches, so it
never conflicts with the next night's write of ds + 1.

The quarantine (``events_rejected``) keeps rejected lines as they landed, raw user ids included, so
they can be replayed once fixed; it keeps only the ``quarantine_days`` days up to the run's ds. Older
partitions are deleted in one commit, and their files go with the vacuum that no kept night stops
(docs/decisions.md, "The quarantine keeps raw lines, for a while").
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pyarrow import fs

from interests.catalog import EVENTS_REJECTED, TABLES, TableSpec, validate_ds
from interests.config import MaintenanceConfig
from interests.lake import Lake, location_filesystem
from interests.publishing.nights import PublishedNight, published_nights

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TablePlan:
    """What maintenance does to one table: the partitions it compacts and the history it keeps."""

    spec: TableSpec
    retention_hours: int
    log_retention_hours: int
    compact_filters: list[tuple[str, str, str]] | None
    oldest_kept_version: int | None = None
    oldest_kept_commit: datetime | None = None
    delete_before: str | None = None
    """Partitions of days before this are deleted (the quarantine's retention), or none."""


def kept_versions(nights: list[PublishedNight], keep_nights: int) -> dict[str, int]:
    """The oldest version of each table that any of the last ``keep_nights`` published nights (by ds) names."""
    oldest: dict[str, int] = {}
    for night in sorted(nights, key=lambda night: night.ds)[-keep_nights:]:
        for name, version in night.table_versions.items():
            oldest[name] = min(version, oldest.get(name, version))
    return oldest


def retention_hours(oldest_kept_commit: datetime | None, now: datetime, margin_hours: int, default_hours: int) -> int:
    """Vacuum retention: the age of the oldest kept commit in whole hours (rounded up) plus the margin, else the default."""
    if oldest_kept_commit is None:
        return default_hours
    age = max((now - oldest_kept_commit).total_seconds(), 0.0) / 3600
    return math.ceil(age) + margin_hours


def compact_filters(spec: TableSpec, ds: str, compact_days: int) -> list[tuple[str, str, str]] | None:
    """The ds partitions of the ``compact_days`` days up to ``ds``; None (the whole table) for another partitioning."""
    if spec.partition_by != ("ds",):
        return None
    first = date.fromisoformat(validate_ds(ds)) - timedelta(days=compact_days - 1)
    return [("ds", ">=", first.isoformat()), ("ds", "<=", ds)]


def quarantine_start(ds: str, quarantine_days: int | None) -> str | None:
    """The first day the quarantine (events_rejected) keeps on a run for ds; None keeps every day."""
    if quarantine_days is None:
        return None
    return (date.fromisoformat(validate_ds(ds)) - timedelta(days=quarantine_days - 1)).isoformat()


def plan_maintenance(lake: Lake, ds: str, config: MaintenanceConfig, now: datetime | None = None) -> list[TablePlan]:
    """A plan per existing table of the catalog, from the published nights as they stand now."""
    now = now or datetime.now(UTC)
    oldest = kept_versions(published_nights(lake), config.keep_nights)
    plans = []
    for spec in TABLES.values():
        if not lake.exists(spec):
            continue
        version = oldest.get(spec.name)
        committed = lake.commit_time(spec, version) if version is not None else None
        hours = retention_hours(committed, now, config.retention_margin_hours, config.default_retention_hours)
        plans.append(TablePlan(
            spec=spec, retention_hours=hours, log_retention_hours=max(hours, config.log_retention_hours),
            compact_filters=compact_filters(spec, ds, config.compact_days),
            oldest_kept_version=version, oldest_kept_commit=committed,
            delete_before=quarantine_start(ds, config.quarantine_days) if spec.name == EVENTS_REJECTED.name else None,
        ))
    return plans


def maintain_table(lake: Lake, plan: TablePlan, dry_run: bool = False) -> dict[str, int]:
    """Compact, vacuum and trim the log of one table as planned; a dry run only counts what vacuum would delete."""
    spec = plan.spec
    live_before = lake.live_files(spec)
    stored_before = _stored_files(lake, spec)
    compacted = {"files_removed": 0, "files_added": 0}
    # A table appended to rather than replaced by ds (the encoding cache) can hold a key twice when two
    # nights ran at once; the rewrite that drops the copies comes before compaction merges its files.
    repeated = lake.drop_repeated_keys(spec, dry_run=dry_run) if spec.partition_by != ("ds",) else 0
    expired = lake.delete_days_before(spec, plan.delete_before, dry_run=dry_run) if plan.delete_before else 0
    if not dry_run:
        compacted = lake.compact(spec, plan.compact_filters)
    vacuumed = lake.vacuum(spec, plan.retention_hours, dry_run=dry_run)
    sizes = {Path(path).name: size for path, size in stored_before.items()}
    bytes_vacuumed = sum(sizes.get(Path(str(path)).name, 0) for path in vacuumed)
    lake.clean_log(spec, plan.log_retention_hours, plan.retention_hours, dry_run=dry_run)
    stored_after = _stored_files(lake, spec)
    counts = {
        "files_live_before": live_before,
        "files_live_after": lake.live_files(spec),
        "files_compacted": compacted["files_removed"],
        "files_written_by_compaction": compacted["files_added"],
        "files_stored_before": len(stored_before),
        "files_stored_after": len(stored_after),
        "files_vacuumed": len(vacuumed),
        "rows_repeating_a_key": repeated,
        "rows_past_retention": expired,
        "bytes_vacuumed": bytes_vacuumed,
        "retention_hours": plan.retention_hours,
        "log_retention_hours": plan.log_retention_hours,
    }
    logger.info(
        "%s: %s%d live files -> %d, %d stored -> %d, vacuum %s %d files (%d bytes), retention %d h%s",
        spec.name, "(dry run) " if dry_run else "", counts["files_live_before"], counts["files_live_after"],
        counts["files_stored_before"], counts["files_stored_after"], "would delete" if dry_run else "deleted",
        counts["files_vacuumed"], bytes_vacuumed, plan.retention_hours,
        f" (oldest kept version {plan.oldest_kept_version}, committed {plan.oldest_kept_commit:%Y-%m-%d %H:%M} UTC)"
        if plan.oldest_kept_commit else "",
    )
    return counts


def maintain_lake(
    lake: Lake, ds: str, config: MaintenanceConfig, dry_run: bool = False, now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Maintain every table of the lake; counts per table (files before/after, files and bytes vacuumed)."""
    return {plan.spec.name: maintain_table(lake, plan, dry_run) for plan in plan_maintenance(lake, ds, config, now)}


def _stored_files(lake: Lake, spec: TableSpec) -> dict[str, int]:
    """Every data file under the table's folder (live, removed or never committed) and its size in bytes."""
    filesystem, root = location_filesystem(lake.path(spec))
    selector = fs.FileSelector(root, recursive=True, allow_not_found=True)
    return {
        info.path: info.size
        for info in filesystem.get_file_info(selector)
        if info.type == fs.FileType.File and info.path.endswith(".parquet") and "/_delta_log/" not in info.path
    }
