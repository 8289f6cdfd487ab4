"""Reading the landing zone (the input contract): one folder per source and day, JSON lines."""

from __future__ import annotations

import logging
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from interests.catalog import is_local, join_location, landing_path, validate_ds
from interests.errors import BadInputError

logger = logging.getLogger(__name__)

LINE_FILE_SUFFIXES = (".jsonl", ".jsonl.gz")
LINE_FILE_GLOB = "*.{jsonl,jsonl.gz}"
"""Files read from a landing day: *.jsonl and *.jsonl.gz (Spark decompresses by extension)."""


class LandingDayError(BadInputError):
    """The landing day a night needs is missing or holds no lines."""


def _day_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(LINE_FILE_SUFFIXES))


def require_landing_day(landing_root: Path | str, source: str, ds: str) -> None:
    """Raise LandingDayError naming the folder if a local landing day is missing or empty.

    Remote (URI) landing zones are left to Spark, which fails on a missing path itself.
    """
    if not is_local(landing_root):
        return
    folder = Path(landing_path(landing_root, source, ds))
    if not folder.is_dir():
        raise LandingDayError(
            f"no landing data for ds={ds}: {folder} does not exist "
            f"(expected {source}/ds={ds}/*.jsonl or *.jsonl.gz under {landing_root})"
        )
    files = _day_files(folder)
    if not files or all(p.stat().st_size == 0 for p in files):
        raise LandingDayError(f"landing day ds={ds} is empty: {folder} holds no non-empty *.jsonl / *.jsonl.gz file")


def read_landing_lines(
    spark: SparkSession, landing_root: Path | str, source: str, ds_from: str, ds_to: str
) -> DataFrame:
    """Raw lines (value, source_file, ds) of one source for the landing days ds_from..ds_to inclusive."""
    validate_ds(ds_from)
    validate_ds(ds_to)
    source_root = join_location(landing_root, source)
    empty = spark.createDataFrame([], "value string, source_file string, ds string")
    if is_local(landing_root):
        days = [
            p for p in sorted(source_root.glob("ds=*"))
            if p.is_dir() and ds_from <= p.name[3:] <= ds_to and _day_files(p)
        ]
        if not days:
            return empty
        paths = [str(p) for p in days]
    else:
        paths = [str(source_root)]
    frame = (
        spark.read.option("pathGlobFilter", LINE_FILE_GLOB)
        .option("basePath", str(source_root))
        .text(paths)
    )
    return frame.where(F.col("ds").between(ds_from, ds_to)).select(
        "value", F.col("_metadata.file_path").alias("source_file"), "ds"
    )
