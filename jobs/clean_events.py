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


def _earlier_event_ids(context: JobContext):
    """The clean event ids of the dedupe window's landing days before ds (Spark), or None for a window of 0."""
    days = context.config.cleaning.dedupe_days
    if days == 0:
        return None
    day = date.fromisoformat(context.ds)
    first, last = day - timedelta(days=days), day - timedelta(days=1)
    return context.spark_lake.read_spark(EVENTS_CLEAN, ds_from=first.isoformat(), ds_to=last.isoformat()).select(
        "event_id"
    )


def _file_counts(source: str, files: list[LandingFile]) -> dict[str, int]:
    """A source's surveyed files: ``<source>.files``, ``.unreadable_files`` (each also named in a key) and
    ``.landing_lines`` (of the readable ones)."""
    unreadable = [file for file in files if file.error]
    counts = {
        f"{source}.files": len(files),
        f"{source}.unreadable_files": len(unreadable),
        f"{source}.landing_lines": sum(file.lines for file in files if not file.error),
    }
    counts.update({f"{source}.unreadable_file.{file.path.name}": 1 for file in unreadable})
    return counts


def _count_surveyed_lines(counts: dict[str, int], ds: str, source: str, files: list[LandingFile]) -> None:
    """Add a source's survey counts (``_file_counts``); raise ConservationError when Spark read another
    number of lines (``<source>.raw``) than the readable files hold."""
    counts.update(_file_counts(source, files))
    if counts[f"{source}.raw"] != counts[f"{source}.landing_lines"]:
        raise ConservationError(
            f"ds={ds}: Spark read {counts[f'{source}.raw']} {source} lines but the landing files hold "
            f"{counts[f'{source}.landing_lines']} (a file changed while the job ran?)"
        )


def _text_landing_lines(context: JobContext, source: str, fold_from: str, files: list[LandingFile] | None):
    """The text source's lines to fold: the earlier fold days whole, and only the readable files of ds.

    ``files`` is ds's survey (None for a remote landing zone: every day read whole, as Spark finds it).
    """
    spark, landing, ds = context.spark, context.config.paths.landing_root, context.ds
    if files is None:
        return read_landing_lines(spark, landing, source, fold_from, ds)
    today = read_landing_lines(spark, landing, source, ds, ds, files=[file.path for file in files if not file.error])
    day_before = (date.fromisoformat(ds) - timedelta(days=1)).isoformat()
    if fold_from > day_before:
        return today
    return read_landing_lines(spark, landing, source, fold_from, day_before).unionByName(today)


def _quarantined_files(context: JobContext, source: str, files: list[LandingFile] | None):
    """One events_rejected row (reason unreadable_file, the read error in raw_line) per unreadable file, or None."""
    rows = [(context.ds, source, UNREADABLE_FILE, file.error, file.uri) for file in files or [] if file.error]
    return context.spark.createDataFrame(rows, spark_schema_of(EVENTS_REJECTED)) if rows else None


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
    events = classify_events(raw, ds, config.cleaning, key, _earlier_event_ids(context))
    counts = outcome_counts(events, "events")
    counts["events.dedupe_window_days"] = config.cleaning.dedupe_days
    if counts["events.raw"] == 0:
        raise BadInputError(f"landing day ds={ds} holds no event lines under {landing}")
    if files is not None:
        _count_surveyed_lines(counts, ds, "events", files)

    rejected = rejected_lines(events, "events")
    quarantined = _quarantined_files(context, "events", files)
    if quarantined is not None:
        rejected = rejected.unionByName(quarantined)
    snapshots = {}
    max_chars = config.cleaning.max_text_chars
    text_sources = (
        ("items", ITEMS, lambda raw: classify_items(raw, max_chars), items_snapshot),
        ("user_texts", USER_TEXTS, lambda raw: classify_user_texts(raw, max_chars, key), user_texts_snapshot),
    )
    for source, spec, classify, fold in text_sources:
        fold_from, previous_ds = _fold_window(context, spec)
        # Surveyed like the events, but a day whose every file is unreadable is not bad input: items and
        # user texts are optional deltas, so the files are quarantined and the snapshot carries over.
        text_files = survey_landing_files(landing, source, ds)
        raw = _text_landing_lines(context, source, fold_from, text_files)
        # On disk like the events (classify_events): 3.5M user texts held in the heap ran a 4 GB driver out.
        classified = classify(raw).persist(StorageLevel.DISK_ONLY)
        previous = lake.read_spark(spec, ds=previous_ds) if previous_ds else None
        snapshots[spec] = fold(previous, classified, ds)
        counts.update(text_outcome_counts(classified, source, ds))
        if text_files is not None:
            _count_surveyed_lines(counts, ds, source, text_files)
        rejected = rejected.unionByName(rejected_text_lines(classified, source, ds))
        quarantined = _quarantined_files(context, source, text_files)
        if quarantined is not None:
            rejected = rejected.unionByName(quarantined)

    lake.write_partition(EVENTS_CLEAN, ds, events_clean(events))
    lake.write_partition(EVENTS_REJECTED, ds, rejected)
    for spec, snapshot in snapshots.items():
        lake.write_partition(spec, ds, snapshot)
        counts[f"{spec.name}.snapshot_rows"] = lake.read_spark(spec, ds=ds).count()  # counted by the executors
    return counts


if __name__ == "__main__":
    sys.exit(run_job("clean_events", clean))
