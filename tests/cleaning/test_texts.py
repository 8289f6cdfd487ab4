"""Item and user-text lines: validation, the Spark twin of item_text, and the as-of-ds snapshots."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from pyspark.sql import functions as F

from interests.catalog import ITEMS, USER_TEXTS
from interests.cleaning.texts import (
    ITEM_REJECT_REASONS,
    USER_TEXT_REJECT_REASONS,
    classify_items,
    classify_user_texts,
    item_text_column,
    items_snapshot,
    rejected_text_lines,
    text_outcome_counts,
    user_texts_snapshot,
)
from interests.encoding.text import item_text, text_hash
from interests.pseudonyms import pseudonymize_user_id as pseudonymize_py

DAY_1, DAY_2 = "2026-03-09", "2026-03-10"
KEY = "test-pseudonym-key"
MAX_CHARS = 40


def line(**fields) -> str:
    return json.dumps(fields)


# ---------------------------------------------------------------- item_text_column

ITEM_TEXT_INPUTS = [
    ("Title", "Body", ["a", "b"]),
    (None, "Only body", ["tag"]),
    ("Only title", None, None),
    ("  Title \t", "\n Body  ", []),
    ("", "   ", []),
    (None, None, None),
    ("Keep  inner   space", "Line one\nline two", ["x y", "Z"]),
    ("t", "b", ["x", None, "y"]),
    ("t", "b", [""]),
    ("t", "b", [None]),
    ("\u00a0Title\u2003", "Body", []),
]


@pytest.fixture(scope="module")
def spark_item_texts(spark) -> list[str]:
    frame = spark.createDataFrame(
        [(i, *case) for i, case in enumerate(ITEM_TEXT_INPUTS)], "i int, title string, body string, tags array<string>"
    )
    rows = frame.select("i", item_text_column(F.col("title"), F.col("body"), F.col("tags")).alias("text")).collect()
    return [row["text"] for row in sorted(rows, key=lambda row: row["i"])]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(i, id=repr(ITEM_TEXT_INPUTS[i]))
        for i in range(len(ITEM_TEXT_INPUTS))
    ],
)
def test_item_text_column_equals_item_text(spark_item_texts, case):
    assert spark_item_texts[case] == item_text(*ITEM_TEXT_INPUTS[case])


# ---------------------------------------------------------------- classify_items and items_snapshot

ITEM_LINES_DAY_1 = {
    "a_old": line(item_id="a", title="A old", updated_at="2026-03-09T10:00:00Z"),
    "b": line(item_id="b", title="B", body="About b", tags=["x", " ", None, "y"], lang="en"),
    "c": line(item_id="c", title="C stays", updated_at="2026-03-09T10:00:00Z"),
}
ITEM_LINES_DAY_2 = {
    "a_new": line(item_id="a", title="A new", updated_at="2026-03-01T00:00:00Z"),  # newer landing wins
    "d_first": line(item_id="d", title="D first", updated_at="2026-03-10T08:00:00Z"),
    "d_second": line(item_id="d", title="D second", updated_at="2026-03-10T09:00:00Z"),
    "long": line(item_id="long", title="x" * 100),
    "empty_line": "  ",
    "malformed_json": "{oops",
    "array": '["item_id", "e"]',
    "missing_item_id": line(title="no id"),
    "blank_item_id": line(item_id="  ", title="blank id"),
    "empty_text": line(item_id="e", title="  ", body="", tags=[]),
    "no_text_fields": line(item_id="f"),
}
ITEM_REASONS = {
    "empty_line": "empty_line", "malformed_json": "malformed_json", "array": "malformed_json",
    "missing_item_id": "missing_item_id", "blank_item_id": "missing_item_id",
    "empty_text": "empty_text", "no_text_fields": "empty_text",
}


def landed(spark, lines: dict[str, str], ds: str, source: str):
    return spark.createDataFrame(
        [(value, f"file:///landing/{source}/ds={ds}/part-0.jsonl", ds) for value in lines.values()],
        "value string, source_file string, ds string",
    )


@pytest.fixture(scope="module")
def item_frames(spark):
    day_1 = classify_items(landed(spark, ITEM_LINES_DAY_1, DAY_1, "items"), MAX_CHARS)
    day_2 = classify_items(landed(spark, ITEM_LINES_DAY_2, DAY_2, "items"), MAX_CHARS)
    snapshot = items_snapshot(items_snapshot(None, day_1, DAY_1), day_2, DAY_2)
    return day_2, snapshot


@pytest.fixture(scope="module")
def classified_items(item_frames) -> dict[str, dict]:
    rows = {row["raw_line"]: row for row in item_frames[0].toArrow().to_pylist()}
    return {name: rows[value] for name, value in ITEM_LINES_DAY_2.items()}


@pytest.mark.parametrize("name", sorted(ITEM_LINES_DAY_2))
def test_classify_items(classified_items, name):
    row = classified_items[name]
    reason = ITEM_REASONS.get(name)
    assert (row["outcome"], row["reason"]) == ("clean" if reason is None else "rejected", reason)
    assert row["landed_ds"] == DAY_2
    if reason is None:
        assert row["text_hash"] == text_hash(row["text"])


def test_item_text_is_truncated_to_max_text_chars(classified_items):
    assert classified_items["long"]["text"] == "x" * MAX_CHARS


def test_item_rejections_and_counts(item_frames, spark):
    day_2, _ = item_frames
    assert rejected_text_lines(day_2, "items", DAY_2).columns == ["ds", "source", "reason", "raw_line", "source_file"]
    counts = text_outcome_counts(day_2, "items", DAY_2)
    assert counts["items.raw"] == len(ITEM_LINES_DAY_2)
    assert counts["items.rejected"] == len(ITEM_REASONS)
    assert counts["items.clean"] == len(ITEM_LINES_DAY_2) - len(ITEM_REASONS)
    assert counts["items.rejected.empty_text"] == 2 and counts["items.rejected.missing_item_id"] == 2


@pytest.fixture(scope="module")
def items_as_of_day_2(item_frames) -> dict[str, dict]:
    _, snapshot = item_frames
    assert snapshot.columns == ITEMS.schema.names
    rows = snapshot.toArrow().to_pylist()
    by_id = {row["item_id"]: row for row in rows}
    assert len(by_id) == len(rows), "one row per item"
    return by_id


def test_items_snapshot_keeps_the_newest_landed_version_and_carries_old_items(items_as_of_day_2):
    assert set(items_as_of_day_2) == {"a", "b", "c", "d", "long"}
    summary = {item_id: (row["title"], row["landed_ds"]) for item_id, row in items_as_of_day_2.items()}
    assert summary == {
        "a": ("A new", DAY_2),  # landed later, although its updated_at is older
        "b": ("B", DAY_1),
        "c": ("C stays", DAY_1),
        "d": ("D second", DAY_2),  # two versions landed the same day: the newer updated_at wins
        "long": ("x" * 100, DAY_2),
    }
    assert {row["ds"] for row in items_as_of_day_2.values()} == {DAY_2}


def test_items_snapshot_carries_the_cleaned_fields(items_as_of_day_2):
    b = items_as_of_day_2["b"]
    assert b["tags"] == ["x", "y"]  # null and blank tags dropped
    assert b["text"] == item_text(b["title"], b["body"], b["tags"]) == "B\nAbout b\nx, y"
    assert b["text_hash"] == text_hash(b["text"])
    assert b["lang"] == "en"


# ---------------------------------------------------------------- user texts

TEXT_LINES_DAY_1 = {
    "u1_bio": line(user_id="u1", kind="bio", text="I love bread", ts="2026-03-09T10:00:00Z"),
    "u3_review": line(user_id="u3", kind="review", text="Old review"),
}
TEXT_LINES_DAY_2 = {
    "u1_same_text_again": line(user_id="u1", kind="comment", text="I love bread", ts="2026-03-10T10:00:00Z"),
    "u1_same_text_padded": line(user_id="u1", kind="comment", text="  I love bread \n"),
    "u2_same_text": line(user_id="u2", kind="BIO ", text="I love bread"),
    "u1_new_text": line(user_id="u1", kind="review", text="Great cake"),
    "empty_line": "",
    "malformed_json": "not json",
    "missing_user_id": line(kind="bio", text="x"),
    "blank_user_id": line(user_id=" ", kind="bio", text="x"),
    "unknown_kind": line(user_id="u4", kind="tweet", text="x"),
    "missing_kind": line(user_id="u4", text="x"),
    "empty_text": line(user_id="u4", kind="bio", text="   "),
    "missing_text": line(user_id="u4", kind="bio"),
}
TEXT_REASONS = {
    "empty_line": "empty_line", "malformed_json": "malformed_json", "missing_user_id": "missing_user_id",
    "blank_user_id": "missing_user_id", "unknown_kind": "unknown_kind", "missing_kind": "unknown_kind",
    "empty_text": "empty_text", "missing_text": "empty_text",
}


@pytest.fixture(scope="module")
def text_frames(spark):
    day_1 = classify_user_texts(landed(spark, TEXT_LINES_DAY_1, DAY_1, "user_texts"), MAX_CHARS, KEY)
    day_2 = classify_user_texts(landed(spark, TEXT_LINES_DAY_2, DAY_2, "user_texts"), MAX_CHARS, KEY)
    snapshot = user_texts_snapshot(user_texts_snapshot(None, day_1, DAY_1), day_2, DAY_2)
    return day_2, snapshot


@pytest.fixture(scope="module")
def classified_texts(text_frames) -> dict[str, dict]:
    rows = {row["raw_line"]: row for row in text_frames[0].toArrow().to_pylist()}
    return {name: rows[value] for name, value in TEXT_LINES_DAY_2.items()}


@pytest.mark.parametrize("name", sorted(TEXT_LINES_DAY_2))
def test_classify_user_texts(classified_texts, name):
    row = classified_texts[name]
    reason = TEXT_REASONS.get(name)
    assert (row["outcome"], row["reason"]) == ("clean" if reason is None else "rejected", reason)
    if reason is None:
        raw = json.loads(TEXT_LINES_DAY_2[name])
        assert row["user_id"] == pseudonymize_py(raw["user_id"], KEY)
        assert row["text"] == raw["text"].strip()
        assert row["kind"] == raw["kind"].strip().lower()
        assert row["text_hash"] == text_hash(row["text"])


def test_user_texts_snapshot_dedupes_user_and_text(text_frames):
    _, snapshot = text_frames
    assert snapshot.columns == USER_TEXTS.schema.names
    rows = snapshot.toArrow().to_pylist()
    user = {pseudonymize_py(name, KEY): name for name in ("u1", "u2", "u3")}
    summary = sorted((user[row["user_id"]], row["text"], row["kind"], row["landed_ds"]) for row in rows)
    assert summary == [
        ("u1", "Great cake", "review", DAY_2),
        ("u1", "I love bread", "bio", DAY_1),  # three landings of one text: the first is kept
        ("u2", "I love bread", "bio", DAY_2),  # the same text of another user is its own row
        ("u3", "Old review", "review", DAY_1),  # carried over from the previous snapshot
    ]
    assert {row["ds"] for row in rows} == {DAY_2}


# ---------------------------------------------------------------- strict types and bytes (as events)


def with_bytes(line: str, bad: bytes) -> bytes:
    """The line's bytes with the field value "@" replaced by bytes that are not UTF-8."""
    return line.encode().replace(b'"@"', b'"' + bad + b'"', 1)


