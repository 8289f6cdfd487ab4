"""The delta-spark engine (clusters): runs only where the Delta jars are on Spark's classpath.

No registry reachable from the development machines carries the Delta jars, so here this test
is skipped with that reason; on a machine with `delta-spark` and its jars it runs for real.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from interests.catalog import EVENTS_REJECTED
from interests.lake import Lake

DS = "2026-11-20"


def _delta_jars_present(spark) -> bool:
    from py4j.protocol import Py4JError

    try:
        spark.sparkContext._jvm.java.lang.Class.forName("io.delta.sql.DeltaSparkSessionExtension")
    except Py4JError:  # ClassNotFoundException arrives as Py4JJavaError
        return False
    return True


def test_delta_spark_engine_replaces_one_partition(spark, tmp_path):
    if not _delta_jars_present(spark):
        pytest.skip("Delta Lake jars are not on Spark's classpath (delta-spark cannot write here)")
    lake = Lake(tmp_path / "lake", engine="delta-spark", spark=spark)
    rows = lambda ds, reason: pa.table(
        {"ds": [ds], "source": ["events"], "reason": [reason], "raw_line": ["{"], "source_file": ["f"]}
    )
    lake.write_partition(EVENTS_REJECTED, DS, rows(DS, "malformed_json"))
    lake.write_partition(EVENTS_REJECTED, "2026-11-21", rows("2026-11-21", "malformed_json"))
    lake.write_partition(EVENTS_REJECTED, DS, rows(DS, "empty_line"))
    frame = lake.read_spark(EVENTS_REJECTED)
    assert sorted((r["ds"], r["reason"]) for r in frame.collect()) == [
        (DS, "empty_line"), ("2026-11-21", "malformed_json")
    ]
