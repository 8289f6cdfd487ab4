"""Seeded synthetic landing zone with a planted truth.

`generate_landing` writes, for each day of a `SyntheticConfig`, the raw files the nightly
pipeline reads (events, item catalog changes, user texts; see DESIGN.md "Input contract"),
plus, outside the landing zone, the truth they were drawn from: which sub-interest every
item belongs to, every user's interest weights per day, and how many dirty lines of each
kind were planted with the outcome a correct cleaner must give them.

**Behaviour that text does not reveal.** An item's text follows its sub-interest (topic words,
sub-interest words, filler). Who engages with it follows its *taste*: half of the items of a
sub-interest (a hidden bit) share a taste with half of the items of a sub-interest of another
topic. Users hold 1-5 tastes with drifting weights and engage with items of their tastes in
proportion to item popularity (heavy-tailed); an item is three times as popular on the day it
lands. Impressions are mostly exposure: 70% of them show a popular item whatever the user's taste,
so the event type carries how much an engagement says about taste. So text narrows an item down to two tastes, and only co-engagement tells which: a pipeline
that learns from behaviour can beat one that reads text alone, measurably.

Truth files: ``items.parquet`` (item_id, topic, subinterest, taste, topic_name, subinterest_name,
first_ds); ``user_interests/ds=D.parquet`` (user_id, taste, subinterest, topic, weight: one row per
taste a user holds that day; a taste is numbered like its first sub-interest, so subinterest and
topic name that half); ``dirt/ds=D.json`` (per-kind dirt counts and the cleaner's expected outcome).

The dirt itself (its kinds, the dirty lines, the truth file's accounting) lives in
`interests.synthetic.dirt`; what an event line looks like, shared by both, in
`interests.synthetic.contract`.

Everything is vectorized with numpy and assembled into JSON lines with Arrow string
kernels, so a million events cost seconds; only the few dirty lines are built in Python.
One day of events is held in memory at a time (and a small sample of the day before, for the
``replayed`` dirt). Same config, same bytes.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from interests.catalog import landing_path
from interests.synthetic.contract import (
    CLICK,
    DAY_MS,
    DWELL,
    EPOCH,
    EVENT_TYPES,
    HOUR_MS,
    IMPRESSION,
    SEARCH,
    TIMESTAMP_OFFSETS,
    epoch_ms,
)

# The dirt kinds and reasons lived here before dirt.py; they stay importable from here.
from interests.synthetic.dirt import (
    BOT_REJECTION_REASON,
    CLEAN_DIRT_KINDS,  # noqa: F401
    DIRT_KINDS,  # noqa: F401
    LATE_HOURS,  # noqa: F401
    REJECTION_REASON_BY_KIND,  # noqa: F401
    REJECTION_REASONS,  # noqa: F401
    Replay,
    dirt_truth,
    keep_for_replay,
    plant_dirt,
)
from interests.synthetic.vocabulary import (
    FILLER_WORDS,
    MAX_SUBINTERESTS_PER_TOPIC,
    MAX_TOPICS,
    TOPICS,
)

logger = logging.getLogger(__name__)

EVENT_TYPE_PROBABILITIES: Final[tuple[float, ...]] = (0.50, 0.22, 0.08, 0.03, 0.02, 0.08, 0.07)
"""How often each clean event type occurs."""

BOT_EVENTS_PER_BOT: Final[tuple[int, int]] = (300, 1000)
"""Each bot emits this many clicks (inclusive range), all inside one minute."""

CLIENTS: Final[tuple[str, ...]] = ("ios", "android", "web")
"""Values of the harmless extra `client` field some event lines carry."""

_MAX_SLOTS: Final[int] = 5
_MAX_EVENTS_PER_DAY: Final[int] = 20_000_000
_GZIP_LEVEL: Final[int] = 1
_PART_NAME: Final[str] = "part-00000.jsonl"
# Fixed chunk sizes (part of the output's identity: changing them changes the bytes) keep
# temporaries under glibc's mmap threshold, which saves most of the page-fault time.
_EVENT_CHUNK_ROWS: Final[int] = 262_144
_TEXT_CHUNK_ROWS: Final[int] = 32_768

# Stream ids keep each random component independent of the others (and of the day count).
_STREAM_WORLD, _STREAM_DRIFT, _STREAM_ITEMS, _STREAM_TEXTS = 1, 2, 3, 4
_STREAM_EVENTS, _STREAM_DIRT, _STREAM_BOTS, _STREAM_SHUFFLE = 5, 6, 7, 8
_STREAM_TASTES, _STREAM_REPLAY = 9, 10

EXPOSURE_SHARE: Final[float] = 0.7
"""Share of impressions that show a popular item regardless of the user's taste (exposure, not preference)."""

FRESH_ITEM_BOOST: Final[float] = 3.0
"""An item's popularity is multiplied by this on the day it lands, so new items get engaged at once."""


# --------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------


