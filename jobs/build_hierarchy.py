"""Item retrieval vectors, the topic tree, every user's vectors at three levels, and the night's evaluation.

    python jobs/build_hierarchy.py --ds 2026-11-20 [--run-id ID]

1. Item vectors: the behaviour factors of learn_behaviour joined with the text embeddings in the
   retrieval space, with the night's chosen text weight (behaviour/space.py).
2. The tree: topics and sub-interests over the items' *text* embeddings (docs/decisions.md says
   why), ids matched to last night's, churn counted; labels, sizes, centroids and medoids.
3. Users: engagements and texts of the lookback window, decayed with the chosen half-life, grouped
   by user in Spark (narrow signal rows, the item matrix broadcast): user level, topics, sub-interests
   with medoids. The profiles stay on the executors: split into the three user tables in Spark and
   written as DataFrames; only counts come back to the driver (docs/operations.md, "What stays on
   the driver").
4. Evaluation on the time split, next to the baselines (evaluation/nightly.py).

Writes item_embeddings, topics, user_embeddings, user_topics and user_subinterests for ds.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import StorageLevel
from pyspark.sql import DataFrame

from interests.behaviour import als
from interests.behaviour.space import (
    behaviour_scale,
    normalize_rows,
    pad_columns,
    retrieval_vectors,
)
from interests.behaviour.text_mapping import fit_text_to_behaviour
from interests.catalog import (
    BEHAVIOUR_TUNING,
    ITEM_EMBEDDINGS,
    ITEM_FACTORS,
    TEXT_EMBEDDINGS,
    TOPICS,
    USER_TEXTS,
    embedding_matrix,
    table,
)
from interests.encoding.model_files import model_identity
from interests.evaluation.nightly import evaluate_night
from interests.evaluation.split import (
    CatalogIndex,
    collect_split_sample,
    engagement_matrix,
    item_popularity,
)
from interests.hierarchy.clustering import build_hierarchy
from interests.hierarchy.stable_ids import previous_hierarchy, stabilize_ids
from interests.hierarchy.tables import (
    embedding_array,
    item_embeddings_table,
    split_profiles,
    topics_table,
)
from interests.hierarchy.users import (
    ProfileSettings,
    engagement_signals,
    item_rows,
    profile_counts,
    text_signals,
    user_profiles,
)
from interests.lake import Lake
from interests.night_inputs import read_catalog, window_engagements, window_events
from interests.runtime import BadInputError, JobContext, run_job

logger = logging.getLogger("jobs.build_hierarchy")

MIN_EVALUATION_USERS = 20
"""Fewer reporting users than this: figures would be noise, so the night reports none (and says why)."""


def _chosen(context: JobContext) -> dict:
    rows = context.lake.read(BEHAVIOUR_TUNING, ds=context.ds, filters=[("chosen", "=", True)]).to_pylist()
    if len(rows) != 1:
        raise BadInputError(f"behaviour_tuning has {len(rows)} chosen rows for ds={context.ds}: run learn_behaviour first")
    return rows[0]


def _factors(context: JobContext, catalog: CatalogIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(factors, engaged mask, validation factors or None) in catalog order."""
    rows = context.lake.read(ITEM_FACTORS, ds=context.ds).sort_by("item_id")
    if rows.num_rows != len(catalog) or rows.column("item_id").to_pylist() != catalog.item_ids.tolist():
        raise BadInputError(f"item_factors of ds={context.ds} do not cover the catalog: run learn_behaviour first")
    factors = embedding_matrix(rows.column("factors"))
    engaged = pc.equal(rows.column("factors_source"), "engagement").to_numpy(zero_copy_only=False)
    validation = rows.column("validation_factors")
    return factors, engaged, (embedding_matrix(validation) if validation.null_count == 0 else None)


def _previous_tree(context: JobContext):
    """Last night's tree (the latest ds before this one that has topics), or None."""
    earlier = [ds for ds in context.lake.partitions(TOPICS) if ds < context.ds]
    if not earlier:
        return None
    last = earlier[-1]
    return previous_hierarchy(
        context.lake.read(TOPICS, ds=last, columns=["level", "node_id", "parent_id", "centroid"]),
        context.lake.read(ITEM_EMBEDDINGS, ds=last, columns=["item_id", "topic_id", "subinterest_id"]),
    )


def _user_text_vectors(context, model_version, mapping, text_weight, width, scale):
    """text_hash -> retrieval-space vector of every user text of ds (Spark, per Arrow batch)."""
    spark_lake = context.spark_lake
    texts = spark_lake.read_spark(USER_TEXTS, ds=context.ds).select("text_hash").distinct()
    cache = spark_lake.read_spark(TEXT_EMBEDDINGS).where(f"model_version = '{model_version}'")
    joined = texts.join(cache.select("text_hash", "embedding"), "text_hash")

    def project(batches):
        for batch in batches:
            text = normalize_rows(embedding_matrix(batch.column("embedding")))
            if len(text) == 0:
                continue
            vectors = retrieval_vectors(mapping.predict(text), text, text_weight, width, scale)
            yield pa.RecordBatch.from_arrays([batch.column("text_hash"), embedding_array(vectors)], ["text_hash", "embedding"])

    return joined.mapInArrow(project, "text_hash string, embedding array<float>")


