"""Read one published night: a user's interests, the topic tree, similar items, recommendations.

A :class:`NightReader` resolves one published night when it opens (the latest by default, a given
ds, or the night that was current right after a Delta version of ``pipeline_runs``) and reads every
table through ``PublishedNight.read``: each table at the Delta version the publication names. So a
reader never sees a night that is staged, failed its gate, or is being rewritten by a rerun; a ds
whose rerun failed keeps serving its earlier publication (``publishing/nights.py``).

Each table is read once per reader and kept; search is exact (numpy over the night's whole item
matrix). Every method returns Arrow tables (``table.to_pandas()`` gives pandas). Nothing here imports
Spark or Airflow; torch loads only when a text query needs the encoder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from interests.behaviour.decay import fold_in
from interests.behaviour.space import as_query
from interests.catalog import (
    EVENTS_CLEAN,
    ITEM_EMBEDDINGS,
    TIMESTAMP,
    TOPICS,
    USER_EMBEDDINGS,
    USER_SUBINTERESTS,
    USER_TOPICS,
    TableSpec,
    embedding_matrix,
    window_first_day,
    window_start,
)
from interests.config import EVENT_TYPES, PipelineConfig, load_config
from interests.consume.errors import (
    EncoderMismatchError,
    ReaderArgumentError,
    UnknownItemError,
    UnknownUserError,
)
from interests.lake import Lake
from interests.pseudonyms import pseudonym_key, pseudonymize_user_id
from interests.publishing.nights import PublishedNight, published_nights, resolve_night

if TYPE_CHECKING:
    from interests.encoding.protocol import Encoder

logger = logging.getLogger(__name__)

LEVELS = ("user", "subinterest")
"""Where ``recommend`` retrieves from: the user-level vector, or each of the user's sub-interests."""


def list_nights(
    lake_root: Path | str | None = None, as_of_version: int | None = None, config: PipelineConfig | None = None
) -> pa.Table:
    """Every published night's current publication, oldest ds first: ds, run id, time, table versions, models."""
    root = lake_root if lake_root is not None else (config or load_config()).paths.lake_root
    nights = published_nights(Lake(root), as_of_version)
    return pa.table({
        "ds": pa.array([night.ds for night in nights], pa.string()),
        "run_id": pa.array([night.run_id for night in nights], pa.string()),
        "published_at": pa.array([night.published_at for night in nights], TIMESTAMP),
        "tables": pa.array([len(night.table_versions) for night in nights], pa.int64()),
        "table_versions": pa.array(
            [sorted(night.table_versions.items()) for night in nights], pa.map_(pa.string(), pa.int64())
        ),
        "encoder_model_version": pa.array([night.encoder_model_version for night in nights], pa.string()),
        "registered_models": pa.array(
            [sorted(night.registered_models.items()) for night in nights], pa.map_(pa.string(), pa.string())
        ),
    })


@dataclass(frozen=True)
class UserInterests:
    """A user's three levels in one night: the user row, its topics and its sub-interests (heaviest first)."""

    user_id: str
    ds: str
    user: pa.Table
    topics: pa.Table
    subinterests: pa.Table


@dataclass(frozen=True)
class _FreshEvent:
    item_id: str
    event_type: str
    seconds: float


_ITEM_RESULT_FIELDS = [
    pa.field("rank", pa.int32()),
    pa.field("item_id", pa.string()),
    pa.field("score", pa.float64()),
    pa.field("topic_id", pa.string()),
    pa.field("topic_label", pa.string()),
    pa.field("subinterest_id", pa.string()),
    pa.field("subinterest_label", pa.string()),
]


