"""Vectorized string building with Arrow kernels: zero-padded digits, joined words, ISO-8601 timestamps.

The generator assembles millions of JSON lines from numpy arrays with these, never looping in Python.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from interests.synthetic.contract import DAY_MS, EPOCH, HOUR_MS, TIMESTAMP_OFFSETS

_D1: Final = pa.array([f"{i:01d}" for i in range(10)])
_D2: Final = pa.array([f"{i:02d}" for i in range(100)])
_D3: Final = pa.array([f"{i:03d}" for i in range(1000)])
_FRACTIONS: Final = pa.array([f".{i:03d}" for i in range(1000)] + [""])
_OFFSET_LABELS: Final = pa.array([label for label, _ in TIMESTAMP_OFFSETS])
_OFFSET_MINUTES: Final = np.array([minutes for _, minutes in TIMESTAMP_OFFSETS], dtype=np.int64)


def concat(*parts: Any) -> pa.Array:
    """Concatenate string arrays and scalars element-wise."""
    return pc.binary_join_element_wise(*parts, "")


def digits(values: np.ndarray, width: int) -> pa.Array:
    """Format non-negative ints as zero-padded decimal strings of a fixed width."""
    values = np.asarray(values, dtype=np.int64)
    pieces: list[pa.Array] = []
    remaining = width
    while remaining > 0:
        size = min(3, remaining)
        table = (_D1, _D2, _D3)[size - 1]
        remaining -= size
        if remaining == 0:
            group = values  # the leading group: an out-of-range value fails in take()
        else:
            group = values % (10**size)
            values = values // (10**size)
        pieces.append(table.take(group))
    return concat(*reversed(pieces))


def scatter(length: int, positions: np.ndarray, values: pa.Array) -> pa.Array:
    """A string array of `length` empty strings with `values` placed at `positions`."""
    index = np.full(length, len(values), dtype=np.int64)
    index[positions] = np.arange(len(values), dtype=np.int64)
    return pa.concat_arrays([values, pa.array([""], type=values.type)]).take(index)


def join_words(words: pa.Array, word_index: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Join consecutive runs of vocabulary words (one run per row) with spaces."""
    offsets = np.zeros(lengths.size + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), words.take(word_index))
    return pc.binary_join(lists, " ")


def iso_timestamps(ts_ms: np.ndarray, offset_index: np.ndarray, with_ms: np.ndarray) -> pa.Array:
    """Format epoch milliseconds as ISO-8601 local times with the chosen UTC offsets."""
    local = ts_ms + _OFFSET_MINUTES[offset_index] * 60_000
    day_number = local // DAY_MS
    first_day = int(day_number.min()) if day_number.size else 0
    last_day = int(day_number.max()) if day_number.size else 0
    dates = pa.array(
        [(EPOCH + timedelta(days=d)).isoformat() for d in range(first_day, last_day + 1)]
    )
    within = local - day_number * DAY_MS
    return concat(
        dates.take(day_number - first_day),
        "T",
        _D2.take(within // HOUR_MS),
        ":",
        _D2.take(within // 60_000 % 60),
        ":",
        _D2.take(within // 1000 % 60),
        _FRACTIONS.take(np.where(with_ms, within % 1000, 1000)),
        _OFFSET_LABELS.take(offset_index),
    )
