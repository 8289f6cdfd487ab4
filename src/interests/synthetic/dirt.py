"""Planted dirt: the bad, late and repeated event lines a synthetic day lands, and what a cleaner owes each.

Real event logs are dirty (DESIGN.md, "Input contract"), so every synthetic day mixes a small
budget of dirty lines into its clean events: ``SyntheticConfig.dirt_rate`` dirty lines per clean
line, split evenly over `DIRT_KINDS`. Each dirty line has exactly one defect, so exactly one
outcome is right for it. Beside the landing zone the generator writes the truth about them,
``dirt/ds=D.json`` (`dirt_truth`), and tests/integration/test_night.py checks the cleaner's counts
against it number by number.

The kinds and the outcome a correct cleaner gives each line (`REJECTION_REASONS` lists the codes):

- rejected with the reason of `REJECTION_REASON_BY_KIND`: ``malformed_json``, ``missing_event_id``,
  ``missing_user_id``, ``missing_item_id``, ``unknown_event_type``, ``bad_timestamp``,
  ``bad_dwell_ms`` (``invalid_dwell_ms``), ``future_timestamp``, ``stale_timestamp``,
  ``invalid_utf8_text`` (``invalid_utf8``);
- ``wrong_type``: a valid-looking event with one field of the wrong JSON type (`WRONG_TYPES`), rejected
  as ``wrong_type_<field>``: the reason differs from line to line, so the truth counts per reason;
- ``late``: a valid event timed 25-47 hours before its landing day: clean (`CLEAN_DIRT_KINDS`);
- ``duplicate``: a byte-exact copy of a clean line of the same day: a ``same_day`` duplicate;
- ``replayed``: a byte-exact copy of a clean line of the previous landing day (a file landed
  again): an ``earlier_day`` duplicate once that day is cleaned. The first day of a generated
  range has no previous day and plants none (its truth says ``"replayed_from": null``).

Bots are not a dirt kind (``SyntheticConfig.bots_per_day`` sets them; `generator._bot_events` makes
their valid-looking clicks), but their lines are counted here too, rejected as ``bot_user``.

Everything is drawn from the day's dirt random stream, so the same config gives the same lines.
Dirty lines are few and are built one at a time in Python, modelled on the day's clean events.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Protocol

import numpy as np
import pyarrow as pa

from interests.synthetic.contract import (
    DAY_MS,
    DWELL,
    EVENT_TYPES,
    HOUR_MS,
    IMPRESSION,
    SEARCH,
    TIMESTAMP_OFFSETS,
    iso_timestamp,
)

DIRT_KINDS: Final[tuple[str, ...]] = (
    "malformed_json",
    "missing_event_id",
    "missing_user_id",
    "missing_item_id",
    "unknown_event_type",
    "bad_timestamp",
    "bad_dwell_ms",
    "future_timestamp",
    "stale_timestamp",
    "late",
    "invalid_utf8_text",
    "wrong_type",
    "duplicate",
    "replayed",
)
"""Kinds of planted dirt; the dirt budget of a day is split evenly over them."""

REJECTION_REASON_BY_KIND: Final[dict[str, str]] = {
    "malformed_json": "malformed_json",
    "missing_event_id": "missing_event_id",
    "missing_user_id": "missing_user_id",
    "missing_item_id": "missing_item_id",
    "unknown_event_type": "unknown_event_type",
    "bad_timestamp": "bad_timestamp",
    "bad_dwell_ms": "invalid_dwell_ms",
    "future_timestamp": "future_timestamp",
    "stale_timestamp": "stale_timestamp",
    "invalid_utf8_text": "invalid_utf8",
}
"""The rejection reason a correct cleaner gives each rejected dirt kind that has a single reason."""

WRONG_TYPES: Final[tuple[tuple[str, str], ...]] = (
    ("event_id", "number"),
    ("user_id", "object"),
    ("user_id", "number"),
    ("event_type", "array"),
    ("item_id", "number"),
    ("ts", "boolean"),
    ("ts", "object"),
)
"""(field, JSON type) a ``wrong_type`` line gives its one wrong field, one pair drawn per line."""

WRONG_TYPE_REASONS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(f"wrong_type_{field}" for field, _ in WRONG_TYPES)
)
"""The reasons ``wrong_type`` lines get: ``wrong_type_<field>`` for the field made wrong."""

BOT_REJECTION_REASON: Final[str] = "bot_user"
"""The rejection reason for every event of a bot user."""

CLEAN_DIRT_KINDS: Final[tuple[str, ...]] = ("late",)
"""Dirt kinds whose lines are valid and must end in the clean table."""

DUPLICATE_REASON_BY_KIND: Final[dict[str, str]] = {"duplicate": "same_day", "replayed": "earlier_day"}
"""Dirt kinds whose lines a correct cleaner counts as duplicates, with the cleaner's duplicate reason."""

