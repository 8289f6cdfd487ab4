"""The soak benchmark's figures and checks on a tiny fabricated Delta table and fabricated MLflow versions."""

from __future__ import annotations

import importlib.util
import math
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from interests.catalog import EVENTS_CLEAN
from interests.lake import Lake
from interests.publishing.nights import PublishedNight

_SPEC = importlib.util.spec_from_file_location(
    "bench_soak", Path(__file__).resolve().parents[2] / "benchmarks" / "bench_soak.py")
soak = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("bench_soak", soak)  # dataclasses look their module up there
_SPEC.loader.exec_module(soak)


def _rows(ds: str, n: int) -> pa.Table:
    return pa.table({"ds": [ds] * n, "x": list(range(n))})


def test_table_stats_count_live_and_stored_files_versions_and_rows(tmp_path):
    path = tmp_path / "t"
    write_deltalake(str(path), _rows("2026-11-01", 3), partition_by=["ds"])
    write_deltalake(str(path), _rows("2026-11-01", 2), partition_by=["ds"], mode="append")
    write_deltalake(str(path), _rows("2026-11-02", 2), partition_by=["ds"], mode="append")
    write_deltalake(str(path), _rows("2026-11-02", 4), partition_by=["ds"], mode="overwrite",
                    predicate="ds = '2026-11-02'")  # removes a file: stored, no longer live
    stats = soak.table_stats(path)
    assert (stats.live_files, stats.stored_files, stats.versions, stats.rows) == (3, 4, 4, 9)
    assert 0 < stats.live_bytes < stats.stored_bytes
    DeltaTable(str(path)).optimize.compact()  # merges 2026-11-01's two files
    compacted = soak.table_stats(path)
    assert (compacted.live_files, compacted.stored_files, compacted.versions, compacted.rows) == (2, 5, 5, 9)
    assert soak.totals({"a": stats, "b": compacted})["rows"] == 18


def test_wall_ratios_against_the_filling_and_the_full_window():
    walls = [100.0] + [10.0] * 5 + [20.0] * 5 + [30.0] * 5 + [40.0] * 5
    ratios = soak.wall_ratios(walls, lookback_days=10)
    assert ratios["last_over_nights_2_6"] == pytest.approx(4.0)
    assert ratios["last_over_first_full_window"] == pytest.approx(40.0 / 30.0)  # nights 11-15
    assert "last_over_first_full_window" not in soak.wall_ratios(walls[:14], lookback_days=10)
    assert soak.wall_ratios(walls[:6], lookback_days=10) == {}
    assert math.isnan(soak.ratio(1.0, 0.0))


def test_check_published_names_the_missing_nights():
    attempts = [{"ds": "2026-11-01", "status": "published"}, {"ds": "2026-11-02", "status": "failed_quality"}]
    checks = soak.check_published(["2026-11-01", "2026-11-02"], attempts)
    assert [check.passed for check in checks] == [False, False]
    assert "2026-11-02" in checks[0].detail
    attempts.append({"ds": "2026-11-02", "status": "published"})
    assert all(check.passed for check in soak.check_published(["2026-11-01", "2026-11-02"], attempts))


def test_recorded_rows_at_recorded_versions(tmp_path):
    lake = Lake(tmp_path)
    path = lake.path(EVENTS_CLEAN)
    write_deltalake(str(path), _rows("2026-11-01", 3), partition_by=["ds"])  # version 0
    write_deltalake(str(path), _rows("2026-11-01", 5), partition_by=["ds"], mode="overwrite",
                    predicate="ds = '2026-11-01'")  # version 1: a rerun with more rows

    def night(version: int, rows: int) -> PublishedNight:
        return PublishedNight("2026-11-01", "r", datetime.now(UTC), {"events_clean": version}, {"events_clean": rows})

    assert soak.night_row_mismatches(lake, [night(0, 3), night(1, 5)], ("events_clean",)) == {}
    wrong = soak.night_row_mismatches(lake, [night(0, 5)], ("events_clean",))
    assert wrong == {"2026-11-01": ["events_clean (3 rows, recorded 5)"]}
    for file in path.glob("ds=*/*.parquet"):  # vacuumed away under the night
        file.unlink()
    assert "unreadable" in soak.night_row_mismatches(lake, [night(1, 5)], ("events_clean",))["2026-11-01"][0]
    check = soak.check_recorded_rows("after", {"2026-11-01": ["x"]}, ["2026-11-01", "2026-11-02"], keep_nights=1)
    assert check.passed and "older than the kept 1" in check.detail
    assert not soak.check_recorded_rows("after", {"2026-11-02": ["x"]}, ["2026-11-01", "2026-11-02"], 1).passed


