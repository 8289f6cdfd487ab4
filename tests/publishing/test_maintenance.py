"""Lake maintenance: compaction keeps rows, vacuum keeps what the last N published nights read and nothing older.

The lake is written for real (delta-rs) over a simulated week: each step's commits are moved back in
time afterwards (commit timestamps, removal timestamps and file times in the Delta log), as if the
nights had run days apart, so the retention rule, which works in hours, has something to decide.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from published_lake import READER_TABLES, build_published_lake

from interests.catalog import (
    EVENTS_REJECTED,
    ITEM_EMBEDDINGS,
    PIPELINE_RUNS,
    STAGE_RUNS,
    TABLES,
    TEXT_EMBEDDINGS,
)
from interests.config import MaintenanceConfig
from interests.lake import Lake
from interests.publishing.maintenance import (
    compact_filters,
    kept_versions,
    maintain_lake,
    plan_maintenance,
    retention_hours,
)
from interests.publishing.nights import published_nights, resolve_night
from interests.runtime import record_stage

NIGHTS = ("2026-11-14", "2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19")
KEEP = 3
KEPT, OLD = NIGHTS[-KEEP:], NIGHTS[:-KEEP]
RUN_DS = NIGHTS[-1]
SETTINGS = MaintenanceConfig(
    keep_nights=KEEP, retention_margin_hours=1, default_retention_hours=1, log_retention_hours=1, compact_days=7
)
DAY_MS = 86_400_000


def _age_log(root: Path, steps: list[tuple[float, float]]) -> None:
    """Move every commit back in time: one made before ``steps[i][0]`` (epoch ms) by ``steps[i][1]`` days.

    Shifts ``commitInfo.timestamp``, ``add.modificationTime`` and ``remove.deletionTimestamp`` and sets
    the log and data files' times to match, as if each step had run that many days ago.
    """

    def shifted(ms: int) -> int:
        days = next((days for end, days in steps if ms <= end), 0.0)
        return int(ms - days * DAY_MS)

    for log in sorted(root.glob("*/_delta_log")):
        table = log.parent
        commit_ms = {}
        for commit in sorted(log.glob("*.json")):
            lines = []
            for line in commit.read_text().splitlines():
                action = json.loads(line)
                for kind, field in (("commitInfo", "timestamp"), ("add", "modificationTime"),
                                    ("remove", "deletionTimestamp")):
                    if kind in action and action[kind].get(field) is not None:
                        action[kind][field] = shifted(action[kind][field])
                        if kind == "add" and (table / action["add"]["path"]).exists():
                            seconds = action["add"][field] / 1000
                            os.utime(table / action["add"]["path"], (seconds, seconds))
                        if kind == "commitInfo":
                            commit_ms[int(commit.name.split(".")[0])] = action[kind][field]
                lines.append(json.dumps(action))
            commit.write_text("\n".join(lines) + "\n")
        for file in log.iterdir():
            version = int(file.name.split(".")[0]) if file.name[:1].isdigit() else None
            if version in commit_ms:
                os.utime(file, (commit_ms[version] / 1000, commit_ms[version] / 1000))


def _text_rows(n: int, first: int) -> pa.Table:
    return pa.table({
        "model_version": ["m1"] * n, "text_hash": [f"h{first + i}" for i in range(n)],
        "embedding": [[1.0, 0.0]] * n, "first_ds": [RUN_DS] * n,
    }, schema=TEXT_EMBEDDINGS.schema)


def _write_week(root: Path) -> dict:
    """Six published nights, failed reruns over the first and the fourth, small appends; then aged."""
    lake = Lake(root)
    content, steps = {}, []

    def step(days_ago: float) -> None:
        time.sleep(0.002)
        steps.append((time.time() * 1000, days_ago))
        time.sleep(0.002)

    for n, ds in enumerate(NIGHTS[:4]):
        content.update(build_published_lake(root, published=(ds,), failed=None))
        step(6.0 - n)  # 6, 5, 4, 3 days ago
        if n == 1:
            DeltaTable(str(lake.path(ITEM_EMBEDDINGS))).create_checkpoint()  # an old checkpoint: log cleanup can use it
        if n == 2:  # a failed rerun of the first night replaced its partitions 4 days ago (before the kept nights)
            build_published_lake(root, published=(), failed=None, republish_failed_over=NIGHTS[0])
            step(3.5)
    # a failed rerun of a kept night (the fourth) replaced its partitions 2.5 days ago: its files must stay
    build_published_lake(root, published=(), failed=None, republish_failed_over=NIGHTS[3])
    step(2.5)
    for n, ds in enumerate(NIGHTS[4:]):
        content.update(build_published_lake(root, published=(ds,), failed=None))
        step(2.0 - n)
    for k in range(4):  # the encoding cache grows by a small append per night; stages record a file each
        lake.append(TEXT_EMBEDDINGS, _text_rows(3, 3 * k))
    for stage in ("clean_events", "encode_texts", "build_hierarchy"):
        record_stage(lake, RUN_DS, stage, "r1", {"rows": 1})
    step(0.5)
    _age_log(root, steps)
    return content


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("week") / "lake"
    return root, _write_week(root)


@pytest.fixture
def lake(week, tmp_path) -> Lake:
    """A copy of the aged lake per test (file times kept)."""
    shutil.copytree(week[0], tmp_path / "lake")
    return Lake(tmp_path / "lake")


def _stored(lake: Lake) -> dict[str, int]:
    return {spec.name: sum(1 for _ in Path(lake.path(spec)).rglob("*.parquet") if "_delta_log" not in _.parts)
            for spec in TABLES.values() if lake.exists(spec)}


def _night_tables(lake: Lake, ds: str) -> dict[str, pa.Table]:
    night = resolve_night(lake, ds)
    return {spec.name: night.read(lake, spec).sort_by([(k, "ascending") for k in spec.key]) for spec in READER_TABLES}


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "expected"),
    [(None, 168), (timedelta(hours=0), 24), (timedelta(days=3), 96), (timedelta(days=3, seconds=1), 97)],
)
def test_retention_is_the_age_of_the_oldest_kept_commit_plus_the_margin(age, expected):
    now = datetime(2026, 11, 20, 6, tzinfo=UTC)
    committed = None if age is None else now - age
    assert retention_hours(committed, now, margin_hours=24, default_hours=168) == expected


def test_the_oldest_version_the_last_nights_name_is_kept(lake):
    nights = published_nights(lake)
    assert [night.ds for night in nights] == list(NIGHTS)
    oldest = kept_versions(nights, KEEP)
    for name in (spec.name for spec in READER_TABLES):
        assert oldest[name] == min(night.table_versions[name] for night in nights[-KEEP:])
    assert PIPELINE_RUNS.name not in oldest


def test_plan_keeps_three_days_for_the_night_tables_and_the_default_elsewhere(lake):
    plans = {plan.spec.name: plan for plan in plan_maintenance(lake, RUN_DS, SETTINGS)}
    # the fourth night was published 3 days ago: 72 h and a few seconds, rounded up, plus 1 h margin
    assert plans[ITEM_EMBEDDINGS.name].retention_hours == 74
    assert plans[ITEM_EMBEDDINGS.name].oldest_kept_version == resolve_night(lake, KEPT[0]).table_versions["item_embeddings"]
    assert plans[TEXT_EMBEDDINGS.name].retention_hours == 1
    assert plans[TEXT_EMBEDDINGS.name].compact_filters is None
    assert plans[STAGE_RUNS.name].compact_filters == [("ds", ">=", "2026-11-13"), ("ds", "<=", RUN_DS)]
    assert compact_filters(STAGE_RUNS, "2026-03-01", 1) == [("ds", ">=", "2026-03-01"), ("ds", "<=", "2026-03-01")]


# --- a run ------------------------------------------------------------------------------------


def test_maintenance_compacts_vacuums_and_keeps_the_last_nights(lake, week):
    content = week[1]
    kept_before = {ds: _night_tables(lake, ds) for ds in KEPT}
    nights_before = published_nights(lake)
    cache_before = lake.read(TEXT_EMBEDDINGS).sort_by("text_hash")
    stages_before = lake.read(STAGE_RUNS, ds=RUN_DS).sort_by("stage")
    first = resolve_night(lake, OLD[0])
    old_files = {name: DeltaTable(str(lake.path(spec)), version=first.version_of(spec)).file_uris()
                 for spec in READER_TABLES for name in [spec.name]}
    stored_before = _stored(lake)

    counts = maintain_lake(lake, RUN_DS, SETTINGS)

    # compaction: fewer files, the same rows
    assert counts[TEXT_EMBEDDINGS.name]["files_live_before"] == 4
    assert counts[TEXT_EMBEDDINGS.name]["files_live_after"] == lake.live_files(TEXT_EMBEDDINGS) == 1
    assert lake.read(TEXT_EMBEDDINGS).sort_by("text_hash").equals(cache_before)
    assert counts[STAGE_RUNS.name]["files_compacted"] == 3
    assert lake.read(STAGE_RUNS, ds=RUN_DS).sort_by("stage").equals(stages_before)
    assert counts[PIPELINE_RUNS.name]["files_live_after"] < counts[PIPELINE_RUNS.name]["files_live_before"]
    assert published_nights(lake) == nights_before

    # vacuum removed the first night's replaced files (from every table it wrote) and counted them
    assert sum(counts[spec.name]["files_vacuumed"] for spec in READER_TABLES) >= len(READER_TABLES)
    assert counts[ITEM_EMBEDDINGS.name]["bytes_vacuumed"] > 0
    assert counts[ITEM_EMBEDDINGS.name]["files_stored_after"] < stored_before[ITEM_EMBEDDINGS.name]
    for name, files in old_files.items():
        assert not all(Path(file.removeprefix("file://")).exists() for file in files), name
    with pytest.raises(Exception):  # noqa: B017 - the old night's files are gone (delta-rs or Arrow says so)
        first.read(lake, ITEM_EMBEDDINGS)

    # time travel to each of the last nights reads exactly its rows, the rerun-over night included
    for ds in KEPT:
        assert _night_tables(lake, ds) == kept_before[ds], ds
        rows = resolve_night(lake, ds).read(lake, ITEM_EMBEDDINGS, columns=["item_id", "embedding"]).to_pylist()
        assert {row["item_id"]: row["embedding"] for row in rows} == {
            item: vector.astype("float32").tolist() for item, vector in content[ds].item_vectors.items()
        }
    assert lake.read(ITEM_EMBEDDINGS, ds=KEPT[0]).num_rows == 60  # the current (failed rerun) rows still read


def test_log_cleanup_keeps_the_last_nights_loadable(lake):
    log = Path(lake.path(ITEM_EMBEDDINGS)) / "_delta_log"
    assert (log / f"{0:020d}.json").exists()
    old_checkpoint = min(int(file.name.split(".")[0]) for file in log.glob("*.checkpoint.parquet"))

    maintain_lake(lake, RUN_DS, SETTINGS)

    configuration = DeltaTable(str(lake.path(ITEM_EMBEDDINGS))).metadata().configuration
    assert configuration["delta.logRetentionDuration"] == "interval 74 hours"  # the configured 1 h would lose nights
    assert "delta.deletedFileRetentionDuration" not in configuration  # its default, 7 days, is long enough
    cache = DeltaTable(str(lake.path(TEXT_EMBEDDINGS))).metadata().configuration
    assert cache["delta.logRetentionDuration"] == "interval 1 hours"  # no night reads it: the configured hour
    # the commits before the 5-day-old checkpoint are gone; every kept night's version still loads
    assert min(int(file.name.split(".")[0]) for file in log.glob("*.json")) == old_checkpoint > 0
    for ds in KEPT:
        DeltaTable(str(lake.path(ITEM_EMBEDDINGS)), version=resolve_night(lake, ds).version_of(ITEM_EMBEDDINGS))


def test_a_dry_run_changes_nothing(lake):
    versions = {spec.name: lake.version(spec) for spec in TABLES.values() if lake.exists(spec)}
    stored = _stored(lake)

    counts = maintain_lake(lake, RUN_DS, SETTINGS, dry_run=True)

    assert sum(figures["files_vacuumed"] for figures in counts.values()) >= len(READER_TABLES)  # what it would delete
    assert all(figures["files_compacted"] == 0 for figures in counts.values())
    assert _stored(lake) == stored
    assert {spec.name: lake.version(spec) for spec in TABLES.values() if lake.exists(spec)} == versions
    resolve_night(lake, OLD[0]).read(lake, ITEM_EMBEDDINGS)  # still readable


# --- the quarantine's retention ---------------------------------------------------------------


def _rejected(ds: str, rows: int) -> pa.Table:
    return pa.table({"ds": [ds] * rows, "source": ["events"] * rows, "reason": ["malformed_json"] * rows,
                     "raw_line": [f'{{"user_id": "raw-{ds}-{n}"' for n in range(rows)], "source_file": ["f"] * rows},
                    schema=EVENTS_REJECTED.schema)


def test_the_quarantine_keeps_its_days_and_deletes_older_raw_lines(tmp_path):
    lake = Lake(tmp_path / "lake")
    for ds, rows in (("2026-10-01", 3), ("2026-10-20", 2), ("2026-10-21", 4), ("2026-11-19", 5)):
        lake.write_partition(EVENTS_REJECTED, ds, _rejected(ds, rows))
    before = lake.version(EVENTS_REJECTED)
    settings = SETTINGS.model_copy(update={"quarantine_days": 30})  # 2026-10-21 .. 2026-11-19

    dry = maintain_lake(lake, "2026-11-19", settings, dry_run=True)
    assert dry["events_rejected"]["rows_past_retention"] == 5 and lake.version(EVENTS_REJECTED) == before
    counts = maintain_lake(lake, "2026-11-19", settings)
    assert counts["events_rejected"]["rows_past_retention"] == 5
    assert sorted(set(lake.read(EVENTS_REJECTED).column("ds").to_pylist())) == ["2026-10-21", "2026-11-19"]
    assert lake.read(EVENTS_REJECTED, version=before).num_rows == 14  # still there for time travel until vacuumed
    assert maintain_lake(lake, "2026-11-19", settings)["events_rejected"]["rows_past_retention"] == 0
    forever = maintain_lake(lake, "2026-11-19", settings.model_copy(update={"quarantine_days": None}))
    assert forever["events_rejected"]["rows_past_retention"] == 0


# --- the encoding cache written by two nights at once -------------------------------------------


def _append_cache(root: str, first_ds: str, barrier) -> None:
    """One night's encode_texts append (in its own process): the same new texts, its own first_ds."""
    rows = _text_rows(50, 0).set_column(3, "first_ds", pa.array([first_ds] * 50))
    barrier.wait()
    Lake(root).append(TEXT_EMBEDDINGS, rows)


