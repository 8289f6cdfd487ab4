"""Build topics and sub-interests from item embeddings, then every user's vectors at three levels.

    python jobs/build_hierarchy.py --ds 2026-11-20 [--run-id ID]

Writes item_embeddings, topics, user_embeddings, user_topics and user_subinterests for ds.
"""

from __future__ import annotations

import logging
import sys
from datetime import date, timedelta

import numpy as np

from interests.catalog import (
    EVENTS_CLEAN,
    ITEM_EMBEDDINGS,
    ITEMS,
    TEXT_EMBEDDINGS,
    TOPICS,
    USER_TEXTS,
    table,
)
from interests.encoding.encoder import model_identity
from interests.hierarchy.clustering import build_hierarchy
from interests.hierarchy.tables import (
    MissingEmbeddingsError,
    item_embeddings_table,
    item_vectors,
    split_profiles,
    topics_table,
)
from interests.hierarchy.users import engagement_signals, text_signals, user_profiles
from interests.runtime import BadInputError, JobContext, run_job

logger = logging.getLogger("jobs.build_hierarchy")


def build(context: JobContext) -> dict[str, int]:
    config, ds, lake = context.config, context.ds, context.spark_lake
    hierarchy_config = config.hierarchy
    model_version = model_identity(config.encoder.model_path, config.encoder.model_name).model_version

    items = lake.read(ITEMS, ds=ds, columns=["item_id", "text", "text_hash"])
    if items.num_rows == 0:
        raise BadInputError(f"the items table has no rows for ds={ds}: run clean_events for that day first")
    cache = lake.read(TEXT_EMBEDDINGS, columns=["text_hash", "embedding"], filters=[("model_version", "=", model_version)])
    try:
        vectors = item_vectors(items, cache, model_version)
    except MissingEmbeddingsError as error:
        raise BadInputError(str(error)) from error
    hierarchy = build_hierarchy(
        np.asarray(items.column("item_id").to_pylist()), vectors, hierarchy_config.n_topics,
        hierarchy_config.subinterests_per_topic, hierarchy_config.seed,
    )
    lake.write_partition(ITEM_EMBEDDINGS, ds, item_embeddings_table(ds, items, vectors, hierarchy, model_version))
    lake.write_partition(TOPICS, ds, topics_table(ds, items, hierarchy, hierarchy_config.label_keywords))

    first_day = (date.fromisoformat(ds) - timedelta(days=hierarchy_config.lookback_days - 1)).isoformat()
    events = lake.read_spark(EVENTS_CLEAN, ds_from=first_day, ds_to=ds)
    signals = engagement_signals(events, lake.read_spark(ITEM_EMBEDDINGS, ds=ds), ds, hierarchy_config).unionByName(
        text_signals(
            lake.read_spark(USER_TEXTS, ds=ds),
            lake.read_spark(TEXT_EMBEDDINGS).where(f"model_version = '{model_version}'"),
        )
    )
    profiles = user_profiles(signals, hierarchy_config).toArrow()
    counts = {
        "items": items.num_rows,
        "topics": len(hierarchy.topic_ids),
        "subinterests": len(hierarchy.subinterest_ids),
    }
    for name, rows in split_profiles(ds, profiles).items():
        lake.write_partition(table(name), ds, rows)
        counts[name] = rows.num_rows
    return counts


if __name__ == "__main__":
    sys.exit(run_job("build_hierarchy", build))
