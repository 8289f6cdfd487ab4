"""Encode every item and user text of ds that the cache (text_embeddings) does not hold yet.

    python jobs/encode_texts.py --ds 2026-11-20 [--run-id ID]

Runs without Spark: the snapshot texts come from Delta as Arrow, the encoder runs on the GPU when
there is one, and only texts whose content hash is new for this model version are encoded.
"""

from __future__ import annotations

import logging
import sys

from interests.catalog import ITEMS, TEXT_EMBEDDINGS, USER_TEXTS
from interests.encoding.cache import cache_rows, texts_to_encode
from interests.encoding.encoder import load_encoder
from interests.runtime import BadInputError, JobContext, run_job

logger = logging.getLogger("jobs.encode_texts")


def encode(context: JobContext) -> dict[str, int]:
    config, ds, lake = context.config, context.ds, context.lake
    items = lake.read(ITEMS, ds=ds, columns=["text_hash", "text"])
    user_texts = lake.read(USER_TEXTS, ds=ds, columns=["text_hash", "text"])
    if items.num_rows == 0:
        raise BadInputError(f"the items table has no rows for ds={ds}: run clean_events for that day first")
    encoder = load_encoder(
        model_path=config.encoder.model_path, model_name=config.encoder.model_name,
        batch_size=config.encoder.batch_size, max_length=config.encoder.max_length,
        device=config.encoder.device,
    )
    cached = lake.read(
        TEXT_EMBEDDINGS, columns=["text_hash"], filters=[("model_version", "=", encoder.model_version)]
    )
    todo, distinct = texts_to_encode([items, user_texts], cached.column("text_hash"))
    logger.info(
        "%d distinct texts, %d cached for %s, %d to encode",
        distinct, distinct - todo.num_rows, encoder.model_version, todo.num_rows,
    )
    rows = cache_rows(encoder, todo, ds)
    lake.append(TEXT_EMBEDDINGS, rows)
    return {
        "texts.distinct": distinct,
        "texts.cached": distinct - todo.num_rows,
        "texts.encoded": todo.num_rows,
        "items.rows": items.num_rows,
        "user_texts.rows": user_texts.num_rows,
    }


if __name__ == "__main__":
    sys.exit(run_job("encode_texts", encode))
