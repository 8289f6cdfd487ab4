"""The synthetic world: vocabulary, catalog, users and their drifting tastes, and the seeded random streams.

A world is built once per generation (`build_world`) and drifts day by day (`drift_interests`); what
lands each day (`generator`) is drawn from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pyarrow as pa

from interests.synthetic.arrow_text import concat, digits
from interests.synthetic.config import SyntheticConfig
from interests.synthetic.vocabulary import FILLER_WORDS, TOPICS

MAX_SLOTS: Final[int] = 5
"""The most tastes a user holds at once."""

# Stream ids keep each random component independent of the others (and of the day count).
STREAM_WORLD, STREAM_DRIFT, STREAM_ITEMS, STREAM_TEXTS = 1, 2, 3, 4
STREAM_EVENTS, STREAM_DIRT, STREAM_BOTS, STREAM_SHUFFLE = 5, 6, 7, 8
STREAM_TASTES, STREAM_REPLAY = 9, 10

FRESH_ITEM_BOOST: Final[float] = 3.0
"""An item's popularity is multiplied by this on the day it lands, so new items get engaged at once."""


def random_stream(seed: int, stream: int, day_index: int = 0) -> np.random.Generator:
    """An independent generator for one (stream, day)."""
    return np.random.default_rng([seed, stream, day_index])


@dataclass
class Vocabulary:
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
    def build(cls, config: SyntheticConfig) -> Vocabulary:
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
class World:
    """State carried from day to day: catalog, user interests, id tables."""

    config: SyntheticConfig
    vocabulary: Vocabulary
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
        self.item_ids = concat("i", digits(np.arange(self.item_subinterest.size), 6))

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
        new_ids = concat("i", digits(np.arange(first, self.n_items), 6))
        self.item_ids = pa.concat_arrays([self.item_ids, new_ids])

    def cumulative_weights(self) -> np.ndarray:
        """Per-user cumulative slot weights, one row per slot but the last (always 1.0)."""
        cumulative = np.cumsum(self.user_weight, axis=1)
        # x / x is exactly 1.0, so trailing unused slots can never be drawn.
        return np.ascontiguousarray((cumulative / cumulative[:, -1:]).T[:-1], dtype=np.float32)

    def held_taste(self, users: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """The taste each (user, slot) pair holds."""
        return self.user_subinterest.reshape(-1)[users * MAX_SLOTS + slot]

    def taste_words(self, rng: np.random.Generator, taste: np.ndarray) -> np.ndarray:
        """For each taste, one of the two sub-interests it is made of (50/50): whose words describe it."""
        other = (taste - self.config.taste_shift) % self.config.subinterests
        return np.where(rng.random(taste.size) < 0.5, taste, other)

    def item_sampler(self, day_index: int) -> ItemSampler:
        """A sampler of items within tastes, by item popularity; items new that day are boosted."""
        fresh = np.where(self.item_first_day == day_index, FRESH_ITEM_BOOST, 1.0) if day_index > 0 else 1.0
        return ItemSampler.build(self.item_taste, self.item_weight * fresh, self.config.subinterests)


@dataclass
class ItemSampler:
    """Draws an item of a given sub-interest in proportion to item popularity."""

    order: np.ndarray
    keys: np.ndarray
    group_end: np.ndarray
    global_cdf: np.ndarray

    @classmethod
    def build(
        cls, item_subinterest: np.ndarray, item_weight: np.ndarray, subinterests: int
    ) -> ItemSampler:
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


def build_world(config: SyntheticConfig) -> World:
    """Draw the catalog and every user's sub-interests and weights."""
    rng = random_stream(config.seed, STREAM_WORLD)
    n_sub, n_topics, per_topic = config.subinterests, config.topics, config.subinterests_per_topic

    # Items spread evenly over sub-interests, with heavy-tailed popularity inside each.
    item_sub = rng.permutation(np.arange(config.items) % n_sub).astype(np.int64)
    item_weight = rng.pareto(1.2, config.items) + 1.0
    item_taste = taste_of(config, item_sub, random_stream(config.seed, STREAM_TASTES).random(config.items) < 0.5)

    # Users: a main topic, 1-5 distinct sub-interests mostly from it, Dirichlet weights.
    topic_popularity = _zipf_weights(rng, n_topics, 0.6)
    sub_popularity = np.stack([_zipf_weights(rng, per_topic, 1.0) for _ in range(n_topics)])
    sub_cdf = np.cumsum(sub_popularity, axis=1)
    sub_cdf[:, -1] = 1.0
    users = config.users
    held = np.minimum(rng.integers(1, MAX_SLOTS + 1, users), n_sub)
    main_topic = rng.choice(n_topics, size=users, p=topic_popularity)
    slots = np.full((users, MAX_SLOTS), -1, dtype=np.int64)
    for slot in range(MAX_SLOTS):
        other_topic = rng.choice(n_topics, size=users, p=topic_popularity)
        from_main = (rng.random(users) < 0.7) | (slot == 0)
        topic = np.where(from_main, main_topic, other_topic)
        local = (rng.random(users)[:, None] >= sub_cdf[topic]).sum(axis=1)
        candidate = topic * per_topic + np.minimum(local, per_topic - 1)
        repeated = (slots[:, :slot] == candidate[:, None]).any(axis=1)
        keep = (slot < held) & ~repeated
        slots[:, slot] = np.where(keep, candidate, -1)
    weights = np.where(slots >= 0, rng.gamma(1.0, 1.0, (users, MAX_SLOTS)) + 1e-9, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)

    return World(
        config=config,
        vocabulary=Vocabulary.build(config),
        item_subinterest=item_sub,
        item_taste=item_taste,
        item_weight=item_weight,
        item_first_day=np.zeros(config.items, dtype=np.int32),
        user_subinterest=slots,
        user_weight=weights,
        user_ids=concat("u", digits(np.arange(users), 7)),
    )


def taste_of(config: SyntheticConfig, subinterest: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Taste of items: their own sub-interest, or (hidden bit set) the taste one topic over.

    Taste t is then the items of sub-interest t without the bit plus the items of sub-interest
    t - taste_shift with it: half of one sub-interest and half of another, from another topic. Text
    (which follows the sub-interest) says an item is one of two tastes; only behaviour says which.
    """
    return np.where(hidden, (subinterest + config.taste_shift) % config.subinterests, subinterest).astype(np.int64)


def drift_interests(world: World, day_index: int) -> None:
    """Let every user's weights drift a little: multiply by exp(N(0, 0.15)), renormalize."""
    rng = random_stream(world.config.seed, STREAM_DRIFT, day_index)
    noise = np.exp(rng.normal(0.0, 0.15, world.user_weight.shape))
    weights = world.user_weight * noise
    world.user_weight = weights / weights.sum(axis=1, keepdims=True)


def sample_slots(rng: np.random.Generator, cumulative: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of `rows` (a user), draw one of that user's slots by weight."""
    draw = rng.random(rows.size, dtype=np.float32)
    slot = np.zeros(rows.size, dtype=np.int64)
    for column in cumulative:  # slot = how many cumulative weights lie at or below the draw
        slot += column[rows] <= draw
    return slot