REJECTION_REASONS: Final[tuple[str, ...]] = (
    *REJECTION_REASON_BY_KIND.values(),
    *WRONG_TYPE_REASONS,
    BOT_REJECTION_REASON,
)
"""Every rejection reason the truth files count, in a fixed order."""

LATE_HOURS: Final[tuple[int, int]] = (25, 47)
"""A `late` event happened this many hours before the start of its day (inclusive range)."""

FUTURE_MIN_HOURS_AFTER_DAY_END: Final[int] = 49
"""A `future_timestamp` event lies at least this many hours after the end of its day."""

STALE_MIN_DAYS_BEFORE_DAY_START: Final[int] = 31
"""A `stale_timestamp` event lies at least this many days before the start of its day."""

REPLAY_SPARE_LINES: Final[int] = 100
"""Lines kept for the next day's ``replayed`` share beyond twice the share this day's size would give."""

_ABSENT: Final = object()


class ModelEvents(Protocol):
    """The day's clean events, which dirty lines borrow users, items and query topics from."""

    user_ids: pa.Array
    item: np.ndarray
    subinterest: np.ndarray
    event_type: np.ndarray


class QueryWords(Protocol):
    """The vocabulary's sub-interest words, which a dirty search line draws its query from."""

    sub_start: np.ndarray
    sub_length: np.ndarray
    word_list: list[str]


@dataclass(frozen=True)
class Replay:
    """Clean lines of one landing day kept so that the next day can land some of them again."""

    ds: date
    lines: pa.Array


@dataclass(frozen=True)
class PlantedDirt:
    """A day's dirty lines (newline-terminated, not yet shuffled) and their accounting."""

    lines: pa.Array
    """Large-binary lines: the Python-made ones, then the same-day copies, then the replayed ones."""
    injected: dict[str, int]
    """Lines planted per dirt kind (every kind, zeros included)."""
    rejected: dict[str, int]
    """Lines a correct cleaner rejects, per reason (every reason of REJECTION_REASONS, bots still 0)."""
    next_seq: int
    """The first event sequence number the dirt left unused (bot events take theirs from here)."""
    replayed_from: date | None
    """The landing day the ``replayed`` lines copy; None on the first day of a range."""


def keep_for_replay(
    rng: np.random.Generator, ds: date, clean_lines: pa.Array, dirt_rate: float
) -> Replay:
    """A random sample of a day's clean lines, enough for the next day's ``replayed`` share.

    A sample, not the whole day, is carried from one day to the next: a few thousand lines instead
    of millions. It holds twice the share this day's size would give plus REPLAY_SPARE_LINES, so only a
    next day with more than about twice as many events plants fewer (the truth counts what was planted).
    """
    n = len(clean_lines)
    size = min(n, math.ceil(2 * dirt_rate * n / len(DIRT_KINDS)) + REPLAY_SPARE_LINES)
    return Replay(ds=ds, lines=clean_lines.take(np.sort(rng.choice(n, size=size, replace=False))))


