"""Whether the lookback window of a night has all its cleaned days (checked before the stages that read it).

learn_behaviour and build_hierarchy read ``hierarchy.lookback_days`` days of ``events_clean`` ending
with ds. A day of that window that was never cleaned is a hole: the night would still run, on fewer
days, and quietly publish vectors built from part of the history. So the DAG checks the window first
and fails naming the missing days.

A day counts as cleaned when ``clean_events`` recorded its run for that ds in ``stage_runs`` (also a
day whose every line was rejected, which leaves no ``events_clean`` partition). Days before the
deployment's first night are not holes: a new lake has no history yet. The first night is
``INTERESTS_DAG_START_DATE`` when the deployment sets it, else the first ds the lake has cleaned.

Reads only ``stage_runs`` with delta-rs: no Spark, no model.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from interests.catalog import STAGE_RUNS, validate_ds, window_first_day
from interests.errors import BadInputError
from interests.lake import Lake

CLEAN_STAGE = "clean_events"
"""The stage whose ``stage_runs`` row says a day's events were cleaned."""


class MissingWindowDaysError(BadInputError):
    """Days of a night's lookback window (on or after the first night) were never cleaned."""


def window_days(ds: str, lookback_days: int) -> list[str]:
    """The ``lookback_days`` days ending with (and including) ds, oldest first."""
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be at least 1, got {lookback_days}")
    first = date.fromisoformat(window_first_day(ds, lookback_days))
    return [(first + timedelta(days=offset)).isoformat() for offset in range(lookback_days)]


def missing_window_days(
    cleaned_days: Iterable[str], ds: str, lookback_days: int, first_night: str | None = None
) -> list[str]:
    """The window's days on or after the first night that are not among ``cleaned_days``, oldest first.

    ``first_night`` defaults to the earliest cleaned day (ds itself when nothing was cleaned, so an
    uncleaned ds is always missing).
    """
    cleaned = {validate_ds(day) for day in cleaned_days}
    if first_night is not None:
        first = validate_ds(first_night)
    else:
        first = min(cleaned, default=validate_ds(ds))
    return [day for day in window_days(ds, lookback_days) if day >= first and day not in cleaned]


def cleaned_days(lake: Lake) -> list[str]:
    """Every ds ``clean_events`` has recorded a run for in ``stage_runs``, sorted."""
    runs = lake.read(STAGE_RUNS, columns=["ds", "stage"], filters=[("stage", "=", CLEAN_STAGE)])
    return sorted(set(runs.column("ds").to_pylist()))


def require_window_days(
    lake: Lake, ds: str, lookback_days: int, first_night: str | None = None
) -> list[str]:
    """The window's cleaned days; raise MissingWindowDaysError naming the missing ones and the fix."""
    cleaned = cleaned_days(lake)
    missing = missing_window_days(cleaned, ds, lookback_days, first_night)
    if missing:
        first = first_night or (cleaned[0] if cleaned else ds)
        shown = ", ".join(missing) if len(missing) <= 10 else f"{', '.join(missing[:10])} and {len(missing) - 10} more"
        raise MissingWindowDaysError(
            f"the {lookback_days}-day lookback window of ds={ds} misses {len(missing)} cleaned "
            f"day(s) since the first night {first}: {shown} (no clean_events run in "
            f"{lake.path(STAGE_RUNS)}); run those nights first, oldest first "
            f"(make backfill START={missing[0]} END={missing[-1]}), then clear this task"
        )
    window = set(window_days(ds, lookback_days))
    return [day for day in cleaned if day in window]