class SyntheticConfigError(ValueError, TypeError):
    """A `SyntheticConfig` field has a bad value or type; the message names field and range."""


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that determines a synthetic landing zone; validated on construction."""

    users: int
    """Number of regular (non-bot) users, ids u0000000..."""
    items: int
    """Number of catalog items on the first day; a few are added each later day."""
    topics: int
    """Number of topics taken from the vocabulary (1..12)."""
    subinterests_per_topic: int
    """Sub-interests per topic (1..4)."""
    start: date
    """First generated day."""
    days: int
    """Number of consecutive days generated."""
    seed: int
    """Seed of every random draw; same config and seed give byte-identical output."""
    dirt_rate: float = 0.02
    """Dirty lines per clean event line, split evenly over `DIRT_KINDS`."""
    events_per_user_mean: float = 4.0
    """An active user has 1 + Poisson(events_per_user_mean) events a day."""
    active_probability: float = 0.5
    """Probability that a user is active on a given day."""
    item_change_rate: float = 0.03
    """Share of existing items that land again with a new title and body each later day."""
    bots_per_day: int = 1
    """Bot users per day, each emitting 300-1000 clicks within one minute."""
    gzip_events: bool = False
    """Write events as part-00000.jsonl.gz instead of part-00000.jsonl."""

    def __post_init__(self) -> None:
        """Reject out-of-range values, naming the field and the allowed range."""
        _check_int(self, "users", 1, 9_999_999)
        _check_int(self, "topics", 1, MAX_TOPICS)
        _check_int(self, "subinterests_per_topic", 1, MAX_SUBINTERESTS_PER_TOPIC)
        _check_int(self, "items", self.topics * self.subinterests_per_topic, 500_000)
        if not isinstance(self.start, date) or isinstance(self.start, datetime):
            raise SyntheticConfigError(
                f"SyntheticConfig.start must be a datetime.date, got {self.start!r}"
            )
        if not 2010 <= self.start.year <= 2200:
            raise SyntheticConfigError(
                f"SyntheticConfig.start={self.start.isoformat()} is out of range; "
                "allowed: years 2010..2200"
            )
        _check_int(self, "days", 1, 366)
        _check_int(self, "seed", 0, 2**63 - 1)
        _check_float(self, "dirt_rate", 0.0, 0.5)
        _check_float(self, "events_per_user_mean", 0.0, 100.0)
        _check_float(self, "active_probability", 0.0, 1.0)
        _check_float(self, "item_change_rate", 0.0, 1.0)
        _check_int(self, "bots_per_day", 0, 1000)
        if not isinstance(self.gzip_events, bool):
            raise SyntheticConfigError(
                f"SyntheticConfig.gzip_events must be a bool, got {self.gzip_events!r}"
            )
        expected = self.users * self.active_probability * (1.0 + self.events_per_user_mean)
        if expected > _MAX_EVENTS_PER_DAY:
            raise SyntheticConfigError(
                "SyntheticConfig.users * active_probability * (1 + events_per_user_mean) "
                f"= {expected:,.0f} expected events a day; allowed: <= {_MAX_EVENTS_PER_DAY:,}"
            )

    @property
    def subinterests(self) -> int:
        """Total number of sub-interests (topics x subinterests_per_topic)."""
        return self.topics * self.subinterests_per_topic

    @property
    def end(self) -> date:
        """Last generated day."""
        return self.start + timedelta(days=self.days - 1)

    @property
    def new_items_per_day(self) -> int:
        """Items added to the catalog on each day after the first (about 1%)."""
        return max(1, self.items // 100)

    @property
    def taste_shift(self) -> int:
        """A taste joins sub-interest s with sub-interest s - taste_shift: one topic over, when there are two."""
        if self.topics > 1:
            return self.subinterests_per_topic
        return 1 if self.subinterests > 1 else 0

    def day_dates(self) -> list[date]:
        """Every generated day, in order."""
        return [self.start + timedelta(days=offset) for offset in range(self.days)]


def _check_int(config: SyntheticConfig, name: str, low: int, high: int) -> None:
    """Raise ValueError unless the field is an int in [low, high]."""
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SyntheticConfigError(f"SyntheticConfig.{name} must be an int, got {value!r}")
    if not low <= value <= high:
        raise SyntheticConfigError(
            f"SyntheticConfig.{name}={value!r} is out of range; allowed: {low} <= {name} <= {high}"
        )


def _check_float(config: SyntheticConfig, name: str, low: float, high: float) -> None:
    """Raise ValueError unless the field is a finite number in [low, high]."""
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SyntheticConfigError(f"SyntheticConfig.{name} must be a number, got {value!r}")
    if not (np.isfinite(value) and low <= value <= high):
        raise SyntheticConfigError(
            f"SyntheticConfig.{name}={value!r} is out of range; allowed: {low} <= {name} <= {high}"
        )


PRESETS: Final[dict[str, SyntheticConfig]] = {
    "tiny": SyntheticConfig(
        users=200,
        items=240,
        topics=4,
        subinterests_per_topic=3,
        start=date(2026, 11, 18),
        days=3,
        seed=7,
        dirt_rate=0.05,
        events_per_user_mean=4.0,
        active_probability=0.6,
        item_change_rate=0.05,
        bots_per_day=1,
    ),
    "small": SyntheticConfig(
        users=3_000,
        items=2_000,
        topics=8,
        subinterests_per_topic=4,
        start=date(2026, 11, 14),
        days=7,
        seed=42,
        dirt_rate=0.03,
        events_per_user_mean=6.0,
        active_probability=0.5,
        item_change_rate=0.03,
        bots_per_day=2,
    ),
    "large": SyntheticConfig(
        users=1_000_000,
        items=200_000,
        topics=12,
        subinterests_per_topic=4,
        start=date(2026, 11, 20),
        days=1,
        seed=1,
        dirt_rate=0.01,
        events_per_user_mean=3.0,
        active_probability=0.5,
        item_change_rate=0.02,
        bots_per_day=10,
    ),
}
"""Named configs: tiny for tests (< 2 s), small for a demo, large for benchmarks."""


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayReport:
    """Line counts written for one day, with the outcome a correct cleaner must reach."""

    ds: date
    event_lines: int
    item_lines: int
    user_text_lines: int
    expected_clean: int
    expected_duplicates: int
    expected_rejected: int
    bot_lines: int
    seconds: float

    def summary(self) -> str:
        """One human-readable line for logs."""
        return (
            f"ds={self.ds.isoformat()} events={self.event_lines:,} "
            f"(clean={self.expected_clean:,} duplicates={self.expected_duplicates:,} "
            f"rejected={self.expected_rejected:,} of which bot={self.bot_lines:,}) "
            f"items={self.item_lines:,} user_texts={self.user_text_lines:,} "
            f"in {self.seconds:.2f}s"
        )


@dataclass(frozen=True)
class GenerationReport:
    """What `generate_landing` wrote, day by day."""

    config: SyntheticConfig
    landing_root: Path
    truth_root: Path
    days: tuple[DayReport, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    @property
    def event_lines(self) -> int:
        """Event lines written over all days."""
        return sum(day.event_lines for day in self.days)


# --------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------


def events_path(landing_root: Path, ds: date, gzip_events: bool) -> Path:
    """Path of the one events file of a day."""
    suffix = ".gz" if gzip_events else ""
    return Path(landing_path(landing_root, "events", ds.isoformat())) / f"{_PART_NAME}{suffix}"


def items_path(landing_root: Path, ds: date) -> Path:
    """Path of the one item catalog file of a day."""
    return Path(landing_path(landing_root, "items", ds.isoformat())) / _PART_NAME


def user_texts_path(landing_root: Path, ds: date) -> Path:
    """Path of the one user text file of a day."""
    return Path(landing_path(landing_root, "user_texts", ds.isoformat())) / _PART_NAME


def truth_items_path(truth_root: Path) -> Path:
    """Path of the item -> topic / sub-interest truth table."""
    return truth_root / "items.parquet"


def truth_user_interests_path(truth_root: Path, ds: date) -> Path:
    """Path of a day's user -> sub-interest weight truth table."""
    return truth_root / "user_interests" / f"ds={ds.isoformat()}.parquet"