class NightReader:
    """One published night of a lake, read for people and services (see the module docstring).

    ``lake_root`` defaults to the config's; ``ds`` to the latest published night; ``as_of_version``
    is a Delta version of ``pipeline_runs`` (the night that was current right after that commit).
    ``encoder`` replaces the configured encoder for text queries (it must name the same
    ``model_version`` as the night's text vectors). Raises ``NoPublishedNightError`` when no
    published night matches.
    """

    def __init__(
        self,
        lake_root: Path | str | None = None,
        ds: str | None = None,
        as_of_version: int | None = None,
        config: PipelineConfig | None = None,
        encoder: Encoder | None = None,
    ):
        self.config = config or load_config()
        self.lake = Lake(lake_root if lake_root is not None else self.config.paths.lake_root)
        self.night: PublishedNight = resolve_night(self.lake, ds, as_of_version)
        self._encoder = encoder
        self._tables: dict[str, pa.Table] = {}
        logger.info("reading ds=%s (run %s, published %s) under %s",
                    self.night.ds, self.night.run_id, self.night.published_at, self.lake.root)

    @property
    def ds(self) -> str:
        """The ds of the night this reader reads."""
        return self.night.ds

    def table(self, spec: TableSpec) -> pa.Table:
        """The night's rows of a ds-partitioned table at its published version (read once, then kept)."""
        if spec.name not in self._tables:
            self._tables[spec.name] = self.night.read(self.lake, spec)
        return self._tables[spec.name]

    # ------------------------------------------------------------------ users

    def resolve_user_id(self, user_id: str, raw: bool = False) -> str:
        """The stored (pseudonymized) id: ``user_id`` as given, or its pseudonym when ``raw``."""
        if not isinstance(user_id, str) or not user_id:
            raise ReaderArgumentError(f"a user id must be a non-empty string, got {user_id!r}")
        return pseudonymize_user_id(user_id, pseudonym_key(self.config)) if raw else user_id

    def user(self, user_id: str, raw: bool = False) -> UserInterests:
        """The user's row, weighted topics and weighted sub-interests (with labels and medoid items)."""
        user_id = self.resolve_user_id(user_id, raw)
        row = self._rows_of_user(USER_EMBEDDINGS, user_id)
        if row.num_rows == 0:
            raise self._unknown_user(user_id, raw)
        topics = _heaviest_first(self._rows_of_user(USER_TOPICS, user_id), "topic_id")
        topics = _add_columns(topics, {
            "label": [self._labels.get(("topic", t)) for t in topics.column("topic_id").to_pylist()],
            "keywords": pa.array(
                [self._keywords.get(("topic", t)) for t in topics.column("topic_id").to_pylist()], pa.list_(pa.string())
            ),
        })
        subinterests = _heaviest_first(self._rows_of_user(USER_SUBINTERESTS, user_id), "subinterest_id")
        subinterest_ids = subinterests.column("subinterest_id").to_pylist()
        subinterests = _add_columns(subinterests, {
            "label": [self._labels.get(("subinterest", s)) for s in subinterest_ids],
            "topic_label": [self._labels.get(("topic", t)) for t in subinterests.column("topic_id").to_pylist()],
            "keywords": pa.array([self._keywords.get(("subinterest", s)) for s in subinterest_ids], pa.list_(pa.string())),
        })
        return UserInterests(user_id=user_id, ds=self.ds, user=row, topics=topics, subinterests=subinterests)

    def user_vector(self, user_id: str, fresh_events: Any = None, raw: bool = False) -> np.ndarray:
        """The user-level query vector (slack dropped, unit), with ``fresh_events`` folded in as the night would.

        The fold-in is ``behaviour.decay.fold_in``: event-type weights from ``hierarchy.event_weights``
        (types without a positive weight do not count), items looked up in the night's catalog (an item
        the night does not know is skipped, as the night skips it), decay with the user row's
        ``half_life_days``, the stored vector and ``vector_mass`` taken at the end of ds. The result is
        taken at the latest fresh event (its direction does not depend on that choice).
        """
        user_id = self.resolve_user_id(user_id, raw)
        return self._user_query(self._user_row(user_id, raw), _parse_fresh_events(fresh_events))

    # ------------------------------------------------------------------ the tree

    def topic_tree(self) -> pa.Table:
        """Every topic followed by its sub-interests: level, node_id, parent_id, label, keywords, size, medoid."""
        topics = self.table(TOPICS)
        rows = sorted(
            topics.select(["level", "node_id", "parent_id", "label", "keywords", "size", "medoid_item_id"]).to_pylist(),
            key=lambda row: (row["parent_id"] or row["node_id"], row["level"] != "topic", row["node_id"]),
        )
        schema = pa.schema([TOPICS.schema.field(name) for name in
                            ("level", "node_id", "parent_id", "label", "keywords", "size", "medoid_item_id")])
        return pa.Table.from_pylist(rows, schema=schema)

    # ------------------------------------------------------------------ items

    def items(self) -> pa.Table:
        """The night's item_embeddings rows, sorted by item_id (the row order of the reader's matrices)."""
        return self._item_table

    def similar_items(self, item_id: str | None = None, text: str | None = None, k: int = 10) -> pa.Table:
        """The k items nearest an item (retrieval space) or a text (text space), best first.

        An item: its ``item_embeddings.embedding`` taken as a query (slack coordinate dropped, as
        every query in the retrieval space is), scored by dot product (cosine: all are unit) against
        every item's retrieval vector; the item itself is left out. A text: encoded with the
        configured encoder (or the one given to the reader) and scored against
        ``item_embeddings.text_embedding``, the text space; the encoder must be the model the night's
        text vectors came from. Columns: rank, item_id, score, topic_id, topic_label,
        subinterest_id, subinterest_label.
        """
        k = _check_k(k)
        if (item_id is None) == (text is None):
            raise ReaderArgumentError("similar_items needs exactly one of item_id or text")
        exclude = np.zeros(len(self._item_ids), dtype=bool)
        if item_id is not None:
            index = self._item_index(item_id)
            query = as_query(self._retrieval[index])[0].astype(np.float32)
            scores = self._retrieval @ query
            exclude[index] = True
        else:
            if not isinstance(text, str) or not text.strip():
                raise ReaderArgumentError(f"a text query must be a non-empty string, got {text!r}")
            if not len(self._item_ids):
                return self._item_results(np.zeros(0, dtype=np.int64), np.zeros(0))
            query = self._encode_query(text)
            scores = self._text @ query
        top = _top_k(scores, k, exclude)
        return self._item_results(top, scores[top])

    # ------------------------------------------------------------------ recommendations

    def recommend(
        self,
        user_id: str,
        k: int = 10,
        level: str = "user",
        fresh_events: Any = None,
        exclude_engaged: bool = True,
        raw: bool = False,
    ) -> pa.Table:
        """The k items to show a user, best first, from the user-level vector or from its sub-interests.

        ``level="user"``: score = user query vector . item vector (``user_vector``, with
        ``fresh_events`` folded in). ``level="subinterest"``: each of the user's sub-interests
        retrieves with its own vector, and an item's score is the best over them of
        ``sqrt(weight) x (sub-interest vector . item vector)``; ``via_subinterest_id`` names the one
        that won. This is the rule the night's own evaluation measures at the sub-interest level
        (``evaluation.retrieval.subinterest_scorer``): a heavy interest outranks a light one at equal
        similarity, and the square root keeps a light interest's nearest items reachable. The stored
        sub-interest vectors carry no per-group mass to fold events into, so at that level
        ``fresh_events`` only exclude their items.

        ``fresh_events``: events since the night, rows with ``item_id``, ``event_type`` and ``ts``
        (a datetime, ISO-8601 text, or epoch milliseconds as in the landing contract) as a list of
        dicts, an Arrow table or a pandas DataFrame. ``exclude_engaged`` leaves out the items the
        user engaged with in the night's lookback window of ``events_clean`` and in ``fresh_events``,
        counting the event types with a positive weight in ``hierarchy.event_weights``.
        """
        k = _check_k(k)
        if level not in LEVELS:
            raise ReaderArgumentError(f"unknown level {level!r}; allowed: {list(LEVELS)}")
        user_id = self.resolve_user_id(user_id, raw)
        row = self._user_row(user_id, raw)
        fresh = _parse_fresh_events(fresh_events)
        exclude = np.zeros(len(self._item_ids), dtype=bool)
        if exclude_engaged:
            exclude[self._engaged_positions(user_id, fresh)] = True
        if level == "user":
            query = self._user_query(row, fresh).astype(np.float32)
            scores = self._retrieval @ query
            top = _top_k(scores, k, exclude)
            return self._item_results(top, scores[top], {"via_subinterest_id": pa.nulls(len(top), pa.string())})
        subinterests = self._rows_of_user(USER_SUBINTERESTS, user_id)
        if subinterests.num_rows == 0:
            return self._item_results(np.zeros(0, dtype=np.int64), np.zeros(0), {"via_subinterest_id": pa.nulls(0, pa.string())})
        queries = as_query(embedding_matrix(subinterests.column("embedding"))).astype(np.float32)
        weights = subinterests.column("weight").to_numpy().astype(np.float64)
        weighted = np.sqrt(np.clip(weights, 0.0, None))[:, None] * (queries @ self._retrieval.T)
        best = np.argmax(weighted, axis=0)
        scores = weighted[best, np.arange(weighted.shape[1])]
        top = _top_k(scores, k, exclude)
        via = subinterests.column("subinterest_id").take(pa.array(best[top]))
        return self._item_results(top, scores[top], {"via_subinterest_id": via})

    # ------------------------------------------------------------------ internals

    @cached_property
    def _item_table(self) -> pa.Table:
        table = self.table(ITEM_EMBEDDINGS)
        return table.sort_by("item_id") if table.num_rows else table

    @cached_property
    def _item_ids(self) -> np.ndarray:
        return np.asarray(self._item_table.column("item_id").to_pylist(), dtype=object)

    @cached_property
    def _item_positions(self) -> dict[str, int]:
        return {item_id: position for position, item_id in enumerate(self._item_ids)}

    @cached_property
    def _retrieval(self) -> np.ndarray:
        return embedding_matrix(self._item_table.column("embedding"))

    @cached_property
    def _text(self) -> np.ndarray:
        return embedding_matrix(self._item_table.column("text_embedding"))

    @cached_property
    def _labels(self) -> dict[tuple[str, str], str]:
        topics = self.table(TOPICS)
        return {(level, node): label for level, node, label in zip(
            topics.column("level").to_pylist(), topics.column("node_id").to_pylist(), topics.column("label").to_pylist()
        )}

    @cached_property
    def _keywords(self) -> dict[tuple[str, str], list[str]]:
        topics = self.table(TOPICS)
        return {(level, node): keywords for level, node, keywords in zip(
            topics.column("level").to_pylist(), topics.column("node_id").to_pylist(),
            topics.column("keywords").to_pylist(),
        )}

    @cached_property
    def _engagements(self) -> pa.Table:
        """The events_clean of the night's lookback window that count as engagements: user_id, item_id.

        The window the night's user vectors were built from, read at the night's published version.
        """
        days = self.config.hierarchy.lookback_days
        events = self.lake.read(EVENTS_CLEAN, columns=["user_id", "item_id", "event_type", "event_ts"],
                                filters=[("ds", ">=", window_first_day(self.ds, days)), ("ds", "<=", self.ds)],
                                version=self.night.version_of(EVENTS_CLEAN))
        counted = [name for name, weight in self.config.hierarchy.event_weights.items() if weight > 0]
        in_window = pc.greater_equal(events.column("event_ts"), pa.scalar(window_start(self.ds, days), TIMESTAMP))
        mask = pc.and_(pc.and_(pc.is_valid(events.column("item_id")), in_window),
                       pc.is_in(events.column("event_type"), value_set=pa.array(counted, pa.string())))
        return events.filter(mask).select(["user_id", "item_id"])

    def _rows_of_user(self, spec: TableSpec, user_id: str) -> pa.Table:
        table = self.table(spec)
        return table.filter(pc.equal(table.column("user_id"), pa.scalar(user_id, pa.string())))

    def _unknown_user(self, user_id: str, raw: bool) -> UnknownUserError:
        hint = "" if raw else " (a raw, unpseudonymized id? pass raw=True / --raw-user-id)"
        return UnknownUserError(
            f"user {user_id!r} has no row in user_embeddings of ds={self.ds} (run {self.night.run_id}){hint}"
        )

    def _user_row(self, user_id: str, raw: bool) -> dict:
        rows = self._rows_of_user(USER_EMBEDDINGS, user_id)
        if rows.num_rows == 0:
            raise self._unknown_user(user_id, raw)
        return rows.slice(0, 1).to_pylist()[0]

    def _item_index(self, item_id: str) -> int:
        try:
            return self._item_positions[item_id]
        except (KeyError, TypeError):
            raise UnknownItemError(
                f"item {item_id!r} has no row in item_embeddings of ds={self.ds} (run {self.night.run_id})"
            ) from None

    def _user_query(self, row: dict, fresh: list[_FreshEvent]) -> np.ndarray:
        stored = np.asarray(row["embedding"], dtype=np.float64)
        weights = self.config.hierarchy.event_weights
        counted = [event for event in fresh if weights.get(event.event_type, 0.0) > 0]
        known = [event for event in counted if event.item_id in self._item_positions]
        if len(known) < len(counted):
            unknown = sorted({event.item_id for event in counted} - {event.item_id for event in known})
            logger.warning("fresh events of %d items not in the catalog of ds=%s skipped (as the night skips them): %s",
                           len(unknown), self.ds, unknown[:5])
        if not known:
            return as_query(stored)[0]
        reference = _day_end(self.ds)
        seconds = np.array([event.seconds for event in known])
        vector, _ = fold_in(
            stored, float(row["vector_mass"]), reference, max(reference.timestamp(), float(seconds.max())),
            self._retrieval[[self._item_positions[event.item_id] for event in known]],
            np.array([weights[event.event_type] for event in known]), seconds, float(row["half_life_days"]),
        )
        return as_query(vector)[0]

    def _engaged_positions(self, user_id: str, fresh: list[_FreshEvent]) -> list[int]:
        night = self._engagements.filter(pc.equal(self._engagements.column("user_id"), pa.scalar(user_id, pa.string())))
        weights = self.config.hierarchy.event_weights
        engaged = set(night.column("item_id").to_pylist())
        engaged |= {event.item_id for event in fresh if weights.get(event.event_type, 0.0) > 0}
        return sorted(self._item_positions[item] for item in engaged if item in self._item_positions)

    @property
    def encoder(self) -> Encoder:
        """The encoder for text queries: the one given to the reader, else the configured model (loaded once)."""
        if self._encoder is None:
            from interests.encoding.executors import TransformerSettings

            settings = TransformerSettings.from_config(self.config.encoder)
            self._check_model_version(settings.model_version())  # from the weight files, before a load
            self._encoder = settings.build(settings.device_for(None))
        return self._encoder

    def _check_model_version(self, model_version: str) -> None:
        versions = sorted(set(self._item_table.column("model_version").to_pylist()))
        if versions and model_version not in versions:
            raise EncoderMismatchError(
                f"the encoder is {model_version!r} but the text vectors of ds={self.ds} come from {versions}; "
                "a text query must be embedded by the same model (set encoder.model_path to it)"
            )

    def _encode_query(self, text: str) -> np.ndarray:
        encoder = self.encoder
        self._check_model_version(encoder.model_version)
        if self._text.shape[1] != encoder.dim:
            raise EncoderMismatchError(
                f"the encoder gives {encoder.dim}-dim vectors, the text vectors of ds={self.ds} are {self._text.shape[1]}-dim"
            )
        return np.asarray(encoder.encode([text])[0], dtype=np.float32)

    def _item_results(self, positions: np.ndarray, scores: np.ndarray, extra: dict[str, pa.Array] | None = None) -> pa.Table:
        rows = self._item_table.take(pa.array(positions, pa.int64()))
        topic_ids = rows.column("topic_id").to_pylist()
        subinterest_ids = rows.column("subinterest_id").to_pylist()
        columns = [
            pa.array(np.arange(1, len(positions) + 1), pa.int32()),
            rows.column("item_id"),
            pa.array(np.asarray(scores, dtype=np.float64), pa.float64()),
            rows.column("topic_id"),
            pa.array([self._labels.get(("topic", t)) for t in topic_ids], pa.string()),
            rows.column("subinterest_id"),
            pa.array([self._labels.get(("subinterest", s)) for s in subinterest_ids], pa.string()),
        ]
        fields = list(_ITEM_RESULT_FIELDS)
        for name, values in (extra or {}).items():
            fields.append(pa.field(name, values.type))
            columns.append(values)
        return pa.Table.from_arrays(columns, schema=pa.schema(fields))


