"""The content-hash encoding cache: which texts still need encoding, and the rows that record them."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from interests.catalog import TEXT_EMBEDDINGS


def texts_to_encode(sources: Sequence[pa.Table], cached_hashes: pa.ChunkedArray | pa.Array) -> tuple[pa.Table, int]:
    """Distinct (text_hash, text) of the sources not in the cache, sorted by hash; and the distinct count."""
    combined = pa.concat_tables([source.select(["text_hash", "text"]) for source in sources])
    distinct = combined.group_by("text_hash", use_threads=False).aggregate([("text", "first")])
    distinct = distinct.rename_columns(["text_hash", "text"]).sort_by("text_hash")
    if isinstance(cached_hashes, pa.ChunkedArray):
        cached_hashes = cached_hashes.combine_chunks()
    is_cached = pc.is_in(distinct.column("text_hash"), value_set=cached_hashes.cast(pa.string()))
    return distinct.filter(pc.invert(is_cached)), distinct.num_rows


def cache_rows(encoder, todo: pa.Table, ds: str) -> pa.Table:
    """Encode the texts of ``todo`` and shape them as text_embeddings rows first seen on ds."""
    from interests.encoding.encoder import encode_arrow

    embeddings = encode_arrow(encoder, todo.column("text").combine_chunks())
    n = todo.num_rows
    return pa.table(
        {
            "model_version": pa.array([encoder.model_version] * n, pa.string()),
            "text_hash": todo.column("text_hash"),
            "embedding": embeddings,
            "first_ds": pa.array([ds] * n, pa.string()),
        },
        schema=TEXT_EMBEDDINGS.schema,
    )
