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
