"""Property-based: whatever lines land, each ends in exactly one place (clean, rejected with a reason, duplicate).

Hypothesis builds small days of dirty lines (truncated JSON, wrong JSON types, nulls, unicode, huge
strings, repeated event ids, mixed time zones, bytes that are not UTF-8) and the real Spark classifier
classifies each day. Examples are few and small so the suite stays fast.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interests.cleaning.events import OUTCOMES, REJECT_REASONS, classify_events
from interests.config import EVENT_TYPES, CleaningConfig

DS = "2026-03-10"
KEY = "property-key"
CLEANING = CleaningConfig(max_events_per_minute=4)
FILES = ("file:/landing/events/ds=2026-03-10/a.jsonl", "file:/landing/events/ds=2026-03-10/b.jsonl.gz")
DAY_START = datetime(2026, 3, 10, tzinfo=UTC)

wrong_types = st.one_of(
    st.integers(-(2**70), 2**70), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(0, 9), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2),
)
texts = st.one_of(
    st.text(max_size=12),  # any unicode, blank and control characters included
    st.sampled_from(["u1", "u2", "Zoë-ü", "用户", "  ", ""]),
    st.integers(2_000, 20_000).map(lambda n: "x" * n),  # huge
)
offsets = st.sampled_from(["Z", "+00:00", "+02:00", "-05:30", "+14:00", "-12:00", ""])
moments = st.integers(-6 * 86_400, 3 * 86_400).map(lambda s: DAY_START + timedelta(seconds=s))


@st.composite
def timestamps(draw):
    moment = draw(moments)
    form = draw(st.sampled_from(["iso", "epoch", "epoch_string", "junk"]))
    if form == "epoch":
        return int(moment.timestamp() * 1000)
    if form == "epoch_string":
        return str(int(moment.timestamp() * 1000))
    if form == "junk":
        return draw(st.sampled_from(["yesterday", "2026-02-30T00:00:00Z", "", "10/03/2026"]))
    offset = draw(offsets)
    hours = {"Z": 0, "": 0}.get(offset, None)
    shift = timedelta(hours=int(offset[:3]), minutes=int(offset[0] + offset[4:])) if hours is None else timedelta(0)
    return (moment + shift).strftime("%Y-%m-%dT%H:%M:%S") + offset


def field(values):
    """A field's value: usually a good one, sometimes null, absent or of a wrong JSON type."""
    return st.one_of(values, values, values, st.none(), st.just(ABSENT), wrong_types)


ABSENT = object()


@st.composite
def records(draw) -> dict:
    record = {
        "event_id": draw(field(st.sampled_from(["e1", "e2", "e3", "e4", "e5"]))),
        "user_id": draw(field(texts)),
        "item_id": draw(field(st.sampled_from(["i1", "i2", "ï3"]))),
        "event_type": draw(field(st.sampled_from([*EVENT_TYPES, "view", " CLICK ", "Like"]))),
        "ts": draw(st.one_of(timestamps(), timestamps(), st.none(), st.just(ABSENT), wrong_types)),
    }
    if draw(st.booleans()):
        record["dwell_ms"] = draw(st.one_of(st.integers(-5, 10**13), st.text(max_size=4), wrong_types))
    if draw(st.booleans()):
        record["query"] = draw(field(texts))
    if draw(st.booleans()):
        record[draw(st.text(min_size=1, max_size=5))] = draw(st.one_of(texts, wrong_types))
    return {key: value for key, value in record.items() if value is not ABSENT}


@st.composite
def lines(draw) -> tuple[bytes, dict | None]:
    """A raw line and, when it is an untouched JSON object, the record it encodes."""
    record = draw(records())
    text = json.dumps(record, ensure_ascii=draw(st.booleans())).encode()
    damage = draw(st.sampled_from(["none"] * 6 + ["truncate", "bad_bytes", "garbage", "blank"]))
    if damage == "truncate":
        return text[: draw(st.integers(0, len(text) - 1))], None
    if damage == "bad_bytes":
        at = draw(st.integers(0, len(text)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80", b"\xf4\x90\x80\x80"]))
        return text[:at] + bad + text[at:], None
    if damage == "garbage":
        return draw(st.sampled_from([b"[1,2]", b"42", b'"click"', b"null", b"{", b'{"event_id":"e1","event_id":"e2"}',
                                     b"<html>502</html>", b'{"a":1} trailing'])), None
    if damage == "blank":
        return draw(st.sampled_from([b"", b"   ", b"\t"])), None
    return text, record


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _first_wrong_type(record: dict) -> str | None:
    """The wrong_type_ reason the classifier must give an untouched record, if any (checked in this order)."""
    for name in ("event_id", "user_id", "event_type", "item_id", "ts", "query"):
        value = record.get(name)
        if value is None:
            continue
        if name == "ts":
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                return "wrong_type_ts"
        elif not isinstance(value, str):
            return f"wrong_type_{name}"
    return None


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(day=st.lists(st.tuples(lines(), st.sampled_from(FILES)), min_size=1, max_size=40))
def test_every_raw_line_ends_in_exactly_one_place(spark, day):
    raw_lines = [line for (line, _), _ in day]
    raw = spark.createDataFrame([(line, source) for line, source in zip(raw_lines, [s for _, s in day])],
                                "value binary, source_file string").selectExpr("cast(value as string) as value", "source_file")
    classified = classify_events(raw, DS, CLEANING, KEY)
    rows = classified.select("raw_line", "source_file", "event_id", "outcome", "reason").collect()  # one Spark job
    spark.catalog.clearCache()  # the classifier keeps its parsed lines; each example is a new day

    # one row per line, the same lines (invalid UTF-8 as base64 of the exact bytes)
    assert len(rows) == len(day)
    def landed(line: bytes) -> str:
        return line.decode("utf-8") if _utf8(line) else base64.b64encode(line).decode()
    assert Counter((row.raw_line, row.source_file) for row in rows) == Counter(
        (landed(line), source) for (line, _), source in day
    )
    # exactly one outcome; a reason unless clean
    for row in rows:
        assert row.outcome in OUTCOMES
        assert (row.outcome == "clean") == (row.reason is None)
        assert row.outcome != "rejected" or row.reason in REJECT_REASONS
        assert row.outcome != "duplicate" or row.reason == "same_day"  # no earlier days here
    # one kept copy per event id; every duplicate has its kept copy (clean, or rejected as a bot's)
    kept = Counter(row.event_id for row in rows if row.outcome == "clean")
    assert all(n == 1 for n in kept.values())
    bots = {row.event_id for row in rows if row.reason == "bot_user"}
    assert all(row.event_id in kept or row.event_id in bots for row in rows if row.outcome == "duplicate")

    by_line = {(row.raw_line, row.source_file): row for row in rows}
    for (line, record), source in day:
        row = by_line[(landed(line), source)]
        if not _utf8(line):
            assert row.reason == "invalid_utf8"
        elif record is not None:
            expected = _first_wrong_type(record)
            if expected:
                assert row.reason == expected, (record, row)
            if row.outcome == "clean":
                assert all(isinstance(record.get(name), str) for name in ("event_id", "user_id", "event_type"))
                assert record["event_type"].strip().lower() == "search" or isinstance(record.get("item_id"), str)
