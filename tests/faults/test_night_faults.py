"""Faults around one published tiny night: real Spark, Delta, MLflow and the real model.

The module runs one night of the tiny generated landing zone (``tests/integration/test_night.py``'s
jobs, in-process on the shared session), then injects one fault per test into it and checks what must
hold afterwards. The tests run in file order and share the lake; each says what it leaves behind.
The last one poisons the night's newest tables, so it comes last.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable
from test_night import TINY_ENV, _job_body, run_night

from interests.catalog import (
    EVENTS_CLEAN,
    EVENTS_REJECTED,
    ITEM_EMBEDDINGS,
    ITEMS,
    STAGE_RUNS,
    TEXT_EMBEDDINGS,
    USER_EMBEDDINGS,
    USER_TEXTS,
    embedding_matrix,
)
from interests.config import load_config
from interests.errors import EXIT_BAD_INPUT
from interests.lake import Lake
from interests.publishing.mlflow_models import PRODUCTION, alias_versions
from interests.publishing.nights import publish_attempts, resolve_night
from interests.runtime import JobContext, run_job
from interests.synthetic.cli import main as generate

pytestmark = pytest.mark.integration

DS = "2026-11-20"
DIRTY_DS = "2026-11-21"  # malformed lines, schema drift and late events for DS
EMPTY_DS = "2026-11-22"
GZIP_DS = "2026-11-23"
UNREADABLE_DS = "2026-11-24"
RUN_ID = "fault-night"
MIN_ID_CHARS = 6
"""Raw ids shorter than this (the generator's dirt: "", " ") would match inside any text; not ids."""
LARGE_ARTIFACT_BYTES = 5_000_000
"""MLflow artifacts above this are the encoder's weights, which hold no night's data."""


class _Records(logging.Handler):
    """Every log record of this process, formatted: what a night writes to its logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _run(name: str, ds: str, run_id: str) -> int:
    attribute, module = _job_body(name)
    return run_job(name, getattr(module, attribute), ["--ds", ds, "--run-id", run_id], stop_spark=False)


def _sorted(spec, rows: pa.Table) -> pa.Table:
    return rows.sort_by([(name, "ascending") for name in spec.key])


def _pointer(lake: Lake, uri: str) -> tuple:
    """What readers and consumers resolve: the published night, its table versions, the production models."""
    night = resolve_night(lake)
    return night.ds, night.run_id, night.table_versions, alias_versions(uri, PRODUCTION)


def _table_versions(lake: Lake) -> dict[str, int | None]:
    return {folder.name: DeltaTable(str(folder)).version() for folder in sorted(lake.root.iterdir())
            if DeltaTable.is_deltatable(str(folder))}


@pytest.fixture(scope="module")
def night(tmp_path_factory, spark):
    """The tiny landing zone, its night DS run and published; every log line of the module captured."""
    root = tmp_path_factory.mktemp("fault-night")
    landing, lake_root = root / "landing", root / "lake"
    assert generate(["--preset", "tiny", "--end", DS, "--landing", str(landing), "--truth", str(root / "truth")]) == 0
    patch = pytest.MonkeyPatch()
    for key, value in {"INTERESTS_PATHS__LANDING_ROOT": str(landing), "INTERESTS_PATHS__LAKE_ROOT": str(lake_root),
                       **TINY_ENV}.items():
        patch.setenv(key, value)
    records, root_logger = _Records(), logging.getLogger()
    level = root_logger.level
    root_logger.addHandler(records)
    root_logger.setLevel(logging.INFO)
    try:
        run_night(DS, RUN_ID)
        config = load_config()
        yield {"lake": Lake(lake_root), "spark_lake": Lake(lake_root, spark=spark), "landing": landing,
               "config": config, "uri": config.mlflow_uri, "logs": records}
    finally:
        root_logger.removeHandler(records)
        root_logger.setLevel(level)
        patch.undo()


# ---------------------------------------------------------------- raw user ids


def _landed_user_ids(landing: Path) -> set[str]:
    """Every user_id string the generator put in the landing zone (events and user texts, all days)."""
    ids = set()
    for path in sorted(landing.glob("*/ds=*/*.jsonl*")):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    user = json.loads(line).get("user_id")
                except (ValueError, AttributeError):
                    continue
                if isinstance(user, str) and len(user.strip()) >= MIN_ID_CHARS:
                    ids.add(user)
    return ids


def _strings(value, found: list[str]) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _strings(key, found)
            _strings(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _strings(item, found)


def _columns_holding(lake_root: Path, raw_ids: set[str]) -> dict[tuple[str, str], set[str]]:
    """(table, column) -> the raw ids found in it, over every column of every Delta table, nested values too."""
    hits = {}
    for folder in sorted(lake_root.iterdir()):
        if not DeltaTable.is_deltatable(str(folder)):
            continue
        rows = DeltaTable(str(folder)).to_pyarrow_table()
        for column in rows.column_names:
            if pa.types.is_floating(rows.schema.field(column).type) or pa.types.is_integer(rows.schema.field(column).type):
                continue
            values: list[str] = []
            _strings(rows.column(column).to_pylist(), values)
            text = "\n".join(values)
            found = {user for user in raw_ids if user in text}
            if found:
                hits[(folder.name, column)] = found
    return hits


def test_raw_user_ids_are_in_no_table_no_log_and_no_mlflow_record(night):
    landing, lake = night["landing"], night["lake"]
    raw_ids = _landed_user_ids(landing)
    assert len(raw_ids) > 100  # the tiny preset's users and bots
    hits = _columns_holding(lake.root, raw_ids)
    # events_rejected.raw_line is the quarantine of the landing lines as they came (docs/reliability.md):
    # the only place a raw id may be, and only a rejected line's.
    quarantine = hits.pop((EVENTS_REJECTED.name, "raw_line"), set())
    assert hits == {}, {where: sorted(found)[:5] for where, found in hits.items()}
    rejected = " ".join(lake.read(EVENTS_REJECTED, columns=["raw_line"])["raw_line"].to_pylist())
    assert all(user in rejected for user in quarantine)
    assert lake.read(EVENTS_CLEAN, ds=DS).num_rows > 0

    logs = "\n".join(night["logs"].lines)
    assert "clean_events ds=" + DS in logs and "publish ds=" + DS in logs  # the capture saw the night
    assert sorted(user for user in raw_ids if user in logs) == []

    mlflow_dir = night["config"].mlflow_dir
    stored = [path for path in mlflow_dir.rglob("*") if path.is_file() and path.stat().st_size < LARGE_ARTIFACT_BYTES]
    assert any(path.name == "mlflow.db" for path in stored)
    blob = b"\n".join(path.read_bytes() for path in stored)
    assert sorted(user for user in raw_ids if user.encode() in blob) == []


# ---------------------------------------------------------------- an empty landing day


def test_an_empty_landing_day_exits_2_and_leaves_the_published_night(night):
    lake, landing = night["lake"], night["landing"]
    before, versions = _pointer(lake, night["uri"]), _table_versions(lake)
    assert _run("clean_events", EMPTY_DS, "no-folder") == EXIT_BAD_INPUT
    day = landing / "events" / f"ds={EMPTY_DS}"
    day.mkdir(parents=True)
    (day / "events-0.jsonl").write_bytes(b"")
    assert _run("clean_events", EMPTY_DS, "empty-file") == EXIT_BAD_INPUT
    assert _pointer(lake, night["uri"]) == before
    assert _table_versions(lake) == versions  # nothing written, not even a stage_runs row
    assert resolve_night(lake, DS).read(lake, ITEM_EMBEDDINGS).num_rows > 0  # yesterday's tables are readable


# ---------------------------------------------------------------- a dirty landing day


MALFORMED = (
    '{"event_id": "bad-1", "user_id": "u0000001", "item_id": "i000001", "event_type": "click"',  # cut short
    "this is not json at all",
    '{"event_id": "bad-3", "user_id": "u0000001",, "event_type": "click"}',
    '{"event_id": "bad-4", "user_id": "u0000001", "item_id": "i000001", "event_type": "click", "ts": 17952',
)


def _good_lines(users: list[str], items: list[str], prefix: str, day: str, n: int) -> list[str]:
    types = ("click", "like", "impression", "share")
    return [json.dumps({"event_id": f"{prefix}-{k:03d}", "user_id": users[k % len(users)], "item_id": items[k % len(items)],
                        "event_type": types[k % len(types)], "ts": f"{day}T10:{k % 60:02d}:00+00:00"})
            for k in range(n)]


def _drift_lines(user: str, item: str) -> dict[str, str]:
    base = {"user_id": user, "item_id": item, "event_type": "click", "ts": f"{DIRTY_DS}T12:00:00Z"}
    return {
        "new_field": json.dumps({"event_id": "drift-new", **base, "device": "ios", "app": {"build": 7}}),
        "dwell_ms_type": json.dumps({"event_id": "drift-dwell", **base, "event_type": "dwell", "dwell_ms": "twelve"}),
        "ts_type": json.dumps({"event_id": "drift-ts", **base, "ts": {"seconds": 1795219200}}),
        "no_user_id": json.dumps({"event_id": "drift-no-user", **{k: v for k, v in base.items() if k != "user_id"}}),
        "no_event_id": json.dumps({k: v for k, v in base.items()} | {"item_id": "i-no-event-id"}),
    }


def _sample_ids(night) -> tuple[list[str], list[str]]:
    """Ten raw user ids and ten item ids that exist in DS's landing files."""
    users, items = [], []
    for line in (night["landing"] / "events" / f"ds={DS}").glob("*.jsonl*"):
        opener = gzip.open if line.name.endswith(".gz") else open
        with opener(line, "rt", encoding="utf-8", errors="replace") as lines:
            for text in lines:
                try:
                    row = json.loads(text)
                except ValueError:
                    continue
                if isinstance(row, dict) and str(row.get("user_id", "")).startswith("u") and row.get("item_id"):
                    users.append(row["user_id"])
                    items.append(row["item_id"])
    return sorted(set(users))[:10], sorted(set(items))[:10]


@pytest.fixture(scope="module")
def dirty_day(night):
    """DIRTY_DS landed with good lines, malformed JSON, schema drift and late events for DS; cleaned once."""
    users, items = _sample_ids(night)
    day = night["landing"] / "events" / f"ds={DIRTY_DS}"
    day.mkdir(parents=True)
    good = _good_lines(users, items, "good", DIRTY_DS, 30)
    late = _good_lines(users, items, "late", DS, 5)  # their own time is on DS: landed a day late
    drift = _drift_lines(users[0], items[0])
    files = {"good.jsonl": good, "malformed.jsonl": list(MALFORMED), "drift.jsonl": list(drift.values()),
             "late.jsonl": late}
    for name, lines in files.items():
        (day / name).write_text("\n".join(lines) + "\n")
    lake = night["lake"]
    before_ds = {spec.name: _sorted(spec, lake.read(spec, ds=DS)) for spec in (EVENTS_CLEAN, EVENTS_REJECTED, ITEMS, USER_TEXTS)}
    assert _run("clean_events", DIRTY_DS, "dirty") == 0
    counts = dict(lake.read(STAGE_RUNS, ds=DIRTY_DS, filters=[("stage", "=", "clean_events")]).to_pylist()[0]["counts"])
    return {
        "clean": lake.read(EVENTS_CLEAN, ds=DIRTY_DS), "rejected": lake.read(EVENTS_REJECTED, ds=DIRTY_DS),
        "counts": counts, "good": good, "late": late, "drift": drift, "lines": sum(len(v) for v in files.values()),
        "before_ds": before_ds, "users": users,
    }


def _reasons(rejected: pa.Table) -> dict[str, str]:
    return dict(zip(rejected["raw_line"].to_pylist(), rejected["reason"].to_pylist()))


def test_malformed_json_lines_are_rejected_with_a_reason_and_the_rest_of_the_day_is_kept(dirty_day):
    reasons = _reasons(dirty_day["rejected"])
    assert {line: reasons.get(line) for line in MALFORMED} == dict.fromkeys(MALFORMED, "malformed_json")
    clean_ids = set(dirty_day["clean"]["event_id"].to_pylist())
    assert {json.loads(line)["event_id"] for line in dirty_day["good"]} <= clean_ids
    assert not any(event.startswith("bad-") for event in clean_ids)
    counts = dirty_day["counts"]
    assert counts["events.raw"] == dirty_day["lines"]
    assert counts["events.raw"] == counts["events.clean"] + counts["events.rejected"] + counts.get("events.duplicate", 0)


def test_schema_drift_a_new_field_is_kept_a_changed_type_and_a_missing_field_are_rejected(dirty_day):
    drift, reasons = dirty_day["drift"], _reasons(dirty_day["rejected"])
    clean = {row["event_id"]: row for row in dirty_day["clean"].to_pylist()}
    assert dict(clean["drift-new"]["extra"])["device"] == "ios"  # a new field is kept in extra, never a crash
    assert reasons.get(drift["dwell_ms_type"]) in {"invalid_dwell_ms", "wrong_type_dwell_ms"}
    assert reasons.get(drift["ts_type"]) in {"bad_timestamp", "wrong_type_ts"}
    assert reasons.get(drift["no_user_id"]) == "missing_user_id"
    assert reasons.get(drift["no_event_id"]) == "missing_event_id"
    assert not {"drift-dwell", "drift-ts", "drift-no-user"} & set(clean)


def test_late_events_are_kept_on_their_landing_day_and_reprocessing_their_own_day_changes_nothing(night, dirty_day):
    """Same day run twice, too: DS cleaned again gives identical tables, and the late events stay where they landed."""
    lake = night["lake"]
    late_ids = {json.loads(line)["event_id"] for line in dirty_day["late"]}
    clean = dirty_day["clean"].to_pylist()
    late_rows = [row for row in clean if row["event_id"] in late_ids]
    assert len(late_rows) == len(late_ids)
    assert {row["event_ts"].date() for row in late_rows} == {date.fromisoformat(DS)}  # their own time kept
    pointer = _pointer(lake, night["uri"])
    dirty_before = _sorted(EVENTS_CLEAN, lake.read(EVENTS_CLEAN, ds=DIRTY_DS))

    assert _run("clean_events", DS, "reprocessed") == 0

    for name, before in dirty_day["before_ds"].items():
        spec = {s.name: s for s in (EVENTS_CLEAN, EVENTS_REJECTED, ITEMS, USER_TEXTS)}[name]
        assert _sorted(spec, lake.read(spec, ds=DS)).equals(before), f"{name} of ds={DS} changed when cleaned again"
    assert _sorted(EVENTS_CLEAN, lake.read(EVENTS_CLEAN, ds=DIRTY_DS)).equals(dirty_before)
    everywhere = lake.read(EVENTS_CLEAN, columns=["event_id"])["event_id"].to_pylist()
    assert sorted(event for event in everywhere if event in late_ids) == sorted(late_ids)  # once each
    assert _pointer(lake, night["uri"]) == pointer  # re-cleaning publishes nothing


# ---------------------------------------------------------------- a corrupt gzip file


def test_a_truncated_gzip_file_is_quarantined_and_the_other_files_of_the_day_are_cleaned(night):
    lake, landing = night["lake"], night["landing"]
    users, items = _sample_ids(night)
    day = landing / "events" / f"ds={GZIP_DS}"
    day.mkdir(parents=True)
    good = _good_lines(users, items, "gz-good", GZIP_DS, 20)
    (day / "good.jsonl.gz").write_bytes(gzip.compress(("\n".join(good) + "\n").encode()))
    whole = gzip.compress(("\n".join(_good_lines(users, items, "gz-cut", GZIP_DS, 3000)) + "\n").encode())
    (day / "truncated.jsonl.gz").write_bytes(whole[: len(whole) // 2])

    assert _run("clean_events", GZIP_DS, "gzip") == 0
    clean_ids = set(lake.read(EVENTS_CLEAN, ds=GZIP_DS)["event_id"].to_pylist())
    assert {json.loads(line)["event_id"] for line in good} <= clean_ids
    rejected = lake.read(EVENTS_REJECTED, ds=GZIP_DS).to_pylist()
    quarantined = [row for row in rejected if row["reason"] == "unreadable_file"]
    assert [row["source_file"].rsplit("/", 1)[-1] for row in quarantined] == ["truncated.jsonl.gz"]
    counts = dict(lake.read(STAGE_RUNS, ds=GZIP_DS, filters=[("stage", "=", "clean_events")]).to_pylist()[0]["counts"])
    assert counts["events.unreadable_files"] == 1 and counts["events.unreadable_file.truncated.jsonl.gz"] == 1

    # A day whose every file is unreadable is bad input: exit 2, nothing written for it.
    only = landing / "events" / f"ds={UNREADABLE_DS}"
    only.mkdir(parents=True)
    (only / "truncated.jsonl.gz").write_bytes(whole[: len(whole) // 3])
    versions = _table_versions(lake)
    assert _run("clean_events", UNREADABLE_DS, "unreadable") == EXIT_BAD_INPUT
    assert _table_versions(lake) == versions


# ---------------------------------------------------------------- a changed model version


def test_a_changed_model_version_gets_its_own_cache_partition_and_no_partition_mixes_versions(night):
    from interests.encoding.executors import HashingSettings

    lake, published = night["spark_lake"], resolve_night(night["lake"], DS)
    real = published.encoder_model_version
    before = _sorted(TEXT_EMBEDDINGS, lake.read(TEXT_EMBEDDINGS))
    assert set(before["model_version"].to_pylist()) == {real}

    changed = HashingSettings(384)
    _, module = _job_body("encode_texts")
    context = JobContext(name="encode_texts", ds=DS, run_id="changed-model", config=load_config())
    counts = module.encode(context, changed)

    assert lake.partitions(TEXT_EMBEDDINGS) == sorted([real, changed.model_version()])
    for version in lake.partitions(TEXT_EMBEDDINGS):
        rows = lake.read(TEXT_EMBEDDINGS, filters=[("model_version", "=", version)])
        assert set(rows["model_version"].to_pylist()) == {version}
    after = lake.read(TEXT_EMBEDDINGS)
    old_rows = _sorted(TEXT_EMBEDDINGS, after.filter(pc.equal(after["model_version"], real)))
    assert old_rows.equals(before)  # the old model's cache is untouched
    new_rows = after.filter(pc.equal(after["model_version"], changed.model_version()))
    assert new_rows.num_rows == counts["texts.encoded"] == counts["texts.distinct"]
    # Each night's item vectors come from one model: the one its publication names.
    for ds in lake.partitions(ITEM_EMBEDDINGS):
        assert set(lake.read(ITEM_EMBEDDINGS, ds=ds, columns=["model_version"])["model_version"].to_pylist()) == {real}
    assert set(published.read(night["lake"], ITEM_EMBEDDINGS, columns=["model_version"])["model_version"].to_pylist()) == {real}


# ---------------------------------------------------------------- a forced encoder out-of-memory


def test_a_forced_out_of_memory_in_the_encoder_keeps_every_row(night, monkeypatch):
    """The executors' encode body, with every forward pass of more than 8 texts failing as CUDA OOM."""
    import torch

    from interests.encoding.executors import TransformerSettings, encode_partition, worker_encoder

    lake = night["lake"]
    settings = TransformerSettings.from_config(night["config"].encoder)
    version = settings.model_version()
    distinct: dict[str, str] = {}
    for spec in (ITEMS, USER_TEXTS):
        rows = lake.read(spec, ds=DS, columns=["text_hash", "text"])
        for text_hash, text in zip(rows["text_hash"].to_pylist(), rows["text"].to_pylist()):
            distinct.setdefault(text_hash, text)
    hashes = sorted(distinct)[:160]
    texts = pa.table({"text_hash": hashes, "text": [distinct[text_hash] for text_hash in hashes]})
    encoder = worker_encoder(settings, None)
    forward, failed = encoder._forward, []

    def forward_that_fits_eight(features):
        rows = features["input_ids"].shape[0]
        if rows > 8:
            failed.append(rows)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected by the fault suite)")
        return forward(features)

    monkeypatch.setattr(encoder, "_forward", forward_that_fits_eight)
    out = pa.Table.from_batches(list(encode_partition(iter(texts.to_batches(max_chunksize=80)), settings, version, DS)))

    assert failed and out.num_rows == texts.num_rows  # rows in = rows out
    assert out["text_hash"].to_pylist() == texts["text_hash"].to_pylist()  # in order
    cache = lake.read(TEXT_EMBEDDINGS, filters=[("model_version", "=", version)], columns=["text_hash", "embedding"])
    stored = dict(zip(cache["text_hash"].to_pylist(), range(cache.num_rows)))
    expected = embedding_matrix(cache["embedding"].take([stored[h] for h in out["text_hash"].to_pylist()]))
    # What the night stored for each text; the CPU backend's numerics depend a little on which texts share
    # a batch (halving regroups them), so the vectors agree to a cosine, not bit for bit.
    cosines = np.sum(embedding_matrix(out["embedding"], np.float64) * expected.astype(np.float64), axis=1)
    assert cosines.min() > 0.999, cosines.min()


# ---------------------------------------------------------------- NaN and wrong-dimension vectors (last: poisons DS)


def test_nan_and_wrong_dimension_vectors_are_refused_before_publish(night):
    lake = night["lake"]
    pointer = _pointer(lake, night["uri"])
    for spec, damage in ((ITEM_EMBEDDINGS, lambda vector: [math.nan] * len(vector)),
                         (USER_EMBEDDINGS, lambda vector: vector[:-1])):
        rows = lake.read(spec, ds=DS)
        vectors = rows["embedding"].to_pylist()
        vectors[0] = damage(vectors[0])
        column = rows.schema.get_field_index("embedding")
        lake.write_partition(spec, DS, rows.set_column(column, rows.schema.field(column), pa.array(vectors, rows.schema.field(column).type)))

    assert _run("publish", DS, "poisoned") == EXIT_BAD_INPUT

    (attempt,) = [row for row in publish_attempts(lake, DS) if row["run_id"] == "poisoned"]
    failed = {(check["table"], check["check"]) for check in json.loads(attempt["quality_checks"]) if not check["passed"]}
    assert attempt["status"] == "failed_quality"
    assert {("item_embeddings", "embedding_finite"), ("user_embeddings", "embedding_dimension")} <= failed, failed
    assert _pointer(lake, night["uri"]) == pointer  # readers and consumers still get the good night
    published = resolve_night(lake, DS).read(lake, ITEM_EMBEDDINGS, columns=["embedding"])
    assert np.isfinite(embedding_matrix(published["embedding"])).all()
