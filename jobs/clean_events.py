"""Clean one landing day: events -> events_clean / events_rejected; items and user texts -> snapshots.

    python jobs/clean_events.py --ds 2026-11-20 [--run-id ID]
"""

from __future__ import annotations

import logging
import sys
from datetime import date, timedelta

from pyspark import StorageLevel

from interests.catalog import EVENTS_CLEAN, EVENTS_REJECTED, ITEMS, USER_TEXTS
from interests.cleaning.events import classify_events, events_clean, outcome_counts, rejected_lines
from interests.cleaning.texts import (
    classify_items,
    classify_user_texts,
    items_snapshot,
    rejected_text_lines,
    text_outcome_counts,
    user_texts_snapshot,
)
from interests.landing import LandingDayError, read_landing_lines, require_landing_day
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


def clean(context: JobContext) -> dict[str, int]:
    config, ds, spark, lake = context.config, context.ds, context.spark, context.spark_lake
    landing = config.paths.landing_root
    key = pseudonym_key(config)
    try:
        require_landing_day(landing, "events", ds)
    except LandingDayError as error:
        raise BadInputError(str(error)) from error

    # classify_events keeps the parsed lines, so the counts and the writes below do not re-read them.
    events = classify_events(read_landing_lines(spark, landing, "events", ds, ds), ds, config.cleaning, key)
    counts = outcome_counts(events, "events")
    if counts["events.raw"] == 0:
        raise BadInputError(f"landing day ds={ds} holds no event lines under {landing}")
    if counts["events.raw"] != counts["events.clean"] + counts["events.duplicate"] + counts["events.rejected"]:
        raise AssertionError(f"event conservation broken: {counts}")

    rejected = rejected_lines(events, "events")
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
