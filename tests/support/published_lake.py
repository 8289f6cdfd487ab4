"""A small lake with known published nights, written with the real Lake (delta-rs), without Spark.

Readers' tests (consume API, CLI, index, report) need nights whose every row is known in advance.
``build_published_lake`` writes, for each night, the tables a reader touches (items, item_embeddings,
topics, user_embeddings, user_topics, user_subinterests, events_clean) and a ``pipeline_runs`` row:

- the nights in ``published`` get status ``published`` (the pointer readers resolve);
- ``failed`` (default the day after the last published night) has every table written too, but its
  row says ``failed_quality``, so a reader that resolves nights must never see it;
- with ``republish_failed_over``, a night already published is written again (different rows) and
  fails its gate: its earlier publication must stay current.

Geometry, so that nearest-neighbour answers are known: 3 topics x 2 sub-interests; every item's vector
is its sub-interest's centroid plus small noise; a user engages only with items of the sub-interests
listed in ``USER_SUBINTERESTS`` (user ``u00`` likes ``t0.s0`` and ``t1.s1``, and so on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from interests.catalog import (
    EVENTS_CLEAN,
    ITEM_EMBEDDINGS,
    ITEMS,
    PIPELINE_RUNS,
    TOPICS,
    USER_EMBEDDINGS,
    USER_SUBINTERESTS,
    USER_TOPICS,
)
from interests.lake import Lake

RETRIEVAL_DIM, TEXT_DIM = 12, 8
TOPIC_IDS = ("t0", "t1", "t2")
SUBINTEREST_IDS = tuple(f"{topic}.s{k}" for topic in TOPIC_IDS for k in range(2))
ITEMS_PER_SUBINTEREST = 10
N_USERS = 12
TOPIC_WORDS = {"t0": ["cooking", "recipes"], "t1": ["football", "league"], "t2": ["jazz", "piano"]}
MODEL_VERSION = "test-model-v1"
READER_TABLES = (ITEMS, ITEM_EMBEDDINGS, TOPICS, USER_EMBEDDINGS, USER_TOPICS, USER_SUBINTERESTS, EVENTS_CLEAN)


def user_ids() -> list[str]:
    return [f"u{n:02d}" for n in range(N_USERS)]


def user_subinterests(user_id: str) -> list[tuple[str, float]]:
    """The sub-interests a user engages with and their weights (sum to 1): two, the first twice as heavy."""
    n = int(user_id[1:])
    first, second = SUBINTEREST_IDS[n % 6], SUBINTEREST_IDS[(n + 3) % 6]
    return [(first, 2 / 3), (second, 1 / 3)]


def item_ids(subinterest_id: str) -> list[str]:
    return [f"{subinterest_id}.i{k}" for k in range(ITEMS_PER_SUBINTEREST)]


@dataclass(frozen=True)
class NightContent:
    """What one night wrote: ids, vectors and the version of every table right after it."""

    ds: str
    status: str
    run_id: str
    item_vectors: dict[str, np.ndarray]
    subinterest_centroids: dict[str, np.ndarray]
    user_vectors: dict[str, np.ndarray]
    table_versions: dict[str, int]


def _unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)


def _night_tables(ds: str, shift: float, seed: int) -> tuple[dict[str, pa.Table], dict]:
    rng = np.random.default_rng(seed)
    # Sub-interest directions are orthogonal in the retrieval space, the same every night up to ``shift``.
    base = np.eye(RETRIEVAL_DIM, dtype=np.float64)[: len(SUBINTEREST_IDS)]
    centroids = {sub: _unit(base[i] + shift * rng.normal(size=RETRIEVAL_DIM) * 0.05) for i, sub in enumerate(SUBINTEREST_IDS)}
    text_base = np.eye(TEXT_DIM, dtype=np.float64)[: len(TOPIC_IDS)]
    day_end = datetime.fromisoformat(ds).replace(tzinfo=UTC) + timedelta(days=1)

    items, embeddings, item_vectors = [], [], {}
    for sub in SUBINTEREST_IDS:
        topic = sub.split(".")[0]
        for k, item_id in enumerate(item_ids(sub)):
            vector = _unit(centroids[sub] + rng.normal(size=RETRIEVAL_DIM) * 0.1)
            text_vector = _unit(text_base[TOPIC_IDS.index(topic)] + rng.normal(size=TEXT_DIM) * 0.1)
            item_vectors[item_id] = vector
            words = TOPIC_WORDS[topic]
            text = f"{words[0]} {words[1]} item {item_id}"
            items.append({
                "ds": ds, "item_id": item_id, "title": f"{words[0]} {k}", "body": text, "tags": words, "lang": "en",
                "updated_at": day_end - timedelta(days=2), "landed_ds": ds, "text": text, "text_hash": f"h-{item_id}",
            })
            embeddings.append({
                "ds": ds, "item_id": item_id, "embedding": vector.astype(np.float32).tolist(),
                "text_embedding": text_vector.astype(np.float32).tolist(), "factors_source": "als",
                "topic_id": topic, "subinterest_id": sub, "model_version": MODEL_VERSION, "text_hash": f"h-{item_id}",
            })

    topics = []
    for i, topic in enumerate(TOPIC_IDS):
        children = [sub for sub in SUBINTEREST_IDS if sub.startswith(topic + ".")]
        topics.append({
            "ds": ds, "level": "topic", "node_id": topic, "parent_id": None, "label": " / ".join(TOPIC_WORDS[topic]),
            "keywords": TOPIC_WORDS[topic], "centroid": text_base[i].astype(np.float32).tolist(),
            "size": ITEMS_PER_SUBINTEREST * len(children), "medoid_item_id": item_ids(children[0])[0],
        })
        for sub in children:
            topics.append({
                "ds": ds, "level": "subinterest", "node_id": sub, "parent_id": topic,
                "label": f"{TOPIC_WORDS[topic][0]} {sub[-2:]}", "keywords": [TOPIC_WORDS[topic][0], sub[-2:]],
                "centroid": text_base[i].astype(np.float32).tolist(), "size": ITEMS_PER_SUBINTEREST,
                "medoid_item_id": item_ids(sub)[0],
            })

    users, user_topics, user_subs, events, user_vectors = [], [], [], [], {}
    for user_id in user_ids():
        subs = user_subinterests(user_id)
        vector = _unit(sum(weight * centroids[sub] for sub, weight in subs))
        user_vectors[user_id] = vector
        engaged = [item_ids(sub)[n] for sub, _ in subs for n in range(3)]
        last = day_end - timedelta(hours=1)
        users.append({
            "ds": ds, "user_id": user_id, "embedding": vector.astype(np.float32).tolist(), "n_engagements": len(engaged),
            "n_items": len(engaged), "n_texts": 0, "engagement_weight": float(len(engaged)), "last_event_ts": last,
            "vector_source": "engagement", "vector_mass": float(len(engaged)), "half_life_days": 7.0,
        })
        for sub, weight in subs:
            user_subs.append({
                "ds": ds, "user_id": user_id, "subinterest_id": sub, "topic_id": sub.split(".")[0], "weight": weight,
                "embedding": centroids[sub].astype(np.float32).tolist(), "n_engagements": 3,
                "medoid_item_id": item_ids(sub)[0],
            })
        by_topic: dict[str, float] = {}
        for sub, weight in subs:
            by_topic[sub.split(".")[0]] = by_topic.get(sub.split(".")[0], 0.0) + weight
        for topic, weight in sorted(by_topic.items()):
            members = [centroids[sub] for sub, _ in subs if sub.startswith(topic + ".")]
            user_topics.append({
                "ds": ds, "user_id": user_id, "topic_id": topic, "weight": weight,
                "embedding": _unit(sum(members)).astype(np.float32).tolist(), "n_engagements": 3 * len(members),
            })
        for n, item_id in enumerate(engaged):
            events.append({
                "ds": ds, "event_id": f"{ds}-{user_id}-{n}", "user_id": user_id, "item_id": item_id,
                "event_type": "click", "event_ts": last - timedelta(minutes=n), "dwell_ms": None, "query": None,
                "extra": None, "source_file": "events/part-0.jsonl",
            })

    tables = {
        ITEMS.name: pa.Table.from_pylist(items, schema=ITEMS.schema),
        ITEM_EMBEDDINGS.name: pa.Table.from_pylist(embeddings, schema=ITEM_EMBEDDINGS.schema),
        TOPICS.name: pa.Table.from_pylist(topics, schema=TOPICS.schema),
        USER_EMBEDDINGS.name: pa.Table.from_pylist(users, schema=USER_EMBEDDINGS.schema),
        USER_TOPICS.name: pa.Table.from_pylist(user_topics, schema=USER_TOPICS.schema),
        USER_SUBINTERESTS.name: pa.Table.from_pylist(user_subs, schema=USER_SUBINTERESTS.schema),
        EVENTS_CLEAN.name: pa.Table.from_pylist(events, schema=EVENTS_CLEAN.schema),
    }
    return tables, {"items": item_vectors, "centroids": centroids, "users": user_vectors}


def _metrics(n: int) -> dict[str, float]:
    """Evaluation figures of the night as build_hierarchy records them (a small trend from night to night)."""
    prefix = "build_hierarchy.evaluation."
    return {
        f"{prefix}user.recall_at_10": 0.25 + 0.01 * n, f"{prefix}subinterest.recall_at_10": 0.26 + 0.01 * n,
        f"{prefix}ease.recall_at_10": 0.24, f"{prefix}popular.recall_at_10": 0.03, f"{prefix}text.recall_at_10": 0.05,
        f"{prefix}ratio.best_level_to_ease": (0.26 + 0.01 * n) / 0.24, f"{prefix}users.report": 100.0,
    }


def _write_night(lake: Lake, ds: str, status: str, run_id: str, n: int, shift: float) -> NightContent:
    tables, vectors = _night_tables(ds, shift, seed=1000 + n)
    versions = {name: lake.write_partition(next(s for s in READER_TABLES if s.name == name), ds, rows)
                for name, rows in tables.items()}
    checks = [{"table": "item_embeddings", "check": "embedding_unit_norm", "passed": status == "published",
               "detail": "max |norm-1| = 1.00e-07 (tol 0.001)" if status == "published" else "max |norm-1| = 5.00e-01 (tol 0.001)"}]
    row = {
        "ds": ds, "run_id": run_id, "status": status,
        "published_at": datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=n),
        "row_counts": sorted((name, rows.num_rows) for name, rows in tables.items()),
        "stage_counts": [("clean_events.events.raw", tables[EVENTS_CLEAN.name].num_rows)],
        "metrics": sorted(_metrics(n).items()), "table_versions": sorted(versions.items()),
        "quality_passed": status == "published", "quality_checks": json.dumps(checks),
        "encoder_model_version": MODEL_VERSION,
        "registered_models": [("interests-encoder", "1"), ("interests-hierarchy", str(n + 1))],
    }
    lake.write_partition(PIPELINE_RUNS, ds, pa.Table.from_pylist([row], schema=PIPELINE_RUNS.schema), where={"run_id": run_id})
    return NightContent(ds, status, run_id, vectors["items"], vectors["centroids"], vectors["users"], versions)


def build_published_lake(
    root: Path, published: tuple[str, ...] = ("2026-11-18", "2026-11-19"), failed: str | None = "2026-11-20",
    republish_failed_over: str | None = None,
) -> dict[str, NightContent]:
    """Write the nights (published ones first, in order) under ``root``; return what each wrote, by ds.

    The failed night's content is under key ``failed``; a failed rerun of a published ds is under
    ``rerun``, and the ds's own key keeps its (still current) publication.
    """
    lake = Lake(root)
    content: dict[str, NightContent] = {}
    n = 0
    for ds in published:
        content[ds] = _write_night(lake, ds, "published", f"scheduled__{ds}", n, shift=n)
        n += 1
    if failed:
        content["failed"] = _write_night(lake, failed, "failed_quality", f"scheduled__{failed}", n, shift=n)
        n += 1
    if republish_failed_over:
        content["rerun"] = _write_night(lake, republish_failed_over, "failed_quality", "manual__rerun", n, shift=5.0)
    return content
