"""classify_events: one outcome per raw line, reason codes, timestamps, duplicates, bots, pseudonyms.

All lines are classified in one Spark job (module fixture); each test looks up its own lines.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from interests.catalog import EVENTS_CLEAN, EVENTS_REJECTED
from interests.cleaning.events import (
    DUPLICATE_REASONS,
    OUTCOMES,
    REJECT_REASONS,
    classify_events,
    day_bounds,
    events_clean,
    outcome_counts,
    rejected_lines,
)
from interests.config import CleaningConfig
from interests.lake import conform
from interests.pseudonyms import pseudonymize_user_id as pseudonymize_py

DS = "2026-03-10"
KEY = "test-pseudonym-key"
CLEANING = CleaningConfig(max_events_per_minute=3)  # defaults: 60 min future skew, 3 days lateness
FILE = "file:///landing/events/ds=2026-03-10/part-0.jsonl"
OTHER_FILE = "file:///landing/events/ds=2026-03-10/part-1.jsonl"
DROP = object()
NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)

_serial = iter(range(10_000))


def event(**fields) -> str:
    """A JSON event line: a valid click with a fresh event and user id unless fields say otherwise."""
    n = next(_serial)
    line = {"event_id": f"e{n}", "user_id": f"user-{n}", "event_type": "click", "item_id": "i1",
            "ts": "2026-03-10T12:00:00Z"}
    line.update(fields)
    return json.dumps({key: value for key, value in line.items() if value is not DROP})


def with_bytes(line: str, bad: bytes) -> bytes:
    """The line's bytes with the field value "@" replaced by bytes that are not UTF-8."""
    return line.encode().replace(b'"@"', b'"' + bad + b'"', 1)