def landed_bytes(spark, lines: dict[str, str | bytes], ds: str, source: str):
    """(value, source_file, ds) as spark.read.text gives them: the line's bytes, unchecked, in a string column."""
    rows = [
        (value.encode() if isinstance(value, str) else value, f"file:///landing/{source}/ds={ds}/part-0.jsonl", ds)
        for value in lines.values()
    ]
    frame = spark.createDataFrame(rows, "value binary, source_file string, ds string")
    return frame.selectExpr("cast(value as string) as value", "source_file", "ds")


def as_raw_line(value: str | bytes) -> str:
    """raw_line of a landed line: its text, or its bytes in base64 when they are not UTF-8."""
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(value).decode("ascii")


def item(**fields) -> str:
    return line(**{"item_id": "i", "title": "T", **fields})


STRICT_ITEM_LINES = {
    "invalid_utf8_title": with_bytes(item(title="@"), b"\xff"),
    "invalid_utf8_outside_strings": b'{"item_id": "i", \xff\xfe "title": "T"}',
    "overlong_utf8_id": with_bytes(item(item_id="@"), b"\xc0\xaf"),
    "item_id_number": item(item_id=7),
    "item_id_object": item(item_id={"id": "i"}),
    "item_id_bool": item(item_id=True),
    "title_object": item(title={"en": "T"}),
    "title_number": item(title=1),
    "body_array": item(body=["b"]),
    "tags_string": item(tags="a, b"),
    "tags_numbers": item(tags=[1, 2]),
    "tags_mixed": item(tags=["a", 1]),
    "tags_nested": item(tags=[["a"]]),
    "tags_object": item(tags={"a": 1}),
    "lang_number": item(lang=1),
    "updated_at_bool": item(updated_at=True),
    "updated_at_object": item(updated_at={"ts": 1}),
    "wrong_id_and_title": item(item_id=7, title=1),  # the first wrong field in the reason order wins
    "wrong_title_empty_text": item(title=1, body=None),  # a wrong type, not an empty text
    "valid_utf8_non_ascii": item(title="Caf\u00e9 \u2615"),
    "tags_null": item(tags=None),
    "tags_only_nulls": item(tags=[None]),
    "tags_empty": item(tags=[]),
    "nulls_everywhere_but_id_and_title": item(body=None, lang=None, updated_at=None),
    "updated_at_epoch_ms": item(updated_at=1773100800000),
    "updated_at_digit_string": item(updated_at="1773100800000"),  # not the contract's number: kept, no time
    "updated_at_fraction": item(updated_at=1.5),  # a number, but no integer epoch ms: kept, no time
}
STRICT_ITEM_REASONS = {
    "invalid_utf8_title": "invalid_utf8", "invalid_utf8_outside_strings": "invalid_utf8",
    "overlong_utf8_id": "invalid_utf8",
    "item_id_number": "wrong_type_item_id", "item_id_object": "wrong_type_item_id", "item_id_bool": "wrong_type_item_id",
    "title_object": "wrong_type_title", "title_number": "wrong_type_title", "body_array": "wrong_type_body",
    "tags_string": "wrong_type_tags", "tags_numbers": "wrong_type_tags", "tags_mixed": "wrong_type_tags",
    "tags_nested": "wrong_type_tags", "tags_object": "wrong_type_tags", "lang_number": "wrong_type_lang",
    "updated_at_bool": "wrong_type_updated_at", "updated_at_object": "wrong_type_updated_at",
    "wrong_id_and_title": "wrong_type_item_id", "wrong_title_empty_text": "wrong_type_title",
}