# ---------------------------------------------------------------------- helpers


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ReaderArgumentError(f"k must be an int >= 1, got {k!r}")
    return int(k)


def _top_k(scores: np.ndarray, k: int, exclude: np.ndarray) -> np.ndarray:
    """Positions of the k best scores not excluded, best first (ties by position, i.e. by item_id)."""
    scores = np.where(exclude, -np.inf, np.asarray(scores, dtype=np.float64))
    k = min(k, int((~exclude).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return candidates[np.lexsort((candidates, -scores[candidates]))]


def _heaviest_first(table: pa.Table, id_column: str) -> pa.Table:
    return table.sort_by([("weight", "descending"), (id_column, "ascending")]) if table.num_rows else table


def _add_columns(table: pa.Table, columns: dict[str, list | pa.Array]) -> pa.Table:
    for name, values in columns.items():
        table = table.append_column(name, values if isinstance(values, pa.Array) else pa.array(values, pa.string()))
    return table


def _day_end(ds: str) -> datetime:
    """Midnight UTC after ds: the reference the night's decay measures ages from (jobs/build_hierarchy.py)."""
    return datetime.combine(date.fromisoformat(ds) + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def _event_seconds(value: Any, position: int) -> float:
    """Epoch seconds of a fresh event's ts: a datetime (naive = UTC), ISO-8601 text, or epoch milliseconds."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, str):
        try:
            return _event_seconds(datetime.fromisoformat(value.strip()), position)
        except ValueError:
            pass
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and np.isfinite(value):
        return float(value) / 1000.0
    raise ReaderArgumentError(
        f"fresh event {position}: ts {value!r} is not a datetime, ISO-8601 text or epoch milliseconds"
    )


def _parse_fresh_events(fresh_events: Any) -> list[_FreshEvent]:
    """Fresh events as (item_id, event_type, seconds); events without an item (search) do not count."""
    if fresh_events is None:
        return []
    if isinstance(fresh_events, pa.Table):
        rows: Iterable = fresh_events.to_pylist()
    elif hasattr(fresh_events, "to_dict") and hasattr(fresh_events, "columns"):
        rows = fresh_events.to_dict("records")  # pandas
    elif isinstance(fresh_events, Iterable) and not isinstance(fresh_events, (str, bytes, Mapping)):
        rows = fresh_events
    else:
        raise ReaderArgumentError(
            f"fresh_events must be rows (dicts, an Arrow table or a pandas DataFrame), got {type(fresh_events).__name__}"
        )
    events = []
    for position, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ReaderArgumentError(f"fresh event {position} is a {type(row).__name__}, expected a mapping "
                                      "with item_id, event_type and ts")
        missing = [name for name in ("event_type", "ts") if row.get(name) is None]
        if missing:
            raise ReaderArgumentError(f"fresh event {position} has no {', '.join(missing)}: {dict(row)!r:.200}")
        event_type = str(row["event_type"]).strip().lower()
        if event_type not in EVENT_TYPES:
            raise ReaderArgumentError(
                f"fresh event {position}: unknown event_type {row['event_type']!r}; allowed: {list(EVENT_TYPES)}"
            )
        item_id = row.get("item_id")
        if item_id is None or (isinstance(item_id, float) and np.isnan(item_id)):
            continue
        events.append(_FreshEvent(str(item_id), event_type, _event_seconds(row["ts"], position)))
    return events
