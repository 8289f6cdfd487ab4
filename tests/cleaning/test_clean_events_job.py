"""The clean_events job on a real landing day: unreadable files quarantined, lines counted apart from Spark.

Real files on disk (plain and gzip, one truncated, one not gzip at all), the real job body, real Delta.
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from interests.catalog import EVENTS_CLEAN, EVENTS_REJECTED, STAGE_RUNS
from interests.errors import EXIT_BAD_INPUT
from interests.lake import Lake
from interests.landing import read_landing_lines, survey_landing_files
from interests.publishing.quality import conservation_check
from interests.runtime import run_job

ROOT = Path(__file__).resolve().parents[2]
DS = "2026-03-10"


def _clean_body():
    spec = importlib.util.spec_from_file_location("jobs_clean_events", ROOT / "jobs" / "clean_events.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.clean


def event(n: int, **fields) -> bytes:
    line = {"event_id": f"e{n}", "user_id": f"u{n}", "event_type": "click", "item_id": "i1",
            "ts": f"{DS}T12:00:{n % 60:02d}Z", **fields}
    return json.dumps(line).encode()


GOOD_PLAIN = [event(1), event(2) + b"\r", b'{"event_id": "e3", "user_id": {"id": 3}}', event(4, query="caf\xe9".encode("latin-1").decode("latin-1"))]
BAD_BYTES = event(5).replace(b'"u5"', b'"u\xff5"')
GOOD_GZ = [event(n) for n in range(10, 20)]


def gz_bytes(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(line + b"\n" for line in lines))


@pytest.fixture
def landing_day(tmp_path) -> Path:
    folder = tmp_path / "landing" / "events" / f"ds={DS}"
    folder.mkdir(parents=True)
    # plain: a \r before a \n stays in its line; the last line has no newline; one line is not UTF-8
    (folder / "part-0.jsonl").write_bytes(b"\n".join([*GOOD_PLAIN, BAD_BYTES]))
    (folder / "part-1.jsonl.gz").write_bytes(gz_bytes(GOOD_GZ))
    whole = gz_bytes([event(n) for n in range(100, 400)])
    (folder / "part-2.jsonl.gz").write_bytes(whole[: len(whole) // 2])  # truncated mid-stream
    (folder / "part-3.jsonl.gz").write_bytes(b"this is not gzip\n" * 10)
    return tmp_path


def test_survey_counts_lines_like_spark_and_names_unreadable_files(spark, landing_day):
    files = {file.path.name: file for file in survey_landing_files(landing_day / "landing", "events", DS)}
    assert {name: (file.lines, file.error is None) for name, file in files.items()} == {
        "part-0.jsonl": (5, True), "part-1.jsonl.gz": (10, True), "part-2.jsonl.gz": (0, False),
        "part-3.jsonl.gz": (0, False),
    }
    assert "EOFError" in files["part-2.jsonl.gz"].error and "BadGzipFile" in files["part-3.jsonl.gz"].error
    readable = [files["part-0.jsonl"].path, files["part-1.jsonl.gz"].path]
    raw = read_landing_lines(spark, landing_day / "landing", "events", DS, DS, files=readable)
    by_file = {row["source_file"]: row["count"] for row in raw.groupBy("source_file").count().collect()}
    assert by_file == {files["part-0.jsonl"].uri: 5, files["part-1.jsonl.gz"].uri: 10}


def test_survey_of_a_remote_zone_is_skipped():
    assert survey_landing_files("s3://bucket/landing", "events", DS) is None


def test_unreadable_files_are_quarantined_and_the_rest_of_the_day_is_cleaned(spark, landing_day, monkeypatch):
    lake_root = landing_day / "lake"
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(lake_root))
    monkeypatch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(landing_day / "landing"))
    assert run_job("clean_events", _clean_body(), ["--ds", DS, "--run-id", "r1"], stop_spark=False) == 0

    lake = Lake(lake_root)
    clean = lake.read(EVENTS_CLEAN, ds=DS)
    assert sorted(clean["event_id"].to_pylist()) == sorted(["e1", "e2", "e4"] + [f"e{n}" for n in range(10, 20)])
    rejected = lake.read(EVENTS_REJECTED, ds=DS).to_pylist()
    by_reason = {row["reason"]: row for row in rejected}
    assert sorted(row["reason"] for row in rejected) == sorted(
        ["wrong_type_user_id", "invalid_utf8", "unreadable_file", "unreadable_file"]
    )
    assert base64.b64decode(by_reason["invalid_utf8"]["raw_line"]) == BAD_BYTES
    quarantined = {row["source_file"]: row["raw_line"] for row in rejected if row["reason"] == "unreadable_file"}
    folder = landing_day / "landing" / "events" / f"ds={DS}"
    assert set(quarantined) == {f"file:{(folder / name).resolve()}" for name in ("part-2.jsonl.gz", "part-3.jsonl.gz")}
    assert all(quarantined.values())  # the error that stopped the read

    counts = dict(lake.read(STAGE_RUNS, ds=DS).to_pylist()[0]["counts"])
    assert counts["events.landing_lines"] == counts["events.raw"] == 15
    assert (counts["events.files"], counts["events.unreadable_files"]) == (4, 2)
    assert counts["events.unreadable_file.part-2.jsonl.gz"] == counts["events.unreadable_file.part-3.jsonl.gz"] == 1
    assert counts["events.clean"] + counts["events.duplicate"] + counts["events.rejected"] == 15
    assert conservation_check(counts).passed


def test_a_day_whose_every_file_is_unreadable_is_bad_input(spark, tmp_path, monkeypatch, caplog):
    folder = tmp_path / "landing" / "events" / f"ds={DS}"
    folder.mkdir(parents=True)
    (folder / "part-0.jsonl.gz").write_bytes(gz_bytes([event(1)] * 50)[:30])
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(tmp_path / "landing"))
    code = run_job("clean_events", _clean_body(), ["--ds", DS, "--run-id", "r1"], stop_spark=False)
    assert code == EXIT_BAD_INPUT
    assert "every event file is unreadable: part-0.jsonl.gz" in caplog.text
    assert not (tmp_path / "lake" / "events_clean").exists()


def _land(root: Path, ds: str, lines: list[bytes]) -> None:
    folder = root / "events" / f"ds={ds}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def test_a_replayed_file_never_counts_twice(spark, tmp_path, monkeypatch):
    """Day 2 lands day 1's file again beside its own events: the replay is an earlier_day duplicate;
    a window of 0 (within the day only) would have cleaned it twice, and a rerun gives the same rows."""
    day1, day2 = "2026-03-10", "2026-03-11"
    first = [event(n) for n in range(1, 6)]  # event times on day 1
    second = [event(n, ts=f"{day2}T08:00:00Z") for n in range(6, 8)]
    _land(tmp_path / "landing", day1, first)
    _land(tmp_path / "landing", day2, first + second)
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(tmp_path / "landing"))
    lake = Lake(tmp_path / "lake")

    def clean(ds: str) -> tuple[list[str], dict[str, int]]:
        assert run_job("clean_events", _clean_body(), ["--ds", ds, "--run-id", "r"], stop_spark=False) == 0
        runs = [row for row in lake.read(STAGE_RUNS, ds=ds).to_pylist() if row["stage"] == "clean_events"]
        return sorted(lake.read(EVENTS_CLEAN, ds=ds)["event_id"].to_pylist()), dict(runs[-1]["counts"])

    assert clean(day1)[0] == [f"e{n}" for n in range(1, 6)]
    ids, counts = clean(day2)
    assert ids == ["e6", "e7"]
    assert (counts["events.duplicate.earlier_day"], counts["events.duplicate"], counts["events.raw"]) == (5, 5, 7)
    assert counts["events.dedupe_window_days"] == 4  # max_lateness_days (3) + 1
    assert conservation_check(counts).passed
    assert clean(day2)[0] == ids  # a rerun reads the same earlier days: the same rows

    monkeypatch.setenv("INTERESTS_CLEANING__DEDUPE_WINDOW_DAYS", "0")
    ids, counts = clean(day2)
    assert ids == [f"e{n}" for n in range(1, 8)] and counts["events.duplicate"] == 0


def test_a_bootstrap_day_lands_months_of_history_with_the_runs_own_bounds(spark, tmp_path, monkeypatch):
    """One landing day holds 60 days of events (a new deployment). With the configured bounds the history
    is stale; with this run's --max-lateness-days it is clean, and the night's window is the run's
    --lookback-days of event time, not the whole landing day."""
    from datetime import date, timedelta

    from interests.config import load_config
    from interests.night_inputs import window_events

    ds = "2026-03-10"
    history = [
        event(n, ts=f"{date(2026, 3, 10) - timedelta(days=n)}T12:00:00Z") for n in range(60)
    ]  # one event a day, 0..59 days before ds
    _land(tmp_path / "landing", ds, history)
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(tmp_path / "landing"))
    lake = Lake(tmp_path / "lake", spark=spark)

    def clean(*options: str) -> dict[str, int]:
        argv = ["--ds", ds, "--run-id", "bootstrap", *options]
        assert run_job("clean_events", _clean_body(), argv, stop_spark=False) == 0
        return dict(lake.read(STAGE_RUNS, ds=ds).to_pylist()[0]["counts"])

    counts = clean()
    assert (counts["events.clean"], counts["events.rejected.stale_timestamp"]) == (4, 56)  # 3 days late at most

    counts = clean("--max-lateness-days", "60")
    assert (counts["events.clean"], counts["events.rejected"], counts["run.max_lateness_days"]) == (60, 0, 60)
    assert lake.read(EVENTS_REJECTED, ds=ds).num_rows == 0  # the rerun replaced the stale rejections

    def window(*lookback: int) -> int:
        config = load_config(run_options={"lookback_days": lookback[0]} if lookback else None)
        return window_events(lake, ds, config).count()

    assert window() == 14  # the configured lookback: the last 14 days of the history
    assert window(45) == 45
    assert window(90) == 60


# ---------------------------------------------------------------- items and user texts: surveyed like the events


def _land_text(root: Path, source: str, ds: str, name: str, content: bytes) -> Path:
    folder = root / source / f"ds={ds}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return folder / name


def _item(item_id: str, title: str) -> bytes:
    return json.dumps({"item_id": item_id, "title": title, "tags": ["t"], "updated_at": f"{DS}T08:00:00Z"}).encode()


def _user_text(user_id: str, text: str) -> bytes:
    return json.dumps({"user_id": user_id, "kind": "bio", "text": text, "ts": f"{DS}T08:00:00Z"}).encode()


def _truncated_gz(lines: list[bytes]) -> bytes:
    whole = gz_bytes(lines)
    return whole[: len(whole) // 2]


def _clean_day(root: Path, ds: str, monkeypatch) -> tuple[int, dict[str, int]]:
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(root / "lake"))
    monkeypatch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(root / "landing"))
    code = run_job("clean_events", _clean_body(), ["--ds", ds, "--run-id", f"r-{ds}"], stop_spark=False)
    runs = Lake(root / "lake").read(STAGE_RUNS, ds=ds).to_pylist() if code == 0 else []
    return code, dict(runs[-1]["counts"]) if runs else {}


def test_unreadable_item_and_user_text_files_are_quarantined_and_the_good_lines_land(spark, tmp_path, monkeypatch):
    """An items day with a good file and a truncated .gz, a user_texts day with a corrupt file beside a good
    one; an earlier items day never cleaned is folded in whole, as before."""
    from interests.catalog import ITEMS, USER_TEXTS
    from interests.pseudonyms import pseudonymize_user_id

    landing, earlier = tmp_path / "landing", "2026-03-09"
    _land(landing, DS, [event(n) for n in range(1, 4)])
    _land_text(landing, "items", earlier, "part-0.jsonl", _item("a", "A old") + b"\n" + _item("b", "B") + b"\n")
    _land_text(landing, "items", DS, "part-0.jsonl", b"\n".join([_item("a", "A new"), _item("c", "C"), b'{"item_id": 7}']))
    truncated = _land_text(landing, "items", DS, "part-1.jsonl.gz", _truncated_gz([_item(f"x{n}", "X") for n in range(300)]))
    corrupt = _land_text(landing, "user_texts", DS, "part-0.jsonl.gz", b"this is not gzip\n" * 5)
    bad_bytes = _user_text("u2", "@").replace(b'"@"', b'"\xff"')
    _land_text(landing, "user_texts", DS, "part-1.jsonl", _user_text("u1", "Hello") + b"\n" + bad_bytes + b"\n")

    code, counts = _clean_day(tmp_path, DS, monkeypatch)
    assert code == 0

    lake = Lake(tmp_path / "lake")
    items = {row["item_id"]: row["title"] for row in lake.read(ITEMS, ds=DS).to_pylist()}
    assert items == {"a": "A new", "b": "B", "c": "C"}
    texts = lake.read(USER_TEXTS, ds=DS).to_pylist()
    assert [(row["user_id"], row["text"]) for row in texts] == [(pseudonymize_user_id("u1", _key()), "Hello")]

    rejected = lake.read(EVENTS_REJECTED, ds=DS).to_pylist()
    summary = sorted((row["source"], row["reason"], row["source_file"]) for row in rejected if row["source"] != "events")
    files = {path: f"file:{path.resolve()}" for path in (truncated, corrupt)}
    part_0 = f"file:{(landing / 'items' / f'ds={DS}' / 'part-0.jsonl').resolve()}"
    part_1 = f"file:{(landing / 'user_texts' / f'ds={DS}' / 'part-1.jsonl').resolve()}"
    assert summary == sorted([
        ("items", "unreadable_file", files[truncated]), ("items", "wrong_type_item_id", part_0),
        ("user_texts", "unreadable_file", files[corrupt]), ("user_texts", "invalid_utf8", part_1),
    ])
    by_reason = {(row["source"], row["reason"]): row["raw_line"] for row in rejected}
    assert "EOFError" in by_reason[("items", "unreadable_file")]
    assert "BadGzipFile" in by_reason[("user_texts", "unreadable_file")]
    assert base64.b64decode(by_reason[("user_texts", "invalid_utf8")]) == bad_bytes

    assert (counts["items.files"], counts["items.unreadable_files"], counts["items.unreadable_file.part-1.jsonl.gz"]) == (2, 1, 1)
    assert counts["items.landing_lines"] == counts["items.raw"] == 3  # today's lines only, not the folded day's
    assert (counts["items.clean"], counts["items.rejected"]) == (2, 1)
    assert (counts["user_texts.files"], counts["user_texts.unreadable_files"]) == (2, 1)
    assert counts["user_texts.unreadable_file.part-0.jsonl.gz"] == 1
    assert counts["user_texts.landing_lines"] == counts["user_texts.raw"] == 2
    assert conservation_check(counts).passed
    assert conservation_check({**counts, "items.landing_lines": 4}).passed is False


def _key() -> str:
    from interests.config import load_config
    from interests.pseudonyms import pseudonym_key

    return pseudonym_key(load_config())


def test_an_items_day_whose_every_file_is_unreadable_keeps_the_previous_snapshot(spark, tmp_path, monkeypatch):
    from interests.catalog import ITEMS

    landing, day1, day2 = tmp_path / "landing", "2026-03-10", "2026-03-11"
    for ds in (day1, day2):
        _land(landing, ds, [event(n, ts=f"{ds}T12:00:00Z") for n in range(1, 3)])
    _land_text(landing, "items", day1, "part-0.jsonl", _item("a", "A") + b"\n" + _item("b", "B") + b"\n")
    _land_text(landing, "items", day2, "part-0.jsonl.gz", _truncated_gz([_item("a", "A changed")] * 200))
    _land_text(landing, "items", day2, "part-1.jsonl.gz", b"not gzip either\n")
    lake = Lake(tmp_path / "lake")

    assert _clean_day(tmp_path, day1, monkeypatch)[0] == 0
    code, counts = _clean_day(tmp_path, day2, monkeypatch)
    assert code == 0  # items are an optional delta: not bad input, the catalog carries over

    def snapshot(ds: str) -> list[tuple]:
        return sorted((row["item_id"], row["title"], row["landed_ds"]) for row in lake.read(ITEMS, ds=ds).to_pylist())

    assert snapshot(day2) == snapshot(day1) == [("a", "A", day1), ("b", "B", day1)]
    assert (counts["items.files"], counts["items.unreadable_files"], counts["items.landing_lines"]) == (2, 2, 0)
    assert (counts["items.raw"], counts["user_texts.files"], counts["user_texts.raw"]) == (0, 0, 0)
    quarantined = [row for row in lake.read(EVENTS_REJECTED, ds=day2).to_pylist() if row["source"] == "items"]
    assert sorted(row["reason"] for row in quarantined) == ["unreadable_file", "unreadable_file"]
    assert conservation_check(counts).passed