def plant_dirt(
    rng: np.random.Generator,
    vocabulary: QueryWords,
    clean: ModelEvents,
    clean_lines: pa.Array,
    day_start: int,
    ds_compact: str,
    first_seq: int,
    dirt_rate: float,
    replay: Replay | None,
) -> PlantedDirt:
    """The day's dirty lines: ``dirt_rate`` per clean line, split evenly over DIRT_KINDS.

    ``clean_lines`` are the rendered ``clean`` events (same-day duplicates copy them); ``replay``
    is what the previous landing day kept (`keep_for_replay`), None on the first day of a range.
    New events take sequence numbers from ``first_seq`` on, so their event ids are unique.
    """
    n_dirt = round(dirt_rate * len(clean_lines))
    counts = dict(zip(DIRT_KINDS, _split_evenly(rng, n_dirt, len(DIRT_KINDS)).tolist(), strict=True))
    counts["replayed"] = min(counts["replayed"], 0 if replay is None else len(replay.lines))
    writer = _DirtWriter(vocabulary, rng, clean, day_start, ds_compact, first_seq)
    rejected = dict.fromkeys(REJECTION_REASONS, 0)
    made: list[bytes] = []
    for kind in DIRT_KINDS:
        if kind in DUPLICATE_REASON_BY_KIND:
            continue
        for _ in range(counts[kind]):
            line, reason = writer.line(kind)
            made.append(line + b"\n")
            if reason is not None:
                rejected[reason] += 1
    same_day = clean_lines.take(np.sort(rng.choice(len(clean_lines), size=counts["duplicate"], replace=False)))
    parts = [pa.array(made, type=pa.large_binary()), same_day.cast(pa.large_binary())]
    if replay is not None:
        rows = np.sort(rng.choice(len(replay.lines), size=counts["replayed"], replace=False))
        parts.append(replay.lines.take(rows).cast(pa.large_binary()))
    return PlantedDirt(
        lines=pa.concat_arrays(parts),
        injected=counts,
        rejected=rejected,
        next_seq=writer.next_seq,
        replayed_from=None if replay is None else replay.ds,
    )


def dirt_truth(
    ds: date, raw_lines: int, clean_events: int, dirt: PlantedDirt, bot_user_ids: list[str], bot_lines: int
) -> dict[str, Any]:
    """The truth file of a day: what a correct cleaner ends with, and what was planted.

    ``expected_duplicates`` is ``expected_duplicates_same_day`` + ``expected_duplicates_earlier_day``
    (the cleaner's ``events.duplicate.same_day`` / ``.earlier_day``); ``expected_rejected`` counts per
    reason code, only reasons that occur (like a cleaner's group-by); ``injected`` counts per dirt
    kind, every kind, plus ``bot_user``. Raises AssertionError when the accounting does not add up.
    """
    rejected = {**dirt.rejected, BOT_REJECTION_REASON: bot_lines}
    injected = {**dirt.injected, BOT_REJECTION_REASON: bot_lines}
    same_day, earlier_day = injected["duplicate"], injected["replayed"]
    truth = {
        "ds": ds.isoformat(),
        "raw_lines": raw_lines,
        "expected_clean": clean_events + sum(injected[kind] for kind in CLEAN_DIRT_KINDS),
        "expected_duplicates": same_day + earlier_day,
        "expected_duplicates_same_day": same_day,
        "expected_duplicates_earlier_day": earlier_day,
        "expected_rejected": {reason: count for reason, count in rejected.items() if count},
        "injected": injected,
        "replayed_from": None if dirt.replayed_from is None else dirt.replayed_from.isoformat(),
        "bot_user_ids": bot_user_ids,
    }
    if raw_lines != truth["expected_clean"] + truth["expected_duplicates"] + sum(rejected.values()):
        raise AssertionError(f"dirt accounting is off for {ds}: {truth}")
    return truth