@pytest.fixture(scope="module")
def strict_items(spark) -> dict[str, dict]:
    rows = classify_items(landed_bytes(spark, STRICT_ITEM_LINES, DAY_2, "items"), MAX_CHARS).toArrow().to_pylist()
    by_line = {row["raw_line"]: row for row in rows}
    assert len(by_line) == len(rows) == len(STRICT_ITEM_LINES)
    return {name: by_line[as_raw_line(value)] for name, value in STRICT_ITEM_LINES.items()}


@pytest.mark.parametrize("name", sorted(STRICT_ITEM_LINES))
def test_classify_items_checks_json_types_and_bytes(strict_items, name):
    row = strict_items[name]
    reason = STRICT_ITEM_REASONS.get(name)
    assert (row["outcome"], row["reason"]) == ("clean" if reason is None else "rejected", reason)


def test_every_item_reason_is_exercised_in_its_order():
    exercised = set(ITEM_REASONS.values()) | set(STRICT_ITEM_REASONS.values())
    assert exercised == set(ITEM_REJECT_REASONS)
    assert ITEM_REJECT_REASONS[:3] == ("empty_line", "invalid_utf8", "malformed_json")
    assert ITEM_REJECT_REASONS.index("wrong_type_updated_at") < ITEM_REJECT_REASONS.index("missing_item_id")


