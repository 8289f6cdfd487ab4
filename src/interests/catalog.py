"""The one place that knows every table: name, path, Arrow schema, partitioning and key.

Transforms never see a path; jobs ask the catalog for a ``TableSpec`` and hand it to ``lake``.
``docs/tables.md`` documents the same tables for people; ``tests/test_catalog.py`` keeps the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from interests.errors import InterestsError

EMBEDDING = pa.list_(pa.float32())
"""Embeddings are L2-normalized float32 lists; the dimension is the model's (checked by the quality gate)."""

TIMESTAMP = pa.timestamp("us", tz="UTC")


def embedding_matrix(values: pa.Array | pa.ChunkedArray, dtype: type = np.float32) -> np.ndarray:
    """An (n, dim) numpy matrix of a non-null embedding column (slices and chunks respected)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if len(values) == 0:
        return np.zeros((0, 0), dtype=dtype)
    dim = len(values[0])
    return values.flatten().to_numpy(zero_copy_only=False).astype(dtype).reshape(-1, dim)
COUNTS = pa.map_(pa.string(), pa.int64())
METRICS = pa.map_(pa.string(), pa.float64())

_DS_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class UnknownTableError(InterestsError, KeyError):
    """A table name the catalog does not know."""


class InvalidDsError(InterestsError, ValueError):
    """A ds that is not a real calendar day in YYYY-MM-DD form."""


def validate_ds(ds: str) -> str:
    """Return ds unchanged if it is a real day in YYYY-MM-DD form, else raise InvalidDsError."""
    if not isinstance(ds, str) or not _DS_PATTERN.match(ds):
        raise InvalidDsError(f"ds must look like YYYY-MM-DD, got {ds!r}")
    try:
        date.fromisoformat(ds)
    except ValueError as error:
        raise InvalidDsError(f"ds {ds!r} is not a calendar day: {error}") from error
    return ds


def window_first_day(ds: str, days: int) -> str:
    """The first ds of the ``days``-day lookback window that ends with (and includes) ds."""
    return (date.fromisoformat(validate_ds(ds)) - timedelta(days=days - 1)).isoformat()


def window_start(ds: str, days: int) -> datetime:
    """The earliest event time of the ``days``-day lookback window ending ds: its first day's midnight, UTC.

    A night's window is the landing days ``window_first_day`` .. ds, and of their events those at or
    after this moment: a late event landed in the window but timed before it is not in the window,
    and a bootstrap day that lands months of history contributes only the window's days of it.
    """
    return datetime.combine(date.fromisoformat(window_first_day(ds, days)), datetime.min.time(), tzinfo=UTC)


@dataclass(frozen=True)
class TableSpec:
    """A Delta table of the lake: its schema, partition columns and primary key."""

    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...]
    key: tuple[str, ...]
    description: str

    def path(self, lake_root: Path | str) -> Path | str:
        """Where the table lives under a lake root (a folder, or a URI string)."""
        return join_location(lake_root, self.name)

    @property
    def embedding_columns(self) -> tuple[str, ...]:
        """Columns holding embeddings (checked for dimension, NaN and unit norm)."""
        return tuple(f.name for f in self.schema if f.type == EMBEDDING)


def _schema(*fields: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(name, dtype, nullable=nullable) for name, dtype, nullable in fields])


EVENTS_CLEAN = TableSpec(
    name="events_clean",
    schema=_schema(
        ("ds", pa.string(), False),
        ("event_id", pa.string(), False),
        ("user_id", pa.string(), False),
        ("item_id", pa.string(), True),
        ("event_type", pa.string(), False),
        ("event_ts", TIMESTAMP, False),
        ("dwell_ms", pa.int64(), True),
        ("query", pa.string(), True),
        ("extra", pa.map_(pa.string(), pa.string()), True),
        ("source_file", pa.string(), False),
    ),
    partition_by=("ds",),
    key=("ds", "event_id"),
    description="Validated, deduplicated events of the landing day ds; user_id pseudonymized.",
)

EVENTS_REJECTED = TableSpec(
    name="events_rejected",
    schema=_schema(
        ("ds", pa.string(), False),
        ("source", pa.string(), False),
        ("reason", pa.string(), False),
        ("raw_line", pa.string(), False),
        ("source_file", pa.string(), False),
    ),
    partition_by=("ds",),
    key=("ds", "source", "source_file", "raw_line"),
    description="Every rejected raw line of the landing day (events, items, user_texts) with its reason code.",
)

ITEMS = TableSpec(
    name="items",
    schema=_schema(
        ("ds", pa.string(), False),
        ("item_id", pa.string(), False),
        ("title", pa.string(), True),
        ("body", pa.string(), True),
        ("tags", pa.list_(pa.string()), True),
        ("lang", pa.string(), True),
        ("updated_at", TIMESTAMP, True),
        ("landed_ds", pa.string(), False),
        ("text", pa.string(), False),
        ("text_hash", pa.string(), False),
    ),
    partition_by=("ds",),
    key=("ds", "item_id"),
    description="The whole item catalog as of ds: the newest landed version of every item.",
)

USER_TEXTS = TableSpec(
    name="user_texts",
    schema=_schema(
        ("ds", pa.string(), False),
        ("user_id", pa.string(), False),
        ("kind", pa.string(), False),
        ("text", pa.string(), False),
        ("text_ts", TIMESTAMP, True),
        ("landed_ds", pa.string(), False),
        ("text_hash", pa.string(), False),
    ),
    partition_by=("ds",),
    key=("ds", "user_id", "text_hash"),
    description="Every distinct text each user wrote, as of ds; user_id pseudonymized.",
)

TEXT_EMBEDDINGS = TableSpec(
    name="text_embeddings",
    schema=_schema(
        ("model_version", pa.string(), False),
        ("text_hash", pa.string(), False),
        ("embedding", EMBEDDING, False),
        ("first_ds", pa.string(), False),
    ),
    partition_by=("model_version",),
    key=("model_version", "text_hash"),
    description="The encoding cache: one embedding per model version and text content hash.",
)

ITEM_FACTORS = TableSpec(
    name="item_factors",
    schema=_schema(
        ("ds", pa.string(), False),
        ("item_id", pa.string(), False),
        ("factors", pa.list_(pa.float32()), False),
        ("factors_source", pa.string(), False),
        ("validation_factors", pa.list_(pa.float32()), True),
        ("n_engagements", pa.int64(), False),
    ),
    partition_by=("ds",),
    key=("ds", "item_id"),
    description="Behaviour factors of every catalog item as of ds: ALS where engaged, predicted from text elsewhere.",
)

BEHAVIOUR_TUNING = TableSpec(
    name="behaviour_tuning",
    schema=_schema(
        ("ds", pa.string(), False),
        ("rank", pa.int64(), False),
        ("regularization", pa.float64(), False),
        ("text_weight", pa.float64(), False),
        ("half_life_days", pa.float64(), False),
        ("users", pa.float64(), True),
        ("recall_at_10", pa.float64(), True),
        ("recall_at_50", pa.float64(), True),
        ("ndcg_at_10", pa.float64(), True),
        ("chosen", pa.bool_(), False),
    ),
    partition_by=("ds",),
    key=("ds", "rank", "regularization", "text_weight", "half_life_days"),
    description="The night's hyperparameter grid, each point's time-split validation figures, and the one chosen.",
)

ITEM_EMBEDDINGS = TableSpec(
    name="item_embeddings",
    schema=_schema(
        ("ds", pa.string(), False),
        ("item_id", pa.string(), False),
        ("embedding", EMBEDDING, False),
        ("text_embedding", EMBEDDING, False),
        ("factors_source", pa.string(), False),
        ("topic_id", pa.string(), False),
        ("subinterest_id", pa.string(), False),
        ("model_version", pa.string(), False),
        ("text_hash", pa.string(), False),
    ),
    partition_by=("ds",),
    key=("ds", "item_id"),
    description="Retrieval and text embedding of every catalog item as of ds, with its topic and sub-interest.",
)

TOPICS = TableSpec(
    name="topics",
    schema=_schema(
        ("ds", pa.string(), False),
        ("level", pa.string(), False),
        ("node_id", pa.string(), False),
        ("parent_id", pa.string(), True),
        ("label", pa.string(), False),
        ("keywords", pa.list_(pa.string()), False),
        ("centroid", EMBEDDING, False),
        ("size", pa.int64(), False),
        ("medoid_item_id", pa.string(), False),
    ),
    partition_by=("ds",),
    key=("ds", "level", "node_id"),
    description="The hierarchy: level 'topic' (coarse) and 'subinterest' (fine, parent = topic).",
)

USER_EMBEDDINGS = TableSpec(
    name="user_embeddings",
    schema=_schema(
        ("ds", pa.string(), False),
        ("user_id", pa.string(), False),
        ("embedding", EMBEDDING, False),
        ("n_engagements", pa.int64(), False),
        ("n_items", pa.int64(), False),
        ("n_texts", pa.int64(), False),
        ("engagement_weight", pa.float64(), False),
        ("last_event_ts", TIMESTAMP, True),
        ("vector_source", pa.string(), False),
        ("vector_mass", pa.float64(), False),
        ("half_life_days", pa.float64(), False),
    ),
    partition_by=("ds",),
    key=("ds", "user_id"),
    description="User-level embedding and activity counts over the lookback window ending ds.",
)

USER_TOPICS = TableSpec(
    name="user_topics",
    schema=_schema(
        ("ds", pa.string(), False),
        ("user_id", pa.string(), False),
        ("topic_id", pa.string(), False),
        ("weight", pa.float64(), False),
        ("embedding", EMBEDDING, False),
        ("n_engagements", pa.int64(), False),
    ),
    partition_by=("ds",),
    key=("ds", "user_id", "topic_id"),
    description="A user's weighted topics (weights sum to 1 over the kept topics) and per-topic embedding.",
)

USER_SUBINTERESTS = TableSpec(
    name="user_subinterests",
    schema=_schema(
        ("ds", pa.string(), False),
        ("user_id", pa.string(), False),
        ("subinterest_id", pa.string(), False),
        ("topic_id", pa.string(), False),
        ("weight", pa.float64(), False),
        ("embedding", EMBEDDING, False),
        ("n_engagements", pa.int64(), False),
        ("medoid_item_id", pa.string(), False),
    ),
    partition_by=("ds",),
    key=("ds", "user_id", "subinterest_id"),
    description="A user's weighted sub-interests (weights sum to 1 over the kept ones) and their embeddings.",
)

STAGE_RUNS = TableSpec(
    name="stage_runs",
    schema=_schema(
        ("ds", pa.string(), False),
        ("stage", pa.string(), False),
        ("run_id", pa.string(), False),
        ("counts", COUNTS, False),
        ("metrics", METRICS, False),
        ("finished_at", TIMESTAMP, False),
    ),
    partition_by=("ds",),
    key=("ds", "stage"),
    description="The counts each stage recorded for ds in its latest run (read by publish).",
)

PIPELINE_RUNS = TableSpec(
    name="pipeline_runs",
    schema=_schema(
        ("ds", pa.string(), False),
        ("run_id", pa.string(), False),
        ("status", pa.string(), False),
        ("published_at", TIMESTAMP, False),
        ("row_counts", COUNTS, False),
        ("stage_counts", COUNTS, False),
        ("metrics", METRICS, False),
        ("table_versions", COUNTS, False),
        ("quality_passed", pa.bool_(), False),
        ("quality_checks", pa.string(), False),
        ("encoder_model_version", pa.string(), False),
        ("registered_models", pa.map_(pa.string(), pa.string()), False),
    ),
    partition_by=("ds",),
    key=("ds", "run_id"),
    description="One row per publish attempt: counts, table versions, quality results, model versions.",
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        EVENTS_CLEAN, EVENTS_REJECTED, ITEMS, USER_TEXTS, TEXT_EMBEDDINGS, ITEM_FACTORS, BEHAVIOUR_TUNING, ITEM_EMBEDDINGS,
        TOPICS, USER_EMBEDDINGS, USER_TOPICS, USER_SUBINTERESTS, STAGE_RUNS, PIPELINE_RUNS,
    )
}

OUTPUT_TABLES = (
    "events_clean", "events_rejected", "items", "user_texts", "item_factors", "behaviour_tuning", "item_embeddings",
    "topics", "user_embeddings", "user_topics", "user_subinterests",
)
"""The ds-partitioned tables a night writes (the quality gate and pipeline_runs cover these)."""


def table(name: str) -> TableSpec:
    """The spec of a table by name."""
    try:
        return TABLES[name]
    except KeyError:
        raise UnknownTableError(f"unknown table {name!r}; known: {sorted(TABLES)}") from None


def is_local(location: Path | str) -> bool:
    """True for a local folder, False for a storage URI (s3://, abfss://, hdfs://...)."""
    return "://" not in str(location)


def join_location(root: Path | str, *parts: str) -> Path | str:
    """root/part/...: a Path for a local root, a URI string (never through pathlib) for a remote one."""
    if is_local(root):
        return Path(root).joinpath(*parts)
    return "/".join([str(root).rstrip("/"), *parts])


def landing_path(landing_root: Path | str, source: str, ds: str) -> Path | str:
    """The folder of one landing source (events, items, user_texts) for one day."""
    if source not in LANDING_SOURCES:
        raise ValueError(f"unknown landing source {source!r}; allowed: {list(LANDING_SOURCES)}")
    return join_location(landing_root, source, f"ds={validate_ds(ds)}")


LANDING_SOURCES = ("events", "items", "user_texts")