REASON_CASES = [
    ("empty_line", "", "empty_line"),
    ("blank_line", "   ", "empty_line"),
    ("not_json", "{not json", "malformed_json"),
    ("truncated_json", '{"event_id": "x", "user_id": ', "malformed_json"),
    ("json_array", '[{"event_id": "a", "user_id": "u"}]', "malformed_json"),
    ("json_number", "42", "malformed_json"),
    ("json_string", '"click"', "malformed_json"),
    ("invalid_utf8_in_a_string", with_bytes(event(event_type="search", item_id=DROP, query="@"), b"\xff"), "invalid_utf8"),
    ("invalid_utf8_outside_strings", b'{"event_id": "e", \xff\xfe "user_id": "u"}', "invalid_utf8"),
    ("overlong_utf8", with_bytes(event(user_id="@"), b"\xc0\xaf"), "invalid_utf8"),
    ("utf16_surrogate_bytes", with_bytes(event(user_id="@"), b"\xed\xa0\x80"), "invalid_utf8"),
    ("truncated_utf8_sequence", with_bytes(event(user_id="@"), b"\xc3("), "invalid_utf8"),
    ("event_id_number", event(event_id=123), "wrong_type_event_id"),
    ("event_id_object", event(event_id={"id": "e1"}), "wrong_type_event_id"),
    ("user_id_object", event(user_id={"id": "u1"}), "wrong_type_user_id"),
    ("user_id_array", event(user_id=["u1"]), "wrong_type_user_id"),
    ("user_id_number", event(user_id=42), "wrong_type_user_id"),
    ("user_id_bool", event(user_id=True), "wrong_type_user_id"),
    ("user_id_float", event(user_id=1.5), "wrong_type_user_id"),
    ("event_type_array", event(event_type=["click"]), "wrong_type_event_type"),
    ("event_type_number", event(event_type=1), "wrong_type_event_type"),
    ("item_id_number", event(item_id=7), "wrong_type_item_id"),
    ("search_item_id_object", event(event_type="search", item_id={}, query="q"), "wrong_type_item_id"),
    ("ts_bool", event(ts=True), "wrong_type_ts"),
    ("ts_object", event(ts={"ms": 1}), "wrong_type_ts"),
    ("ts_array", event(ts=[2026, 3, 10]), "wrong_type_ts"),
    ("ts_fraction", event(ts=int(NOON.timestamp() * 1000) + 0.5), "bad_timestamp"),
    ("ts_digit_string", event(ts=str(int(NOON.timestamp() * 1000))), "bad_timestamp"),
    ("ts_overflowing_number", event(ts=2**63 - 1), "bad_timestamp"),
    ("ts_huge_number", event(ts=10**30), "bad_timestamp"),
    ("query_number", event(event_type="search", item_id=DROP, query=5), "wrong_type_query"),
    ("type_before_missing", event(event_id=DROP, user_id=[]), "wrong_type_user_id"),
    ("event_id_absent", event(event_id=DROP), "missing_event_id"),
    ("event_id_null", event(event_id=None), "missing_event_id"),
    ("event_id_empty", event(event_id=""), "missing_event_id"),
    ("event_id_blank", event(event_id="  "), "missing_event_id"),
    ("user_id_absent", event(user_id=DROP), "missing_user_id"),
    ("user_id_null", event(user_id=None), "missing_user_id"),
    ("user_id_empty", event(user_id=""), "missing_user_id"),
    ("event_type_unknown", event(event_type="view"), "unknown_event_type"),
    ("event_type_absent", event(event_type=DROP), "unknown_event_type"),
    ("event_type_null", event(event_type=None), "unknown_event_type"),
    ("click_without_item", event(item_id=DROP), "missing_item_id"),
    ("like_with_empty_item", event(event_type="like", item_id=""), "missing_item_id"),
    ("search_without_item", event(event_type="search", item_id=DROP, query="red shoes"), None),
    ("ts_text", event(ts="yesterday"), "bad_timestamp"),
    ("ts_absent", event(ts=DROP), "bad_timestamp"),
    ("ts_impossible_day", event(ts="2026-02-30T10:00:00Z"), "bad_timestamp"),
    ("dwell_text", event(event_type="dwell", dwell_ms="abc"), "invalid_dwell_ms"),
    ("dwell_negative", event(event_type="dwell", dwell_ms=-5), "invalid_dwell_ms"),
    ("dwell_fraction", event(event_type="dwell", dwell_ms=1.5), "invalid_dwell_ms"),
    ("dwell_integer", event(event_type="dwell", dwell_ms=1500), None),
    ("dwell_digit_string", event(event_type="dwell", dwell_ms="1500"), "invalid_dwell_ms"),
    ("dwell_bool", event(event_type="dwell", dwell_ms=True), "invalid_dwell_ms"),
    ("dwell_null", event(event_type="dwell", dwell_ms=None), None),
    ("dwell_huge", event(event_type="dwell", dwell_ms=10**20), "invalid_dwell_ms"),
    ("future", event(ts="2026-03-11T01:00:01Z"), "future_timestamp"),
    ("future_limit", event(ts="2026-03-11T01:00:00Z"), None),
    ("stale", event(ts="2026-03-06T23:59:59Z"), "stale_timestamp"),
    ("late_within_window", event(ts="2026-03-07T00:00:01Z"), None),
    ("stale_limit", event(ts="2026-03-07T00:00:00Z"), None),
    ("first_reason_wins", event(event_id=DROP, event_type="view", ts="bad"), "missing_event_id"),
    ("user_before_type", event(user_id=DROP, event_type="view"), "missing_user_id"),
    ("item_before_timestamp", event(item_id=DROP, ts="bad"), "missing_item_id"),
]

TIMESTAMP_CASES = [
    ("iso_utc", "2026-03-10T12:00:00Z", NOON),
    ("iso_plus_two", "2026-03-10T12:00:00+02:00", NOON - timedelta(hours=2)),
    ("iso_minus_five", "2026-03-10T05:30:00-05:00", NOON - timedelta(hours=1, minutes=30)),
    ("iso_no_offset_is_utc", "2026-03-10T12:00:00", NOON),
    ("iso_fraction", "2026-03-10T12:00:00.250Z", NOON + timedelta(milliseconds=250)),
    ("epoch_ms_number", int(NOON.timestamp() * 1000), NOON),
    ("epoch_ms_number_with_ms", int(NOON.timestamp() * 1000) + 123, NOON + timedelta(milliseconds=123)),
    ("iso_offset_crosses_midnight", "2026-03-09T23:30:00-01:00", datetime(2026, 3, 10, 0, 30, tzinfo=UTC)),
]
TIMESTAMP_LINES = {case: event(ts=value) for case, value, _ in TIMESTAMP_CASES}

# Three exact copies of one event in one file; and one event landed twice, 5 minutes apart, in two files.
EXACT_COPY = event(event_id="dup-exact")
EARLY_COPY = event(event_id="dup-files", user_id="dup-user", ts="2026-03-10T12:00:00Z")
LATE_COPY = event(event_id="dup-files", user_id="dup-user", ts="2026-03-10T12:05:00Z")
# An invalid line that shares its event_id with the only valid copy.
INVALID_BEFORE_VALID = {
    "bad_timestamp": (event(event_id="dup-bad-ts", ts="not a time"), event(event_id="dup-bad-ts")),
    "stale_timestamp": (event(event_id="dup-stale", ts="2026-03-01T00:00:00Z"), event(event_id="dup-stale")),
}

