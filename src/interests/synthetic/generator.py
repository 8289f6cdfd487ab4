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

This module draws and writes the days. Beside it: `config` (the `SyntheticConfig` and the presets),
`world` (vocabulary, catalog, users and their tastes, the seeded random streams), `dirt` (the dirt
kinds, the dirty lines, the truth file's accounting), `contract` (what an event line looks like),
`arrow_text` (vectorized string building) and `files` (where each file goes, written atomically).

Everything is vectorized with numpy and assembled into JSON lines with Arrow string
kernels, so a million events cost seconds; only the few dirty lines are built in Python.
One day of events is held in memory at a time (and a small sample of the day before, for the
``replayed`` dirt). Same config, same bytes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from interests.synthetic.arrow_text import concat, digits, iso_timestamps, join_words, scatter
from interests.synthetic.config import SyntheticConfig
from interests.synthetic.contract import (
    CLICK,
    DAY_MS,
    DWELL,
    EVENT_TYPES,
    IMPRESSION,
    SEARCH,
    TIMESTAMP_OFFSETS,
    epoch_ms,
)
from interests.synthetic.dirt import (
    BOT_REJECTION_REASON,
    Replay,
    dirt_truth,
    keep_for_replay,
    plant_dirt,
)
from interests.synthetic.files import (
    events_path,
    items_path,
    truth_dirt_path,
    truth_items_path,
    truth_user_interests_path,
    user_texts_path,
    write_lines,
    write_parquet,
)
from interests.synthetic.world import (
    STREAM_BOTS,
    STREAM_DIRT,
    STREAM_EVENTS,
    STREAM_ITEMS,
    STREAM_REPLAY,
    STREAM_SHUFFLE,
    STREAM_TEXTS,
    ItemSampler,
    World,
    build_world,
    drift_interests,
    random_stream,
    sample_slots,
    taste_of,
)

logger = logging.getLogger(__name__)

EVENT_TYPE_PROBABILITIES: Final[tuple[float, ...]] = (0.50, 0.22, 0.08, 0.03, 0.02, 0.08, 0.07)
"""How often each clean event type occurs."""

BOT_EVENTS_PER_BOT: Final[tuple[int, int]] = (300, 1000)
"""Each bot emits this many clicks (inclusive range), all inside one minute."""

CLIENTS: Final[tuple[str, ...]] = ("ios", "android", "web")
"""Values of the harmless extra `client` field some event lines carry."""

_EVENT_TYPE_TABLE: Final = pa.array(list(EVENT_TYPES))
_CLIENT_FRAGMENTS: Final = pa.array([f',"client":"{client}"' for client in CLIENTS] + [""])

# Fixed chunk sizes (part of the output's identity: changing them changes the bytes) keep
# temporaries under glibc's mmap threshold, which saves most of the page-fault time.
_EVENT_CHUNK_ROWS: Final[int] = 262_144
_TEXT_CHUNK_ROWS: Final[int] = 32_768

EXPOSURE_SHARE: Final[float] = 0.7
"""Share of impressions that show a popular item regardless of the user's taste (exposure, not preference)."""

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


# --------------------------------------------------------------------------------------
# Items and user texts
# --------------------------------------------------------------------------------------


def _chunks(size: int, chunk: int) -> list[slice]:
    """Slices covering range(size) in fixed-size pieces (at least one, maybe empty)."""
    return [slice(begin, begin + chunk) for begin in range(0, max(size, 1), chunk)]


def _item_lines(
    world: World, rng: np.random.Generator, rows: np.ndarray, day_start: int
) -> pa.Array:
    """Catalog lines for the given items, built in chunks to keep temporaries small."""
    return pa.concat_arrays(
        [
            _item_lines_chunk(world, rng, rows[part], day_start)
            for part in _chunks(rows.size, _TEXT_CHUNK_ROWS)
        ]
    )


def _item_lines_chunk(
    world: World, rng: np.random.Generator, rows: np.ndarray, day_start: int
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
        return join_words(vocabulary.words, index, lengths)

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

    updated = iso_timestamps(
        day_start + rng.integers(0, DAY_MS, n),
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=bool),
    )
    return concat(
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


def _land_items(world: World, day_index: int, day_start: int) -> pa.Array:
    """The day's catalog lines: everything on day 0, changed and new items later."""
    config = world.config
    rng = random_stream(config.seed, STREAM_ITEMS, day_index)
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
            taste_of(config, subinterest, rng.random(n_new) < 0.5),
            rng.pareto(1.2, n_new) + 1.0,
            day_index,
        )
        rows = np.concatenate([np.sort(changed), np.arange(existing, world.n_items)])
    return _item_lines(world, rng, rows, day_start)


def _land_user_texts(world: World, day_index: int, day_start: int) -> pa.Array:
    """The day's user texts: bios for ~70% of users on day 0, a few reviews/comments later."""
    config = world.config
    rng = random_stream(config.seed, STREAM_TEXTS, day_index)
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
    world: World,
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
    slot = sample_slots(rng, cumulative, owner_user)
    sub = world.taste_words(rng, world.held_taste(owner_user, slot))
    index = world.vocabulary.pick(rng, sub, None, sub_share=0.75)
    text = join_words(world.vocabulary.words, index, lengths)

    ts = iso_timestamps(
        day_start + rng.integers(0, DAY_MS, n),
        rng.integers(0, len(TIMESTAMP_OFFSETS), n),
        rng.random(n) < 0.5,
    )
    return concat(
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
    world: World, rng: np.random.Generator, batch: _EventBatch, ds_compact: str
) -> pa.Array:
    """Render valid events as JSON lines, in chunks to keep temporaries small."""
    return pa.concat_arrays(
        [
            _render_event_chunk(world, rng, batch.rows(part), ds_compact)
            for part in _chunks(batch.seq.size, _EVENT_CHUNK_ROWS)
        ]
    )


def _render_event_chunk(
    world: World, rng: np.random.Generator, batch: _EventBatch, ds_compact: str
) -> pa.Array:
    """Render valid events as JSON lines, mixing timestamp styles and extra fields."""
    n = batch.seq.size
    if n == 0:
        return pa.array([], type=pa.string())
    vocabulary = world.vocabulary
    is_search = batch.event_type == SEARCH

    item_fragment = concat(',"item_id":"', world.item_ids.take(batch.item), '"')
    item_fragment = pc.if_else(pa.array(is_search), "", item_fragment)

    epoch = rng.random(n) < 0.5
    iso = iso_timestamps(
        batch.ts_ms, rng.integers(0, len(TIMESTAMP_OFFSETS), n), rng.random(n) < 0.5
    )
    ts = pc.if_else(pa.array(epoch), digits(batch.ts_ms, 13), concat('"', iso, '"'))

    dwell_rows = np.flatnonzero(batch.event_type == DWELL)
    dwell_ms = np.clip(rng.lognormal(np.log(20_000), 1.0, dwell_rows.size), 200, 3_600_000)
    dwell = scatter(
        n,
        dwell_rows,
        concat(',"dwell_ms":', pc.cast(pa.array(dwell_ms.astype(np.int64)), pa.string())),
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
    query = scatter(
        n,
        search_rows,
        concat(',"query":"', join_words(vocabulary.words, word, query_length), '"'),
    )

    client = np.where(rng.random(n) < 0.1, rng.integers(0, len(CLIENTS), n), len(CLIENTS))

    return concat(
        f'{{"event_id":"e{ds_compact}-',
        digits(batch.seq, 9),
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
    world: World, rng: np.random.Generator, day_start: int, sampler: ItemSampler
) -> _EventBatch:
    """The day's regular events: active users, sub-interest by weight, item by popularity."""
    config = world.config
    active = np.flatnonzero(rng.random(config.users) < config.active_probability)
    counts = 1 + rng.poisson(config.events_per_user_mean, active.size)
    users = np.repeat(active, counts)
    n = users.size
    slot = sample_slots(rng, world.cumulative_weights(), users)
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
    world: World, rng: np.random.Generator, day_start: int, first_seq: int
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
    world: World, day_index: int, day: date, replay: Replay | None
) -> tuple[pa.Array, dict[str, Any], Replay]:
    """All event lines of a day, shuffled, the dirt truth for them, and what the next day may replay.

    ``replay`` holds clean lines of the previous day (None on the first day of the range); some of
    them land again today as ``replayed`` dirt (see `interests.synthetic.dirt`).
    """
    config = world.config
    day_start = epoch_ms(day)
    ds_compact = day.strftime("%Y%m%d")
    rng = random_stream(config.seed, STREAM_EVENTS, day_index)

    clean = _clean_events(world, rng, day_start, world.item_sampler(day_index))
    clean_lines = _render_events(world, rng, clean, ds_compact)
    n_clean = clean.seq.size
    dirt = plant_dirt(
        random_stream(config.seed, STREAM_DIRT, day_index),
        world.vocabulary,
        clean,
        clean_lines,
        day_start,
        ds_compact,
        first_seq=n_clean,
        dirt_rate=config.dirt_rate,
        replay=replay,
    )
    kept = keep_for_replay(random_stream(config.seed, STREAM_REPLAY, day_index), day, clean_lines, config.dirt_rate)

    bot_rng = random_stream(config.seed, STREAM_BOTS, day_index)
    bots, bot_ids = _bot_events(world, bot_rng, day_start, first_seq=dirt.next_seq)
    bot_lines = _render_events(world, bot_rng, bots, ds_compact)

    lines = pa.concat_arrays(
        [clean_lines.cast(pa.large_binary()), dirt.lines, bot_lines.cast(pa.large_binary())]
    )
    shuffle = random_stream(config.seed, STREAM_SHUFFLE, day_index).permutation(len(lines))
    lines = lines.take(shuffle)
    truth = dirt_truth(day, len(lines), n_clean, dirt, bot_ids, bots.seq.size)
    return lines, truth, kept


# --------------------------------------------------------------------------------------
# Truth tables
# --------------------------------------------------------------------------------------


def _user_interest_table(world: World) -> pa.Table:
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


def _item_table(world: World) -> pa.Table:
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
    world: World,
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
        drift_interests(world, day_index)

    item_lines = _land_items(world, day_index, day_start)
    write_lines(items_path(landing_root, day), item_lines)
    text_lines = _land_user_texts(world, day_index, day_start)
    write_lines(user_texts_path(landing_root, day), text_lines)

    event_lines, dirt, kept = _land_events(world, day_index, day, replay)
    # A rerun with the other events format must not leave both files behind.
    events_path(landing_root, day, not config.gzip_events).unlink(missing_ok=True)
    write_lines(
        events_path(landing_root, day, config.gzip_events),
        event_lines,
        gzip_output=config.gzip_events,
    )
    del event_lines

    write_parquet(truth_user_interests_path(truth_root, day), _user_interest_table(world))
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
        world = build_world(config)
        reports: list[DayReport] = []
        replay: Replay | None = None  # the first day has no day before it to replay
        for day_index, day in enumerate(config.day_dates()):
            report, replay = _generate_day(world, day_index, day, landing_root, truth_root, on_day, replay)
            reports.append(report)
        write_parquet(truth_items_path(truth_root), _item_table(world))
    return GenerationReport(
        config=config,
        landing_root=landing_root,
        truth_root=truth_root,
        days=tuple(reports),
        seconds=time.perf_counter() - started,
    )
