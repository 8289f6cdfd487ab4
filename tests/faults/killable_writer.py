"""A writer process for the kill test: writes a ds partition from the executors and stops before the commit.

    python tests/faults/killable_writer.py LAKE_ROOT DS ROWS MARKER

The real ``Lake.write_partition`` runs (delta-rs, executor-written Parquet under ``ds=<ds>/write-<uuid>/``);
only the commit call is replaced by one that writes MARKER and waits, so the test's SIGKILL lands in
the window between "data files landed" and "commit" every time, not by luck of timing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

SPARK_ENV = {"INTERESTS_SPARK__MASTER": "local[2]", "INTERESTS_SPARK__SHUFFLE_PARTITIONS": "2",
             "INTERESTS_SPARK__DRIVER_MEMORY": "1g"}


def rejected_rows(spark, ds: str, rows: int, tag: str, files: int = 4):
    """``rows`` events_rejected rows of ds, tagged in ``reason``, spread over ``files`` tasks (one file each)."""
    return spark.range(rows).selectExpr(
        f"'{ds}' AS ds", "'events' AS source", f"'{tag}' AS reason",
        "concat('line-', CAST(id AS STRING)) AS raw_line", "'landing/events.jsonl' AS source_file",
    ).repartition(files)


def main(lake_root: str, ds: str, rows: int, marker: str) -> None:
    from deltalake import DeltaTable

    from interests.catalog import EVENTS_REJECTED
    from interests.config import load_config
    from interests.lake import Lake
    from interests.spark import build_spark

    def wait_to_be_killed(self, *args, **kwargs):
        Path(marker).write_text("data files written, commit not made")
        time.sleep(3600)

    DeltaTable.create_write_transaction = wait_to_be_killed
    spark = build_spark(load_config(environ=SPARK_ENV), "killable-writer")
    Lake(lake_root, spark=spark).write_partition(EVENTS_REJECTED, ds, rejected_rows(spark, ds, rows, "new"))
    raise SystemExit("the commit returned: the kill never came")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