def test_rows_unchanged_but_for_the_rows_maintenance_adds():
    stats = soak.TableStats(live_files=4, live_bytes=10, stored_files=4, stored_bytes=10, versions=2, rows=7)
    compacted = soak.TableStats(live_files=1, live_bytes=8, stored_files=5, stored_bytes=18, versions=3, rows=7)
    assert soak.check_rows_unchanged({"t": stats}, {"t": compacted}).passed
    one_more = soak.TableStats(1, 8, 5, 18, 3, rows=8)
    assert soak.check_rows_unchanged({"t": stats}, {"t": one_more}, added={"t": 1}).passed
    assert not soak.check_rows_unchanged({"t": stats}, {"t": one_more}).passed
    one_less = soak.TableStats(1, 8, 5, 18, 3, rows=6)
    assert not soak.check_rows_unchanged({"t": stats}, {"t": one_less}).passed


def _version(name: str, version: int, **tags: str):
    return soak.ModelVersion(name, str(version), tags)


def test_mlflow_checks():
    nights = ["2026-11-01", "2026-11-02"]
    registered = {"2026-11-01": {soak.HIERARCHY: "1", soak.ENCODER: "1"},
                  "2026-11-02": {soak.HIERARCHY: "3", soak.ENCODER: "1"}}
    versions = [
        _version(soak.ENCODER, 1, model_version="m@1"),
        _version(soak.HIERARCHY, 1, ds="2026-11-01", gate="passed"),
        _version(soak.HIERARCHY, 2, ds="2026-11-02", gate="failed"),  # a failed first attempt: not an orphan
        _version(soak.HIERARCHY, 3, ds="2026-11-02", gate="passed"),
    ]
    production = {soak.HIERARCHY: "3", soak.ENCODER: "1"}
    assert all(check.passed for check in soak.check_mlflow(versions, production, nights, registered))
    stale = soak.check_mlflow(versions, {soak.HIERARCHY: "1", soak.ENCODER: "1"}, nights, registered)
    assert [check.passed for check in stale] == [True, True, False, True]
    orphan = versions + [_version(soak.HIERARCHY, 4, ds="2026-11-03", gate="pending")]
    assert not soak.check_mlflow(orphan, production, nights, registered)[1].passed
    twice = versions + [_version(soak.HIERARCHY, 4, ds="2026-11-01", gate="passed")]
    assert not soak.check_mlflow(twice, production, nights, registered)[0].passed


def test_retained_once_expired_keeps_what_the_current_and_the_kept_versions_read(tmp_path):
    lake = Lake(tmp_path)
    path = lake.path(EVENTS_CLEAN)
    write_deltalake(str(path), _rows("2026-11-01", 3), partition_by=["ds"])  # v0: night 1
    write_deltalake(str(path), _rows("2026-11-02", 2), partition_by=["ds"], mode="append")  # v1: night 2
    write_deltalake(str(path), _rows("2026-11-02", 1), partition_by=["ds"], mode="append")  # v2: night 2 rerun
    DeltaTable(str(path)).optimize.compact()  # v3: 2026-11-02's two files into one

    def night(ds: str, version: int) -> PublishedNight:
        return PublishedNight(ds, "r", datetime.now(UTC), {"events_clean": version}, {})

    nights = [night("2026-11-01", 0), night("2026-11-02", 2)]
    files, size = soak.retained_once_expired(tmp_path, nights, keep_nights=1)["events_clean"]
    assert files == 4  # v3 reads 2 files; night 2 (v2) reads 3, the 2026-11-01 file among them
    assert size == sum(soak.files_read(path, {2, 3}).values())
    assert soak.retained_once_expired(tmp_path, [], keep_nights=1)["events_clean"][0] == 2  # the current version only
