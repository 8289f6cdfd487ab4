"""What learn_behaviour and build_hierarchy both read for a night: the catalog with its text vectors,
and the lookback window's engagements. One place, so the two stages see the same items and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from interests.behaviour import als
from interests.behaviour.space import normalize_rows
from interests.catalog import EVENTS_CLEAN, ITEMS, TEXT_EMBEDDINGS
from interests.config import PipelineConfig
from interests.errors import BadInputError
from interests.evaluation.split import CatalogIndex
from interests.hierarchy.tables import MissingEmbeddingsError, item_vectors
from interests.lake import Lake


@dataclass(frozen=True)
class NightCatalog:
    """The catalog of ds sorted by item id, its unit text embeddings and the id -> row index."""

    items: pa.Table  # item_id, text, text_hash; sorted by item_id
    text: np.ndarray  # (items, encoder dim), unit rows
    index: CatalogIndex


def read_catalog(lake: Lake, ds: str, model_version: str) -> NightCatalog:
    """The night's catalog and text vectors; bad input (exit 2) if a stage before has not run."""
    items = lake.read(ITEMS, ds=ds, columns=["item_id", "text", "text_hash"]).sort_by("item_id")
    if items.num_rows == 0:
        raise BadInputError(f"the items table has no rows for ds={ds}: run clean_events for that day first")
    cache = lake.read(TEXT_EMBEDDINGS, columns=["text_hash", "embedding"], filters=[("model_version", "=", model_version)])
    try:
        text = normalize_rows(item_vectors(items, cache, model_version))
    except MissingEmbeddingsError as error:
        raise BadInputError(str(error)) from error
    return NightCatalog(items, text, CatalogIndex(np.asarray(items.column("item_id").to_pylist(), dtype=object)))


def window_events(lake: Lake, ds: str, config: PipelineConfig):
    """events_clean of the lookback window ending ds (Spark)."""
    first_day = (date.fromisoformat(ds) - timedelta(days=config.hierarchy.lookback_days - 1)).isoformat()
    return lake.read_spark(EVENTS_CLEAN, ds_from=first_day, ds_to=ds)


def window_engagements(lake: Lake, spark, ds: str, config: PipelineConfig, catalog: NightCatalog):
    """Weighted engagements of the window with catalog items (Spark): user_id, item_id, base_weight, event_ts."""
    catalog_ids = spark.createDataFrame(catalog.items.select(["item_id"]))
    return als.engagements(window_events(lake, ds, config), catalog_ids, config.hierarchy.event_weights)
