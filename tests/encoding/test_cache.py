"""The encoding cache: which texts still need encoding, and the text_embeddings rows that record them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from interests.catalog import TEXT_EMBEDDINGS
from interests.encoding.cache import cache_rows, texts_to_encode
from interests.encoding.hashing import HashingEncoder
from interests.encoding.text import text_hash


def texts(*values: str, extra_column: bool = False) -> pa.Table:
    columns = {"text_hash": [text_hash(value) for value in values], "text": list(values)}
    if extra_column:
        columns = {"item_id": [f"i{n}" for n in range(len(values))], **columns}
    return pa.table(columns)


ITEMS = texts("bread recipe", "football match", "bread recipe", extra_column=True)
USER_TEXTS = texts("football match", "knitting", "knitting")


@pytest.mark.parametrize(
    "cached",
    [
        pa.array([text_hash("football match"), "not-a-hash-of-ours"]),
        pa.chunked_array([[text_hash("football match")], ["not-a-hash-of-ours"]]),
        pa.array([text_hash("football match")], pa.large_string()),
    ],
    ids=["array", "chunked", "large_string"],
)
def test_texts_to_encode_dedupes_across_sources_and_skips_cached_hashes(cached):
    todo, distinct = texts_to_encode([ITEMS, USER_TEXTS], cached)
    assert distinct == 3
    expected = sorted((text_hash(t), t) for t in ("bread recipe", "knitting"))
    assert list(zip(todo["text_hash"].to_pylist(), todo["text"].to_pylist())) == expected
    assert todo.column_names == ["text_hash", "text"]


def test_texts_to_encode_with_an_empty_cache_returns_everything_sorted_by_hash():
    todo, distinct = texts_to_encode([ITEMS, USER_TEXTS], pa.chunked_array([], pa.string()))
    assert distinct == todo.num_rows == 3
    assert todo["text_hash"].to_pylist() == sorted(todo["text_hash"].to_pylist())
    assert set(todo["text"].to_pylist()) == {"bread recipe", "football match", "knitting"}


def test_texts_to_encode_with_everything_cached_returns_nothing():
    cached = pa.array([text_hash(t) for t in ("bread recipe", "football match", "knitting")])
    todo, distinct = texts_to_encode([ITEMS, USER_TEXTS], cached)
    assert (todo.num_rows, distinct) == (0, 3)


def test_cache_rows_have_the_catalog_schema_and_the_encoder_vectors():
    encoder = HashingEncoder(dim=16)
    todo, _ = texts_to_encode([ITEMS, USER_TEXTS], pa.array([], pa.string()))
    rows = cache_rows(encoder, todo, "2026-11-20")

    assert rows.schema == TEXT_EMBEDDINGS.schema
    assert rows["text_hash"].to_pylist() == todo["text_hash"].to_pylist()
    assert set(rows["model_version"].to_pylist()) == {"hashing-16"}
    assert set(rows["first_ds"].to_pylist()) == {"2026-11-20"}
    vectors = np.array(rows["embedding"].to_pylist(), dtype=np.float32)
    np.testing.assert_array_equal(vectors, encoder.encode(todo["text"].to_pylist()))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_cache_rows_of_nothing_is_an_empty_table_with_the_schema():
    todo = pa.table({"text_hash": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    rows = cache_rows(HashingEncoder(dim=8), todo, "2026-11-20")
    assert rows.num_rows == 0
    assert rows.schema == TEXT_EMBEDDINGS.schema
