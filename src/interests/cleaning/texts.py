"""Validate landed item and user-text lines and fold them into as-of-ds snapshots.

The ``items`` snapshot for ds is the newest landed version of every item ever landed up to ds;
``user_texts`` is every distinct text a user wrote up to ds. Each night folds the days landed
since the previous snapshot into it, so a night reads one snapshot plus a few landing days.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from interests.catalog import ITEMS, USER_TEXTS
from interests.cleaning.events import _blank, parse_json_lines, parse_timestamp, pseudonymize

USER_TEXT_KINDS = ("bio", "review", "comment")
_EDGE_WHITESPACE = r"(?U)^\s+|\s+$"


def _strip(column: Column) -> Column:
    """Whitespace-trimmed text, null when nothing is left (Unicode whitespace, like Python's str.strip)."""
    stripped = F.regexp_replace(column, _EDGE_WHITESPACE, "")
    return F.when(stripped != "", stripped)


def _non_blank(tags: Column) -> Column:
    return F.filter(tags, lambda tag: ~_blank(tag))


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
    """Validate landed item lines; ``raw`` has value, source_file and ds (the landing day)."""
    parsed = _parse_with_ds(raw)
    field = lambda name: F.col("fields").getItem(name)
    tags = F.coalesce(F.from_json(field("tags"), T.ArrayType(T.StringType())), F.array().cast("array<string>"))
    typed = parsed.select(
        "landed_ds", "raw_line", "source_file", "fields",
        field("item_id").alias("item_id"),
        field("title").alias("title"),
        field("body").alias("body"),
        _non_blank(tags).alias("tags"),
        field("lang").alias("lang"),
        parse_timestamp(field("updated_at")).alias("updated_at"),
    ).withColumn("text", F.substring(item_text_column(F.col("title"), F.col("body"), F.col("tags")), 1, max_text_chars))
    reason = (
        F.when(_blank(F.col("raw_line")), F.lit("empty_line"))
        .when(F.col("fields").isNull(), F.lit("malformed_json"))
        .when(_blank(F.col("item_id")), F.lit("missing_item_id"))
        .when(F.col("text") == "", F.lit("empty_text"))
    )
    return typed.withColumn("reason", reason).withColumn("outcome", _outcome(F.col("reason"))).withColumn(
        "text_hash", F.sha2(F.col("text"), 256)
    )


def classify_user_texts(raw: DataFrame, max_text_chars: int, pseudonym_key: str) -> DataFrame:
    """Validate landed user-text lines; ``raw`` has value, source_file and ds (the landing day)."""
    parsed = _parse_with_ds(raw)
    field = lambda name: F.col("fields").getItem(name)
    text = F.substring(F.coalesce(_strip(field("text")), F.lit("")), 1, max_text_chars)
    typed = parsed.select(
        "landed_ds", "raw_line", "source_file", "fields",
        field("user_id").alias("raw_user_id"),
        F.lower(F.trim(field("kind"))).alias("kind"),
        text.alias("text"),
        parse_timestamp(field("ts")).alias("text_ts"),
    )
    reason = (
        F.when(_blank(F.col("raw_line")), F.lit("empty_line"))
        .when(F.col("fields").isNull(), F.lit("malformed_json"))
        .when(_blank(F.col("raw_user_id")), F.lit("missing_user_id"))
        .when(~F.coalesce(F.col("kind").isin(*USER_TEXT_KINDS), F.lit(False)), F.lit("unknown_kind"))
        .when(F.col("text") == "", F.lit("empty_text"))
    )
    return (
        typed.withColumn("reason", reason)
        .withColumn("outcome", _outcome(F.col("reason")))
        .withColumn("user_id", pseudonymize(F.col("raw_user_id"), pseudonym_key))
        .withColumn("text_hash", F.sha2(F.col("text"), 256))
    )


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
    from interests.cleaning.events import outcome_counts

    return outcome_counts(classified.where(F.col("landed_ds") == ds), prefix)
