"""The lookback window check: which cleaned days a night's window misses (delta-rs only, no Spark)."""

from __future__ import annotations

import pytest

from interests.catalog import InvalidDsError
from interests.errors import BadInputError
from interests.lake import Lake
from interests.lookback import (
    MissingWindowDaysError,
    cleaned_days,
    missing_window_days,
    require_window_days,
    window_days,
)
from interests.runtime import record_stage

DS = "2026-11-20"


def test_window_days_end_with_ds_oldest_first():
    assert window_days(DS, 3) == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert window_days("2026-03-01", 2) == ["2026-02-28", "2026-03-01"]
    assert window_days(DS, 1) == [DS]
    with pytest.raises(ValueError, match="at least 1"):
        window_days(DS, 0)
    with pytest.raises(InvalidDsError):
        window_days("2026-11-31", 3)


@pytest.mark.parametrize(
    ("cleaned", "first_night", "missing"),
    [
        # A whole window: nothing missing.
        (["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"], None, []),
        # A new lake: days before its first cleaned day are not holes.
        (["2026-11-19", "2026-11-20"], None, []),
        (["2026-11-20"], None, []),
        # A hole inside the window, after the lake's first day.
        (["2026-11-16", "2026-11-17", "2026-11-19", "2026-11-20"], None, ["2026-11-18"]),
        # ds itself not cleaned (clean_events did not record it).
        (["2026-11-18", "2026-11-19"], None, ["2026-11-20"]),
        ([], None, ["2026-11-20"]),
        # The deployment names its first night: days from it on must be there, days before it not.
        (["2026-11-20"], "2026-11-18", ["2026-11-18", "2026-11-19"]),
        (["2026-11-18", "2026-11-19", "2026-11-20"], "2026-11-18", []),
        (["2026-11-20"], "2026-01-01", ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]),
        # Cleaned days outside the window (older, or later nights) change nothing.
        (["2026-10-01", "2026-11-19", "2026-11-20", "2026-11-25"], None,
         ["2026-11-16", "2026-11-17", "2026-11-18"]),
    ],
)
def test_missing_window_days(cleaned, first_night, missing):
    assert missing_window_days(cleaned, DS, 5, first_night) == missing


def test_missing_window_days_rejects_a_bad_day():
    with pytest.raises(InvalidDsError):
        missing_window_days(["2026-11-20"], DS, 5, first_night="yesterday")


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(tmp_path / "lake")


def test_cleaned_days_come_from_clean_events_runs_in_stage_runs(lake):
    assert cleaned_days(lake) == []  # no stage_runs table yet
    record_stage(lake, "2026-11-19", "clean_events", "run-a", {"events.clean": 0})  # a day all rejected
    record_stage(lake, "2026-11-18", "clean_events", "run-b", {"events.clean": 10})
    record_stage(lake, "2026-11-17", "encode_texts", "run-c", {"texts.encoded": 3})  # not a cleaning
    assert cleaned_days(lake) == ["2026-11-18", "2026-11-19"]


def test_require_window_days_names_the_missing_days_and_the_fix(lake):
    for ds in ("2026-11-16", "2026-11-17", "2026-11-20"):
        record_stage(lake, ds, "clean_events", "run", {})
    with pytest.raises(MissingWindowDaysError) as raised:
        require_window_days(lake, DS, 5)
    message = str(raised.value)
    assert "misses 2 cleaned day(s) since the first night 2026-11-16: 2026-11-18, 2026-11-19 " in message
    assert "make backfill START=2026-11-18 END=2026-11-19" in message
    assert isinstance(raised.value, BadInputError)  # exit code 2: fix the input, no retry


def test_require_window_days_returns_the_windows_cleaned_days(lake):
    for ds in ("2026-11-10", "2026-11-19", "2026-11-20"):
        record_stage(lake, ds, "clean_events", "run", {})
    # The lake's first day is 2026-11-10: 2026-11-16..18 are holes.
    with pytest.raises(MissingWindowDaysError, match="2026-11-16, 2026-11-17, 2026-11-18"):
        require_window_days(lake, DS, 5)
    # A deployment whose first night is 2026-11-19 has no hole.
    assert require_window_days(lake, DS, 5, first_night="2026-11-19") == ["2026-11-19", "2026-11-20"]


def test_require_window_days_shortens_a_long_list(lake):
    record_stage(lake, DS, "clean_events", "run", {})
    with pytest.raises(MissingWindowDaysError, match=r"misses 13 cleaned day\(s\).* and 3 more"):
        require_window_days(lake, DS, 14, first_night="2026-11-01")
