"""What the nightly report shows, gathered from a published night: Arrow in, plain dicts out.

Every figure comes from a *published* night read at the Delta versions its publication names
(``publishing/nights.py``), so the report never shows a staged or failed night as if it were served;
failed publish attempts are listed on their own. The result of ``gather_report`` is JSON-able (strings,
numbers, lists, dicts): ``html.render_report`` turns it into the page, and a test can read it directly.

Driver bounds: the item ids, topic and sub-interest ids of two nights (strings), the (user, topic,
weight) rows of two nights for the top-topic churn, the retrieval vectors of at most ``map_items``
items (5,000 x 449 float32 = 9 MB by default) and the topics of ``users`` users.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from interests.catalog import (
    ITEM_EMBEDDINGS,
    ITEMS,
    TOPICS,
    USER_EMBEDDINGS,
    USER_SUBINTERESTS,
    USER_TOPICS,
    TableSpec,
    embedding_matrix,
    is_local,
)
from interests.evaluation.report import METHODS, METRICS, evaluation
from interests.lake import Lake
from interests.publishing.nights import (
    PUBLISHED,
    PublishedNight,
    previous_night,
    publish_attempts,
    published_nights,
    resolve_night,
)

logger = logging.getLogger(__name__)

MAP_ITEMS = 5000
"""At most this many items on the 2-D map (a sample by a hash of the item id: the same items every night)."""
SAMPLE_USERS = 20
"""The most active users shown with their interests."""
TREND_NIGHTS = 14
"""Published nights (up to the reported one) in the evaluation trend."""
LISTED_CHANGES = 20
"""Examples listed per kind of churn (the counts cover every row)."""
LISTED_ATTEMPTS = 30
"""Failed publish attempts listed, newest first."""


def gather_report(
    lake: Lake, ds: str | None = None, *, map_items: int = MAP_ITEMS, sample_users: int = SAMPLE_USERS,
    trend_nights: int = TREND_NIGHTS,
) -> dict:
    """Every figure of the report for a published night (default: the latest), as plain dicts."""
    night = resolve_night(lake, ds)
    previous = previous_night(lake, night.ds)
    logger.info("report for ds=%s (run %s), churn against %s", night.ds, night.run_id,
                previous.ds if previous else "no earlier night")
    topics = night.read(lake, TOPICS, columns=["level", "node_id", "parent_id", "label", "size", "medoid_item_id"])
    items = night.read(lake, ITEM_EMBEDDINGS, columns=["item_id", "topic_id", "subinterest_id"])
    attempts = publish_attempts(lake)
    return {
        "ds": night.ds,
        "run_id": night.run_id,
        "published_at": _iso(night.published_at),
        "encoder_model_version": night.encoder_model_version,
        "registered_models": dict(sorted(night.registered_models.items())),
        "row_counts": dict(sorted(night.row_counts.items())),
        "previous_ds": previous.ds if previous else None,
        "topics": topic_tree(topics, items, _titles(lake, night, topics)),
        "item_map": item_map(lake, night, items, map_items),
        "users": user_sample(lake, night, topics, sample_users),
        "churn": churn(lake, night, previous, topics, items) if previous else None,
        "gate": gate(_attempt_of(attempts, night)),
        "evaluation": evaluation_figures(night.metrics),
        "trend": evaluation_trend(lake, night, trend_nights),
        "failed_attempts": failed_attempts(attempts),
    }


# ---------------------------------------------------------------- the topic tree


def topic_tree(topics: pa.Table, items: pa.Table, titles: dict[str, str]) -> list[dict]:
    """Topics (largest first) with their sub-interests, sizes, labels and medoid items."""
    item_counts = _value_counts(items.column("topic_id"))
    rows = topics.to_pylist()
    children: dict[str, list[dict]] = {}
    for row in rows:
        if row["level"] == "subinterest":
            children.setdefault(row["parent_id"], []).append({
                "id": row["node_id"], "label": row["label"], "size": int(row["size"]),
                "medoid_item_id": row["medoid_item_id"], "medoid_title": titles.get(row["medoid_item_id"], ""),
            })
    tree = []
    for row in rows:
        if row["level"] != "topic":
            continue
        subs = sorted(children.get(row["node_id"], []), key=lambda sub: (-sub["size"], sub["id"]))
        tree.append({
            "id": row["node_id"], "label": row["label"], "size": int(row["size"]),
            "items": item_counts.get(row["node_id"], 0), "medoid_item_id": row["medoid_item_id"],
            "medoid_title": titles.get(row["medoid_item_id"], ""), "subinterests": subs,
        })
    return sorted(tree, key=lambda topic: (-topic["size"], topic["id"]))


def _titles(lake: Lake, night: PublishedNight, topics: pa.Table) -> dict[str, str]:
    """Titles of the topics' medoid items (a few dozen rows)."""
    medoids = sorted(set(topics.column("medoid_item_id").to_pylist()) - {None})
    rows = _read_ids(lake, night, ITEMS, ["item_id", "title"], "item_id", medoids).to_pylist()
    return {row["item_id"]: row["title"] or "" for row in rows}