def truth_dirt_path(truth_root: Path, ds: date) -> Path:
    """Path of a day's planted-dirt counts."""
    return truth_root / "dirt" / f"ds={ds.isoformat()}.json"


# --------------------------------------------------------------------------------------
# Arrow string helpers
# --------------------------------------------------------------------------------------

_D1: Final = pa.array([f"{i:01d}" for i in range(10)])
_D2: Final = pa.array([f"{i:02d}" for i in range(100)])
_D3: Final = pa.array([f"{i:03d}" for i in range(1000)])
_FRACTIONS: Final = pa.array([f".{i:03d}" for i in range(1000)] + [""])
_OFFSET_LABELS: Final = pa.array([label for label, _ in TIMESTAMP_OFFSETS])
_OFFSET_MINUTES: Final = np.array([minutes for _, minutes in TIMESTAMP_OFFSETS], dtype=np.int64)
_EVENT_TYPE_TABLE: Final = pa.array(list(EVENT_TYPES))
_CLIENT_FRAGMENTS: Final = pa.array([f',"client":"{client}"' for client in CLIENTS] + [""])


def _concat(*parts: Any) -> pa.Array:
    """Concatenate string arrays and scalars element-wise."""
    return pc.binary_join_element_wise(*parts, "")


def _digits(values: np.ndarray, width: int) -> pa.Array:
    """Format non-negative ints as zero-padded decimal strings of a fixed width."""
    values = np.asarray(values, dtype=np.int64)
    pieces: list[pa.Array] = []
    remaining = width
    while remaining > 0:
        size = min(3, remaining)
        table = (_D1, _D2, _D3)[size - 1]
        remaining -= size
        if remaining == 0:
            group = values  # the leading group: an out-of-range value fails in take()
        else:
            group = values % (10**size)
            values = values // (10**size)
        pieces.append(table.take(group))
    return _concat(*reversed(pieces))


def _scatter(length: int, positions: np.ndarray, values: pa.Array) -> pa.Array:
    """A string array of `length` empty strings with `values` placed at `positions`."""
    index = np.full(length, len(values), dtype=np.int64)
    index[positions] = np.arange(len(values), dtype=np.int64)
    return pa.concat_arrays([values, pa.array([""], type=values.type)]).take(index)


