"""The landing zone: a day must exist and hold lines; lines are read with their ds and file."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from interests.catalog import InvalidDsError
from interests.landing import LandingDayError, read_landing_lines, require_landing_day

DS = "2026-11-20"


def day_folder(root: Path, ds: str, source: str = "events") -> Path:
    folder = root / source / f"ds={ds}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_lines(path: Path, lines: list[str]) -> Path:
    data = "".join(f"{line}\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "does not exist"),
        ({}, "is empty"),
        ({"part-0.jsonl": b""}, "is empty"),
        ({"part-0.jsonl": b"", "part-1.jsonl.gz": b""}, "is empty"),
        ({"notes.txt": b"{}\n", "part.json": b"{}\n"}, "is empty"),
        ({"subdir.jsonl/inner.jsonl": b"{}\n"}, "is empty"),
    ],
)
def test_require_landing_day_raises_for_a_missing_or_empty_day(tmp_path, files, message):
    if files is not None:
        folder = day_folder(tmp_path, DS)
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    with pytest.raises(LandingDayError, match=message) as error:
        require_landing_day(tmp_path, "events", DS)
    assert f"ds={DS}" in str(error.value)
    assert str(tmp_path / "events" / f"ds={DS}") in str(error.value)


@pytest.mark.parametrize("name", ["part-0.jsonl", "part-0.jsonl.gz"])
def test_require_landing_day_accepts_a_day_with_lines(tmp_path, name):
    folder = day_folder(tmp_path, DS)
    (folder / "empty.jsonl").write_bytes(b"")
    write_lines(folder / name, ["{}"])
    assert require_landing_day(tmp_path, "events", DS) is None


def test_require_landing_day_checks_the_named_source_and_ds(tmp_path):
    write_lines(day_folder(tmp_path, DS, "items") / "a.jsonl", ["{}"])
    require_landing_day(tmp_path, "items", DS)
    with pytest.raises(LandingDayError):
        require_landing_day(tmp_path, "events", DS)
    with pytest.raises(LandingDayError):
        require_landing_day(tmp_path, "items", "2026-11-21")
    with pytest.raises(InvalidDsError):
        require_landing_day(tmp_path, "items", "2026-11-32")


@pytest.mark.parametrize("root", ["s3://bucket/landing", "abfss://container@account.dfs.core.windows.net/landing"])
def test_require_landing_day_leaves_remote_roots_to_spark(root):
    assert require_landing_day(root, "events", DS) is None


def test_read_landing_lines_reads_plain_and_gzip_days_in_range(spark, tmp_path):
    write_lines(day_folder(tmp_path, "2026-11-18") / "a.jsonl", ["before range"])
    write_lines(day_folder(tmp_path, "2026-11-19") / "a.jsonl", ["first", "second"])
    write_lines(day_folder(tmp_path, "2026-11-19") / "b.jsonl.gz", ["zipped"])
    day_folder(tmp_path, "2026-11-20")  # an empty day inside the range is skipped
    write_lines(day_folder(tmp_path, "2026-11-21") / "a.jsonl.gz", ["last day"])
    write_lines(day_folder(tmp_path, "2026-11-22") / "a.jsonl", ["after range"])
    write_lines(day_folder(tmp_path, "2026-11-19", "items") / "a.jsonl", ["another source"])

    frame = read_landing_lines(spark, tmp_path, "events", "2026-11-19", "2026-11-21")
    assert frame.columns == ["value", "source_file", "ds"]
    rows = sorted((row["ds"], row["value"], row["source_file"]) for row in frame.collect())

    assert [(ds, value) for ds, value, _ in rows] == [
        ("2026-11-19", "first"), ("2026-11-19", "second"), ("2026-11-19", "zipped"), ("2026-11-21", "last day")
    ]
    expected_files = ["ds=2026-11-19/a.jsonl", "ds=2026-11-19/a.jsonl", "ds=2026-11-19/b.jsonl.gz",
                      "ds=2026-11-21/a.jsonl.gz"]
    for (_, _, source_file), expected in zip(rows, expected_files):
        assert source_file.endswith(f"/events/{expected}")


def test_read_landing_lines_with_no_day_in_range_is_empty(spark, tmp_path):
    write_lines(day_folder(tmp_path, "2026-11-18") / "a.jsonl", ["x"])
    frame = read_landing_lines(spark, tmp_path, "events", "2026-11-19", "2026-11-21")
    assert frame.columns == ["value", "source_file", "ds"]
    assert frame.collect() == []
    with pytest.raises(InvalidDsError):
        read_landing_lines(spark, tmp_path, "events", "2026-11-19", "2026-11-31")


def test_read_landing_lines_reads_only_jsonl_and_jsonl_gz(spark, tmp_path):
    folder = day_folder(tmp_path, DS)
    write_lines(folder / "part.jsonl", ["landed"])
    write_lines(folder / "part-1.jsonl.tmp", ["still being written"])
    values = [row["value"] for row in read_landing_lines(spark, tmp_path, "events", DS, DS).collect()]
    assert values == ["landed"]
