"""Shape the hierarchy (Arrow, catalog-sized) and the user profiles (Spark) as catalog tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from interests.catalog import (
    ITEM_EMBEDDINGS,
    TOPICS,
    USER_EMBEDDINGS,
    USER_SUBINTERESTS,
    USER_TOPICS,
    embedding_matrix,
)
from interests.errors import InterestsError
from interests.hierarchy.clustering import SUBINTEREST, TOPIC, Hierarchy, label_keywords
from interests.hierarchy.users import USER


class MissingEmbeddingsError(InterestsError, RuntimeError):
    """Catalog items whose text has no cached embedding for the model version."""


def item_vectors(items: pa.Table, cache: pa.Table, model_version: str) -> np.ndarray:
    """The (n, dim) float32 embeddings of items (text_hash) looked up in cache rows (text_hash, embedding)."""
    index = pc.index_in(items.column("text_hash"), value_set=cache.column("text_hash").combine_chunks())
    missing = index.null_count
    if missing:
        raise MissingEmbeddingsError(
            f"{missing} of {items.num_rows} items have no embedding for {model_version}: run encode_texts first"
        )
    return embedding_matrix(cache.column("embedding").combine_chunks().take(index.combine_chunks()))


def embedding_array(matrix: np.ndarray) -> pa.Array:
    """An Arrow list<float32> column of the rows of an (n, dim) matrix."""
    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1))
    return pa.ListArray.from_arrays(pa.array(np.arange(0, len(flat) + 1, matrix.shape[1], dtype=np.int32)), flat)


def item_embeddings_table(
    ds: str, items: pa.Table, retrieval: np.ndarray, text: np.ndarray, engaged: np.ndarray, hierarchy: Hierarchy,
    model_version: str,
) -> pa.Table:
    """item_embeddings rows: every catalog item (rows of ``items``, in order) with both vectors, topic and sub-interest."""
    position = {item_id: i for i, item_id in enumerate(hierarchy.item_ids)}
    rows = np.array([position[item_id] for item_id in items.column("item_id").to_pylist()], dtype=np.int64)
    n = items.num_rows
    return pa.table(
        {
            "ds": [ds] * n,
            "item_id": items.column("item_id"),
            "embedding": embedding_array(retrieval),
            "text_embedding": embedding_array(text),
            "factors_source": np.where(engaged, "engagement", "text").tolist(),
            "topic_id": pa.array(hierarchy.topic_ids).take(pa.array(hierarchy.topic_of_item[rows])),
            "subinterest_id": pa.array(hierarchy.subinterest_ids).take(pa.array(hierarchy.subinterest_of_item[rows])),
            "model_version": [model_version] * n,
            "text_hash": items.column("text_hash"),
        },
        schema=ITEM_EMBEDDINGS.schema,
    )


def topics_table(ds: str, items: pa.Table, hierarchy: Hierarchy, n_keywords: int) -> pa.Table:
    """topics rows: both levels with parent, keyword label, centroid and size."""
    position = {item_id: i for i, item_id in enumerate(items.column("item_id").to_pylist())}
    texts_sorted = [items.column("text")[position[item_id]].as_py() for item_id in hierarchy.item_ids]
    columns: dict[str, list] = {name: [] for name in TOPICS.schema.names}
    levels = (
        (TOPIC, hierarchy.topic_ids, hierarchy.topic_of_item, hierarchy.topic_centroids, None,
         hierarchy.topic_medoids),
        (SUBINTEREST, hierarchy.subinterest_ids, hierarchy.subinterest_of_item, hierarchy.subinterest_centroids,
         [hierarchy.topic_ids[p] for p in hierarchy.parent_of_subinterest], hierarchy.subinterest_medoids),
    )
    for level, node_ids, labels, centroids, parents, medoids in levels:
        keywords = label_keywords(texts_sorted, labels, len(node_ids), n_keywords)
        sizes = np.bincount(labels, minlength=len(node_ids))
        for i, node_id in enumerate(node_ids):
            columns["ds"].append(ds)
            columns["level"].append(level)
            columns["node_id"].append(node_id)
            columns["parent_id"].append(None if parents is None else parents[i])
            columns["label"].append(" / ".join(keywords[i][:3]) or node_id)
            columns["keywords"].append(keywords[i])
            columns["centroid"].append(centroids[i].tolist())
            columns["size"].append(int(sizes[i]))
            columns["medoid_item_id"].append(str(medoids[i]))
    return pa.table(columns, schema=TOPICS.schema)


def split_profiles(ds: str, profiles: DataFrame, half_life_days: float) -> dict[str, DataFrame]:
    """Split long-format profile rows (a Spark DataFrame) into user_embeddings, user_topics and user_subinterests.

    Each table is a filter and a projection of the profiles (no shuffle), computed on the executors,
    so hand it a persisted frame: the three writes then read the grouped profiles once. Row order is
    the lake's business (it sorts by the table key on either engine).
    """
    level = F.col("level")
    users = profiles.where(level == USER).select(
        F.lit(ds).alias("ds"), "user_id", "embedding", "n_engagements", "n_items", "n_texts", "engagement_weight",
        "last_event_ts", "vector_source", "vector_mass", F.lit(float(half_life_days)).alias("half_life_days"),
    )
    topics = profiles.where(level == TOPIC).select(
        F.lit(ds).alias("ds"), "user_id", F.col("node_id").alias("topic_id"), "weight", "embedding", "n_engagements",
    )
    subinterests = profiles.where(level == SUBINTEREST).select(
        F.lit(ds).alias("ds"), "user_id", F.col("node_id").alias("subinterest_id"), "topic_id", "weight", "embedding",
        "n_engagements", "medoid_item_id",
    )
    return {USER_EMBEDDINGS.name: users, USER_TOPICS.name: topics, USER_SUBINTERESTS.name: subinterests}