def _join_words(words: pa.Array, word_index: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Join consecutive runs of vocabulary words (one run per row) with spaces."""
    offsets = np.zeros(lengths.size + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), words.take(word_index))
    return pc.binary_join(lists, " ")


def _iso_timestamps(ts_ms: np.ndarray, offset_index: np.ndarray, with_ms: np.ndarray) -> pa.Array:
    """Format epoch milliseconds as ISO-8601 local times with the chosen UTC offsets."""
    local = ts_ms + _OFFSET_MINUTES[offset_index] * 60_000
    day_number = local // DAY_MS
    first_day = int(day_number.min()) if day_number.size else 0
    last_day = int(day_number.max()) if day_number.size else 0
    dates = pa.array(
        [(EPOCH + timedelta(days=d)).isoformat() for d in range(first_day, last_day + 1)]
    )
    within = local - day_number * DAY_MS
    return _concat(
        dates.take(day_number - first_day),
        "T",
        _D2.take(within // HOUR_MS),
        ":",
        _D2.take(within // 60_000 % 60),
        ":",
        _D2.take(within // 1000 % 60),
        _FRACTIONS.take(np.where(with_ms, within % 1000, 1000)),
        _OFFSET_LABELS.take(offset_index),
    )


def _write_lines(path: Path, lines: pa.Array, gzip_output: bool = False) -> None:
    """Write newline-terminated lines atomically (hidden temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = lines.cast(pa.large_binary())
    payload: pa.Buffer | bytes = b""
    if len(lines) > 0:
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
        first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
        payload = lines.buffers()[2].slice(int(first), int(last - first))
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        if gzip_output:
            # mtime=0 and no file name keep gzip output byte-identical between runs.
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=_GZIP_LEVEL
            ) as zipped:
                zipped.write(payload)
        else:
            handle.write(payload)
    os.replace(tmp, path)


def _write_parquet(path: Path, table: pa.Table) -> None:
    """Write a Parquet file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


@contextmanager
def _fast_memory_pool() -> Iterator[None]:
    """Use Arrow's jemalloc pool while generating, where the wheel has it.

    The default mimalloc pool hands big string buffers back to the OS eagerly; refaulting
    them cost as much system time as the generation itself (measured: 3.1 s vs 0.6 s of
    system time for two million event lines). The previous pool is restored afterwards.
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _rng(seed: int, stream: int, day_index: int = 0) -> np.random.Generator:
    """An independent generator for one (stream, day)."""
    return np.random.default_rng([seed, stream, day_index])


# --------------------------------------------------------------------------------------
# The world: vocabulary, catalog, users
# --------------------------------------------------------------------------------------


@dataclass
class _Vocabulary:
    """The config's slice of the vocabulary as one Arrow word table with index ranges."""

    words: pa.Array
    sub_start: np.ndarray
    sub_length: np.ndarray
    topic_start: np.ndarray
    topic_length: np.ndarray
    filler_start: int
    filler_length: int
    topic_names: list[str]
    subinterest_names: list[str]
    word_list: list[str]

    @classmethod
    def build(cls, config: SyntheticConfig) -> _Vocabulary:
        """Lay the chosen topics' words out in one table."""
        words: list[str] = []
        sub_start, sub_length, topic_start, topic_length = [], [], [], []
        topic_names, subinterest_names = [], []
        for topic in TOPICS[: config.topics]:
            topic_names.append(topic.name)
            topic_start.append(len(words))
            topic_length.append(len(topic.words))
            words.extend(topic.words)
            for sub in topic.subinterests[: config.subinterests_per_topic]:
                subinterest_names.append(sub.name)
                sub_start.append(len(words))
                sub_length.append(len(sub.words))
                words.extend(sub.words)
        filler_start = len(words)
        words.extend(FILLER_WORDS)
        return cls(
            words=pa.array(words),
            sub_start=np.array(sub_start, dtype=np.int64),
            sub_length=np.array(sub_length, dtype=np.int64),
            topic_start=np.array(topic_start, dtype=np.int64),
            topic_length=np.array(topic_length, dtype=np.int64),
            filler_start=filler_start,
            filler_length=len(FILLER_WORDS),
            topic_names=topic_names,
            subinterest_names=subinterest_names,
            word_list=words,
        )

    @property
    def filler_source(self) -> int:
        """Source number of the filler words (after all sub-interests and topics)."""
        return self.sub_start.size + self.topic_start.size

    def source_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and length per word source: sub-interests, then topics, then filler."""
        start = np.concatenate([self.sub_start, self.topic_start, [self.filler_start]])
        length = np.concatenate([self.sub_length, self.topic_length, [self.filler_length]])
        return start, length

    def pick(
        self,
        rng: np.random.Generator,
        sub: np.ndarray,
        topic: np.ndarray | None,
        sub_share: float,
        topic_share: float = 0.0,
    ) -> np.ndarray:
        """One word index per entry: from its sub-interest, its topic, or the filler."""
        start, length = self.source_tables()
        draw = rng.random(sub.size, dtype=np.float32)
        source = np.where(draw < sub_share, sub, self.filler_source)
        if topic is not None and topic_share > 0:
            in_topic = (draw >= sub_share) & (draw < sub_share + topic_share)
            source = np.where(in_topic, self.sub_start.size + topic, source)
        position = rng.random(sub.size, dtype=np.float32) * length[source]
        return start[source] + position.astype(np.int64)


@dataclass
class _World:
    """State carried from day to day: catalog, user interests, id tables."""

    config: SyntheticConfig
    vocabulary: _Vocabulary
    item_subinterest: np.ndarray
    item_taste: np.ndarray
    item_weight: np.ndarray
    item_first_day: np.ndarray
    user_subinterest: np.ndarray  # (users, 5): the taste each slot holds, -1 where unused
    user_weight: np.ndarray  # (users, 5), 0 where the slot is unused
    user_ids: pa.Array
    item_ids: pa.Array = field(init=False)

    def __post_init__(self) -> None:
        """Build the item id table."""
        self.item_ids = _concat("i", _digits(np.arange(self.item_subinterest.size), 6))

    @property
    def n_items(self) -> int:
        """Items in the catalog so far."""
        return int(self.item_subinterest.size)

    def add_items(self, subinterest: np.ndarray, taste: np.ndarray, weight: np.ndarray, day_index: int) -> None:
        """Append new items to the catalog."""
        first = self.n_items
        self.item_subinterest = np.concatenate([self.item_subinterest, subinterest])
        self.item_taste = np.concatenate([self.item_taste, taste])
        self.item_weight = np.concatenate([self.item_weight, weight])
        self.item_first_day = np.concatenate(
            [self.item_first_day, np.full(subinterest.size, day_index, dtype=np.int32)]
        )
        new_ids = _concat("i", _digits(np.arange(first, self.n_items), 6))
        self.item_ids = pa.concat_arrays([self.item_ids, new_ids])

    def cumulative_weights(self) -> np.ndarray:
        """Per-user cumulative slot weights, one row per slot but the last (always 1.0)."""
        cumulative = np.cumsum(self.user_weight, axis=1)
        # x / x is exactly 1.0, so trailing unused slots can never be drawn.
        return np.ascontiguousarray((cumulative / cumulative[:, -1:]).T[:-1], dtype=np.float32)

    def held_taste(self, users: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """The taste each (user, slot) pair holds."""
        return self.user_subinterest.reshape(-1)[users * _MAX_SLOTS + slot]

    def taste_words(self, rng: np.random.Generator, taste: np.ndarray) -> np.ndarray:
        """For each taste, one of the two sub-interests it is made of (50/50): whose words describe it."""
        other = (taste - self.config.taste_shift) % self.config.subinterests
        return np.where(rng.random(taste.size) < 0.5, taste, other)

    def item_sampler(self, day_index: int) -> _ItemSampler:
        """A sampler of items within tastes, by item popularity; items new that day are boosted."""
        fresh = np.where(self.item_first_day == day_index, FRESH_ITEM_BOOST, 1.0) if day_index > 0 else 1.0
        return _ItemSampler.build(self.item_taste, self.item_weight * fresh, self.config.subinterests)


@dataclass
class _ItemSampler:
    """Draws an item of a given sub-interest in proportion to item popularity."""

    order: np.ndarray
    keys: np.ndarray
    group_end: np.ndarray
    global_cdf: np.ndarray

    @classmethod
    def build(
        cls, item_subinterest: np.ndarray, item_weight: np.ndarray, subinterests: int
    ) -> _ItemSampler:
        """Sort items by sub-interest and lay out cdf keys as sub-interest + local cdf."""
        order = np.argsort(item_subinterest, kind="stable")
        sorted_sub = item_subinterest[order]
        weights = item_weight[order]
        groups = np.arange(subinterests)
        group_start = np.searchsorted(sorted_sub, groups, side="left")
        group_end = np.searchsorted(sorted_sub, groups, side="right")
        running = np.concatenate([[0.0], np.cumsum(weights)])
        base = running[group_start][sorted_sub]
        total = (running[group_end] - running[group_start])[sorted_sub]
        local = (running[1:] - base) / total
        local[group_end - 1] = 1.0
        global_cdf = np.cumsum(weights) / weights.sum()
        return cls(order=order, keys=sorted_sub + local, group_end=group_end, global_cdf=global_cdf)

    def sample_any(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` items drawn by popularity over the whole catalog."""
        return self.order[np.minimum(np.searchsorted(self.global_cdf, rng.random(size)), len(self.order) - 1)]

    def sample(self, rng: np.random.Generator, subinterest: np.ndarray) -> np.ndarray:
        """One item per requested sub-interest."""
        query = subinterest + rng.random(subinterest.size)
        position = np.searchsorted(self.keys, query, side="right")
        position = np.minimum(position, self.group_end[subinterest] - 1)
        return self.order[position]


def _zipf_weights(rng: np.random.Generator, size: int, exponent: float) -> np.ndarray:
    """Zipf-like popularity over `size` things, ranked in a random order."""
    ranks = rng.permutation(size) + 1
    weights = 1.0 / ranks.astype(np.float64) ** exponent
    return weights / weights.sum()


def _build_world(config: SyntheticConfig) -> _World:
    """Draw the catalog and every user's sub-interests and weights."""
    rng = _rng(config.seed, _STREAM_WORLD)
    n_sub, n_topics, per_topic = config.subinterests, config.topics, config.subinterests_per_topic

    # Items spread evenly over sub-interests, with heavy-tailed popularity inside each.
    item_sub = rng.permutation(np.arange(config.items) % n_sub).astype(np.int64)
    item_weight = rng.pareto(1.2, config.items) + 1.0
    item_taste = _taste_of(config, item_sub, _rng(config.seed, _STREAM_TASTES).random(config.items) < 0.5)

    # Users: a main topic, 1-5 distinct sub-interests mostly from it, Dirichlet weights.
    topic_popularity = _zipf_weights(rng, n_topics, 0.6)
    sub_popularity = np.stack([_zipf_weights(rng, per_topic, 1.0) for _ in range(n_topics)])
    sub_cdf = np.cumsum(sub_popularity, axis=1)
    sub_cdf[:, -1] = 1.0
    users = config.users
    held = np.minimum(rng.integers(1, _MAX_SLOTS + 1, users), n_sub)
    main_topic = rng.choice(n_topics, size=users, p=topic_popularity)
    slots = np.full((users, _MAX_SLOTS), -1, dtype=np.int64)
    for slot in range(_MAX_SLOTS):
        other_topic = rng.choice(n_topics, size=users, p=topic_popularity)
        from_main = (rng.random(users) < 0.7) | (slot == 0)
        topic = np.where(from_main, main_topic, other_topic)
        local = (rng.random(users)[:, None] >= sub_cdf[topic]).sum(axis=1)
        candidate = topic * per_topic + np.minimum(local, per_topic - 1)
        repeated = (slots[:, :slot] == candidate[:, None]).any(axis=1)
        keep = (slot < held) & ~repeated
        slots[:, slot] = np.where(keep, candidate, -1)
    weights = np.where(slots >= 0, rng.gamma(1.0, 1.0, (users, _MAX_SLOTS)) + 1e-9, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)

    return _World(
        config=config,
        vocabulary=_Vocabulary.build(config),
        item_subinterest=item_sub,
        item_taste=item_taste,
        item_weight=item_weight,
        item_first_day=np.zeros(config.items, dtype=np.int32),
        user_subinterest=slots,
        user_weight=weights,
        user_ids=_concat("u", _digits(np.arange(users), 7)),
    )


def _taste_of(config: SyntheticConfig, subinterest: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Taste of items: their own sub-interest, or (hidden bit set) the taste one topic over.

    Taste t is then the items of sub-interest t without the bit plus the items of sub-interest
    t - taste_shift with it: half of one sub-interest and half of another, from another topic. Text
    (which follows the sub-interest) says an item is one of two tastes; only behaviour says which.
    """
    return np.where(hidden, (subinterest + config.taste_shift) % config.subinterests, subinterest).astype(np.int64)


def _drift_interests(world: _World, day_index: int) -> None:
    """Let every user's weights drift a little: multiply by exp(N(0, 0.15)), renormalize."""
    rng = _rng(world.config.seed, _STREAM_DRIFT, day_index)
    noise = np.exp(rng.normal(0.0, 0.15, world.user_weight.shape))
    weights = world.user_weight * noise
    world.user_weight = weights / weights.sum(axis=1, keepdims=True)


def _sample_slots(rng: np.random.Generator, cumulative: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of `rows` (a user), draw one of that user's slots by weight."""
    draw = rng.random(rows.size, dtype=np.float32)
    slot = np.zeros(rows.size, dtype=np.int64)
    for column in cumulative:  # slot = how many cumulative weights lie at or below the draw
        slot += column[rows] <= draw
    return slot


# --------------------------------------------------------------------------------------
# Items and user texts
# --------------------------------------------------------------------------------------


def _chunks(size: int, chunk: int) -> list[slice]:
    """Slices covering range(size) in fixed-size pieces (at least one, maybe empty)."""
    return [slice(begin, begin + chunk) for begin in range(0, max(size, 1), chunk)]


def _item_lines(
    world: _World, rng: np.random.Generator, rows: np.ndarray, day_start: int
) -> pa.Array:
    """Catalog lines for the given items, built in chunks to keep temporaries small."""
    return pa.concat_arrays(
        [
            _item_lines_chunk(world, rng, rows[part], day_start)
            for part in _chunks(rows.size, _TEXT_CHUNK_ROWS)
        ]
    )


def _item_lines_chunk(
    world: _World, rng: np.random.Generator, rows: np.ndarray, day_start: int
) -> pa.Array:
    """Catalog lines (title, body, tags, lang, updated_at) for the given items."""
    vocabulary = world.vocabulary
    per_topic = world.config.subinterests_per_topic
    sub = world.item_subinterest[rows]
    topic = sub // per_topic
    n = rows.size

    def text(low: int, high: int, sub_share: float, topic_share: float) -> pa.Array:
        lengths = rng.integers(low, high + 1, n)
        owner = np.repeat(np.arange(n), lengths)
        index = vocabulary.pick(rng, sub[owner], topic[owner], sub_share, topic_share)
        return _join_words(vocabulary.words, index, lengths)

    title = pc.utf8_capitalize(text(3, 7, 0.75, 0.15))
    body = text(15, 40, 0.65, 0.20)

    # Tags: 2-4 distinct consecutive words (mod length) of the item's sub-interest.
    tag_count = rng.integers(2, 5, n)
    owner = np.repeat(np.arange(n), tag_count)
    first = (rng.random(n) * vocabulary.sub_length[sub]).astype(np.int64)
    step = np.arange(owner.size) - np.repeat(np.cumsum(tag_count) - tag_count, tag_count)
    tag_index = (
        vocabulary.sub_start[sub[owner]]
        + (first[owner] + step) % (vocabulary.sub_length[sub[owner]])
    )
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(tag_count, out=offsets[1:])
    tags = pc.binary_join(
        pa.ListArray.from_arrays(pa.array(offsets), vocabulary.words.take(tag_index)), '","'
    )

    updated = _iso_timestamps(
        day_start + rng.integers(0, DAY_MS, n),
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=bool),
    )
    return _concat(
        '{"item_id":"',
        world.item_ids.take(rows),
        '","title":"',
        title,
        '","body":"',
        body,
        '","tags":["',
        tags,
        '"],"lang":"en","updated_at":"',
        updated,
        '"}\n',
    )


def _land_items(world: _World, day_index: int, day_start: int) -> pa.Array:
    """The day's catalog lines: everything on day 0, changed and new items later."""
    config = world.config
    rng = _rng(config.seed, _STREAM_ITEMS, day_index)
    if day_index == 0:
        rows = np.arange(world.n_items)
    else:
        existing = world.n_items
        changed = rng.choice(
            existing, size=round(existing * config.item_change_rate), replace=False
        )
        n_new = config.new_items_per_day
        subinterest = rng.integers(0, config.subinterests, n_new)
        world.add_items(
            subinterest,
            _taste_of(config, subinterest, rng.random(n_new) < 0.5),
            rng.pareto(1.2, n_new) + 1.0,
            day_index,
        )
        rows = np.concatenate([np.sort(changed), np.arange(existing, world.n_items)])
    return _item_lines(world, rng, rows, day_start)


def _land_user_texts(world: _World, day_index: int, day_start: int) -> pa.Array:
    """The day's user texts: bios for ~70% of users on day 0, a few reviews/comments later."""
    config = world.config
    rng = _rng(config.seed, _STREAM_TEXTS, day_index)
    share = 0.70 if day_index == 0 else 0.03
    users = np.flatnonzero(rng.random(config.users) < share)
    n = users.size
    if day_index == 0:
        kinds = pa.array(["bio"]).take(np.zeros(n, dtype=np.int64))
    else:
        kinds = pa.array(["review", "comment"]).take(rng.integers(0, 2, n))

    cumulative = world.cumulative_weights()
    return pa.concat_arrays(
        [
            _user_text_lines(world, rng, users[part], kinds[part], cumulative, day_start)
            for part in _chunks(n, _TEXT_CHUNK_ROWS)
        ]
    )


def _user_text_lines(
    world: _World,
    rng: np.random.Generator,
    users: np.ndarray,
    kinds: pa.Array,
    cumulative: np.ndarray,
    day_start: int,
) -> pa.Array:
    """User text lines: 10-30 words from the user's sub-interests (by weight) and filler."""
    n = users.size
    lengths = rng.integers(10, 31, n)
    owner_user = np.repeat(users, lengths)
    slot = _sample_slots(rng, cumulative, owner_user)
    sub = world.taste_words(rng, world.held_taste(owner_user, slot))
    index = world.vocabulary.pick(rng, sub, None, sub_share=0.75)
    text = _join_words(world.vocabulary.words, index, lengths)

    ts = _iso_timestamps(
        day_start + rng.integers(0, DAY_MS, n),
        rng.integers(0, len(TIMESTAMP_OFFSETS), n),
        rng.random(n) < 0.5,
    )
    return _concat(
        '{"user_id":"',
        world.user_ids.take(users),
        '","text":"',
        text,
        '","kind":"',
        kinds,
        '","ts":"',
        ts,
        '"}\n',
    )


# --------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------


@dataclass
class _EventBatch:
    """Column arrays of events to render as JSON lines."""

    seq: np.ndarray
    user_ids: pa.Array
    item: np.ndarray
    subinterest: np.ndarray
    event_type: np.ndarray
    ts_ms: np.ndarray

    def rows(self, part: slice) -> _EventBatch:
        """The events in a slice of rows."""
        return _EventBatch(
            seq=self.seq[part],
            user_ids=self.user_ids[part],
            item=self.item[part],
            subinterest=self.subinterest[part],
            event_type=self.event_type[part],
            ts_ms=self.ts_ms[part],
        )


def _render_events(
    world: _World, rng: np.random.Generator, batch: _EventBatch, ds_compact: str
) -> pa.Array:
    """Render valid events as JSON lines, in chunks to keep temporaries small."""
    return pa.concat_arrays(
        [
            _render_event_chunk(world, rng, batch.rows(part), ds_compact)
            for part in _chunks(batch.seq.size, _EVENT_CHUNK_ROWS)
        ]
    )


def _render_event_chunk(
    world: _World, rng: np.random.Generator, batch: _EventBatch, ds_compact: str
) -> pa.Array:
    """Render valid events as JSON lines, mixing timestamp styles and extra fields."""
    n = batch.seq.size
    if n == 0:
        return pa.array([], type=pa.string())
    vocabulary = world.vocabulary
    is_search = batch.event_type == SEARCH

    item_fragment = _concat(',"item_id":"', world.item_ids.take(batch.item), '"')
    item_fragment = pc.if_else(pa.array(is_search), "", item_fragment)

    epoch = rng.random(n) < 0.5
    iso = _iso_timestamps(
        batch.ts_ms, rng.integers(0, len(TIMESTAMP_OFFSETS), n), rng.random(n) < 0.5
    )
    ts = pc.if_else(pa.array(epoch), _digits(batch.ts_ms, 13), _concat('"', iso, '"'))

    dwell_rows = np.flatnonzero(batch.event_type == DWELL)
    dwell_ms = np.clip(rng.lognormal(np.log(20_000), 1.0, dwell_rows.size), 200, 3_600_000)
    dwell = _scatter(
        n,
        dwell_rows,
        _concat(',"dwell_ms":', pc.cast(pa.array(dwell_ms.astype(np.int64)), pa.string())),
    )

    search_rows = np.flatnonzero(is_search)
    search_sub = batch.subinterest[search_rows]
    query_length = rng.integers(2, 4, search_rows.size)
    owner = np.repeat(np.arange(search_rows.size), query_length)
    first = (rng.random(search_rows.size) * vocabulary.sub_length[search_sub]).astype(np.int64)
    step = np.arange(owner.size) - np.repeat(np.cumsum(query_length) - query_length, query_length)
    word = (
        vocabulary.sub_start[search_sub[owner]]
        + (first[owner] + step) % (vocabulary.sub_length[search_sub[owner]])
    )
    query = _scatter(
        n,
        search_rows,
        _concat(',"query":"', _join_words(vocabulary.words, word, query_length), '"'),
    )

    client = np.where(rng.random(n) < 0.1, rng.integers(0, len(CLIENTS), n), len(CLIENTS))

    return _concat(
        f'{{"event_id":"e{ds_compact}-',
        _digits(batch.seq, 9),
        '","user_id":"',
        batch.user_ids,
        '"',
        item_fragment,
        ',"event_type":"',
        _EVENT_TYPE_TABLE.take(batch.event_type),
        '","ts":',
        ts,
        dwell,
        query,
        _CLIENT_FRAGMENTS.take(client),
        "}\n",
    )


def _clean_events(
    world: _World, rng: np.random.Generator, day_start: int, sampler: _ItemSampler
) -> _EventBatch:
    """The day's regular events: active users, sub-interest by weight, item by popularity."""
    config = world.config
    active = np.flatnonzero(rng.random(config.users) < config.active_probability)
    counts = 1 + rng.poisson(config.events_per_user_mean, active.size)
    users = np.repeat(active, counts)
    n = users.size
    slot = _sample_slots(rng, world.cumulative_weights(), users)
    taste = world.held_taste(users, slot)
    item = sampler.sample(rng, taste)
    event_type = rng.choice(len(EVENT_TYPES), size=n, p=EVENT_TYPE_PROBABILITIES)
    # An impression is what the platform showed: mostly popular items whatever the user's taste.
    exposure = (event_type == IMPRESSION) & (rng.random(n) < EXPOSURE_SHARE)
    item = np.where(exposure, sampler.sample_any(rng, n), item)
    return _EventBatch(
        seq=np.arange(n, dtype=np.int64),
        user_ids=world.user_ids.take(users),
        item=item,
        subinterest=world.item_subinterest[item],
        event_type=event_type,
        ts_ms=day_start + rng.integers(0, DAY_MS, n),
    )


def _bot_events(
    world: _World, rng: np.random.Generator, day_start: int, first_seq: int
) -> tuple[_EventBatch, list[str]]:
    """Bursts of valid clicks, 300-1000 per bot, each bot inside one minute."""
    bots = world.config.bots_per_day
    low, high = BOT_EVENTS_PER_BOT
    counts = rng.integers(low, high + 1, bots)
    bot_ids = [f"bot{number:06d}" for number in range(1, bots + 1)]
    owner = np.repeat(np.arange(bots), counts)
    window = day_start + rng.integers(0, DAY_MS - 60_000, bots)
    n = owner.size
    item = rng.integers(0, world.n_items, n)
    batch = _EventBatch(
        seq=first_seq + np.arange(n, dtype=np.int64),
        user_ids=pa.array(bot_ids, type=pa.string()).take(owner),
        item=item,
        subinterest=world.item_subinterest[item],
        event_type=np.full(n, CLICK, dtype=np.int64),
        ts_ms=window[owner] + rng.integers(0, 60_000, n),
    )
    return batch, bot_ids


def _land_events(
    world: _World, day_index: int, day: date, replay: Replay | None
) -> tuple[pa.Array, dict[str, Any], Replay]:
    """All event lines of a day, shuffled, the dirt truth for them, and what the next day may replay.

    ``replay`` holds clean lines of the previous day (None on the first day of the range); some of
    them land again today as ``replayed`` dirt (see `interests.synthetic.dirt`).
    """
    config = world.config
    day_start = epoch_ms(day)
    ds_compact = day.strftime("%Y%m%d")
    rng = _rng(config.seed, _STREAM_EVENTS, day_index)

    clean = _clean_events(world, rng, day_start, world.item_sampler(day_index))
    clean_lines = _render_events(world, rng, clean, ds_compact)
    n_clean = clean.seq.size
    dirt = plant_dirt(
        _rng(config.seed, _STREAM_DIRT, day_index),
        world.vocabulary,
        clean,
        clean_lines,
        day_start,
        ds_compact,
        first_seq=n_clean,
        dirt_rate=config.dirt_rate,
        replay=replay,
    )
    kept = keep_for_replay(_rng(config.seed, _STREAM_REPLAY, day_index), day, clean_lines, config.dirt_rate)

    bot_rng = _rng(config.seed, _STREAM_BOTS, day_index)
    bots, bot_ids = _bot_events(world, bot_rng, day_start, first_seq=dirt.next_seq)
    bot_lines = _render_events(world, bot_rng, bots, ds_compact)

    lines = pa.concat_arrays(
        [clean_lines.cast(pa.large_binary()), dirt.lines, bot_lines.cast(pa.large_binary())]
    )
    shuffle = _rng(config.seed, _STREAM_SHUFFLE, day_index).permutation(len(lines))
    lines = lines.take(shuffle)
    truth = dirt_truth(day, len(lines), n_clean, dirt, bot_ids, bots.seq.size)
    return lines, truth, kept


# --------------------------------------------------------------------------------------
# Truth tables
# --------------------------------------------------------------------------------------


def _user_interest_table(world: _World) -> pa.Table:
    """Today's planted user -> sub-interest weights, one row per held sub-interest."""
    users, slots = np.nonzero(world.user_subinterest >= 0)
    sub = world.user_subinterest[users, slots]  # the taste; numbered like its first sub-interest
    return pa.table(
        {
            "user_id": world.user_ids.take(users),
            "taste": pa.array(sub.astype(np.int32)),
            "subinterest": pa.array(sub.astype(np.int32)),
            "topic": pa.array((sub // world.config.subinterests_per_topic).astype(np.int32)),
            "weight": pa.array(world.user_weight[users, slots]),
        }
    )


def _item_table(world: _World) -> pa.Table:
    """The final catalog's planted item -> topic / sub-interest assignment."""
    sub = world.item_subinterest
    topic = sub // world.config.subinterests_per_topic
    days = pa.array([d.isoformat() for d in world.config.day_dates()])
    return pa.table(
        {
            "item_id": world.item_ids,
            "topic": pa.array(topic.astype(np.int32)),
            "subinterest": pa.array(sub.astype(np.int32)),
            "taste": pa.array(world.item_taste.astype(np.int32)),
            "topic_name": pa.array(world.vocabulary.topic_names).take(topic),
            "subinterest_name": pa.array(world.vocabulary.subinterest_names).take(sub),
            "first_ds": days.take(world.item_first_day),
        }
    )


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def _generate_day(
    world: _World,
    day_index: int,
    day: date,
    landing_root: Path,
    truth_root: Path,
    on_day: Callable[[DayReport], None] | None,
    replay: Replay | None,
) -> tuple[DayReport, Replay]:
    """Write one day's landing files and truth; return its report and what the next day may replay.

    Only this day's events are in memory, and a small sample of the previous day's (``replay``).
    """
    config = world.config
    started = time.perf_counter()
    day_start = epoch_ms(day)
    if day_index > 0:
        _drift_interests(world, day_index)

    item_lines = _land_items(world, day_index, day_start)
    _write_lines(items_path(landing_root, day), item_lines)
    text_lines = _land_user_texts(world, day_index, day_start)
    _write_lines(user_texts_path(landing_root, day), text_lines)

    event_lines, dirt, kept = _land_events(world, day_index, day, replay)
    # A rerun with the other events format must not leave both files behind.
    events_path(landing_root, day, not config.gzip_events).unlink(missing_ok=True)
    _write_lines(
        events_path(landing_root, day, config.gzip_events),
        event_lines,
        gzip_output=config.gzip_events,
    )
    del event_lines

    _write_parquet(truth_user_interests_path(truth_root, day), _user_interest_table(world))
    dirt_file = truth_dirt_path(truth_root, day)
    dirt_file.parent.mkdir(parents=True, exist_ok=True)
    dirt_file.write_text(json.dumps(dirt, indent=2, sort_keys=True) + "\n")

    report = DayReport(
        ds=day,
        event_lines=dirt["raw_lines"],
        item_lines=len(item_lines),
        user_text_lines=len(text_lines),
        expected_clean=dirt["expected_clean"],
        expected_duplicates=dirt["expected_duplicates"],
        expected_rejected=sum(dirt["expected_rejected"].values()),
        bot_lines=dirt["injected"][BOT_REJECTION_REASON],
        seconds=time.perf_counter() - started,
    )
    logger.debug("generated %s", report.summary())
    if on_day is not None:
        on_day(report)
    return report, kept


def generate_landing(
    config: SyntheticConfig,
    landing_root: Path,
    truth_root: Path,
    on_day: Callable[[DayReport], None] | None = None,
) -> GenerationReport:
    """Write every day's landing files and the planted truth; return per-day line counts."""
    landing_root, truth_root = Path(landing_root), Path(truth_root)
    started = time.perf_counter()
    with _fast_memory_pool():
        world = _build_world(config)
        reports: list[DayReport] = []
        replay: Replay | None = None  # the first day has no day before it to replay
        for day_index, day in enumerate(config.day_dates()):
            report, replay = _generate_day(world, day_index, day, landing_root, truth_root, on_day, replay)
            reports.append(report)
        _write_parquet(truth_items_path(truth_root), _item_table(world))
    return GenerationReport(
        config=config,
        landing_root=landing_root,
        truth_root=truth_root,
        days=tuple(reports),
        seconds=time.perf_counter() - started,
    )
