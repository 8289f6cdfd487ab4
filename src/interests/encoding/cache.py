"""The content-hash encoding cache: which texts still need encoding, and the rows that record them.

Two forms of the same rule: Spark DataFrames for the encoding job, which runs on the executors
(:func:`flag_cached_texts`, :func:`count_cached_texts`, :func:`select_uncached_texts`), and Arrow
tables for in-process use (benchmarks, and the reference the Spark path is tested against).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from interests.catalog import TEXT_EMBEDDINGS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def flag_cached_texts(sources: Mapping[str, DataFrame], cached_hashes: DataFrame) -> DataFrame:
    """One row per distinct text_hash of the sources: text, cached, and ``<source>_rows`` per source.

    ``sources`` maps a name to a frame with text_hash and text; ``cached_hashes`` holds the
    text_hash of every cache row of the model version in use. Equal hashes mean equal texts, so
    the smallest text of a hash is simply a deterministic pick.
    """
    from pyspark.sql import functions as F

    if not sources:
        raise ValueError("flag_cached_texts needs at least one source")
    tagged = None
    for name, frame in sources.items():
        part = frame.select("text_hash", "text", F.lit(name).alias("source"))
        tagged = part if tagged is None else tagged.unionByName(part)
    texts = tagged.groupBy("text_hash").agg(
        F.min("text").alias("text"),
        *[F.count_if(F.col("source") == name).alias(f"{name}_rows") for name in sources],
    )
    cached = cached_hashes.select("text_hash").distinct().withColumn("cached", F.lit(True))
    return texts.join(cached, "text_hash", "left").withColumn(
        "cached", F.coalesce(F.col("cached"), F.lit(False))
    )


def count_cached_texts(flagged: DataFrame, source_names: Sequence[str]) -> dict[str, int]:
    """texts.distinct, texts.cached, texts.encoded and ``<source>.rows``, in one Spark aggregation."""
    from pyspark.sql import functions as F

    row = flagged.agg(
        F.count(F.lit(1)).alias("distinct"),
        F.count_if(F.col("cached")).alias("cached"),
        *[F.sum(f"{name}_rows").alias(f"{name}_rows") for name in source_names],
    ).first()
    distinct, cached = int(row["distinct"]), int(row["cached"] or 0)
    return {
        "texts.distinct": distinct,
        "texts.cached": cached,
        "texts.encoded": distinct - cached,
        **{f"{name}.rows": int(row[f"{name}_rows"] or 0) for name in source_names},
    }


def select_uncached_texts(flagged: DataFrame) -> DataFrame:
    """The (text_hash, text) rows the cache does not hold: what the job encodes."""
    from pyspark.sql import functions as F

    return flagged.where(~F.col("cached")).select("text_hash", "text")


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
    from interests.encoding.arrow import encode_arrow

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