# ---------------------------------------------------------------- the item map


def item_map(lake: Lake, night: PublishedNight, items: pa.Table, limit: int = MAP_ITEMS) -> dict:
    """Items placed on the first two principal components of their retrieval vectors (a stable sample)."""
    chosen = sample_ids(items.column("item_id").to_pylist(), limit)
    vectors = _read_ids(lake, night, ITEM_EMBEDDINGS, ["item_id", "topic_id", "embedding"], "item_id", chosen)
    vectors = vectors.sort_by("item_id")
    coordinates, explained = pca_2d(embedding_matrix(vectors.column("embedding"), np.float64))
    points = [
        {"item_id": item_id, "topic_id": topic_id, "x": float(x), "y": float(y)}
        for item_id, topic_id, (x, y) in zip(
            vectors.column("item_id").to_pylist(), vectors.column("topic_id").to_pylist(), coordinates, strict=True
        )
    ]
    return {"items": items.num_rows, "shown": len(points), "explained": explained, "points": points}


def sample_ids(ids: Iterable[str], limit: int) -> list[str]:
    """At most ``limit`` ids, the same ones whatever their order: those with the smallest hashes."""
    ids = sorted(set(ids))
    if len(ids) <= limit:
        return ids
    return sorted(sorted(ids, key=lambda value: hashlib.blake2b(value.encode(), digest_size=8).digest())[:limit])


def pca_2d(matrix: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """(n, 2) coordinates on the first two principal components and their shares of the variance.

    Signs are fixed (each component's largest loading positive) so a rerun draws the same map.
    """
    n = matrix.shape[0]
    if n == 0:
        return np.zeros((0, 2)), [0.0, 0.0]
    centred = matrix - matrix.mean(axis=0, keepdims=True)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1.0, signs)[:, None]
    coordinates = centred @ components.T
    if coordinates.shape[1] < 2:
        coordinates = np.pad(coordinates, ((0, 0), (0, 2 - coordinates.shape[1])))
    total = float((singular**2).sum())
    explained = [float(value**2 / total) if total > 0 else 0.0 for value in singular[:2]]
    return coordinates, explained + [0.0] * (2 - len(explained))


# ---------------------------------------------------------------- users


def user_sample(lake: Lake, night: PublishedNight, topics: pa.Table, limit: int = SAMPLE_USERS) -> list[dict]:
    """The most active users (most engagements, then weight, then id) with their weighted topics and sub-interests."""
    columns = ["user_id", "n_engagements", "n_items", "n_texts", "engagement_weight", "vector_source"]
    users = night.read(lake, USER_EMBEDDINGS, columns=columns)
    users = users.sort_by([("n_engagements", "descending"), ("engagement_weight", "descending"),
                           ("user_id", "ascending")]).slice(0, limit)
    chosen = users.column("user_id").to_pylist()
    labels = _labels(topics)
    user_topics = _read_ids(lake, night, USER_TOPICS, ["user_id", "topic_id", "weight"], "user_id", chosen)
    user_subs = _read_ids(lake, night, USER_SUBINTERESTS,
                          ["user_id", "subinterest_id", "topic_id", "weight", "medoid_item_id"], "user_id", chosen)
    by_user: dict[str, dict[str, list[dict]]] = {user: {"topics": [], "subinterests": []} for user in chosen}
    for row in user_topics.to_pylist():
        by_user[row["user_id"]]["topics"].append({
            "id": row["topic_id"], "label": labels.get(row["topic_id"], ""), "weight": float(row["weight"]),
        })
    for row in user_subs.to_pylist():
        by_user[row["user_id"]]["subinterests"].append({
            "id": row["subinterest_id"], "topic_id": row["topic_id"], "label": labels.get(row["subinterest_id"], ""),
            "weight": float(row["weight"]), "medoid_item_id": row["medoid_item_id"],
        })
    result = []
    for row in users.to_pylist():
        interests = by_user[row["user_id"]]
        result.append({
            "user_id": row["user_id"], "n_engagements": int(row["n_engagements"]), "n_items": int(row["n_items"]),
            "n_texts": int(row["n_texts"]), "vector_source": row["vector_source"],
            "topics": sorted(interests["topics"], key=lambda t: (-t["weight"], t["id"])),
            "subinterests": sorted(interests["subinterests"], key=lambda s: (-s["weight"], s["id"])),
        })
    return result


# ---------------------------------------------------------------- churn