BOT_LINES = [event(user_id="bot", ts=f"2026-03-10T08:00:{second:02d}Z") for second in (0, 10, 20, 59)]
BOT_LINES.append(event(user_id="bot", ts="2026-03-10T15:00:00Z"))  # a quiet minute: still the bot's event
BOT_INVALID = event(user_id="bot", event_type="view", ts="2026-03-10T08:00:30Z")
BUSY_LINES = [event(user_id="busy", ts=f"2026-03-10T08:00:{second:02d}Z") for second in (0, 20, 40)]
BUSY_LINES.append(event(user_id="busy", ts="2026-03-10T08:01:00Z"))

# Events already clean on an earlier landing day (EARLIER_IDS): a replayed file.
REPLAYED = event(event_id="seen-1")
REPLAYED_TWICE = event(event_id="seen-2")  # two copies today: both duplicates of the earlier day's event
REPLAYED_INVALID = event(event_id="seen-3", event_type="teleport")  # a rejection reason still wins
# Replays never make a bot: 3 replayed + 2 new events in one minute, with a limit of 3 per minute.
REPLAYER_OLD = [event(event_id=f"seen-{n}", user_id="replayer", ts=f"2026-03-10T09:00:0{n}Z") for n in (4, 5, 6)]
REPLAYER_NEW = [event(user_id="replayer", ts=f"2026-03-10T09:00:1{n}Z") for n in (1, 2)]
EARLIER_IDS = ["seen-1", "seen-2", "seen-3", "seen-4", "seen-5", "seen-6", "seen-not-today"]

EXTRA_LINE = event(
    user_id="extra-user", event_type=" CLICK ", query="q", campaign="spring", n=3, nested={"a": 1}
)
NON_ASCII_USER = event(user_id="Zoë-ünicode-42")


def as_raw_line(line: str | bytes) -> str:
    """The raw_line a landing line is stored as: its text, or base64 of bytes that are not UTF-8."""
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(line).decode("ascii")


def raw_frame(spark, lines: list[tuple[str | bytes, str]]):
    """(value, source_file) as spark.read.text gives them: the line's bytes, unchecked, in a string column."""
    rows = [(line.encode() if isinstance(line, str) else line, source_file) for line, source_file in lines]
    frame = spark.createDataFrame(rows, "value binary, source_file string")
    return frame.selectExpr("cast(value as string) as value", "source_file")


def all_raw_lines() -> list[tuple[str | bytes, str]]:
    lines = [(line, FILE) for _, line, _ in REASON_CASES]
    lines += [(line, FILE) for line in TIMESTAMP_LINES.values()]
    lines += [(EXACT_COPY, FILE)] * 3 + [(LATE_COPY, FILE), (EARLY_COPY, OTHER_FILE)]
    for invalid, valid in INVALID_BEFORE_VALID.values():
        lines += [(invalid, FILE), (valid, OTHER_FILE)]
    lines += [(line, FILE) for line in BOT_LINES + [BOT_INVALID] + BUSY_LINES]
    lines += [(EXTRA_LINE, FILE), (NON_ASCII_USER, FILE)]
    lines += [(REPLAYED, FILE), (REPLAYED_TWICE, FILE), (REPLAYED_TWICE, OTHER_FILE), (REPLAYED_INVALID, FILE)]
    lines += [(line, FILE) for line in REPLAYER_OLD + REPLAYER_NEW]
    return lines


def earlier_ids(spark):
    return spark.createDataFrame([(event_id,) for event_id in EARLIER_IDS], "event_id string")


@pytest.fixture(scope="module")
def classified_frame(spark):
    raw = raw_frame(spark, all_raw_lines())
    return classify_events(raw, DS, CLEANING, KEY, earlier_ids(spark))


@pytest.fixture(scope="module")
def classified(classified_frame) -> pa.Table:
    return classified_frame.toArrow()


@pytest.fixture(scope="module")
def by_line(classified) -> dict[tuple[str, str], list[dict]]:
    rows = defaultdict(list)
    for row in classified.to_pylist():
        rows[(row["raw_line"], row["source_file"])].append(row)
    return rows


def only(by_line, line: str | bytes, source_file: str = FILE) -> dict:
    rows = by_line[(as_raw_line(line), source_file)]
    assert len(rows) == 1, f"{len(rows)} rows for {line!r}"
    return rows[0]


