"""Fault: the writer is SIGKILLed after its data files landed and before its commit, then the write is rerun.

A separate process (``killable_writer.py``, its own Spark session) replaces a ds partition through the
executor-write path of delta-rs: the executors write Parquet into ``ds=<ds>/write-<uuid>/``, then the
driver would commit. It is killed (the whole process group, JVM included) once its files exist.

What must hold: the table's version and every reader (delta-rs and Spark) still show the old
partition; the leftover files are in no version; a rerun gives exactly the table an uninterrupted run
gives (the other day as it was, the ds exactly the new rows); the leftovers are never read and the lake's vacuum removes them once past its retention.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from interests.catalog import EVENTS_REJECTED
from interests.lake import Lake

pytestmark = pytest.mark.integration

DS, OTHER_DS = "2026-11-20", "2026-11-19"
OLD_ROWS, NEW_ROWS = 1_000, 40_000
WRITER = Path(__file__).with_name("killable_writer.py")
ROOT = Path(__file__).resolve().parents[2]
WEEK_HOURS = 7 * 24


def _writer_module():
    spec = importlib.util.spec_from_file_location("killable_writer", WRITER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sorted(rows: pa.Table) -> pa.Table:
    return rows.sort_by([(name, "ascending") for name in EVENTS_REJECTED.key])


def _write_history(lake: Lake, spark, rows) -> None:
    """The partitions that exist before tonight's write: the old ds and another day."""
    lake.write_partition(EVENTS_REJECTED, DS, rows(spark, DS, OLD_ROWS, "old"))
    lake.write_partition(EVENTS_REJECTED, OTHER_DS, rows(spark, OTHER_DS, OLD_ROWS // 2, "other"))


def _kill_between_files_and_commit(lake_root: Path, log: Path) -> list[Path]:
    """Start the writer, wait until its Parquet files exist and it is at the commit, SIGKILL it; its files."""
    marker = lake_root.parent / "at-commit"
    partition = lake_root / EVENTS_REJECTED.name / f"ds={DS}"
    before = set(partition.glob("write-*/*.parquet"))
    with log.open("w") as output:
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), str(lake_root), DS, str(NEW_ROWS), str(marker)],
            cwd=ROOT, env=os.environ.copy(), start_new_session=True, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300
        while not marker.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), f"the writer never reached its commit (exit {writer.poll()}): {log.read_text()[-3000:]}"
        files = sorted(set(partition.glob("write-*/*.parquet")) - before)
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    return files


def test_a_writer_killed_before_its_commit_leaves_the_old_partition_and_a_rerun_completes_it(spark, tmp_path):
    rows = _writer_module().rejected_rows
    lake = Lake(tmp_path / "lake", spark=spark)
    _write_history(lake, spark, rows)
    version, old = lake.version(EVENTS_REJECTED), _sorted(lake.read(EVENTS_REJECTED, ds=DS))

    leftovers = _kill_between_files_and_commit(tmp_path / "lake", tmp_path / "writer.log")

    # The data files landed (one per task) and were never committed.
    assert len(leftovers) == 4 and sum(pq.read_metadata(f).num_rows for f in leftovers) == NEW_ROWS
    live = {Path(uri.removeprefix("file://")).name for uri in DeltaTable(str(lake.path(EVENTS_REJECTED))).file_uris()}
    assert live and not live & {f.name for f in leftovers}
    # Readers see the old partition, through either engine's read path.
    assert lake.version(EVENTS_REJECTED) == version
    assert _sorted(lake.read(EVENTS_REJECTED, ds=DS)).equals(old)
    assert lake.read_spark(EVENTS_REJECTED, ds=DS).count() == OLD_ROWS
    assert lake.logged_rows(EVENTS_REJECTED, ds=DS) == OLD_ROWS

    # The rerun replaces the partition; the result is the table an uninterrupted run writes: the other
    # day as it was, this ds exactly the new rows.
    other = lake.read(EVENTS_REJECTED, ds=OTHER_DS)
    lake.write_partition(EVENTS_REJECTED, DS, rows(spark, DS, NEW_ROWS, "new"))
    uninterrupted = pa.concat_tables([other, rows(spark, DS, NEW_ROWS, "new").toArrow().cast(EVENTS_REJECTED.schema)])
    after = _sorted(lake.read(EVENTS_REJECTED))
    assert after.num_rows == NEW_ROWS + OLD_ROWS // 2
    assert after.equals(_sorted(uninterrupted))
    assert lake.read_spark(EVENTS_REJECTED, ds=DS).count() == NEW_ROWS

    # The leftovers are not read; vacuum keeps them while young (a writer may still be at work) and
    # removes them once older than its retention, leaving the table as it was.
    assert all(f.exists() for f in leftovers)
    assert not any(Path(f).name in {Path(p).name for p in lake.vacuum(EVENTS_REJECTED, WEEK_HOURS)} for f in leftovers)
    week_ago = time.time() - (WEEK_HOURS + 1) * 3600
    for file in leftovers:
        os.utime(file, (week_ago, week_ago))
    lake.vacuum(EVENTS_REJECTED, WEEK_HOURS)
    assert not any(f.exists() for f in leftovers)
    assert _sorted(lake.read(EVENTS_REJECTED)).equals(after)