def churn(lake: Lake, night: PublishedNight, previous: PublishedNight, topics: pa.Table, items: pa.Table) -> dict:
    """What changed since the previous published night: items, users' top topics, topic sizes."""
    before_topics = previous.read(lake, TOPICS, columns=["level", "node_id", "parent_id", "label", "size",
                                                         "medoid_item_id"])
    before_items = previous.read(lake, ITEM_EMBEDDINGS, columns=["item_id", "topic_id", "subinterest_id"])
    before_users = previous.read(lake, USER_EMBEDDINGS, columns=["user_id"]).column("user_id").to_pylist()
    after_users = night.read(lake, USER_EMBEDDINGS, columns=["user_id"]).column("user_id").to_pylist()
    top_before = top_topics(previous.read(lake, USER_TOPICS, columns=["user_id", "topic_id", "weight"]))
    top_after = top_topics(night.read(lake, USER_TOPICS, columns=["user_id", "topic_id", "weight"]))
    return {
        "previous_ds": previous.ds,
        "items": item_churn(before_items, items, _labels(before_topics), _labels(topics)),
        "users": user_churn(before_users, after_users, top_before, top_after,
                            _labels(before_topics), _labels(topics)),
        "topics": topic_churn(before_topics, topics),
    }


def item_churn(before: pa.Table, after: pa.Table, labels_before: dict[str, str],
               labels_after: dict[str, str]) -> dict:
    """Items new, gone, and moved to another topic (or sub-interest) between two nights."""
    old = {row["item_id"]: row for row in before.to_pylist()}
    new = {row["item_id"]: row for row in after.to_pylist()}
    both = sorted(old.keys() & new.keys())
    moved = [item for item in both if old[item]["topic_id"] != new[item]["topic_id"]]
    sub_moved = [item for item in both if old[item]["subinterest_id"] != new[item]["subinterest_id"]]
    return {
        "before": len(old), "after": len(new), "new": len(new.keys() - old.keys()),
        "gone": len(old.keys() - new.keys()), "topic_changed": len(moved), "subinterest_changed": len(sub_moved),
        "new_examples": sorted(new.keys() - old.keys())[:LISTED_CHANGES],
        "gone_examples": sorted(old.keys() - new.keys())[:LISTED_CHANGES],
        "examples": [
            {"item_id": item, "from": old[item]["topic_id"], "from_label": labels_before.get(old[item]["topic_id"], ""),
             "to": new[item]["topic_id"], "to_label": labels_after.get(new[item]["topic_id"], "")}
            for item in moved[:LISTED_CHANGES]
        ],
    }


def top_topics(user_topics: pa.Table) -> dict[str, str]:
    """Each user's heaviest topic (ties to the smaller topic id)."""
    ordered = user_topics.sort_by([("user_id", "ascending"), ("weight", "descending"), ("topic_id", "ascending")])
    users = ordered.column("user_id").to_pylist()
    topics = ordered.column("topic_id").to_pylist()
    top: dict[str, str] = {}
    for user, topic in zip(users, topics, strict=True):
        top.setdefault(user, topic)
    return top


def user_churn(before: list[str], after: list[str], top_before: dict[str, str], top_after: dict[str, str],
               labels_before: dict[str, str], labels_after: dict[str, str]) -> dict:
    """Users new and gone, and users (in both nights) whose heaviest topic changed."""
    old, new = set(before), set(after)
    compared = sorted(user for user in old & new if user in top_before and user in top_after)
    changed = [user for user in compared if top_before[user] != top_after[user]]
    return {
        "before": len(old), "after": len(new), "new": len(new - old), "gone": len(old - new),
        "compared": len(compared), "top_topic_changed": len(changed),
        "examples": [
            {"user_id": user, "from": top_before[user], "from_label": labels_before.get(top_before[user], ""),
             "to": top_after[user], "to_label": labels_after.get(top_after[user], "")}
            for user in changed[:LISTED_CHANGES]
        ],
    }


def topic_churn(before: pa.Table, after: pa.Table) -> dict:
    """Topic sizes then and now by node id (ids persist from night to night), and sub-interests new or gone."""
    def nodes(table: pa.Table, level: str) -> dict[str, dict]:
        return {row["node_id"]: row for row in table.to_pylist() if row["level"] == level}

    old, new = nodes(before, "topic"), nodes(after, "topic")
    rows = []
    for node in sorted(old.keys() | new.keys()):
        size_before = int(old[node]["size"]) if node in old else None
        size_after = int(new[node]["size"]) if node in new else None
        rows.append({
            "id": node, "label": (new.get(node) or old[node])["label"], "before": size_before, "after": size_after,
            "change": (size_after or 0) - (size_before or 0),
        })
    old_subs, new_subs = nodes(before, "subinterest"), nodes(after, "subinterest")
    return {
        "sizes": sorted(rows, key=lambda row: (-abs(row["change"]), row["id"])),
        "new_topics": sorted(new.keys() - old.keys()), "gone_topics": sorted(old.keys() - new.keys()),
        "new_subinterests": len(new_subs.keys() - old_subs.keys()),
        "gone_subinterests": len(old_subs.keys() - new_subs.keys()),
    }


