"""Reading the landing zone (the input contract): one folder per source and day, JSON lines."""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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


READ_CHUNK_BYTES = 1 << 20
"""Bytes read (and decompressed) at a time when a landing file is surveyed: memory stays bounded."""

SURVEY_THREADS = 4
"""Files surveyed at once; zlib and file reads release the GIL, so threads use several cores."""


@dataclass(frozen=True)
class LandingFile:
    """One landing file as surveyed before Spark reads it: its line count, or why it cannot be read."""

    path: Path
    lines: int
    """Lines as Spark's text reader splits them on \\n (a last line without a newline counts); 0 if unreadable."""
    error: str | None = None
    """Why the file cannot be read (a truncated or corrupt gzip stream, an I/O error); None when readable."""

    @property
    def uri(self) -> str:
        """The file as Spark names a local file in ``_metadata.file_path`` (and so in ``source_file``)."""
        return f"file:{self.path.resolve()}"


def _survey_file(path: Path) -> LandingFile:
    """Read a file to its end (decompressing a .gz, which checks its CRC and length) and count its lines."""
    opener = gzip.open if path.name.endswith(".gz") else open
    newlines, last = 0, b"\n"
    try:
        with opener(path, "rb") as stream:
            while chunk := stream.read(READ_CHUNK_BYTES):
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        return LandingFile(path, 0, f"{type(error).__name__}: {error}")
    return LandingFile(path, newlines + (last != b"\n"))


def survey_landing_files(landing_root: Path | str, source: str, ds: str) -> list[LandingFile] | None:
    """Every line file of a local landing day, each read to its end: line count or the error that stops it.

    This is the count the cleaning job's conservation check compares against: it reads the bytes
    itself, independent of Spark. Remote (URI) landing zones return None (not surveyed).
    """
    if not is_local(landing_root):
        return None
    folder = Path(landing_path(landing_root, source, ds))
    files = _day_files(folder) if folder.is_dir() else []
    with ThreadPoolExecutor(max_workers=SURVEY_THREADS) as pool:
        surveyed = list(pool.map(_survey_file, files))
    for file in surveyed:
        if file.error:
            logger.warning("quarantined unreadable landing file %s: %s", file.path, file.error)
    return surveyed


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
    spark: SparkSession, landing_root: Path | str, source: str, ds_from: str, ds_to: str,
    files: Sequence[Path] | None = None,
) -> DataFrame:
    """Raw lines (value, source_file, ds) of one source for the landing days ds_from..ds_to inclusive.

    ``files``, when given, are the only files read (the readable ones of a surveyed day). Lines end
    at ``\\n`` only (a ``\\r`` stays in its line), as ``survey_landing_files`` counts them. ``value``
    holds the line's bytes unchecked: invalid UTF-8 is still there for the cleaner to find.
    """
    validate_ds(ds_from)
    validate_ds(ds_to)
    source_root = join_location(landing_root, source)
    empty = spark.createDataFrame([], "value string, source_file string, ds string")
    if files is not None:
        if not files:
            return empty
        paths = [str(p) for p in files]
    elif is_local(landing_root):
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
        .option("lineSep", "\n")
        .text(paths)
    )
    return frame.where(F.col("ds").between(ds_from, ds_to)).select(
        "value", F.col("_metadata.file_path").alias("source_file"), "ds"
    )
