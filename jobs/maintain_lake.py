"""Maintain the lake after a night: compact small files, vacuum old ones, trim the Delta log.

    python jobs/maintain_lake.py --ds 2026-11-20 [--run-id ID]
    INTERESTS_MAINTENANCE__DRY_RUN=true python jobs/maintain_lake.py --ds 2026-11-20   # change nothing, count

``interests.publishing.maintenance`` has the retention rule: time travel to the last
``maintenance.keep_nights`` published nights keeps working. The counts (per table: live and stored
files before and after, files compacted, files and bytes vacuumed, the retention used) go to
``stage_runs`` under the stage ``maintain_lake`` for ``ds``. Driver-side only, with the configured
engine: delta-rs needs no Spark; delta-spark compacts and vacuums on the cluster.
"""

from __future__ import annotations

import logging
import sys

from interests.publishing.maintenance import maintain_lake
from interests.runtime import JobContext, run_job

logger = logging.getLogger("jobs.maintain_lake")


def maintain(context: JobContext) -> dict[str, int]:
    settings = context.config.maintenance
    tables = maintain_lake(context.lake, context.ds, settings, dry_run=settings.dry_run)
    counts = {f"{name}.{key}": value for name, figures in tables.items() for key, value in figures.items()}
    for key in ("files_compacted", "files_vacuumed", "bytes_vacuumed", "rows_repeating_a_key",
                "rows_past_retention"):
        counts[f"total.{key}"] = sum(figures[key] for figures in tables.values())
    counts["total.tables"] = len(tables)
    counts["total.dry_run"] = int(settings.dry_run)
    logger.info("maintained %d tables%s: %d files compacted, %d files (%d bytes) vacuumed", len(tables),
                " (dry run)" if settings.dry_run else "", counts["total.files_compacted"],
                counts["total.files_vacuumed"], counts["total.bytes_vacuumed"])
    return counts


if __name__ == "__main__":
    sys.exit(run_job("maintain_lake", maintain))