class _DirtWriter:
    """Builds the Python-made dirty lines of one day, one defect per line."""

    def __init__(
        self,
        vocabulary: QueryWords,
        rng: np.random.Generator,
        clean: ModelEvents,
        day_start: int,
        ds_compact: str,
        first_seq: int,
    ) -> None:
        """Remember the day's clean events to borrow users and items from."""
        self.vocabulary = vocabulary
        self.rng = rng
        self.clean = clean
        self.day_start = day_start
        self.ds_compact = ds_compact
        self.next_seq = first_seq
        self._taste_rows: np.ndarray | None = None

    def _timestamp(self, ts_ms: int) -> str | int:
        """Half epoch milliseconds, half ISO-8601 with a random offset."""
        if self.rng.random() < 0.5:
            return int(ts_ms)
        offset = int(self.rng.integers(0, len(TIMESTAMP_OFFSETS)))
        return iso_timestamp(ts_ms, offset, bool(self.rng.random() < 0.5))

    def _query(self, sub: int) -> str:
        """Two or three words of a sub-interest."""
        vocabulary = self.vocabulary
        start, length = int(vocabulary.sub_start[sub]), int(vocabulary.sub_length[sub])
        picks = self.rng.choice(length, size=int(self.rng.integers(2, 4)), replace=False)
        return " ".join(vocabulary.word_list[start + int(p)] for p in picks)

    def event(self, event_type: int | None = None) -> dict[str, Any]:
        """A fresh valid event modelled on a random clean event of the day.

        An event of a given type copies a non-impression row: impressions are mostly exposure, so
        their item says nothing of the user's taste, and a click or query must.
        """
        if event_type is None:
            row = int(self.rng.integers(0, self.clean.event_type.size))
        else:
            if self._taste_rows is None:
                self._taste_rows = np.flatnonzero(self.clean.event_type != IMPRESSION)
            chosen = self._taste_rows
            row = int(chosen[self.rng.integers(0, chosen.size)]) if chosen.size else 0
        kind = int(self.clean.event_type[row]) if event_type is None else event_type
        seq = self.next_seq
        self.next_seq += 1
        record: dict[str, Any] = {
            "event_id": f"e{self.ds_compact}-{seq:09d}",
            "user_id": self.clean.user_ids[row].as_py(),
        }
        if kind != SEARCH:
            record["item_id"] = f"i{int(self.clean.item[row]):06d}"
        record["event_type"] = EVENT_TYPES[kind]
        record["ts"] = self._timestamp(self.day_start + int(self.rng.integers(0, DAY_MS)))
        if kind == DWELL:
            record["dwell_ms"] = int(self.rng.integers(500, 120_000))
        if kind == SEARCH:
            record["query"] = self._query(int(self.clean.subinterest[row]))
        return record

    def _non_search(self) -> int:
        """A random event type that needs an item and has no dwell field."""
        return int(self.rng.choice([0, 1, 2, 3, 4]))

    def _set(self, record: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
        """Set or (for `_ABSENT`) remove a key, keeping key order."""
        if value is _ABSENT:
            record.pop(key, None)
        else:
            record[key] = value
        return record

    def _choose(self, options: Sequence[Any]) -> Any:
        """One of the options, uniformly."""
        return options[int(self.rng.integers(0, len(options)))]

    def line(self, kind: str) -> tuple[bytes, str | None]:
        """One dirty line of the given kind (no trailing newline) and the reason a correct cleaner
        rejects it with; None for a line that must end clean."""
        if kind == "wrong_type":
            return self._wrong_type()
        reason = REJECTION_REASON_BY_KIND.get(kind)
        if kind == "malformed_json":
            return self._malformed(), reason
        if kind in ("missing_event_id", "missing_user_id"):
            key = kind.removeprefix("missing_")
            record = self._set(self.event(), key, self._choose([_ABSENT, None, ""]))
        elif kind == "missing_item_id":
            record = self.event(self._non_search())
            record = self._set(record, "item_id", self._choose([_ABSENT, None, ""]))
        elif kind == "unknown_event_type":
            record = self.event(self._non_search())
            value = self._choose(["hover", "CLICK?", "scroll", "view_v2", "", None, _ABSENT])
            record = self._set(record, "event_type", value)
        elif kind == "bad_timestamp":
            value = self._choose(
                [
                    "yesterday",
                    "2026-13-45T99:00:00Z",
                    "not-a-date",
                    "2026-02-30T10:00:00+00:00",
                    "",
                    None,
                    "1764547200000",  # epoch ms as a string: the contract's epoch ms is a JSON number
                    "20/11/2026 10:00",
                    _ABSENT,
                ]
            )
            record = self._set(self.event(), "ts", value)
        elif kind == "bad_dwell_ms":
            record = self.event(DWELL)
            record["dwell_ms"] = self._choose(["abc", -5, 1.5, -1200, "12s", 2.25])
        elif kind == "future_timestamp":
            day_end = self.day_start + DAY_MS
            low = FUTURE_MIN_HOURS_AFTER_DAY_END * HOUR_MS
            ts = day_end + int(self.rng.integers(low, 3 * 365 * DAY_MS))
            record = self._set(self.event(), "ts", self._timestamp(ts))
        elif kind == "stale_timestamp":
            low = STALE_MIN_DAYS_BEFORE_DAY_START * DAY_MS
            ts = self.day_start - int(self.rng.integers(low, 8 * 365 * DAY_MS))
            record = self._set(self.event(), "ts", self._timestamp(ts))
        elif kind == "late":
            low, high = LATE_HOURS
            ts = self.day_start - int(self.rng.integers(low * HOUR_MS, high * HOUR_MS + 1))
            record = self._set(self.event(), "ts", self._timestamp(ts))
        elif kind == "invalid_utf8_text":
            record = self.event(SEARCH)
            words = record["query"].split(" ")
            record["query"] = "\x00QUERY\x00"
            bad = self._choose([b"\xff", b"\xe9", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"])
            query = words[0].encode() + bad + b" " + " ".join(words[1:]).encode()
            return _dumps(record).replace(b"\\u0000QUERY\\u0000", query), reason
        else:
            allowed = [k for k in DIRT_KINDS if k not in DUPLICATE_REASON_BY_KIND]
            raise ValueError(f"unknown dirt kind {kind!r}; allowed: {', '.join(allowed)}")
        return _dumps(record), reason

    def _wrong_type(self) -> tuple[bytes, str]:
        """A valid event but for one field of the wrong JSON type (one of WRONG_TYPES).

        The wrong value still carries the right information (the id inside an object, the id's
        digits as a number, the type inside an array), the way a producer with a schema bug writes it.
        """
        field, json_type = self._choose(WRONG_TYPES)
        record = self.event(self._non_search() if field == "item_id" else None)
        value = record[field]
        if field == "event_id":  # e20261120-000000612 -> 20261120000000612
            record[field] = int(value[1:].replace("-", ""))
        elif field in ("user_id", "item_id") and json_type == "number":  # u0000042 -> 42
            record[field] = int(value[1:])
        elif field == "user_id":
            record[field] = {"id": value}
        elif field == "event_type":
            record[field] = [value]
        elif json_type == "boolean":
            record[field] = bool(self.rng.random() < 0.5)
        else:  # ts as an object, the way some exporters wrap dates
            record[field] = {"$date": value}
        return _dumps(record), f"wrong_type_{field}"

    def _malformed(self) -> bytes:
        """A line no JSON parser accepts as an object (even after UTF-8 replacement)."""
        variant = int(self.rng.integers(0, 4))
        record = self.event()
        text = _dumps(record)
        if variant == 0:  # truncated object; the cut keeps the unique event id
            return text[: int(self.rng.integers(34, len(text) - 1))]
        if variant == 1:  # garbage
            token = record["event_id"]
            return self._choose(
                [
                    f"<html><body>502 Bad Gateway {token}</body></html>",
                    f"ERROR {token} connection reset by peer",
                    f"event_id={token} user_id={record['user_id']} type=click",
                ]
            ).encode()
        if variant == 2:  # valid JSON, but not an object
            if self.rng.random() < 0.5:
                return json.dumps([record["event_id"], record["user_id"], "click"]).encode()
            return str(10**12 + self.next_seq).encode()
        # a semicolon for a comma breaks the structure (invalid bytes would make it invalid_utf8)
        return text.replace(b',"user_id"', b';"user_id"', 1)


def _dumps(record: dict[str, Any]) -> bytes:
    """Compact JSON bytes of a record."""
    return json.dumps(record, separators=(",", ":")).encode()


def _split_evenly(rng: np.random.Generator, total: int, kinds: int) -> np.ndarray:
    """Split `total` into `kinds` counts that differ by at most one, remainder at random."""
    counts = np.full(kinds, total // kinds, dtype=np.int64)
    counts[rng.choice(kinds, size=total % kinds, replace=False)] += 1
    return counts
