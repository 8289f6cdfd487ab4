"""The night's gate on a tiny lake, read into Spark: a good night passes every check, each kind of bad
night fails the check that exists to catch it, and the publish job fails such a night with exit 2.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from interests.catalog import (
    EVENTS_CLEAN,
    ITEM_EMBEDDINGS,
    PIPELINE_RUNS,
    TOPICS,
    USER_EMBEDDINGS,
    USER_SUBINTERESTS,
    USER_TOPICS,
    TableSpec,
)
from interests.config import QualityConfig
from interests.errors import EXIT_BAD_INPUT
from interests.lake import Lake
from interests.publishing.gate import night_checks
from interests.runtime import run_job

ROOT = Path(__file__).resolve().parents[2]
DS, OTHER_DS = "2026-11-20", "2026-11-19"
RETRIEVAL_DIM, TEXT_DIM = 3, 2
STAGE_COUNTS = {"clean_events.events.raw": 3, "clean_events.events.clean": 2, "clean_events.events.rejected": 1}
NAN = float("nan")

Rows = dict[str, list[dict]]


def good_night() -> Rows:
    """Two items under two topics, two users with weighted topics and sub-interests: every check passes."""
    topic, sub = ("t000", "t001"), ("t000.s00", "t001.s00")
    return {
        EVENTS_CLEAN.name: [
            {"event_id": f"e{n}", "user_id": "u1", "item_id": "i0", "event_type": "click", "event_ts": 0, "source_file": "f"}
            for n in range(2)
        ],
        ITEM_EMBEDDINGS.name: [
            {"item_id": f"i{n}", "embedding": [1.0, 0.0, 0.0] if n else [0.0, 0.6, 0.8], "text_embedding": [0.6, 0.8],
             "factors_source": "als", "topic_id": topic[n], "subinterest_id": sub[n], "model_version": "m", "text_hash": "h"}
            for n in range(2)
        ],
        TOPICS.name: [
            {"level": level, "node_id": node, "parent_id": parent, "label": node, "keywords": [], "centroid": [0.0, 1.0],
             "size": 1, "medoid_item_id": "i0"}
            for level, node, parent in (("topic", "t000", None), ("topic", "t001", None),
                                        ("subinterest", "t000.s00", "t000"), ("subinterest", "t001.s00", "t001"))
        ],
        USER_EMBEDDINGS.name: [
            {"user_id": user, "embedding": [0.0, 0.0, 1.0], "n_engagements": 1, "n_items": 1, "n_texts": 0,
             "engagement_weight": 1.0, "vector_source": "events", "vector_mass": 1.0, "half_life_days": 7.0}
            for user in ("u1", "u2")
        ],
        USER_TOPICS.name: [
            {"user_id": user, "topic_id": node, "weight": weight, "embedding": [0.0, 1.0, 0.0], "n_engagements": 1}
            for user, node, weight in (("u1", "t000", 0.4), ("u1", "t001", 0.6), ("u2", "t000", 1.0))
        ],
        USER_SUBINTERESTS.name: [
            {"user_id": user, "subinterest_id": node, "topic_id": node[:4], "weight": weight, "embedding": [0.0, 1.0, 0.0],
             "n_engagements": 1, "medoid_item_id": "i0"}
            for user, node, weight in (("u1", "t000.s00", 0.4), ("u1", "t001.s00", 0.6), ("u2", "t000.s00", 1.0))
        ],
    }


SPECS: dict[str, TableSpec] = {
    spec.name: spec for spec in (EVENTS_CLEAN, ITEM_EMBEDDINGS, TOPICS, USER_EMBEDDINGS, USER_TOPICS, USER_SUBINTERESTS)
}


def write_night(lake: Lake, rows: Rows, ds: str = DS) -> None:
    for name, table_rows in rows.items():
        spec = SPECS[name]
        lake.write_partition(spec, ds, pa.Table.from_pylist([{"ds": ds, **row} for row in table_rows], schema=spec.schema))


def set_value(table: str, index: int, column: str, value) -> Callable[[Rows], None]:
    def damage(rows: Rows) -> None:
        rows[table][index][column] = value

    return damage


def drop_row(table: str, index: int) -> Callable[[Rows], None]:
    return lambda rows: rows[table].pop(index)


def drop_table(table: str) -> Callable[[Rows], None]:
    return lambda rows: rows.pop(table)


def failures(checks) -> set[tuple[str, str]]:
    return {(check.table, check.check) for check in checks if not check.passed}


@pytest.fixture
def lake(spark, tmp_path) -> Lake:
    return Lake(tmp_path / "lake", engine="delta-rs", spark=spark)


def run_gate(lake: Lake, quality: QualityConfig | None = None):
    return night_checks(lake, DS, quality or QualityConfig(), RETRIEVAL_DIM, TEXT_DIM, STAGE_COUNTS)


@pytest.mark.parametrize("engine", ["delta-rs", "delta-spark"])
def test_a_good_night_passes_every_check(lake, spark, engine):
    write_night(lake, good_night())
    write_night(lake, good_night(), OTHER_DS)  # another night's rows are not this night's
    # The gate reads with the engine the night runs on (the tables are the same Delta tables;
    # delta-spark reads them through the Delta log on Spark, delta-rs picks their Parquet files).
    checks = run_gate(Lake(lake.root, engine=engine, spark=spark))
    assert failures(checks) == set()
    details = {(check.table, check.check): check.detail for check in checks}
    assert len(details) == len(checks) == 34  # every table's every check, once
    assert details[("events_clean", "min_rows")] == "2 rows (min 1)"
    assert details[("user_topics", "min_rows")] == "3 rows (min 0)"
    assert details[("item_embeddings.text_embedding", "embedding_dimension")] == "0 rows not of dim 2"
    assert details[("topics", "embedding_unit_norm")] == "max |norm-1| = 0.00e+00 (tol 0.001)"
    assert details[("item_embeddings", "subinterest_under_topic")] == (
        "0 items whose sub-interest is unknown or under another topic"
    )
    assert details[("user_subinterests", "weights_sum_to_one")] == "max |sum-1| = 0.00e+00"


@pytest.mark.parametrize(
    ("damage", "failing"),
    [
        (set_value("user_embeddings", 0, "embedding", [NAN, 0.0, 0.0]), {("user_embeddings", "embedding_finite")}),
        (set_value("user_topics", 1, "embedding", [0.0, 0.0, 0.0, 1.0]), {("user_topics", "embedding_dimension")}),
        (set_value("item_embeddings", 0, "text_embedding", [1.0, 0.0, 0.0]),
         {("item_embeddings.text_embedding", "embedding_dimension")}),
        (set_value("user_subinterests", 2, "embedding", [0.5, 0.0, 0.0]), {("user_subinterests", "embedding_unit_norm")}),
        (set_value("topics", 0, "centroid", [0.0, 2.0]), {("topics", "embedding_unit_norm")}),
        (drop_row("topics", 3), {("item_embeddings", "subinterest_under_topic")}),  # item i1's sub-interest is gone
        (drop_row("topics", 1), {("item_embeddings", "topic_exists")}),  # i1's sub-interest still names t001
        (set_value("item_embeddings", 1, "subinterest_id", "t000.s00"), {("item_embeddings", "subinterest_under_topic")}),
        (set_value("user_topics", 1, "weight", 0.5), {("user_topics", "weights_sum_to_one")}),
        (drop_row("user_subinterests", 0), {("user_subinterests", "weights_sum_to_one")}),  # u1 keeps 0.6
        (drop_table("user_embeddings"), {("user_embeddings", "min_rows")}),  # never written
        (drop_table("events_clean"), {("events_clean", "min_rows")}),  # written for another night only
    ],
    ids=["nan_user_vector", "wrong_user_topic_dimension", "wrong_text_dimension", "non_unit_subinterest_vector",
         "non_unit_centroid", "orphan_subinterest", "unknown_topic", "subinterest_under_another_topic",
         "weights_not_summing_to_one", "weights_of_a_user_missing", "no_users", "no_events"],
)
def test_a_bad_night_fails_the_check_for_it(lake, damage, failing):
    rows = good_night()
    damage(rows)
    write_night(lake, rows)
    if EVENTS_CLEAN.name not in rows:
        write_night(lake, {EVENTS_CLEAN.name: good_night()[EVENTS_CLEAN.name]}, OTHER_DS)
    assert failures(run_gate(lake)) == failing


def test_min_items_and_min_users_come_from_the_config(lake):
    write_night(lake, good_night())
    checks = run_gate(lake, QualityConfig(min_items=3, min_users=2))
    assert failures(checks) == {("item_embeddings", "min_rows")}


def _publish_body():
    spec = importlib.util.spec_from_file_location("jobs_publish", ROOT / "jobs" / "publish.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.publish


def test_the_publish_job_records_a_failed_gate_and_exits_2(spark, tmp_path, monkeypatch):
    root = tmp_path / "lake"
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(root))
    monkeypatch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(tmp_path / "landing"))
    lake = Lake(root)
    write_night(lake, good_night())  # vectors of 3 and 2 dims, not the configured model's widths

    assert run_job("publish", _publish_body(), ["--ds", DS, "--run-id", "r1"], stop_spark=False) == EXIT_BAD_INPUT

    run = lake.read(PIPELINE_RUNS, ds=DS).to_pylist()
    assert [(row["run_id"], row["status"], row["quality_passed"]) for row in run] == [("r1", "failed_quality", False)]
    assert dict(run[0]["row_counts"])["user_topics"] == 3
    # The night was registered as the candidate before its gate ran; production never moved to it.
    from interests.config import load_config
    from interests.publishing.mlflow_models import (
        CANDIDATE,
        HIERARCHY_MODEL_NAME,
        PRODUCTION,
        alias_versions,
    )

    registered = dict(run[0]["registered_models"])
    uri = load_config().mlflow_uri
    assert alias_versions(uri, CANDIDATE)[HIERARCHY_MODEL_NAME] == registered[HIERARCHY_MODEL_NAME]
    assert alias_versions(uri, PRODUCTION) == {}
    failed = {(check["table"], check["check"]) for check in json.loads(run[0]["quality_checks"]) if not check["passed"]}
    assert ("item_embeddings", "embedding_dimension") in failed and ("events_clean", "conservation") in failed
