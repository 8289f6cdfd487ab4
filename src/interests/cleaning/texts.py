"""Validate landed item and user-text lines and fold them into as-of-ds snapshots.

The ``items`` snapshot for ds is the newest landed version of every item ever landed up to ds;
``user_texts`` is every distinct text a user wrote up to ds. Each night folds the days landed
since the previous snapshot into it, so a night reads one snapshot plus a few landing days.

Lines are parsed as strictly as events (``cleaning.lines``): a field of the wrong JSON type is
rejected with ``wrong_type_<field>``, never kept as its JSON text (a user_id that is an object is
never pseudonymized), and a line that is not valid UTF-8 is rejected as ``invalid_utf8`` with its
bytes in base64 in raw_line. The reasons are tested in the order of ITEM_REJECT_REASONS and
USER_TEXT_REJECT_REASONS: a line gets the first that applies.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from interests.catalog import ITEMS, USER_TEXTS
from interests.cleaning.events import outcome_counts, pseudonymize
from interests.cleaning.lines import (
    first_reason,
    is_blank,
    is_wrong_string,
    is_wrong_string_array,
    is_wrong_timestamp,
    json_string,
    json_string_array,
    json_timestamp,
    json_type,
    line_checks,
    parse_json_lines,
    wrong_type_checks,
)

USER_TEXT_KINDS = ("bio", "review", "comment")
_EDGE_WHITESPACE = r"(?U)^\s+|\s+$"

ITEM_STRING_FIELDS = ("item_id", "title", "body", "lang")
"""Item fields that must be JSON strings (or null/absent); anything else is ``wrong_type_<field>``."""

USER_TEXT_STRING_FIELDS = ("user_id", "kind", "text")
"""User-text fields that must be JSON strings (or null/absent); anything else is ``wrong_type_<field>``."""

_LINE_REASONS = ("empty_line", "invalid_utf8", "malformed_json")

ITEM_REJECT_REASONS = (
    *_LINE_REASONS,
    "wrong_type_item_id",
    "wrong_type_title",
    "wrong_type_body",
    "wrong_type_tags",
    "wrong_type_lang",
    "wrong_type_updated_at",
    "missing_item_id",
    "empty_text",
)
"""Item reason codes, in the order they are tested: a line gets the first that applies."""

USER_TEXT_REJECT_REASONS = (
    *_LINE_REASONS,
    "wrong_type_user_id",
    "wrong_type_kind",
    "wrong_type_text",
    "wrong_type_ts",
    "missing_user_id",
    "unknown_kind",
    "empty_text",
)
"""User-text reason codes, in the order they are tested: a line gets the first that applies."""


def _strip(column: Column) -> Column:
    """Whitespace-trimmed text, null when nothing is left (Unicode whitespace, like Python's str.strip)."""
    stripped = F.regexp_replace(column, _EDGE_WHITESPACE, "")
    return F.when(stripped != "", stripped)


def _non_blank(tags: Column) -> Column:
    return F.filter(tags, lambda tag: ~is_blank(tag))


def item_text_column(title: Column, body: Column, tags: Column) -> Column:
    """Spark twin of ``interests.encoding.text.item_text``: title, body and tags joined by newlines."""
    kept = _non_blank(F.coalesce(tags, F.array().cast("array<string>")))
    return F.coalesce(
        F.concat_ws("\n", _strip(title), _strip(body), F.when(F.size(kept) > 0, F.array_join(kept, ", "))),
        F.lit(""),
    )


def _outcome(reason: Column) -> Column:
    return F.when(reason.isNotNull(), F.lit("rejected")).otherwise(F.lit("clean"))


def classify_items(raw: DataFrame, max_text_chars: int) -> DataFrame:
    """Validate landed item lines; ``raw`` has value, source_file and ds (the landing day).

    item_id, title, body and lang are JSON strings, tags an array of strings (null elements and
    blank tags dropped), updated_at a string (ISO-8601) or an integer (epoch ms); each may be null or
    absent except item_id. An updated_at of the right type that is no timestamp is kept as null.
    """
    parsed = _parse_with_ds(raw)
    value = {name: F.col("fields").getItem(name) for name in (*ITEM_STRING_FIELDS, "tags", "updated_at")}
    kind = {name: json_type(column) for name, column in value.items()}
    text = {name: json_string(value[name], kind[name]) for name in ITEM_STRING_FIELDS}
    tags = F.coalesce(json_string_array(value["tags"], kind["tags"]), F.array().cast("array<string>"))
    typed = parsed.select(
        "landed_ds", "raw_line", "source_file", "fields", "_valid_utf8",
        text["item_id"].alias("item_id"),
        text["title"].alias("title"),
        text["body"].alias("body"),
        _non_blank(tags).alias("tags"),
        text["lang"].alias("lang"),
        json_timestamp(value["updated_at"], kind["updated_at"]).alias("updated_at"),
        *[is_wrong_string(kind[name]).alias(f"_wrong_{name}") for name in ITEM_STRING_FIELDS],
        is_wrong_string_array(kind["tags"]).alias("_wrong_tags"),
        is_wrong_timestamp(kind["updated_at"]).alias("_wrong_updated_at"),
    ).withColumn("text", F.substring(item_text_column(F.col("title"), F.col("body"), F.col("tags")), 1, max_text_chars))
    reason = first_reason([
        *line_checks(),
        *wrong_type_checks(ITEM_REJECT_REASONS),
        (is_blank(F.col("item_id")), "missing_item_id"),
        (F.col("text") == "", "empty_text"),
    ])
    return _finish(typed, reason).withColumn("text_hash", F.sha2(F.col("text"), 256))


def classify_user_texts(raw: DataFrame, max_text_chars: int, pseudonym_key: str) -> DataFrame:
    """Validate landed user-text lines; ``raw`` has value, source_file and ds (the landing day).

    user_id, kind and text are JSON strings, ts a string (ISO-8601) or an integer (epoch ms); a ts of
    the right type that is no timestamp is kept as null (text_ts is "when parseable"). Only a user_id
    that is a JSON string is pseudonymized: a rejected line of another type has a null user_id.
    """
    parsed = _parse_with_ds(raw)
    value = {name: F.col("fields").getItem(name) for name in (*USER_TEXT_STRING_FIELDS, "ts")}
    kind = {name: json_type(column) for name, column in value.items()}
    text = {name: json_string(value[name], kind[name]) for name in USER_TEXT_STRING_FIELDS}
    typed = parsed.select(
        "landed_ds", "raw_line", "source_file", "fields", "_valid_utf8",
        text["user_id"].alias("raw_user_id"),
        F.lower(F.trim(text["kind"])).alias("kind"),
        F.substring(F.coalesce(_strip(text["text"]), F.lit("")), 1, max_text_chars).alias("text"),
        json_timestamp(value["ts"], kind["ts"]).alias("text_ts"),
        *[is_wrong_string(kind[name]).alias(f"_wrong_{name}") for name in USER_TEXT_STRING_FIELDS],
        is_wrong_timestamp(kind["ts"]).alias("_wrong_ts"),
    )
    reason = first_reason([
        *line_checks(),
        *wrong_type_checks(USER_TEXT_REJECT_REASONS),
        (is_blank(F.col("raw_user_id")), "missing_user_id"),
        (~F.coalesce(F.col("kind").isin(*USER_TEXT_KINDS), F.lit(False)), "unknown_kind"),
        (F.col("text") == "", "empty_text"),
    ])
    return (
        _finish(typed, reason)
        .withColumn("user_id", pseudonymize(F.col("raw_user_id"), pseudonym_key))
        .withColumn("text_hash", F.sha2(F.col("text"), 256))
    )


def _finish(typed: DataFrame, reason: Column) -> DataFrame:
    """The classified lines: outcome and reason added, the parse's working columns dropped."""
    checked = typed.withColumn("reason", reason)
    working = [name for name in checked.columns if name.startswith("_") or name == "fields"]
    return checked.withColumn("outcome", _outcome(F.col("reason"))).drop(*working)


def _parse_with_ds(raw: DataFrame) -> DataFrame:
    return parse_json_lines(raw.withColumnRenamed("ds", "landed_ds"), "landed_ds")


def items_snapshot(previous: DataFrame | None, classified: DataFrame, ds: str) -> DataFrame:
    """The items table for ds: the newest version of every item in the previous snapshot or landed since."""
    landed = classified.where(F.col("outcome") == "clean").select(
        *[name for name in ITEMS.schema.names if name != "ds"]
    )
    candidates = landed if previous is None else landed.unionByName(previous.drop("ds"))
    newest_first = Window.partitionBy("item_id").orderBy(
        F.col("landed_ds").desc(), F.col("updated_at").desc_nulls_last(), F.col("text_hash")
    )
    return (
        candidates.withColumn("_rank", F.row_number().over(newest_first))
        .where(F.col("_rank") == 1)
        .select(F.lit(ds).alias("ds"), *[name for name in ITEMS.schema.names if name != "ds"])
    )


def user_texts_snapshot(previous: DataFrame | None, classified: DataFrame, ds: str) -> DataFrame:
    """The user_texts table for ds: every distinct (user, text) landed up to ds, first landing kept."""
    landed = classified.where(F.col("outcome") == "clean").select(
        *[name for name in USER_TEXTS.schema.names if name != "ds"]
    )
    candidates = landed if previous is None else landed.unionByName(previous.drop("ds"))
    first_landed = Window.partitionBy("user_id", "text_hash").orderBy(
        F.col("landed_ds"), F.col("text_ts").asc_nulls_last(), F.col("kind")
    )
    return (
        candidates.withColumn("_rank", F.row_number().over(first_landed))
        .where(F.col("_rank") == 1)
        .select(F.lit(ds).alias("ds"), *[name for name in USER_TEXTS.schema.names if name != "ds"])
    )


def rejected_text_lines(classified: DataFrame, source: str, ds: str) -> DataFrame:
    """Rejected lines of the items or user_texts landed on ds, shaped for events_rejected."""
    return classified.where((F.col("outcome") == "rejected") & (F.col("landed_ds") == ds)).select(
        F.lit(ds).alias("ds"), F.lit(source).alias("source"), "reason", "raw_line", "source_file"
    )


def text_outcome_counts(classified: DataFrame, prefix: str, ds: str) -> dict[str, int]:
    """Counts per outcome and reason of the lines landed on ds."""
    return outcome_counts(classified.where(F.col("landed_ds") == ds), prefix)
