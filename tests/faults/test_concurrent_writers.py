"""Fault: several writers replace partitions of one Delta table at the same moment.

Two or three writers on the same ds, and others on different days, all start together, through both
delta-rs write paths: separate processes writing Arrow tables (``write_deltalake`` with a ds
predicate, as driver-side tables are written), and threads of one Spark session whose executors
write the Parquet that delta-rs then commits (as the night's large tables are written).

What must hold (Delta's optimistic concurrency): every writer of a different day succeeds; of the
writers of one ds, each either commits (one after the other, each a whole partition) or fails with
delta-rs's CommitFailedError naming the concurrent transaction; the partition then holds exactly the
rows of one writer, the last that committed, never a mix; versions are unique.
"""

from __future__ import annotations

import multiprocessing
import threading
import time

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from interests.catalog import EVENTS_REJECTED
from interests.lake import Lake

pytestmark = pytest.mark.integration

SAME_DS = "2026-11-20"
OTHER_DAYS = ("2026-11-21", "2026-11-22", "2026-11-23")
ROWS = 100_000  # enough that the writes overlap in time


def _rows(ds: str, tag: str, rows: int) -> pa.Table:
    """``rows`` rows of ds, every one tagged with its writer in ``reason``."""
    return pa.table({
        "ds": pa.array([ds] * rows), "source": pa.array(["events"] * rows), "reason": pa.array([tag] * rows),
        "raw_line": pa.array([f"line-{n}" for n in range(rows)]), "source_file": pa.array(["f"] * rows),
    }, schema=EVENTS_REJECTED.schema)


def _write_in_a_process(root: str, ds: str, tag: str, start_at: float, results) -> None:
    rows = _rows(ds, tag, ROWS)
    while time.time() < start_at:
        time.sleep(0.001)
    try:
        results.put((tag, ds, "ok", Lake(root).write_partition(EVENTS_REJECTED, ds, rows)))
    except Exception as error:  # noqa: BLE001 - the test checks it is the conflict error
        results.put((tag, ds, "error", f"{type(error).__name__}: {error}"))


def _check_outcomes(lake: Lake, outcomes: list[tuple[str, str, str, object]], rows: int) -> None:
    """Different days all committed; one ds: commits or a clear conflict; each partition one writer's, the last."""
    by_day = {ds: [o for o in outcomes if o[1] == ds] for ds in {o[1] for o in outcomes}}
    for ds in OTHER_DAYS:
        assert [o[2] for o in by_day[ds]] == ["ok"], by_day[ds]
    failed = [o for o in by_day[SAME_DS] if o[2] != "ok"]
    assert all(o[3].startswith("CommitFailedError") and "concurrent" in o[3] for o in failed), failed
    committed = [o for o in outcomes if o[2] == "ok"]
    assert len({o[3] for o in committed}) == len(committed)  # one version per commit
    table = lake.read(EVENTS_REJECTED)
    for ds, writers in by_day.items():
        partition = table.filter(pc.equal(table["ds"], ds))
        last = max((o for o in writers if o[2] == "ok"), key=lambda o: o[3])
        assert set(partition["reason"].to_pylist()) == {last[0]}, (ds, writers)  # one writer's rows, the last
        assert partition.num_rows == rows and len(set(partition["raw_line"].to_pylist())) == rows


def test_writer_processes_on_one_ds_and_on_other_days_never_mix_a_partition(tmp_path):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    writers = [(SAME_DS, f"same-{n}") for n in range(3)] + [(ds, f"day-{ds}") for ds in OTHER_DAYS]
    start_at = time.time() + 10  # all imported by then
    processes = [context.Process(target=_write_in_a_process, args=(str(tmp_path), ds, tag, start_at, results))
                 for ds, tag in writers]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    _check_outcomes(Lake(tmp_path), outcomes, ROWS)


def test_executor_writes_on_one_ds_and_on_other_days_never_mix_a_partition(spark, tmp_path):
    lake = Lake(tmp_path, spark=spark)
    rows = 20_000
    lake.write_partition(EVENTS_REJECTED, SAME_DS, _frame(spark, SAME_DS, "before", rows))  # a partition to replace
    outcomes: list = []
    barrier = threading.Barrier(2 + len(OTHER_DAYS))

    def write(ds: str, tag: str) -> None:
        frame = _frame(spark, ds, tag, rows)
        barrier.wait()
        try:
            outcomes.append((tag, ds, "ok", lake.write_partition(EVENTS_REJECTED, ds, frame)))
        except Exception as error:  # noqa: BLE001 - the test checks it is the conflict error
            outcomes.append((tag, ds, "error", f"{type(error).__name__}: {error}"))

    threads = [threading.Thread(target=write, args=(SAME_DS, f"same-{n}")) for n in range(2)]
    threads += [threading.Thread(target=write, args=(ds, f"day-{ds}")) for ds in OTHER_DAYS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert len(outcomes) == len(threads)
    _check_outcomes(lake, outcomes, rows)


def _frame(spark, ds: str, tag: str, rows: int):
    return spark.range(rows).selectExpr(
        f"'{ds}' AS ds", "'events' AS source", f"'{tag}' AS reason", "concat('line-', CAST(id AS STRING)) AS raw_line",
        "'f' AS source_file",
    ).repartition(3)
