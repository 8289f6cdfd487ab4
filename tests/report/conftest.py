"""A published lake for the report: the support lake's nights plus one whose churn is known row by row."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
from published_lake import build_published_lake

from interests.catalog import (
    ITEM_EMBEDDINGS,
    ITEMS,
    PIPELINE_RUNS,
    TOPICS,
    USER_EMBEDDINGS,
    USER_SUBINTERESTS,
    USER_TOPICS,
)
from interests.lake import Lake
from interests.publishing.nights import publish_attempts, resolve_night

CHANGED_DS = "2026-11-21"
"""Published after the failed 2026-11-20, from 2026-11-19's rows with the changes below."""
MOVED_ITEMS = ("t0.s0.i0", "t0.s0.i1", "t0.s0.i2")  # t0 -> t1 (sub-interest t0.s0 -> t1.s0)
GONE_ITEMS = ("t2.s1.i8", "t2.s1.i9")
NEW_ITEMS = tuple(f"t2.s1.new{k}" for k in range(4))
GONE_USER, NEW_USER, SWAPPED_USER = "u11", "u99", "u00"  # u00's top topic turns from t0 to t1
NASTY_LABEL = 'jazz <piano> & "blues"'
CHANGED_RECALL = 0.40


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: opens a page in headless Chromium (make browser installs it)")


def _changed_rows(lake: Lake) -> dict[str, list[dict]]:
    base = resolve_night(lake, "2026-11-19")
    rows = {spec.name: base.read(lake, spec).to_pylist()
            for spec in (ITEMS, ITEM_EMBEDDINGS, TOPICS, USER_EMBEDDINGS, USER_TOPICS, USER_SUBINTERESTS)}
    for table_rows in rows.values():
        for row in table_rows:
            row["ds"] = CHANGED_DS

    def items(table: list[dict]) -> list[dict]:
        template = next(row for row in table if row["item_id"] == "t2.s1.i0")
        kept = [row for row in table if row["item_id"] not in GONE_ITEMS]
        return kept + [{**template, "item_id": item_id} for item_id in NEW_ITEMS]

    rows[ITEMS.name] = items(rows[ITEMS.name])
    rows[ITEM_EMBEDDINGS.name] = items(rows[ITEM_EMBEDDINGS.name])
    for row in rows[ITEM_EMBEDDINGS.name]:
        if row["item_id"] in MOVED_ITEMS:
            row["topic_id"], row["subinterest_id"] = "t1", "t1.s0"
    sizes = {"t0": 17, "t1": 23, "t2": 22, "t0.s0": 7, "t1.s0": 13, "t2.s1": 12}
    for row in rows[TOPICS.name]:
        row["size"] = sizes.get(row["node_id"], row["size"])
        if row["node_id"] == "t2":
            row["label"] = NASTY_LABEL

    def users(table: list[dict]) -> list[dict]:
        kept = [row for row in table if row["user_id"] != GONE_USER]
        return kept + [{**row, "user_id": NEW_USER} for row in table if row["user_id"] == "u10"]

    for spec in (USER_EMBEDDINGS, USER_TOPICS, USER_SUBINTERESTS):
        rows[spec.name] = users(rows[spec.name])
    for row in rows[USER_EMBEDDINGS.name]:
        if row["user_id"] == NEW_USER:
            row["n_engagements"] = 99  # the most active user of the night
    for spec in (USER_TOPICS, USER_SUBINTERESTS):
        for row in rows[spec.name]:
            if row["user_id"] == SWAPPED_USER:
                row["weight"] = 1 - row["weight"]  # 2/3 <-> 1/3
    return rows


def publish_changed_night(lake: Lake) -> None:
    """Publish CHANGED_DS: 3 items moved topic, 2 gone, 4 new, one user gone, one new, one top topic changed."""
    specs = {spec.name: spec for spec in (ITEMS, ITEM_EMBEDDINGS, TOPICS, USER_EMBEDDINGS, USER_TOPICS,
                                          USER_SUBINTERESTS)}
    versions = {
        name: lake.write_partition(specs[name], CHANGED_DS, pa.Table.from_pylist(table_rows, schema=specs[name].schema))
        for name, table_rows in _changed_rows(lake).items()
    }
    row = next(r for r in publish_attempts(lake, "2026-11-19") if r["status"] == "published")
    metrics = dict(row["metrics"])
    metrics["build_hierarchy.evaluation.user.recall_at_10"] = CHANGED_RECALL
    checks = [
        {"table": "item_embeddings", "check": "embedding_unit_norm", "passed": True, "detail": "max |norm-1| < <tol>"},
        {"table": "topics", "check": "min_rows", "passed": True, "detail": "9 rows (min 1)"},
    ]
    row.update(ds=CHANGED_DS, run_id=f"scheduled__{CHANGED_DS}", published_at=datetime(2030, 1, 2, tzinfo=UTC),
               table_versions=sorted(versions.items()), metrics=sorted(metrics.items()),
               row_counts=sorted(dict(row["row_counts"]).items()), stage_counts=sorted(dict(row["stage_counts"]).items()),
               registered_models=sorted(dict(row["registered_models"]).items()), quality_checks=json.dumps(checks))
    lake.write_partition(PIPELINE_RUNS, CHANGED_DS, pa.Table.from_pylist([row], schema=PIPELINE_RUNS.schema),
                         where={"run_id": row["run_id"]})


@pytest.fixture
def changes() -> SimpleNamespace:
    """What CHANGED_DS changed, for the tests to expect (conftest modules cannot be imported)."""
    return SimpleNamespace(
        ds=CHANGED_DS, moved_items=MOVED_ITEMS, gone_items=GONE_ITEMS, new_items=NEW_ITEMS, gone_user=GONE_USER,
        new_user=NEW_USER, swapped_user=SWAPPED_USER, nasty_label=NASTY_LABEL, recall=CHANGED_RECALL,
    )


@pytest.fixture(scope="module")
def report_lake(tmp_path_factory) -> Lake:
    """Published 2026-11-18 and -19, failed 2026-11-20, published CHANGED_DS (module-scoped: read only)."""
    root: Path = tmp_path_factory.mktemp("report-lake")
    build_published_lake(root)
    lake = Lake(root)
    publish_changed_night(lake)
    return lake