def test_every_raw_line_gets_exactly_one_row(classified):
    assert classified.num_rows == len(all_raw_lines())
    assert set(classified["outcome"].to_pylist()) <= set(OUTCOMES)
    for row in classified.select(["outcome", "reason"]).to_pylist():
        allowed = {"clean": {None}, "rejected": set(REJECT_REASONS), "duplicate": set(DUPLICATE_REASONS)}
        assert row["reason"] in allowed[row["outcome"]], row


@pytest.mark.parametrize(("line", "reason"), [case[1:] for case in REASON_CASES], ids=[c[0] for c in REASON_CASES])
def test_reason_codes(by_line, line, reason):
    row = only(by_line, line)
    assert (row["outcome"], row["reason"]) == ("clean" if reason is None else "rejected", reason)
    assert row["ds"] == DS and row["source_file"] == FILE


def test_valid_fields_are_typed(by_line):
    lines = {case: line for case, line, _ in REASON_CASES}
    search = only(by_line, lines["search_without_item"])
    assert (search["event_type"], search["item_id"], search["query"]) == ("search", None, "red shoes")
    dwell = only(by_line, lines["dwell_integer"])
    assert dwell["dwell_ms"] == 1500
    assert only(by_line, EXTRA_LINE)["event_type"] == "click"


@pytest.mark.parametrize(
    ("case", "expected"), [(c[0], c[2]) for c in TIMESTAMP_CASES], ids=[c[0] for c in TIMESTAMP_CASES]
)
def test_valid_timestamps_become_utc_event_ts(by_line, case, expected):
    row = only(by_line, TIMESTAMP_LINES[case])
    assert row["outcome"] == "clean"
    assert row["event_ts"] == expected
    assert row["event_ts"].utcoffset() == timedelta(0)


def test_day_bounds():
    oldest, newest = day_bounds(DS, CLEANING)
    assert oldest == datetime(2026, 3, 7, tzinfo=UTC)
    assert newest == datetime(2026, 3, 11, 1, tzinfo=UTC)


def test_exact_copies_give_one_clean_row_and_duplicates(by_line):
    outcomes = sorted(row["outcome"] for row in by_line[(EXACT_COPY, FILE)])
    assert outcomes == ["clean", "duplicate", "duplicate"]
    reasons = sorted(str(row["reason"]) for row in by_line[(EXACT_COPY, FILE)])
    assert reasons == ["None", "same_day", "same_day"]


def test_the_earliest_copy_of_an_event_id_wins(by_line):
    assert only(by_line, EARLY_COPY, OTHER_FILE)["outcome"] == "clean"
    assert only(by_line, LATE_COPY)["outcome"] == "duplicate"


@pytest.mark.parametrize("invalid_reason", sorted(INVALID_BEFORE_VALID))
def test_an_invalid_copy_does_not_make_the_valid_copy_a_duplicate(by_line, invalid_reason):
    invalid, valid = INVALID_BEFORE_VALID[invalid_reason]
    assert only(by_line, invalid)["reason"] == invalid_reason
    assert only(by_line, valid, OTHER_FILE)["outcome"] == "clean"


def test_a_user_over_the_rate_limit_is_a_bot_and_loses_every_valid_event(by_line):
    for line in BOT_LINES:
        row = only(by_line, line)
        assert (row["outcome"], row["reason"]) == ("rejected", "bot_user"), line
    assert only(by_line, BOT_INVALID)["reason"] == "unknown_event_type"  # the first reason still wins
    for line in BUSY_LINES:  # exactly max_events_per_minute in one minute is allowed
        assert only(by_line, line)["outcome"] == "clean", line


def test_events_clean_on_an_earlier_day_are_duplicates_of_it(by_line):
    assert (only(by_line, REPLAYED)["outcome"], only(by_line, REPLAYED)["reason"]) == ("duplicate", "earlier_day")
    for source_file in (FILE, OTHER_FILE):  # not one kept copy: the earlier day has it
        row = only(by_line, REPLAYED_TWICE, source_file)
        assert (row["outcome"], row["reason"]) == ("duplicate", "earlier_day")
    assert only(by_line, REPLAYED_INVALID)["reason"] == "unknown_event_type"


def test_replayed_events_do_not_count_towards_the_bot_limit(by_line):
    for line in REPLAYER_OLD:
        assert only(by_line, line)["reason"] == "earlier_day"
    for line in REPLAYER_NEW:
        assert only(by_line, line)["outcome"] == "clean"


