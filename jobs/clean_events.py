"""Clean one landing day: events -> events_clean / events_rejected; items and user texts -> snapshots.

    python jobs/clean_events.py --ds 2026-11-20 [--run-id ID]
"""

from __future__ import annotations

import logging
import sys
from datetime import date, timedelta

from pyspark import StorageLevel

from interests.catalog import EVENTS_CLEAN, EVENTS_REJECTED, ITEMS, USER_TEXTS
from interests.cleaning.events import (
    UNREADABLE_FILE,
    ConservationError,
    classify_events,
    events_clean,
    outcome_counts,
    rejected_lines,
)
from interests.cleaning.texts import (
    classify_items,
    classify_user_texts,
    items_snapshot,
    rejected_text_lines,
    text_outcome_counts,
    user_texts_snapshot,
)
from interests.lake import spark_schema_of
from interests.landing import (
    LandingDayError,
    LandingFile,
    read_landing_lines,
    require_landing_day,
    survey_landing_files,
)
from interests.pseudonyms import pseudonym_key
from interests.runtime import BadInputError, JobContext, run_job

logger = logging.getLogger("jobs.clean_events")

EARLIEST_DS = "1970-01-01"


def _fold_window(context: JobContext, spec) -> tuple[str, str | None]:
    """The first landing day to fold into the snapshot, and the previous snapshot's ds (if any)."""
    earlier = [d for d in context.lake.partitions(spec) if d < context.ds]
    if not earlier:
        return EARLIEST_DS, None
    previous = max(earlier)
    return (date.fromisoformat(previous) + timedelta(days=1)).isoformat(), previous


def _file_counts(files: list[LandingFile]) -> dict[str, int]:
    """The surveyed files' counts: files, unreadable files (each also named in a key), lines of the readable ones."""
    unreadable = [file for file in files if file.error]
    counts = {
        "events.files": len(files),
        "events.unreadable_files": len(unreadable),
        "events.landing_lines": sum(file.lines for file in files if not file.error),
    }
    counts.update({f"events.unreadable_file.{file.path.name}": 1 for file in unreadable})
    return counts


def clean(context: JobContext) -> dict[str, int]:
    config, ds, spark, lake = context.config, context.ds, context.spark, context.spark_lake
    landing = config.paths.landing_root
    key = pseudonym_key(config)
    try:
        require_landing_day(landing, "events", ds)
    except LandingDayError as error:
        raise BadInputError(str(error)) from error

    # Each file is read to its end first: a corrupt or truncated .gz is quarantined (named in
    # events_rejected and the counts) instead of failing the day, and the line count is independent of Spark.
    files = survey_landing_files(landing, "events", ds)
    readable = None if files is None else [file.path for file in files if not file.error]
    if files and not readable:
        raise LandingDayError(
            f"landing day ds={ds}: every event file is unreadable: "
            + "; ".join(f"{file.path.name} ({file.error})" for file in files)
        )
    # classify_events keeps the parsed lines, so the counts and the writes below do not re-read them.
    raw = read_landing_lines(spark, landing, "events", ds, ds, files=readable)
    events = classify_events(raw, ds, config.cleaning, key)
    counts = outcome_counts(events, "events")
    if counts["events.raw"] == 0:
        raise BadInputError(f"landing day ds={ds} holds no event lines under {landing}")
    if files is not None:
        counts.update(_file_counts(files))
        if counts["events.raw"] != counts["events.landing_lines"]:
            raise ConservationError(
                f"ds={ds}: Spark read {counts['events.raw']} event lines but the landing files hold "
                f"{counts['events.landing_lines']} (a file changed while the job ran?)"
            )

    rejected = rejected_lines(events, "events")
    unreadable = [(ds, "events", UNREADABLE_FILE, file.error, file.uri) for file in files or [] if file.error]
    if unreadable:
        rejected = rejected.unionByName(spark.createDataFrame(unreadable, spark_schema_of(EVENTS_REJECTED)))
    snapshots = {}
    max_chars = config.cleaning.max_text_chars
    text_sources = (
        ("items", ITEMS, lambda raw: classify_items(raw, max_chars), items_snapshot),
        ("user_texts", USER_TEXTS, lambda raw: classify_user_texts(raw, max_chars, key), user_texts_snapshot),
    )
    for source, spec, classify, fold in text_sources:
        fold_from, previous_ds = _fold_window(context, spec)
        raw = read_landing_lines(spark, landing, source, fold_from, ds)
        # On disk like the events (classify_events): 3.5M user texts held in the heap ran a 4 GB driver out.
        classified = classify(raw).persist(StorageLevel.DISK_ONLY)
        previous = lake.read_spark(spec, ds=previous_ds) if previous_ds else None
        snapshots[spec] = fold(previous, classified, ds)
        counts.update(text_outcome_counts(classified, source, ds))
        rejected = rejected.unionByName(rejected_text_lines(classified, source, ds))

    lake.write_partition(EVENTS_CLEAN, ds, events_clean(events))
    lake.write_partition(EVENTS_REJECTED, ds, rejected)
    for spec, snapshot in snapshots.items():
        lake.write_partition(spec, ds, snapshot)
        counts[f"{spec.name}.snapshot_rows"] = lake.read_spark(spec, ds=ds).count()  # counted by the executors
    return counts


if __name__ == "__main__":
    sys.exit(run_job("clean_events", clean))
