"""The landing event contract as the synthetic generator writes it: event types, time units, timestamps.

Shared by the clean-line renderer (`generator`, vectorized with Arrow) and the dirty-line writer
(`dirt`, one Python line at a time), so both write the same event types and timestamp styles.
See DESIGN.md, "Input contract".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final

EVENT_TYPES: Final[tuple[str, ...]] = (
    "impression",
    "click",
    "like",
    "share",
    "purchase",
    "dwell",
    "search",
)
"""The valid event types, in the order of `generator.EVENT_TYPE_PROBABILITIES`."""

TIMESTAMP_OFFSETS: Final[tuple[tuple[str, int], ...]] = (
    ("Z", 0),
    ("+00:00", 0),
    ("+01:00", 60),
    ("+02:00", 120),
    ("+05:30", 330),
    ("+09:00", 540),
    ("-05:00", -300),
    ("-08:00", -480),
)
"""UTC offsets (label, minutes) used for ISO-8601 timestamps."""

DAY_MS: Final[int] = 86_400_000
HOUR_MS: Final[int] = 3_600_000
EPOCH: Final[date] = date(1970, 1, 1)

SEARCH: Final[int] = EVENT_TYPES.index("search")
DWELL: Final[int] = EVENT_TYPES.index("dwell")
CLICK: Final[int] = EVENT_TYPES.index("click")
IMPRESSION: Final[int] = EVENT_TYPES.index("impression")


def iso_timestamp(ts_ms: int, offset_index: int, with_ms: bool) -> str:
    """Epoch milliseconds as ISO-8601 local time at one of `TIMESTAMP_OFFSETS`.

    The Python twin of `generator._iso_timestamps` (which formats whole arrays), for single lines.
    """
    label, minutes = TIMESTAMP_OFFSETS[offset_index]
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(ts_ms))
    local = moment.astimezone(timezone(timedelta(minutes=minutes)))
    text = local.replace(tzinfo=None).isoformat(timespec="milliseconds" if with_ms else "seconds")
    return text + label


def epoch_ms(day: date) -> int:
    """Epoch milliseconds of midnight UTC at the start of a day."""
    return (day - EPOCH).days * DAY_MS
