"""What determines a synthetic landing zone: `SyntheticConfig`, validated on construction, and the named presets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import numpy as np

from interests.synthetic.vocabulary import MAX_SUBINTERESTS_PER_TOPIC, MAX_TOPICS

_MAX_EVENTS_PER_DAY: Final[int] = 20_000_000


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