def test_without_earlier_ids_only_the_day_is_deduplicated(spark):
    lines = [(REPLAYED, FILE), (REPLAYED_TWICE, FILE), (REPLAYED_TWICE, OTHER_FILE)]
    rows = classify_events(raw_frame(spark, lines), DS, CLEANING, KEY).select("outcome", "reason").collect()
    assert sorted((row.outcome, str(row.reason)) for row in rows) == [
        ("clean", "None"), ("clean", "None"), ("duplicate", "same_day")
    ]


def test_unknown_fields_land_in_extra(by_line):
    row = only(by_line, EXTRA_LINE)
    assert dict(row["extra"]) == {"campaign": "spring", "n": "3", "nested": '{"a":1}'}
    assert dict(only(by_line, TIMESTAMP_LINES["iso_utc"])["extra"]) == {}


def test_user_ids_are_pseudonymized_like_pseudonymize_py(by_line, classified):
    clean = [row for row in classified.to_pylist() if row["outcome"] == "clean"]
    assert len(clean) > 10
    for row in clean:
        raw_user_id = json.loads(row["raw_line"])["user_id"]
        assert row["user_id"] == pseudonymize_py(raw_user_id, KEY)
        assert len(row["user_id"]) == 32 and raw_user_id not in row["user_id"]
    non_ascii = only(by_line, NON_ASCII_USER)["user_id"]
    assert non_ascii == pseudonymize_py("Zoë-ünicode-42", KEY) != pseudonymize_py("Zoë-ünicode-42", "other-key")


def test_outcome_counts_add_up(classified_frame, classified):
    counts = outcome_counts(classified_frame, "events")
    outcomes = Counter(classified["outcome"].to_pylist())
    reasons = Counter(
        (row["outcome"], row["reason"]) for row in classified.select(["outcome", "reason"]).to_pylist() if row["reason"]
    )
    expected = {
        "events.raw": len(all_raw_lines()),
        **{f"events.{outcome}": outcomes[outcome] for outcome in OUTCOMES},
        **{f"events.{outcome}.{reason}": n for (outcome, reason), n in reasons.items()},
    }
    assert counts == expected
    assert counts["events.raw"] == counts["events.clean"] + counts["events.duplicate"] + counts["events.rejected"]
    assert counts["events.duplicate"] == counts["events.duplicate.same_day"] + counts["events.duplicate.earlier_day"]
    # every reason code is exercised here
    assert {reason for _, reason in reasons} == set(REJECT_REASONS) | set(DUPLICATE_REASONS)


def test_clean_and_rejected_rows_fit_their_tables(classified_frame, classified):
    assert events_clean(classified_frame).columns == EVENTS_CLEAN.schema.names
    assert rejected_lines(classified_frame, "events").columns == EVENTS_REJECTED.schema.names
    outcome = classified["outcome"]
    clean = conform(EVENTS_CLEAN, classified.filter(pc.equal(outcome, "clean")))
    rejected = classified.filter(pc.equal(outcome, "rejected")).append_column(
        "source", pa.array(["events"] * sum(o == "rejected" for o in outcome.to_pylist()))
    )
    rejected = conform(EVENTS_REJECTED, rejected)
    assert clean.num_rows > 0 and rejected.num_rows > 0


def test_a_large_day_counts_its_side_tables_and_classifies_the_same(spark, classified, monkeypatch):
    from interests.cleaning import events

    monkeypatch.setattr(events, "SMALL_DAY_BYTES", 0)  # every day "large": side tables counted, then broadcast
    raw = raw_frame(spark, all_raw_lines())
    large = classify_events(raw, DS, CLEANING, KEY, earlier_ids(spark)).toArrow()
    key = ["raw_line", "source_file", "outcome"]
    assert sorted(large.select(key).to_pylist(), key=str) == sorted(classified.select(key).to_pylist(), key=str)
    assert sorted(large["reason"].drop_null().to_pylist()) == sorted(classified["reason"].drop_null().to_pylist())


def test_invalid_utf8_lines_keep_their_exact_bytes_in_base64(by_line):
    lines = {case: line for case, line, _ in REASON_CASES}
    for case in ("invalid_utf8_in_a_string", "invalid_utf8_outside_strings", "overlong_utf8"):
        row = only(by_line, lines[case])
        assert base64.b64decode(row["raw_line"]) == lines[case]
        assert row["event_id"] is None and row["user_id"] is not None or row["outcome"] == "rejected"


def test_a_wrong_type_is_never_kept_as_json_text(classified):
    clean = [row for row in classified.to_pylist() if row["outcome"] == "clean"]
    for row in clean:
        for name in ("event_id", "item_id", "query"):
            assert not (row[name] or "").startswith(("{", "[")), row