def test_items_of_the_right_type_keep_their_values(strict_items):
    assert strict_items["valid_utf8_non_ascii"]["title"] == "Caf\u00e9 \u2615"
    assert [strict_items[name]["tags"] for name in ("tags_null", "tags_only_nulls", "tags_empty")] == [[], [], []]
    assert strict_items["updated_at_epoch_ms"]["updated_at"] == datetime(2026, 3, 10, tzinfo=UTC)
    assert strict_items["updated_at_digit_string"]["updated_at"] is None
    assert strict_items["updated_at_fraction"]["updated_at"] is None


def test_a_wrong_item_type_is_never_kept_as_json_text(strict_items):
    for name, reason in STRICT_ITEM_REASONS.items():
        row = strict_items[name]
        if reason.startswith("wrong_type_"):
            field = reason.removeprefix("wrong_type_")
            assert row[field] in (None, []), (name, row[field])


def test_invalid_utf8_item_lines_keep_their_exact_bytes_in_base64(strict_items):
    for name in ("invalid_utf8_title", "invalid_utf8_outside_strings", "overlong_utf8_id"):
        row = strict_items[name]
        assert base64.b64decode(row["raw_line"]) == STRICT_ITEM_LINES[name]
        assert "\ufffd" not in row["raw_line"] and row["item_id"] is None


def text(**fields) -> str:
    return line(**{"user_id": "u9", "kind": "bio", "text": "Hello", **fields})