def build(context: JobContext) -> dict[str, int]:
    config, ds, lake = context.config, context.ds, context.spark_lake
    behaviour, hierarchy_config = config.behaviour, config.hierarchy
    model_version = model_identity(config.encoder.model_path, config.encoder.model_name).model_version

    night = read_catalog(lake, ds, model_version)
    items, text, catalog = night.items, night.text, night.index
    chosen = _chosen(context)
    text_weight, half_life, width = chosen["text_weight"], chosen["half_life_days"], behaviour.dim_behaviour
    factors, engaged, validation = _factors(context, catalog)
    retrieval = retrieval_vectors(factors, text, text_weight, width)

    # ---- the tree, over text embeddings
    tree = build_hierarchy(
        catalog.item_ids, text, n_topics=hierarchy_config.n_topics, n_subinterests=hierarchy_config.n_subinterests,
        seed=hierarchy_config.seed, fine_clusters=hierarchy_config.fine_clusters,
    )
    tree, churn = stabilize_ids(tree, _previous_tree(context))
    item_table = item_embeddings_table(ds, items, retrieval, text, engaged, tree, model_version)
    lake.write_partition(ITEM_EMBEDDINGS, ds, item_table)
    lake.write_partition(TOPICS, ds, topics_table(ds, items, tree, hierarchy_config.label_keywords))

    # ---- users
    events = window_events(lake, ds, config)
    engagements = window_engagements(lake, ds, config)
    mapping = fit_text_to_behaviour(text[engaged], pad_columns(factors, width)[engaged], behaviour.ridge_regularization) \
        if engaged.any() else None
    # Signals name their item's row; the rows' vectors (the float32 ones just written) go to the executors once.
    signals = engagement_signals(engagements, item_rows(context.spark, item_table))
    if mapping is not None:
        text_vectors = _user_text_vectors(
            context, model_version, mapping, text_weight, width, behaviour_scale(pad_columns(factors, width))
        )
        signals = signals.unionByName(text_signals(lake.read_spark(USER_TEXTS, ds=ds), text_vectors, hierarchy_config.user_text_weight))
    day_end = datetime.combine(date.fromisoformat(ds) + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    settings = ProfileSettings(
        reference_seconds=day_end.timestamp(), half_life_days=half_life,
        max_topics_per_user=hierarchy_config.max_topics_per_user,
        max_subinterests_per_user=hierarchy_config.max_subinterests_per_user,
    )
    counts = {
        "items": items.num_rows,
        "items.engaged": int(engaged.sum()),
        "topics": len(tree.topic_ids),
        "subinterests": len(tree.subinterest_ids),
        **{f"churn.{name}": value for name, value in churn.items()},
    }
    profiles = user_profiles(signals, settings, embedding_matrix(item_table.column("embedding")))
    counts.update(write_user_tables(lake, ds, profiles, events, half_life))

    # ---- evaluation on the time split
    if validation is None:
        logger.warning("no time split for ds=%s (a single day of engagements): the night is not evaluated", ds)
        counts["evaluation.skipped"] = 1
        return counts
    engagements = engagements.cache()
    split_start = als.last_day_start(engagements)
    train, _ = als.split_at(engagements, split_start)
    sample = collect_split_sample(
        engagements, catalog, split_start, behaviour.validation_max_users, behaviour.seed, behaviour.positive_min_weight
    )
    if len(sample.rows(tune=False)) < MIN_EVALUATION_USERS:
        logger.warning(
            "only %d users to evaluate on (engagements before %s are too few): the night is not evaluated",
            len(sample.rows(tune=False)), split_start.date(),
        )
        counts["evaluation.skipped"] = 1
        engagements.unpersist()
        return counts
    popularity = item_popularity(train, catalog)
    ease_items = np.argsort(-popularity, kind="stable")[: behaviour.baseline_max_items]
    ease_items = np.sort(ease_items[popularity[ease_items] > 0])
    figures = evaluate_night(
        sample, text, validation, popularity > 0, text_weight, half_life, width,
        _catalog_order(tree, catalog),
        hierarchy_config.max_subinterests_per_user, popularity, ease_items,
        engagement_matrix(train, catalog, ease_items, 5_000_000, behaviour.seed, behaviour.positive_min_weight),
    )
    engagements.unpersist()
    context.metrics.update({f"evaluation.{name}": value for name, value in figures.items()})
    context.metrics.update({"tree.topics": float(len(tree.topic_ids)), "tree.subinterests": float(len(tree.subinterest_ids))})
    counts["evaluation.skipped"] = 0
    return counts


def write_user_tables(lake: Lake, ds: str, profiles: DataFrame, events: DataFrame, half_life_days: float) -> dict[str, int]:
    """Write user_embeddings, user_topics and user_subinterests of ds from the grouped profiles; their counts.

    The profiles are computed once (persisted on the executors), split in Spark and handed to the
    lake as DataFrames: with delta-spark the executors write them, and only counts reach the driver.
    """
    profiles = profiles.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        for name, frame in split_profiles(ds, profiles, half_life_days).items():
            lake.write_partition(table(name), ds, frame)
        return profile_counts(profiles, events)
    finally:
        profiles.unpersist()


def _catalog_order(tree, catalog: CatalogIndex) -> np.ndarray:
    """The tree's sub-interest index of every catalog item, in catalog order."""
    position = catalog.positions(list(tree.item_ids))
    labels = np.empty(len(catalog), dtype=np.int64)
    labels[position] = tree.subinterest_of_item
    return labels


if __name__ == "__main__":
    sys.exit(run_job("build_hierarchy", build))
