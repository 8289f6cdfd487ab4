"""Strict parsing of landing JSON lines, shared by the events and the item / user-text cleaners.

A line is parsed into a map of variants, so each field keeps its JSON type (``json_type``) and a
field of the wrong type can be rejected instead of being turned into text. A line that is not
valid UTF-8 is not parsed at all: its raw_line is its exact bytes in base64.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

MAX_EPOCH_MS = 10**15
"""Epoch milliseconds beyond +-this (year 33658) are not a timestamp (and would overflow Spark's)."""

STRING_ARRAY_TYPES = ("ARRAY<STRING>", "ARRAY<VOID>")
"""JSON types of an array of strings: strings (nulls among them allowed), or only nulls / empty."""


def parse_json_lines(raw: DataFrame, *keep: str) -> DataFrame:
    """Turn (value, source_file) lines into raw_line, source_file, a valid-UTF-8 flag and a map of JSON values.

    The map's values are variants, so a field's JSON type survives the parse (``json_type``). A line
    that is not valid UTF-8 is not parsed (null map) and its raw_line is its bytes in base64 (RFC 4648,
    no line breaks), so the exact bytes can be recovered from events_rejected. A line that is not a
    JSON object also gets a null map. Columns named in ``keep`` pass through.
    """
    value = F.col("value")
    valid_utf8 = F.expr("is_valid_utf8(value)")
    as_base64 = F.regexp_replace(F.base64(value.cast("binary")), r"[\r\n]", "")
    return raw.select(
        *keep,
        F.when(valid_utf8, value).otherwise(as_base64).alias("raw_line"),
        F.col("source_file"),
        valid_utf8.alias("_valid_utf8"),
        F.when(valid_utf8, F.from_json(value, T.MapType(T.StringType(), T.VariantType()))).alias("fields"),
    )


def json_type(value: Column) -> Column:
    """The JSON type of a variant: STRING, BIGINT, DECIMAL(p,s), DOUBLE, BOOLEAN, OBJECT<..>, ARRAY<..>; null for null."""
    kind = F.schema_of_variant(value)
    return F.when(value.isNotNull() & (kind != "VOID"), kind)


def json_string(value: Column, kind: Column) -> Column:
    """The text of a JSON string; null for null and for every other JSON type (never its JSON text)."""
    return F.when(kind == "STRING", value.cast("string"))


def json_string_array(value: Column, kind: Column) -> Column:
    """An array of strings (null elements kept); null for null and for every other JSON type."""
    return F.when(kind.isin(*STRING_ARRAY_TYPES), F.try_variant_get(value, "$", "array<string>"))


def is_blank(column: Column) -> Column:
    """Null, empty or only whitespace (any Unicode whitespace)."""
    return column.isNull() | column.rlike(r"^(?U)\s*$")


def is_number(kind: Column) -> Column:
    """Whether a JSON type (``json_type``) is a number, integer or not."""
    return kind.isin("BIGINT", "DOUBLE", "FLOAT") | kind.startswith("DECIMAL")


def is_wrong_string(kind: Column) -> Column:
    """Present (not null) and not a JSON string."""
    return kind.isNotNull() & (kind != "STRING")


def is_wrong_timestamp(kind: Column) -> Column:
    """Present (not null) and neither a JSON string nor a number: never a timestamp, whatever its value."""
    return kind.isNotNull() & (kind != "STRING") & ~is_number(kind)


def is_wrong_string_array(kind: Column) -> Column:
    """Present (not null) and not a JSON array of strings (``STRING_ARRAY_TYPES``)."""
    return kind.isNotNull() & ~kind.isin(*STRING_ARRAY_TYPES)


def json_timestamp(value: Column, kind: Column) -> Column:
    """A timestamp field: a JSON string is ISO-8601 (no offset means UTC), a JSON integer epoch milliseconds.

    A string of digits is not a timestamp (the contract's epoch milliseconds are a JSON number); null
    when the value is none of these.
    """
    text = value.cast("string")
    return (
        F.when(kind == "STRING", F.when(~text.rlike(r"^\s*-?[0-9]+\s*$"), text.try_cast("timestamp")))
        .when(kind == "BIGINT", epoch_ms(F.try_variant_get(value, "$", "bigint")))
    ).cast(T.TimestampType())


def epoch_ms(millis: Column) -> Column:
    """A timestamp from epoch milliseconds; null out of +-MAX_EPOCH_MS (or a number that is not an integer)."""
    return F.when(F.abs(millis) < MAX_EPOCH_MS, F.timestamp_millis(millis))


def first_reason(checks: list[tuple[Column, str]]) -> Column:
    """The reason of the first check that holds (null when none does): checks are tested in order."""
    reason = F.when(checks[0][0], F.lit(checks[0][1]))
    for check, name in checks[1:]:
        reason = reason.when(check, F.lit(name))
    return reason


def line_checks() -> list[tuple[Column, str]]:
    """The checks of a line as a whole, before its fields: every cleaner tests these first."""
    return [
        (is_blank(F.col("raw_line")), "empty_line"),
        (~F.col("_valid_utf8"), "invalid_utf8"),
        (F.col("fields").isNull(), "malformed_json"),
    ]


def wrong_type_checks(reasons: tuple[str, ...]) -> list[tuple[Column, str]]:
    """The ``wrong_type_<field>`` checks (on the ``_wrong_<field>`` flags), in the order ``reasons`` lists them."""
    prefix = "wrong_type_"
    return [(F.col(f"_wrong_{reason.removeprefix(prefix)}"), reason) for reason in reasons if reason.startswith(prefix)]