def test_two_nights_appending_the_same_texts_at_once_leave_one_row_per_key_after_maintenance(tmp_path):
    """A backfill night and the nightly run both encode the same 50 new texts and append them at once:
    blind appends do not conflict, so each key is there twice; readers pick one (every copy is the same
    text's vector) and maintenance rewrites the cache to one row per key, the earliest first_ds."""
    import multiprocessing

    from interests.hierarchy.tables import item_vectors

    lake = Lake(tmp_path / "lake")
    lake.append(TEXT_EMBEDDINGS, _text_rows(5, 100))  # texts cached by earlier nights
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    writers = [context.Process(target=_append_cache, args=(str(lake.root), ds, barrier))
               for ds in ("2026-11-19", "2026-11-14")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    cache = lake.read(TEXT_EMBEDDINGS)
    assert cache.num_rows == 105  # 50 keys twice: what the fix below removes

    items = pa.table({"text_hash": ["h0", "h49", "h100"]})
    assert item_vectors(items, cache, "m1").shape == (3, 2)  # readers tolerate the copies

    dry = maintain_lake(lake, "2026-11-19", SETTINGS, dry_run=True)
    assert dry["text_embeddings"]["rows_repeating_a_key"] == 50 and lake.read(TEXT_EMBEDDINGS).num_rows == 105
    counts = maintain_lake(lake, "2026-11-19", SETTINGS)
    assert counts["text_embeddings"]["rows_repeating_a_key"] == 50
    after = lake.read(TEXT_EMBEDDINGS)
    assert after.num_rows == 55 and len(set(after.column("text_hash").to_pylist())) == 55
    first_ds = dict(zip(after.column("text_hash").to_pylist(), after.column("first_ds").to_pylist(), strict=True))
    assert {first_ds[f"h{n}"] for n in range(50)} == {"2026-11-14"}  # the earliest night's copy is kept
    assert maintain_lake(lake, "2026-11-19", SETTINGS)["text_embeddings"]["rows_repeating_a_key"] == 0


# --- delta-spark ------------------------------------------------------------------------------


def test_delta_spark_compacts_and_vacuums(spark, tmp_path):
    lake = Lake(tmp_path / "lake", engine="delta-spark", spark=spark)
    ds = "2026-11-20"
    rows = pa.table({"ds": [ds] * 8, "source": ["events"] * 8, "reason": ["malformed_json"] * 8,
                     "raw_line": [f"{{{i}" for i in range(8)], "source_file": ["f"] * 8})
    lake.write_partition(EVENTS_REJECTED, ds, spark.createDataFrame(rows.to_pandas()).repartition(4))
    before = lake.live_files(EVENTS_REJECTED)
    assert before > 1

    assert lake.compact(EVENTS_REJECTED, [("ds", "=", ds)]) == {"files_removed": before, "files_added": 1}
    assert lake.live_files(EVENTS_REJECTED) == 1
    assert lake.read(EVENTS_REJECTED, ds=ds).sort_by("raw_line").to_pylist() == rows.sort_by("raw_line").to_pylist()
    stored = sum(1 for _ in Path(lake.path(EVENTS_REJECTED)).rglob("*.parquet"))

    assert len(lake.vacuum(EVENTS_REJECTED, 0, dry_run=True)) == before
    assert sum(1 for _ in Path(lake.path(EVENTS_REJECTED)).rglob("*.parquet")) == stored
    assert len(lake.vacuum(EVENTS_REJECTED, 0)) == before
    assert sum(1 for _ in Path(lake.path(EVENTS_REJECTED)).rglob("*.parquet")) == 1
    assert spark.conf.get("spark.databricks.delta.retentionDurationCheck.enabled") == "true"  # restored
    assert lake.read(EVENTS_REJECTED, ds=ds).num_rows == 8

    lake.append(TEXT_EMBEDDINGS, _text_rows(3, 0))
    lake.append(TEXT_EMBEDDINGS, _text_rows(4, 0))  # h0..h2 twice
    assert lake.drop_repeated_keys(TEXT_EMBEDDINGS) == 3
    assert sorted(lake.read(TEXT_EMBEDDINGS).column("text_hash").to_pylist()) == ["h0", "h1", "h2", "h3"]
