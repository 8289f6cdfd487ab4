"""One whole night on a tiny generated landing zone: real Spark, Delta, MLflow and the real model.

The four jobs run in-process on the shared test SparkSession (the DAG test runs them as separate
processes through Airflow). Then the night runs again and every table must come out identical.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from interests.catalog import OUTPUT_TABLES, PIPELINE_RUNS, TEXT_EMBEDDINGS, embedding_matrix, table
from interests.config import load_config
from interests.evaluation import read_truth_items, topic_recovery
from interests.lake import Lake
from interests.runtime import run_job
from interests.synthetic.cli import main as generate

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DS = "2026-11-20"
PREVIOUS_DS = "2026-11-19"
JOBS = ("clean_events", "encode_texts", "learn_behaviour", "build_hierarchy", "publish")
# The tiny preset plants 4 topics x 3 sub-interests; the night is configured to look for as many
# (the default config chooses the counts from the data: tests/hierarchy cover that criterion).
TINY_ENV = {"INTERESTS_HIERARCHY__N_TOPICS": "4", "INTERESTS_HIERARCHY__N_SUBINTERESTS": "12"}
RETRIEVAL_DIM = 64 + 384 + 1  # max(behaviour.ranks) + encoder dimension + slack
TEXT_DIM = 384
# Measured on the tiny preset (242 items): topic NMI 1.00 and sub-interest NMI 1.00 (2026-11-24);
# the small preset of `make run` gave 0.930 / 0.982. The bars leave room for BLAS/k-means
# differences between machines, not for a regression to a different clustering.
MIN_TOPIC_NMI = 0.95
MIN_SUBINTEREST_NMI = 0.95


def _job_body(name: str):
    spec = importlib.util.spec_from_file_location(f"jobs_{name}", ROOT / "jobs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    attributes = {"clean_events": "clean", "encode_texts": "encode", "learn_behaviour": "learn", "build_hierarchy": "build",
                  "publish": "publish"}
    return attributes[name], module


def run_night(ds: str, run_id: str) -> None:
    for name in JOBS:
        attribute, module = _job_body(name)
        code = run_job(name, getattr(module, attribute), ["--ds", ds, "--run-id", run_id], stop_spark=False)
        assert code == 0, f"{name} exited {code}"


def snapshot(lake: Lake, ds: str) -> dict[str, pa.Table]:
    tables = {name: lake.read(table(name), ds=ds) for name in OUTPUT_TABLES}
    tables["text_embeddings"] = lake.read(TEXT_EMBEDDINGS)
    return {name: t.sort_by([(c, "ascending") for c in table(name).key]) for name, t in tables.items()}


@pytest.fixture(scope="module")
def night(tmp_path_factory, spark):
    """Generate the tiny preset, run the night twice; yield what the checks need."""
    root = tmp_path_factory.mktemp("night")
    landing, truth, lake_root = root / "landing", root / "truth", root / "lake"
    assert generate(["--preset", "tiny", "--end", DS, "--landing", str(landing), "--truth", str(truth)]) == 0
    patch = pytest.MonkeyPatch()
    env = {"INTERESTS_PATHS__LANDING_ROOT": str(landing), "INTERESTS_PATHS__LAKE_ROOT": str(lake_root), **TINY_ENV}
    for key, value in env.items():
        patch.setenv(key, value)
    config = load_config()
    lake = Lake(lake_root)
    # The night before first, so DS folds its snapshots from yesterday's and reads two days of events.
    run_night(PREVIOUS_DS, "previous")
    run_night(DS, "first")
    first = snapshot(lake, DS)
    versions = {name: lake.version(table(name)) for name in first}
    run_night(DS, "second")
    second = snapshot(lake, DS)
    yield {
        "config": config, "lake": lake, "truth": truth, "landing": landing,
        "first": first, "second": second, "versions": versions,
    }
    patch.undo()


def test_row_counts_add_up(night):
    dirt = json.loads((night["truth"] / "dirt" / f"ds={DS}.json").read_text())
    first, lake = night["first"], night["lake"]
    events_rejected = first["events_rejected"].filter(pc.equal(first["events_rejected"]["source"], "events"))
    run = lake.read(PIPELINE_RUNS, ds=DS, filters=[("run_id", "=", "first")]).to_pylist()[0]
    stage = dict(run["stage_counts"])
    duplicates = stage["clean_events.events.duplicate"]
    assert dirt["raw_lines"] == first["events_clean"].num_rows + events_rejected.num_rows + duplicates
    assert stage["clean_events.events.raw"] == dirt["raw_lines"]
    assert first["events_clean"].num_rows == dirt["expected_clean"]
    assert duplicates == dirt["expected_duplicates"]
    # DS lands a replayed file of PREVIOUS_DS (cleaned the night before): earlier-day duplicates, never clean.
    assert dirt["expected_duplicates_earlier_day"] > 0
    assert stage.get("clean_events.events.duplicate.earlier_day", 0) == dirt["expected_duplicates_earlier_day"]
    assert stage.get("clean_events.events.duplicate.same_day", 0) == dirt["expected_duplicates_same_day"]
    reasons = events_rejected.group_by("reason").aggregate([("reason", "count")]).to_pylist()
    assert any(reason.startswith("wrong_type_") for reason in dirt["expected_rejected"])  # exact per reason below
    assert {row["reason"]: row["reason_count"] for row in reasons} == dirt["expected_rejected"]
    assert run["status"] == "published" and run["quality_passed"]


def test_embeddings_have_their_space_dimension_and_unit_norm(night):
    for name, column, dim in (
        ("item_embeddings", "embedding", RETRIEVAL_DIM), ("user_embeddings", "embedding", RETRIEVAL_DIM),
        ("user_topics", "embedding", RETRIEVAL_DIM), ("user_subinterests", "embedding", RETRIEVAL_DIM),
        ("item_embeddings", "text_embedding", TEXT_DIM), ("topics", "centroid", TEXT_DIM),
        ("text_embeddings", "embedding", TEXT_DIM),
    ):
        values = night["first"][name].column(column).combine_chunks()
        assert len(values) > 0, name
        assert set(pc.list_value_length(values).to_pylist()) == {dim}, (name, column)
        matrix = embedding_matrix(values, np.float64)
        np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5, err_msg=name)


def test_every_item_has_topic_and_subinterest(night):
    first = night["first"]
    items = first["item_embeddings"]
    assert items.num_rows == first["items"].num_rows
    assert items["topic_id"].null_count == 0 and items["subinterest_id"].null_count == 0
    subinterests = first["topics"].filter(pc.equal(first["topics"]["level"], "subinterest"))
    parent = dict(zip(subinterests["node_id"].to_pylist(), subinterests["parent_id"].to_pylist()))
    assert all(parent[s] == t for t, s in zip(items["topic_id"].to_pylist(), items["subinterest_id"].to_pylist()))


def test_planted_topics_are_recovered(night):
    scores = topic_recovery(night["first"]["item_embeddings"], read_truth_items(night["truth"]))
    assert scores["topic_nmi"] > MIN_TOPIC_NMI, scores
    assert scores["subinterest_nmi"] > MIN_SUBINTEREST_NMI, scores


def test_users_have_three_granularities(night):
    first = night["first"]
    users = set(first["user_embeddings"]["user_id"].to_pylist())
    assert users >= set(first["user_topics"]["user_id"].to_pylist())
    assert users >= set(first["user_subinterests"]["user_id"].to_pylist())
    engaged = set(first["events_clean"]["user_id"].to_pylist())
    assert len(set(first["user_topics"]["user_id"].to_pylist()) & engaged) > 0.5 * len(engaged)


def _differences(first: pa.Table, second: pa.Table) -> list[str]:
    """What differs between two readings of a table: per column, how many rows and by how much."""
    if first.schema != second.schema or first.num_rows != second.num_rows:
        return [f"schema or row count ({first.num_rows} -> {second.num_rows} rows)"]
    found = []
    for column in first.column_names:
        before, after = first.column(column), second.column(column)
        if before.equals(after):
            continue
        if pa.types.is_list(before.type) and pa.types.is_floating(before.type.value_type):
            gap = np.abs(embedding_matrix(before, np.float64) - embedding_matrix(after, np.float64))
            rows = np.flatnonzero(gap.max(axis=1) > 0)
            key = first.column(1).take(pa.array(rows[:5])).to_pylist()
            found.append(f"{column}: {len(rows)} of {first.num_rows} rows, max |diff| {gap.max():.1e}, e.g. {key}")
        else:
            found.append(f"{column}: {pc.sum(pc.invert(pc.equal(before, after))).as_py()} rows")
    return found


def test_second_run_leaves_identical_tables(night):
    changed = {name: _differences(table_first, night["second"][name]) for name, table_first in night["first"].items()}
    assert not {name: found for name, found in changed.items() if found}, "tables changed on rerun"
    assert night["second"]["text_embeddings"].num_rows == night["first"]["text_embeddings"].num_rows


def test_second_run_encoded_nothing(night):
    runs = night["lake"].read(PIPELINE_RUNS, ds=DS, filters=[("run_id", "=", "second")]).to_pylist()
    stage = dict(runs[0]["stage_counts"])
    assert stage["encode_texts.texts.encoded"] == 0
    assert stage["encode_texts.texts.cached"] == stage["encode_texts.texts.distinct"] > 0


def _landed(landing: Path, source: str, last_ds: str) -> list[dict]:
    rows = []
    for folder in sorted((landing / source).glob("ds=*")):
        if folder.name[3:] <= last_ds:
            for path in sorted(folder.glob("*.jsonl")):
                rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def test_snapshots_fold_yesterdays_snapshot_with_todays_landing(night):
    """items / user_texts of DS (folded from PREVIOUS_DS's snapshot) cover everything landed up to DS."""
    first, landing = night["first"], night["landing"]
    landed_items = _landed(landing, "items", DS)
    assert first["items"].num_rows == len({row["item_id"] for row in landed_items})
    newest = {}
    for row in sorted(landed_items, key=lambda r: r["updated_at"]):
        newest[row["item_id"]] = row["title"]
    assert dict(zip(first["items"]["item_id"].to_pylist(), first["items"]["title"].to_pylist())) == newest
    landed_texts = _landed(landing, "user_texts", DS)
    assert first["user_texts"].num_rows == len({(row["user_id"], row["text"].strip()) for row in landed_texts})
    previous = night["lake"].read(table("items"), ds=PREVIOUS_DS)
    assert 0 < previous.num_rows < first["items"].num_rows  # DS landed new items on top


def test_user_vectors_use_the_lookback_window(night):
    """Users active only on PREVIOUS_DS still have DS vectors (two days of events_clean are read)."""
    lake = night["lake"]
    previous_users = set(lake.read(table("events_clean"), ds=PREVIOUS_DS)["user_id"].to_pylist())
    today_users = set(night["first"]["events_clean"]["user_id"].to_pylist())
    only_yesterday = previous_users - today_users
    assert only_yesterday
    with_topics = set(night["first"]["user_topics"]["user_id"].to_pylist())
    assert len(only_yesterday & with_topics) > 0.9 * len(only_yesterday)


def test_registered_models_load_from_mlflow_and_reproduce_the_tables(night):
    """models:/interests-encoder and models:/interests-hierarchy are real, loadable pyfunc models."""
    import mlflow

    first, config = night["first"], night["config"]
    run = night["lake"].read(PIPELINE_RUNS, ds=DS, filters=[("run_id", "=", "first")]).to_pylist()[0]
    registered = dict(run["registered_models"])
    mlflow.set_tracking_uri(config.mlflow_uri)
    mlflow.set_registry_uri(config.mlflow_uri)

    hierarchy = mlflow.pyfunc.load_model(f"models:/interests-hierarchy/{registered['interests-hierarchy']}")
    items = first["item_embeddings"]
    predicted = hierarchy.predict(items["text_embedding"].to_pylist())
    topic_agreement = np.mean(np.asarray(predicted["topic_id"]) == np.asarray(items["topic_id"].to_pylist()))
    sub_agreement = np.mean(np.asarray(predicted["subinterest_id"]) == np.asarray(items["subinterest_id"].to_pylist()))
    assert topic_agreement > 0.95 and sub_agreement > 0.95, (topic_agreement, sub_agreement)

    encoder = mlflow.pyfunc.load_model(f"models:/interests-encoder/{registered['interests-encoder']}")
    sample = first["items"].slice(0, 5)
    vectors = np.asarray(encoder.predict(sample["text"].to_pylist()), dtype=np.float64)
    stored = first["item_embeddings"].sort_by("item_id")
    position = {item: i for i, item in enumerate(stored["item_id"].to_pylist())}
    expected = embedding_matrix(stored["text_embedding"].take([position[i] for i in sample["item_id"].to_pylist()]), np.float64)
    np.testing.assert_allclose(np.sum(vectors * expected, axis=1), 1.0, atol=1e-4)


def _metrics(night, run_id: str = "first") -> dict[str, float]:
    run = night["lake"].read(PIPELINE_RUNS, ds=DS, filters=[("run_id", "=", run_id)]).to_pylist()[0]
    return dict(run["metrics"])


def test_every_item_has_behaviour_factors_learned_or_predicted(night):
    first = night["first"]
    factors = first["item_factors"]
    assert factors.num_rows == first["items"].num_rows
    sources = dict(zip(factors["item_id"].to_pylist(), factors["factors_source"].to_pylist()))
    engaged = set(first["events_clean"]["item_id"].drop_null().to_pylist())
    # An item engaged with tonight has learned factors; an item nobody engaged with has predicted ones.
    assert all(sources[item] == "engagement" for item in engaged if item in sources)
    assert "text" in set(sources.values()) or len(engaged) >= factors.num_rows
    assert factors["validation_factors"].null_count == 0  # two days of events: a time split exists
    items = first["item_embeddings"]
    assert dict(zip(items["item_id"].to_pylist(), items["factors_source"].to_pylist())) == sources


def test_tuning_grid_is_recorded_with_one_choice(night):
    tuning = night["first"]["behaviour_tuning"]
    config = night["config"].behaviour
    expected = len(config.ranks) * len(config.regularizations) * len(config.text_weights) * len(config.half_lives_days)
    assert tuning.num_rows == expected
    assert tuning["chosen"].to_pylist().count(True) == 1
    chosen = tuning.filter(tuning["chosen"]).to_pylist()[0]
    assert chosen["recall_at_10"] == max(tuning["recall_at_10"].to_pylist())
    metrics = _metrics(night)
    assert metrics["learn_behaviour.chosen.text_weight"] == chosen["text_weight"]
    assert 0.0 < metrics["learn_behaviour.text_mapping.cosine"] <= 1.0


def test_night_evaluates_itself_against_baselines(night):
    metrics = _metrics(night)
    prefix = "build_hierarchy.evaluation."
    for method in ("user", "subinterest", "popular", "text", "ease"):
        for metric in ("recall_at_10", "recall_at_50", "ndcg_at_10"):
            assert 0.0 <= metrics[f"{prefix}{method}.{metric}"] <= 1.0, (method, metric)
    assert metrics[f"{prefix}users.report"] >= 10
    best = max(metrics[f"{prefix}user.recall_at_10"], metrics[f"{prefix}subinterest.recall_at_10"])
    assert best > metrics[f"{prefix}popular.recall_at_10"]


def test_topics_have_medoids_among_their_members(night):
    first = night["first"]
    items = first["item_embeddings"]
    members = {}
    for item, topic, sub in zip(items["item_id"].to_pylist(), items["topic_id"].to_pylist(), items["subinterest_id"].to_pylist()):
        members.setdefault(topic, set()).add(item)
        members.setdefault(sub, set()).add(item)
    for row in first["topics"].to_pylist():
        assert row["medoid_item_id"] in members[row["node_id"]], row["node_id"]
        assert row["size"] == len(members[row["node_id"]])


def test_user_subinterest_medoid_is_an_engaged_item_of_that_subinterest(night):
    first = night["first"]
    subinterest_of = dict(zip(first["item_embeddings"]["item_id"].to_pylist(),
                              first["item_embeddings"]["subinterest_id"].to_pylist()))
    rows = first["user_subinterests"].to_pylist()
    assert rows
    engaged: dict[str, set] = {}
    lake = night["lake"]
    for ds in (PREVIOUS_DS, DS):
        events = lake.read(table("events_clean"), ds=ds, columns=["user_id", "item_id"])
        for user, item in zip(events["user_id"].to_pylist(), events["item_id"].to_pylist()):
            engaged.setdefault(user, set()).add(item)
    for row in rows:
        assert row["medoid_item_id"] in engaged[row["user_id"]]
        assert subinterest_of[row["medoid_item_id"]] == row["subinterest_id"]


def test_users_with_text_only_are_flagged(night):
    users = night["first"]["user_embeddings"]
    sources = dict(zip(users["user_id"].to_pylist(), users["vector_source"].to_pylist()))
    assert set(sources.values()) <= {"engagement", "text_only"}
    with_topics = set(night["first"]["user_topics"]["user_id"].to_pylist())
    text_only = {user for user, source in sources.items() if source == "text_only"}
    assert text_only, "the tiny preset has users who wrote a bio and engaged with nothing"
    assert not text_only & with_topics
    masses = users["vector_mass"].to_numpy()
    assert (masses > 0).all()


def test_tree_ids_are_matched_to_the_night_before(night):
    lake = night["lake"]
    previous = lake.read(table("topics"), ds=PREVIOUS_DS)
    tonight = night["first"]["topics"]
    for level in ("topic", "subinterest"):
        before = set(previous.filter(pc.equal(previous["level"], level))["node_id"].to_pylist())
        after = set(tonight.filter(pc.equal(tonight["level"], level))["node_id"].to_pylist())
        # One day of catalog changes barely moves the text tree: most nodes keep their ids.
        assert len(before & after) >= 0.75 * len(after), (level, before, after)
    stage = dict(lake.read(PIPELINE_RUNS, ds=DS, filters=[("run_id", "=", "first")]).to_pylist()[0]["stage_counts"])
    assert stage["build_hierarchy.churn.subinterest.kept"] >= 1
    assert "build_hierarchy.churn.subinterest.items_moved" in stage


# ---------------------------------------------------------------- publishing: staged, gated, one step
# These run last: they leave DS staged with a different hierarchy (the module's other tests use the
# snapshots the fixture took).


def _hierarchy_rows(lake: Lake, ds: str, version: int | None = None) -> set[tuple[str, str]]:
    topics = lake.read(table("topics"), ds=ds, columns=["level", "node_id"], version=version)
    return set(zip(topics["level"].to_pylist(), topics["node_id"].to_pylist()))


def _restaged_hierarchy(monkeypatch) -> None:
    """Rebuild DS's hierarchy with 3 topics instead of 4: the staged night then differs from the published one."""
    monkeypatch.setenv("INTERESTS_HIERARCHY__N_TOPICS", "3")
    monkeypatch.setenv("INTERESTS_HIERARCHY__N_SUBINTERESTS", "6")
    attribute, module = _job_body("build_hierarchy")
    assert run_job("build_hierarchy", getattr(module, attribute), ["--ds", DS, "--run-id", "restaged"], stop_spark=False) == 0


def test_readers_never_see_a_night_killed_between_staging_and_publishing(night, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import time

    from interests.publishing.nights import publish_attempts, resolve_night

    lake = night["lake"]
    published = resolve_night(lake, DS)
    assert published.run_id == "second"
    _restaged_hierarchy(monkeypatch)
    assert len(_hierarchy_rows(lake, DS)) == 3 + 6  # the newest version holds the restaged tree

    job = subprocess.Popen([sys.executable, str(ROOT / "jobs" / "publish.py"), "--ds", DS, "--run-id", "killed"],
                           cwd=ROOT, env=os.environ.copy(), start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and job.poll() is None:
            attempts = [row for row in publish_attempts(lake, DS) if row["run_id"] == "killed"]
            if attempts:
                break
            time.sleep(0.1)
        assert attempts and attempts[0]["status"] == "staged", (job.poll(), attempts)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()

    assert [row["status"] for row in publish_attempts(lake, DS) if row["run_id"] == "killed"] == ["staged"]
    current = resolve_night(lake)
    assert (current.ds, current.run_id, current.table_versions) == (DS, "second", published.table_versions)
    topics = current.read(lake, table("topics"))
    assert len(topics.filter(pc.equal(topics["level"], "topic"))) == 4
    assert snapshot_equal(topics, night["second"]["topics"])
    # The staged partition is there for anyone reading the newest version, but not in any published night.
    assert len(_hierarchy_rows(lake, DS)) == 9 and len(_hierarchy_rows(lake, DS, current.version_of(table("topics")))) == 16


def snapshot_equal(rows: pa.Table, expected: pa.Table) -> bool:
    keys = [(c, "ascending") for c in table("topics").key]
    return rows.sort_by(keys).equals(expected.sort_by(keys))


def test_a_failed_gate_keeps_the_last_good_night_and_its_aliases(night, monkeypatch):
    import mlflow

    from interests.publishing.mlflow_models import (
        CANDIDATE,
        ENCODER_MODEL_NAME,
        HIERARCHY_MODEL_NAME,
        PRODUCTION,
        alias_versions,
    )
    from interests.publishing.nights import publish_attempts, resolve_night

    lake, uri = night["lake"], night["config"].mlflow_uri
    good = resolve_night(lake, DS)
    production = alias_versions(uri, PRODUCTION)
    assert production[HIERARCHY_MODEL_NAME] == good.registered_models[HIERARCHY_MODEL_NAME]

    _restaged_hierarchy(monkeypatch)
    monkeypatch.setenv("INTERESTS_QUALITY__MIN_ITEMS", str(10**9))
    attribute, module = _job_body("publish")
    assert run_job("publish", getattr(module, attribute), ["--ds", DS, "--run-id", "refused"], stop_spark=False) == 2

    (refused,) = [row for row in publish_attempts(lake, DS) if row["run_id"] == "refused"]
    failed = [check for check in json.loads(refused["quality_checks"]) if not check["passed"]]
    assert refused["status"] == "failed_quality" and not refused["quality_passed"]
    assert [(c["table"], c["check"]) for c in failed] == [("item_embeddings", "min_rows")], failed
    assert resolve_night(lake).run_id == "second"
    assert snapshot_equal(resolve_night(lake).read(lake, table("topics")), night["second"]["topics"])
    # MLflow: the refused night is the candidate; production still names the last good night's models.
    assert alias_versions(uri, PRODUCTION) == production
    candidate = alias_versions(uri, CANDIDATE)
    assert candidate[HIERARCHY_MODEL_NAME] == dict(refused["registered_models"])[HIERARCHY_MODEL_NAME]
    assert candidate[HIERARCHY_MODEL_NAME] != production[HIERARCHY_MODEL_NAME]
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    tags = client.get_model_version(HIERARCHY_MODEL_NAME, candidate[HIERARCHY_MODEL_NAME]).tags
    assert tags["gate"] == "failed" and tags["ds"] == DS and tags["code_version"]
    assert int(tags["table_version.topics"]) == lake.version(table("topics"))
    assert client.get_model_version(HIERARCHY_MODEL_NAME, production[HIERARCHY_MODEL_NAME]).tags["gate"] == "passed"
    assert ENCODER_MODEL_NAME in production


def test_a_consumer_places_a_new_text_with_the_production_models(night):
    """models:/...@production: encode a text, place it in the hierarchy; the placement is the published night's."""
    import mlflow

    from interests.publishing.nights import resolve_night

    lake, config = night["lake"], night["config"]
    mlflow.set_tracking_uri(config.mlflow_uri)
    mlflow.set_registry_uri(config.mlflow_uri)
    encoder = mlflow.pyfunc.load_model("models:/interests-encoder@production")
    hierarchy = mlflow.pyfunc.load_model("models:/interests-hierarchy@production")
    published = resolve_night(lake)
    items = published.read(lake, table("items"), columns=["item_id", "text"]).sort_by("item_id").slice(0, 20)
    placed = hierarchy.predict(encoder.predict(items["text"].to_pylist()))
    stored = published.read(lake, table("item_embeddings"), columns=["item_id", "topic_id", "subinterest_id"])
    expected = dict(zip(stored["item_id"].to_pylist(), stored["topic_id"].to_pylist()))
    agreement = np.mean([expected[item] == topic for item, topic in zip(items["item_id"].to_pylist(), placed["topic_id"])])
    assert agreement >= 0.9, agreement
    published_topics = set(published.read(lake, table("topics"), columns=["node_id"])["node_id"].to_pylist())
    assert set(placed["topic_id"]) <= published_topics and set(placed["subinterest_id"]) <= published_topics
