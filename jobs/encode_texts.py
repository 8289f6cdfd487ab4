"""Encode every item and user text of ds that the cache (text_embeddings) does not hold yet.

    python jobs/encode_texts.py --ds 2026-11-20 [--run-id ID]

A Spark job whose work happens on the executors: the snapshot texts of ds and the cache are read
as Spark frames, the distinct texts whose content hash is new for this model version are encoded
with ``mapInArrow`` (one model per executor Python worker, on the task's GPU when it has one), and
the rows are appended to the cache. The driver names the model from its weight files, without
loading it, and holds nothing but the counts.
"""

from __future__ import annotations

import logging
import sys

from interests.catalog import ITEMS, TEXT_EMBEDDINGS, USER_TEXTS
from interests.encoding.cache import count_cached_texts, flag_cached_texts, select_uncached_texts
from interests.encoding.executors import (
    EncoderSettings,
    TransformerSettings,
    encode_on_executors,
    encoding_partitions,
)
from interests.runtime import BadInputError, JobContext, run_job

logger = logging.getLogger("jobs.encode_texts")


def encode(context: JobContext, settings: EncoderSettings | None = None) -> dict[str, int]:
    """Encode ds's cache misses on the executors; ``settings`` replaces the configured model (tests)."""
    from pyspark.sql import functions as F

    settings = settings or TransformerSettings.from_config(context.config.encoder)
    ds, lake = context.ds, context.spark_lake
    model_version = settings.model_version()
    sources = {
        "items": lake.read_spark(ITEMS, ds=ds).select("text_hash", "text"),
        "user_texts": lake.read_spark(USER_TEXTS, ds=ds).select("text_hash", "text"),
    }
    cached = lake.read_spark(TEXT_EMBEDDINGS).where(F.col("model_version") == model_version)
    flagged = flag_cached_texts(sources, cached.select("text_hash"))
    counts = count_cached_texts(flagged, list(sources))
    if counts["items.rows"] == 0:
        raise BadInputError(f"the items table has no rows for ds={ds}: run clean_events for that day first")
    logger.info(
        "%d distinct texts, %d cached for %s, %d to encode",
        counts["texts.distinct"], counts["texts.cached"], model_version, counts["texts.encoded"],
    )
    if counts["texts.encoded"]:
        partitions = encoding_partitions(counts["texts.encoded"], context.spark.sparkContext.defaultParallelism)
        rows = encode_on_executors(select_uncached_texts(flagged), settings, model_version, ds, partitions)
        lake.append(TEXT_EMBEDDINGS, rows)
    return counts


if __name__ == "__main__":
    sys.exit(run_job("encode_texts", encode))
