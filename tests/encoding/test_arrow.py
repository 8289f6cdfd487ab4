"""encode_arrow: a string Arrow array in, a list<float32> array of embeddings out."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from interests.encoding.arrow import encode_arrow
from interests.encoding.hashing import HashingEncoder


@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string()])
def test_encode_arrow_returns_list_of_float32_in_order(string_type):
    encoder = HashingEncoder(dim=16)
    texts = ["bread", "", "stock market", "bread"]
    result = encode_arrow(encoder, pa.array(texts, type=string_type))
    assert result.type == pa.list_(pa.float32())
    assert len(result) == len(texts)
    assert result.null_count == 0
    stacked = np.asarray(result.to_pylist(), dtype=np.float32)
    np.testing.assert_array_equal(stacked, encoder.encode(texts))


def test_encode_arrow_accepts_chunked_arrays():
    encoder = HashingEncoder(dim=8)
    chunked = pa.chunked_array([["a b"], ["c", "d e f"]])
    result = encode_arrow(encoder, chunked)
    expected = encoder.encode(["a b", "c", "d e f"])
    np.testing.assert_array_equal(np.asarray(result.to_pylist()), expected)


def test_encode_arrow_of_nothing_is_an_empty_list_array():
    result = encode_arrow(HashingEncoder(dim=8), pa.array([], type=pa.string()))
    assert result.type == pa.list_(pa.float32())
    assert len(result) == 0


def test_encode_arrow_refuses_nulls_naming_the_first():
    with pytest.raises(TypeError, match=r"texts\[1\] is null \(2 nulls\)"):
        encode_arrow(HashingEncoder(dim=8), pa.array(["a", None, "b", None]))


def test_encode_arrow_refuses_non_string_arrays():
    with pytest.raises(TypeError, match="int64"):
        encode_arrow(HashingEncoder(dim=8), pa.array([1, 2]))
    with pytest.raises(TypeError, match="list"):
        encode_arrow(HashingEncoder(dim=8), ["a", "b"])  # type: ignore[arg-type]
