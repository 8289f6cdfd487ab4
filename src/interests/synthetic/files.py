"""Where the generator writes (landing files under `catalog.landing_path`, the truth beside them) and how:
atomically, byte-identical between runs."""

from __future__ import annotations

import gzip
import os
from datetime import date
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from interests.catalog import landing_path

PART_NAME: Final[str] = "part-00000.jsonl"
_GZIP_LEVEL: Final[int] = 1


def events_path(landing_root: Path, ds: date, gzip_events: bool) -> Path:
    """Path of the one events file of a day."""
    suffix = ".gz" if gzip_events else ""
    return Path(landing_path(landing_root, "events", ds.isoformat())) / f"{PART_NAME}{suffix}"


def items_path(landing_root: Path, ds: date) -> Path:
    """Path of the one item catalog file of a day."""
    return Path(landing_path(landing_root, "items", ds.isoformat())) / PART_NAME


def user_texts_path(landing_root: Path, ds: date) -> Path:
    """Path of the one user text file of a day."""
    return Path(landing_path(landing_root, "user_texts", ds.isoformat())) / PART_NAME


def truth_items_path(truth_root: Path) -> Path:
    """Path of the item -> topic / sub-interest truth table."""
    return truth_root / "items.parquet"


def truth_user_interests_path(truth_root: Path, ds: date) -> Path:
    """Path of a day's user -> sub-interest weight truth table."""
    return truth_root / "user_interests" / f"ds={ds.isoformat()}.parquet"


def truth_dirt_path(truth_root: Path, ds: date) -> Path:
    """Path of a day's planted-dirt counts."""
    return truth_root / "dirt" / f"ds={ds.isoformat()}.json"


def write_lines(path: Path, lines: pa.Array, gzip_output: bool = False) -> None:
    """Write newline-terminated lines atomically (hidden temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = lines.cast(pa.large_binary())
    payload: pa.Buffer | bytes = b""
    if len(lines) > 0:
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
        first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
        payload = lines.buffers()[2].slice(int(first), int(last - first))
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        if gzip_output:
            # mtime=0 and no file name keep gzip output byte-identical between runs.
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=_GZIP_LEVEL
            ) as zipped:
                zipped.write(payload)
        else:
            handle.write(payload)
    os.replace(tmp, path)


def write_parquet(path: Path, table: pa.Table) -> None:
    """Write a Parquet file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