# ---------------------------------------------------------------- gate and evaluation


def gate(attempt: dict | None) -> dict:
    """The night's quality checks as its publication recorded them."""
    if attempt is None:
        return {"passed": None, "checks": []}
    checks = _checks(attempt)
    return {"passed": bool(attempt["quality_passed"]), "checks": checks,
            "failed": sum(not check["passed"] for check in checks)}


def evaluation_figures(metrics: dict[str, float]) -> dict:
    """Every method's figures on the held-out day (empty ``methods`` when the night had no time split)."""
    figures = evaluation(metrics)
    methods = []
    for name, label in METHODS:
        values = {metric: figures.get(f"{name}.{metric}") for metric in METRICS}
        if all(value is None for value in values.values()):
            continue
        methods.append({"method": name, "label": label, **values, "users": figures.get(f"{name}.users")})
    return {"users": figures.get("users.report"), "ratio_to_ease": figures.get("ratio.best_level_to_ease"),
            "methods": methods}


def evaluation_trend(lake: Lake, night: PublishedNight, limit: int = TREND_NIGHTS) -> dict:
    """recall@10 of every method over the last ``limit`` published nights up to this one."""
    nights = [other for other in published_nights(lake) if other.ds <= night.ds][-limit:]
    series = {name: [] for name, _ in METHODS}
    for other in nights:
        figures = evaluation(other.metrics)
        for name, values in series.items():
            values.append(figures.get(f"{name}.recall_at_10"))
    return {
        "nights": [other.ds for other in nights], "metric": "recall_at_10",
        "series": [{"method": name, "label": label, "values": series[name]} for name, label in METHODS
                   if any(value is not None for value in series[name])],
    }


def failed_attempts(attempts: list[dict], limit: int = LISTED_ATTEMPTS) -> list[dict]:
    """Publish attempts that did not publish (failed gate or only staged), newest first, with their failed checks."""
    failed = [row for row in attempts if row["status"] != PUBLISHED][::-1][:limit]
    return [
        {"ds": row["ds"], "run_id": row["run_id"], "status": row["status"], "at": _iso(row["published_at"]),
         "failed_checks": [check for check in _checks(row) if not check["passed"]]}
        for row in failed
    ]


# ---------------------------------------------------------------- helpers


def _attempt_of(attempts: list[dict], night: PublishedNight) -> dict | None:
    for row in attempts:
        if row["ds"] == night.ds and row["run_id"] == night.run_id and row["status"] == PUBLISHED:
            return row
    return None


def _checks(attempt: dict) -> list[dict]:
    try:
        checks = json.loads(attempt.get("quality_checks") or "[]")
    except json.JSONDecodeError:
        return [{"table": "", "check": "quality_checks", "passed": False,
                 "detail": f"not JSON: {attempt['quality_checks'][:200]}"}]
    return [{"table": str(check.get("table", "")), "check": str(check.get("check", "")),
             "passed": bool(check.get("passed")), "detail": str(check.get("detail", ""))} for check in checks]


def _labels(topics: pa.Table) -> dict[str, str]:
    return dict(zip(topics.column("node_id").to_pylist(), topics.column("label").to_pylist(), strict=True))


def _value_counts(values: pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
    return {entry["values"]: entry["counts"] for entry in counts.to_pylist()}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _read_ids(lake: Lake, night: PublishedNight, spec: TableSpec, columns: list[str], key: str,
              ids: list[str]) -> pa.Table:
    """The night's rows whose ``key`` is one of ``ids``, filtered while scanning (only those rows are held)."""
    import pyarrow.dataset as ds_module
    from deltalake import DeltaTable

    if not ids or not lake.exists(spec):
        return pa.schema([spec.schema.field(name) for name in columns]).empty_table()
    path = lake.path(spec)
    filesystem = None
    if is_local(path):
        # The same local filesystem Lake.read uses (a Python one can abort the interpreter at exit).
        from pyarrow import fs

        filesystem = fs.SubTreeFileSystem(str(Path(path).resolve()), fs.LocalFileSystem())
    wanted = ds_module.field(key).isin(pa.array(ids, type=spec.schema.field(key).type))
    return DeltaTable(str(path), version=night.version_of(spec)).to_pyarrow_table(
        partitions=[("ds", "=", night.ds)], columns=columns, filesystem=filesystem, filters=wanted,
    )
