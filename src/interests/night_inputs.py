"""What learn_behaviour and build_hierarchy both read for a night: the catalog with its text vectors,
and the lookback window's engagements. One place, so the two stages see the same items and events.

The catalog comes to the driver (items x encoder dim floats: the tree and the ridge mapping need
it there); the encoding cache does not: it also holds every user text and every earlier version
of every text, so Spark picks out the catalog's rows and only those are collected. Events stay in
Spark."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import functions as F

from interests.behaviour import als
from interests.behaviour.space import normalize_rows
from interests.catalog import EVENTS_CLEAN, ITEMS, TEXT_EMBEDDINGS, window_first_day, window_start
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
    """The night's catalog and text vectors; bad input (exit 2) if a stage before has not run.

    ``lake`` must be able to read into Spark: the cache rows of the catalog's texts are found there.
    """
    items = lake.read(ITEMS, ds=ds, columns=["item_id", "text", "text_hash"]).sort_by("item_id")
    if items.num_rows == 0:
        raise BadInputError(f"the items table has no rows for ds={ds}: run clean_events for that day first")
    catalog_hashes = lake.read_spark(ITEMS, ds=ds).select("text_hash")
    cache = (
        lake.read_spark(TEXT_EMBEDDINGS).where(F.col("model_version") == model_version)
        .join(catalog_hashes, "text_hash", "left_semi").select("text_hash", "embedding").toArrow()
    )
    try:
        text = normalize_rows(item_vectors(items, cache, model_version))
    except MissingEmbeddingsError as error:
        raise BadInputError(str(error)) from error
    return NightCatalog(items, text, CatalogIndex(np.asarray(items.column("item_id").to_pylist(), dtype=object)))


def window_events(lake: Lake, ds: str, config: PipelineConfig):
    """events_clean of the lookback window ending ds (Spark): its landing days, timed in the window
    (``catalog.window_start``)."""
    days = config.hierarchy.lookback_days
    events = lake.read_spark(EVENTS_CLEAN, ds_from=window_first_day(ds, days), ds_to=ds)
    return events.where(F.col("event_ts") >= F.lit(window_start(ds, days)))


def window_engagements(lake: Lake, ds: str, config: PipelineConfig):
    """Weighted engagements of the window with catalog items (Spark): user_id, item_id, base_weight, event_ts.

    The catalog's ids are read in Spark from the items table of ds (the rows ``read_catalog`` holds),
    not shipped from the driver.
    """
    catalog_ids = lake.read_spark(ITEMS, ds=ds).select("item_id")
    return als.engagements(window_events(lake, ds, config), catalog_ids, config.hierarchy.event_weights)
