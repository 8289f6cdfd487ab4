"""Fault: several processes register nights in one fresh MLflow sqlite registry at the same moment.

A backfill runs nights side by side, and the first night of a deployment finds no registry yet.
Each process runs the real ``register_night`` then ``mark_gate_result`` (as the publish job does)
against the same ``sqlite:///`` store; the model directory is a small stand-in folder (the pyfunc
only copies it as an artifact), so the registry, not the encoder, is what is exercised.

What must hold: every process succeeds (no migration race, no "database is locked"); hierarchy
versions are unique, one per night; the encoder is registered once for its model_version; the
``production`` alias names the newest ds's hierarchy and the encoder, ``candidate`` names a
registered version.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

NIGHTS = ("2026-11-11", "2026-11-12", "2026-11-13")
MODEL_VERSION = "fault-test-model-v1"


def _register(root: str, ds: str, start_at: float, results) -> None:
    """One publish's registration, started at ``start_at`` so that all processes race."""
    import pyarrow as pa

    from interests.catalog import TOPICS
    from interests.publishing.mlflow_models import mark_gate_result, register_night

    topics = pa.Table.from_pylist([
        {"ds": ds, "level": level, "node_id": node, "parent_id": parent, "label": node, "keywords": [],
         "centroid": centroid, "size": 1, "medoid_item_id": "i0"}
        for level, node, parent, centroid in (
            ("topic", "t000", None, [1.0, 0.0]), ("topic", "t001", None, [0.0, 1.0]),
            ("subinterest", "t000.s00", "t000", [1.0, 0.0]), ("subinterest", "t001.s00", "t001", [0.0, 1.0]),
        )
    ], schema=TOPICS.schema)
    uri = f"sqlite:///{root}/mlflow/mlflow.db"
    while time.time() < start_at:
        time.sleep(0.01)
    try:
        registered = register_night(
            uri, Path(root) / "artifacts", ds, f"run-{ds}", Path(root) / "model", MODEL_VERSION, {"batch_size": 8},
            topics, {"ds": ds}, {"rows.topics": 4.0}, {"topics": 1}, "test",
        )
        mark_gate_result(uri, registered, passed=True)
        results.put((ds, "ok", registered))
    except BaseException as error:  # noqa: BLE001 - reported to the test, which names it
        results.put((ds, "error", f"{type(error).__name__}: {error}"[:500]))


def test_concurrent_registrations_get_unique_versions_and_the_right_aliases(tmp_path):
    from mlflow import MlflowClient

    from interests.publishing.mlflow_models import (
        CANDIDATE,
        ENCODER_MODEL_NAME,
        HIERARCHY_MODEL_NAME,
        PRODUCTION,
        alias_versions,
    )

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text('{"stand_in": true}')
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 15  # every process has imported mlflow by then, even on a busy machine
    processes = [context.Process(target=_register, args=(str(tmp_path), ds, start_at, results)) for ds in NIGHTS]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)

    failed = [outcome for outcome in outcomes if outcome[1] != "ok"]
    assert not failed, failed
    registered = {ds: result for ds, _, result in outcomes}
    hierarchy = [result[HIERARCHY_MODEL_NAME] for result in registered.values()]
    assert sorted(hierarchy, key=int) == [str(n) for n in range(1, len(NIGHTS) + 1)]  # unique, none lost
    assert {result[ENCODER_MODEL_NAME] for result in registered.values()} == {"1"}

    uri = f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    encoders = client.search_model_versions(f"name = '{ENCODER_MODEL_NAME}'")
    assert [version.tags.get("model_version") for version in encoders] == [MODEL_VERSION]  # registered once
    for ds, result in registered.items():
        tags = client.get_model_version(HIERARCHY_MODEL_NAME, result[HIERARCHY_MODEL_NAME]).tags
        assert (tags["ds"], tags["gate"]) == (ds, "passed")
    newest = registered[max(NIGHTS)]
    assert alias_versions(uri, PRODUCTION) == {
        ENCODER_MODEL_NAME: "1", HIERARCHY_MODEL_NAME: newest[HIERARCHY_MODEL_NAME],
    }
    assert alias_versions(uri, CANDIDATE)[HIERARCHY_MODEL_NAME] in hierarchy