STRICT_TEXT_LINES = {
    "invalid_utf8_text": with_bytes(text(text="@"), b"\xff"),
    "invalid_utf8_user_id": with_bytes(text(user_id="@"), b"\xed\xa0\x80"),
    "user_id_object": text(user_id={"id": "u9"}),
    "user_id_number": text(user_id=42),
    "user_id_array": text(user_id=["u9"]),
    "kind_array": text(kind=["bio"]),
    "kind_number": text(kind=1),
    "text_number": text(text=12),
    "text_object": text(text={"body": "Hello"}),
    "ts_bool": text(ts=False),
    "ts_array": text(ts=["2026-03-10T10:00:00Z"]),
    "wrong_user_id_and_kind": text(user_id=1, kind=2),
    "ts_epoch_ms": text(ts=1773100800000),
    "ts_digit_string": text(ts="1773100800000"),
    "ts_null": text(ts=None),
}
STRICT_TEXT_REASONS = {
    "invalid_utf8_text": "invalid_utf8", "invalid_utf8_user_id": "invalid_utf8",
    "user_id_object": "wrong_type_user_id", "user_id_number": "wrong_type_user_id", "user_id_array": "wrong_type_user_id",
    "kind_array": "wrong_type_kind", "kind_number": "wrong_type_kind", "text_number": "wrong_type_text",
    "text_object": "wrong_type_text", "ts_bool": "wrong_type_ts", "ts_array": "wrong_type_ts",
    "wrong_user_id_and_kind": "wrong_type_user_id",
}


@pytest.fixture(scope="module")
def strict_texts(spark) -> dict[str, dict]:
    frame = classify_user_texts(landed_bytes(spark, STRICT_TEXT_LINES, DAY_2, "user_texts"), MAX_CHARS, KEY)
    rows = frame.toArrow().to_pylist()
    by_line = {row["raw_line"]: row for row in rows}
    assert len(by_line) == len(rows) == len(STRICT_TEXT_LINES)
    return {name: by_line[as_raw_line(value)] for name, value in STRICT_TEXT_LINES.items()}


@pytest.mark.parametrize("name", sorted(STRICT_TEXT_LINES))
def test_classify_user_texts_checks_json_types_and_bytes(strict_texts, name):
    row = strict_texts[name]
    reason = STRICT_TEXT_REASONS.get(name)
    assert (row["outcome"], row["reason"]) == ("clean" if reason is None else "rejected", reason)


def test_every_user_text_reason_is_exercised_in_its_order():
    exercised = set(TEXT_REASONS.values()) | set(STRICT_TEXT_REASONS.values())
    assert exercised == set(USER_TEXT_REJECT_REASONS)
    assert USER_TEXT_REJECT_REASONS[:3] == ("empty_line", "invalid_utf8", "malformed_json")
    assert USER_TEXT_REJECT_REASONS.index("wrong_type_ts") < USER_TEXT_REJECT_REASONS.index("missing_user_id")


def test_a_wrong_typed_user_id_is_never_pseudonymized_or_kept(strict_texts):
    for name in ("user_id_object", "user_id_number", "user_id_array", "wrong_user_id_and_kind"):
        row = strict_texts[name]
        raw_user_id = json.loads(STRICT_TEXT_LINES[name])["user_id"]
        assert row["user_id"] is None and row["raw_user_id"] is None, name
        assert row["user_id"] != pseudonymize_py(json.dumps(raw_user_id), KEY)
    # a string user_id next to a wrong-typed field is still a pseudonym, never the raw id
    assert strict_texts["kind_array"]["user_id"] == pseudonymize_py("u9", KEY)


def test_user_texts_of_the_right_type_keep_their_values(strict_texts):
    assert strict_texts["ts_epoch_ms"]["text_ts"] == datetime(2026, 3, 10, tzinfo=UTC)
    assert strict_texts["ts_digit_string"]["text_ts"] is None and strict_texts["ts_null"]["text_ts"] is None
    assert strict_texts["text_number"]["text"] == "" and strict_texts["kind_number"]["kind"] is None


def test_invalid_utf8_user_text_lines_keep_their_exact_bytes_in_base64(strict_texts):
    for name in ("invalid_utf8_text", "invalid_utf8_user_id"):
        row = strict_texts[name]
        assert base64.b64decode(row["raw_line"]) == STRICT_TEXT_LINES[name]
        assert row["user_id"] is None and row["raw_user_id"] is None
