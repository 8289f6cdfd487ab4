"""Parse, validate, pseudonymize, deduplicate and de-bot one landing day of raw events.

Every raw line gets exactly one outcome: ``clean``, ``duplicate`` or ``rejected`` with a reason
code, so raw = clean + duplicate + rejected holds by construction and ``outcome_counts`` proves it
for each night; the job compares raw with an independent count of the landing files' lines
(``landing.survey_landing_files``). A duplicate says why: ``same_day`` (a later copy of a valid
event_id of the day) or ``earlier_day`` (the event_id is already clean on one of the
``cleaning.dedupe_days`` landing days before: a replayed file never counts twice).

Types are strict (the input contract): ids, event_type and query are JSON strings, ts a string
(ISO-8601) or an integer (epoch ms), dwell_ms a non-negative integer. A field of another JSON
type is rejected with ``wrong_type_<field>``, never turned into text. A line whose bytes are not
valid UTF-8 is rejected as ``invalid_utf8`` and its raw_line holds the line's bytes in base64.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from interests.catalog import EVENTS_CLEAN
from interests.cleaning.lines import (
    first_reason,
    is_blank,
    is_wrong_string,
    is_wrong_timestamp,
    json_string,
    json_timestamp,
    json_type,
    line_checks,
    parse_json_lines,
    wrong_type_checks,
)
from interests.config import EVENT_TYPES, CleaningConfig
from interests.errors import InterestsError
from interests.pseudonyms import PSEUDONYM_CHARS

KNOWN_FIELDS = ("event_id", "user_id", "item_id", "event_type", "ts", "dwell_ms", "query")

REJECT_REASONS = (
    "empty_line",
    "invalid_utf8",
    "malformed_json",
    "wrong_type_event_id",
    "wrong_type_user_id",
    "wrong_type_event_type",
    "wrong_type_item_id",
    "wrong_type_ts",
    "wrong_type_query",
    "missing_event_id",
    "missing_user_id",
    "unknown_event_type",
    "missing_item_id",
    "bad_timestamp",
    "invalid_dwell_ms",
    "future_timestamp",
    "stale_timestamp",
    "bot_user",
)
"""Reason codes, in the order they are tested: a line gets the first that applies."""

STRING_FIELDS = ("event_id", "user_id", "event_type", "item_id", "query")
"""Fields that must be JSON strings (or null/absent); anything else is ``wrong_type_<field>``."""

UNREADABLE_FILE = "unreadable_file"
"""The reason of an events_rejected row that quarantines a whole landing file (one row per file)."""

OUTCOMES = ("clean", "duplicate", "rejected")

DUPLICATE_REASONS = ("same_day", "earlier_day")
"""Why a line is a duplicate: a copy of a valid event of the same day, or of a clean event of an earlier day."""


class ConservationError(InterestsError):
    """The lines Spark read differ from the lines counted in the landing files: a line was lost or invented."""


def pseudonymize(user_id: Column, key: str) -> Column:
    """A keyed SHA-256 pseudonym of a user id; the same as ``pseudonyms.pseudonymize_user_id`` in Python."""
    return F.substring(F.sha2(F.concat(F.lit(key + ":"), user_id), 256), 1, PSEUDONYM_CHARS)


def _extra_fields(fields: Column) -> Column:
    """The fields of a parsed line other than KNOWN_FIELDS, as text (an empty map when there are none).

    A string keeps its text; any other JSON value becomes its JSON text.

    Filtering a map runs a lambda per entry, which code generation does not compile; most lines carry
    only known fields, so the filter runs only where the map has more keys than known ones.
    """
    known = F.array(*[F.lit(name) for name in KNOWN_FIELDS])
    known_present = sum(F.map_contains_key(fields, name).cast("int") for name in KNOWN_FIELDS)
    return F.when(
        F.size(fields) > known_present,
        F.transform_values(
            F.map_filter(fields, lambda key, _value: ~F.array_contains(known, key)), lambda _key, value: value.cast("string")
        ),
    ).otherwise(F.create_map().cast(T.MapType(T.StringType(), T.StringType())))


MAX_DWELL_MS = 10**12 - 1
"""The largest dwell_ms accepted (about 31 years: anything above is a broken counter)."""


def day_bounds(ds: str, cleaning: CleaningConfig) -> tuple[datetime, datetime]:
    """The [oldest accepted, newest accepted] event times for landing day ds (UTC)."""
    start = datetime.combine(date.fromisoformat(ds), datetime.min.time(), tzinfo=UTC)
    oldest = start - timedelta(days=cleaning.max_lateness_days)
    newest = start + timedelta(days=1, minutes=cleaning.max_future_skew_minutes)
    return oldest, newest


def classify_events(
    raw: DataFrame, ds: str, cleaning: CleaningConfig, pseudonym_key: str, earlier_event_ids: DataFrame | None = None
) -> DataFrame:
    """Give every raw event line an outcome and (unless clean) a reason; valid rows get typed fields.

    ``raw`` has columns ``value`` (the line) and ``source_file``. ``earlier_event_ids`` (column
    ``event_id``) are the clean events of the dedupe window's earlier days: every copy of one of
    them today is an ``earlier_day`` duplicate, and none takes part in the bot check. The result
    has the columns of ``events_clean`` plus ``raw_line``, ``outcome`` and ``reason``.

    One pass over the input: the lines are parsed and checked once and kept (on local disk)
    for the duplicate and bot checks and for the caller's counts and writes. Only
    narrow columns are shuffled: event ids to find the ids seen more than once (only those rows
    are ranked), (user, minute) pairs to find bots; both results are small and are broadcast back.
    """
    parsed = parse_json_lines(raw)
    value = {name: F.col("fields").getItem(name) for name in KNOWN_FIELDS}
    kind = {name: json_type(value[name]) for name in KNOWN_FIELDS}
    text = {name: json_string(value[name], kind[name]) for name in STRING_FIELDS}
    typed = parsed.select(
        "raw_line",
        "source_file",
        "fields",
        "_valid_utf8",
        text["event_id"].alias("event_id"),
        text["user_id"].alias("raw_user_id"),
        text["item_id"].alias("item_id"),
        F.lower(F.trim(text["event_type"])).alias("event_type"),
        json_timestamp(value["ts"], kind["ts"]).alias("event_ts"),
        F.when(kind["dwell_ms"] == "BIGINT", F.try_variant_get(value["dwell_ms"], "$", "bigint")).alias("_dwell_ms"),
        (kind["dwell_ms"].isNull()).alias("_dwell_absent"),
        text["query"].alias("query"),
        _extra_fields(F.col("fields")).alias("extra"),
        *[
            is_wrong_string(kind[name]).alias(f"_wrong_{name}")
            for name in STRING_FIELDS
        ],
        is_wrong_timestamp(kind["ts"]).alias("_wrong_ts"),
    )
    oldest, newest = day_bounds(ds, cleaning)
    dwell_ok = F.col("_dwell_absent") | F.col("_dwell_ms").between(0, MAX_DWELL_MS)
    reason = first_reason([
        *line_checks(),
        *wrong_type_checks(REJECT_REASONS),
        (is_blank(F.col("event_id")), "missing_event_id"),
        (is_blank(F.col("raw_user_id")), "missing_user_id"),
        (~F.coalesce(F.col("event_type").isin(*EVENT_TYPES), F.lit(False)), "unknown_event_type"),
        ((F.col("event_type") != "search") & is_blank(F.col("item_id")), "missing_item_id"),
        (F.col("event_ts").isNull(), "bad_timestamp"),
        (~F.coalesce(dwell_ok, F.lit(False)), "invalid_dwell_ms"),
        (F.col("event_ts") > F.lit(newest), "future_timestamp"),
        (F.col("event_ts") < F.lit(oldest), "stale_timestamp"),
    ])
    checked = typed.select(
        # Identifies a line within this run (the cached rows keep it); duplicate ranks join back on it.
        F.monotonically_increasing_id().alias("_row"),
        "raw_line", "source_file", "event_id", "raw_user_id", "item_id", "event_type", "event_ts",
        "_dwell_ms", "query", "extra", reason.alias("_check"),
    )
    # On disk, not in the heap: a 10M-line day is gigabytes of columnar batches, which held in
    # memory left the joins and the writes too little heap; the OS page cache keeps them hot anyway.
    checked = checked.persist(StorageLevel.DISK_ONLY)
    valid = checked.where(F.col("_check").isNull())

    # Among valid lines, the first copy of an event_id (earliest time, then line text) wins; a
    # rejected copy never takes part, so it can never make the valid copy look like a duplicate.
    # A day small enough that no side table can be large broadcasts them without counting them first.
    small_day = _estimated_bytes(raw) <= SMALL_DAY_BYTES
    repeated_ids = _kept_small(
        valid.groupBy("event_id").count().where(F.col("count") > 1).select("event_id"), small_day
    )
    first_copy = Window.partitionBy("event_id").orderBy("event_ts", "raw_line", "source_file", "_row")
    copy_ranks = _kept_small(
        valid.join(repeated_ids, on="event_id", how="left_semi")
        .select("_row", F.row_number().over(first_copy).alias("_copy_rank"))
        .where(F.col("_copy_rank") > 1),
        small_day,
    )
    ranked = checked.join(copy_ranks, on="_row", how="left").withColumn(
        "_copy_rank", F.when(F.col("_check").isNull(), F.coalesce(F.col("_copy_rank"), F.lit(1)))
    )
    if earlier_event_ids is not None:
        # Only today's ids are looked up (a semi join), so the result is at most the day's size.
        replayed = _kept_small(
            valid.select("event_id").distinct()
            .join(earlier_event_ids.select("event_id"), on="event_id", how="left_semi")
            .withColumn("_earlier", F.lit(True)),
            small_day,
        )
        ranked = ranked.join(replayed, on="event_id", how="left")
    else:
        ranked = ranked.withColumn("_earlier", F.lit(None).cast("boolean"))
    ranked = ranked.withColumn(
        "_earlier", F.col("_check").isNull() & F.coalesce(F.col("_earlier"), F.lit(False))
    )
    new_event = (F.col("_copy_rank") == 1) & ~F.col("_earlier")
    # A bot: more than max_events_per_minute distinct valid events from one user in one minute.
    bots = _kept_small(
        ranked.where(new_event)
        .groupBy("raw_user_id", F.date_trunc("minute", "event_ts").alias("minute"))
        .count()
        .where(F.col("count") > cleaning.max_events_per_minute)
        .select("raw_user_id")
        .distinct()
        .withColumn("_bot", F.lit(True)),
        small_day,
    )
    flagged = ranked.join(bots, on="raw_user_id", how="left")
    rejection = F.when(
        F.col("_check").isNull() & new_event & F.coalesce(F.col("_bot"), F.lit(False)),
        F.lit("bot_user"),
    ).otherwise(F.col("_check"))
    duplication = F.when(F.col("_earlier"), F.lit("earlier_day")).when(F.col("_copy_rank") > 1, F.lit("same_day"))
    outcome = (
        F.when(rejection.isNotNull(), F.lit("rejected"))
        .when(duplication.isNotNull(), F.lit("duplicate"))
        .otherwise(F.lit("clean"))
    )
    final_reason = F.coalesce(rejection, duplication)
    return flagged.select(
        F.lit(ds).alias("ds"),
        F.col("event_id"),
        pseudonymize(F.col("raw_user_id"), pseudonym_key).alias("user_id"),
        F.when(~is_blank(F.col("item_id")), F.col("item_id")).alias("item_id"),
        F.col("event_type"),
        F.col("event_ts"),
        F.col("_dwell_ms").alias("dwell_ms"),
        F.col("query"),
        F.col("extra"),
        F.col("source_file"),
        F.col("raw_line"),
        outcome.alias("outcome"),
        final_reason.alias("reason"),
    )


BROADCAST_ROWS = 2_000_000
"""A duplicate-rank or bot table up to this many rows is broadcast to the join; a larger one
(a replayed landing day, say) is shuffle-joined instead."""


SMALL_DAY_BYTES = 64 * 1024 * 1024
"""Landing input up to this size (Spark's estimate: the files' bytes) holds at most about a million
lines, so its side tables are broadcast as they are; counting them cost a night of small days
three Spark actions each."""


def _estimated_bytes(frame: DataFrame) -> int:
    """Spark's size estimate of a frame's optimized plan (for a file scan: the files' bytes)."""
    return int(str(frame._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))


def _kept_small(frame: DataFrame, known_small: bool) -> DataFrame:
    """A (usually small) side table for a join, kept once computed: broadcast when the day is known to
    be small or its row count (one Spark action) is at most BROADCAST_ROWS, else shuffle-joined."""
    kept = frame.persist(StorageLevel.MEMORY_AND_DISK)
    return F.broadcast(kept) if known_small or kept.count() <= BROADCAST_ROWS else kept


def events_clean(classified: DataFrame) -> DataFrame:
    """The rows of events_clean from classified events."""
    return classified.where(F.col("outcome") == "clean").select(*EVENTS_CLEAN.schema.names)


def rejected_lines(classified: DataFrame, source: str) -> DataFrame:
    """The rows of events_rejected from any classified landing source."""
    return classified.where(F.col("outcome") == "rejected").select(
        "ds", F.lit(source).alias("source"), "reason", "raw_line", "source_file"
    )


def outcome_counts(classified: DataFrame, prefix: str) -> dict[str, int]:
    """Counts per outcome and per reason, as ``{prefix}.raw``, ``{prefix}.clean``,
    ``{prefix}.rejected.<reason>``, ``{prefix}.duplicate.<same_day|earlier_day>``, ..."""
    rows = classified.groupBy("outcome", "reason").count().collect()
    counts = {f"{prefix}.{name}": 0 for name in ("raw", *OUTCOMES)}
    for row in rows:
        counts[f"{prefix}.raw"] += row["count"]
        counts[f"{prefix}.{row['outcome']}"] += row["count"]
        if row["reason"] is not None:
            counts[f"{prefix}.{row['outcome']}.{row['reason']}"] = row["count"]
    return counts
