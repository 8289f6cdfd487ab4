"""The encode_texts job on local Spark: only cache misses are encoded, on the executors, and a rerun encodes nothing.

Run with the hashing fake and with the real packaged model; either way the rows written must equal
what the in-process encoder gives for the same texts, and the counts must add up.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from interests.catalog import ITEMS, STAGE_RUNS, TEXT_EMBEDDINGS, USER_TEXTS
from interests.encoding.executors import HashingSettings
from interests.encoding.hashing import HashingEncoder
from interests.encoding.text import text_hash
from interests.errors import EXIT_BAD_INPUT
from interests.lake import Lake
from interests.runtime import run_job

ROOT = Path(__file__).resolve().parents[2]
DS, PREVIOUS_DS = "2026-11-20", "2026-11-19"

ITEM_TEXTS = [
    "a recipe for sourdough bread", "football match report", "knitting a warm scarf",
    "football match report", "",
]
USER_TEXTS_OF_DS = ["football match report", "my first marathon", "my first marathon"]
DISTINCT = sorted({*ITEM_TEXTS, *USER_TEXTS_OF_DS})
CACHED = "knitting a warm scarf"  # already in the cache for the model in use
CACHED_FOR_ANOTHER_MODEL = "a recipe for sourdough bread"  # cached, but under another model_version


def _items(ds: str, texts: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table({
        "ds": [ds] * n, "item_id": [f"item-{k}" for k in range(n)], "title": [None] * n, "body": texts,
        "tags": [None] * n, "lang": [None] * n, "updated_at": [None] * n, "landed_ds": [ds] * n,
        "text": texts, "text_hash": [text_hash(t) for t in texts],
    })


def _user_texts(ds: str, texts: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table({
        "ds": [ds] * n, "user_id": [f"user-{k}" for k in range(n)], "kind": ["bio"] * n, "text": texts,
        "text_ts": [None] * n, "landed_ds": [ds] * n, "text_hash": [text_hash(t) for t in texts],
    })


def _sentinel(dim: int) -> list[float]:
    """A unit vector no encoder gives these texts, so a re-encoded cache row would show."""
    vector = [0.0] * dim
    vector[-1] = 1.0
    return vector


def _cache_rows(model_version: str, texts: list[str], dim: int) -> pa.Table:
    n = len(texts)
    return pa.table({
        "model_version": [model_version] * n, "text_hash": [text_hash(t) for t in texts],
        "embedding": [_sentinel(dim)] * n, "first_ds": [PREVIOUS_DS] * n,
    })


def _encode_body(settings):
    spec = importlib.util.spec_from_file_location("jobs_encode_texts", ROOT / "jobs" / "encode_texts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.encode if settings is None else functools.partial(module.encode, settings=settings)


def _stage_counts(lake: Lake) -> dict[str, int]:
    rows = lake.read(STAGE_RUNS, ds=DS, filters=[("stage", "=", "encode_texts")]).to_pylist()
    assert len(rows) == 1
    return dict(rows[0]["counts"])


@pytest.fixture
def lake(tmp_path, monkeypatch) -> Lake:
    """A lake with ds's snapshots (and yesterday's, which must not be encoded) and a warm cache."""
    root = tmp_path / "lake"
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(root))
    monkeypatch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(tmp_path / "landing"))
    monkeypatch.setenv("INTERESTS_ENCODER__DEVICE", "cpu")
    monkeypatch.setenv("INTERESTS_ENCODER__BACKEND", "torch")  # compared with float32 to 1e-5 below
    lake = Lake(root)
    lake.write_partition(ITEMS, DS, _items(DS, ITEM_TEXTS))
    lake.write_partition(ITEMS, PREVIOUS_DS, _items(PREVIOUS_DS, ["only in yesterday's catalog"]))
    lake.write_partition(USER_TEXTS, DS, _user_texts(DS, USER_TEXTS_OF_DS))
    return lake


@pytest.fixture(
    params=[
        pytest.param("hashing", id="hashing"),
        pytest.param("minilm", id="minilm", marks=pytest.mark.integration),
        # The cluster engine: Delta reads on Spark and the cache rows written from the executors.
        pytest.param("hashing-delta-spark", id="hashing-delta-spark", marks=pytest.mark.integration),
    ]
)
def encoder_case(request, monkeypatch):
    """(settings for the job, None = the configured model; the same encoder in process)."""
    if request.param == "minilm":
        return None, request.getfixturevalue("minilm_encoder")
    if request.param == "hashing-delta-spark":
        monkeypatch.setenv("INTERESTS_LAKE__ENGINE", "delta-spark")
    return HashingSettings(dim=32), HashingEncoder(dim=32)


def test_only_cache_misses_are_encoded_on_spark_and_a_rerun_encodes_nothing(lake, spark, encoder_case):
    settings, reference = encoder_case
    version, dim = reference.model_version, reference.dim
    lake.append(TEXT_EMBEDDINGS, _cache_rows(version, [CACHED], dim))
    lake.append(TEXT_EMBEDDINGS, _cache_rows("another-model@000000000000", [CACHED_FOR_ANOTHER_MODEL], dim))
    body = _encode_body(settings)

    assert run_job("encode_texts", body, ["--ds", DS, "--run-id", "first"], stop_spark=False) == 0

    assert _stage_counts(lake) == {
        "items.rows": len(ITEM_TEXTS), "user_texts.rows": len(USER_TEXTS_OF_DS),
        "texts.distinct": len(DISTINCT), "texts.cached": 1, "texts.encoded": len(DISTINCT) - 1,
    }
    cache = lake.read(TEXT_EMBEDDINGS, filters=[("model_version", "=", version)]).sort_by("text_hash")
    assert cache["text_hash"].to_pylist() == sorted(text_hash(t) for t in DISTINCT)  # each text once
    by_hash = {row["text_hash"]: row for row in cache.to_pylist()}
    assert by_hash[text_hash(CACHED)]["embedding"] == _sentinel(dim)  # a hit is not encoded again
    assert by_hash[text_hash(CACHED)]["first_ds"] == PREVIOUS_DS
    encoded = [t for t in DISTINCT if t != CACHED]
    assert {by_hash[text_hash(t)]["first_ds"] for t in encoded} == {DS}
    written = np.array([by_hash[text_hash(t)]["embedding"] for t in encoded], dtype=np.float32)
    np.testing.assert_allclose(written, reference.encode(encoded), atol=1e-5)
    other = lake.read(TEXT_EMBEDDINGS, filters=[("model_version", "=", "another-model@000000000000")])
    assert other.num_rows == 1  # another model's cache is neither used nor touched
    version_after_first = lake.version(TEXT_EMBEDDINGS)

    assert run_job("encode_texts", body, ["--ds", DS, "--run-id", "second"], stop_spark=False) == 0

    counts = _stage_counts(lake)
    assert (counts["texts.encoded"], counts["texts.cached"]) == (0, len(DISTINCT))
    assert lake.version(TEXT_EMBEDDINGS) == version_after_first
    again = lake.read(TEXT_EMBEDDINGS, filters=[("model_version", "=", version)]).sort_by("text_hash")
    assert again.equals(cache)


def test_a_day_without_items_is_bad_input(lake, spark):
    empty_day = "2026-11-18"
    lake.write_partition(USER_TEXTS, empty_day, _user_texts(empty_day, ["a text without a catalog"]))
    body = _encode_body(HashingSettings(dim=8))
    assert run_job("encode_texts", body, ["--ds", empty_day], stop_spark=False) == EXIT_BAD_INPUT
    assert not lake.exists(TEXT_EMBEDDINGS) or pc.sum(
        pc.equal(lake.read(TEXT_EMBEDDINGS)["first_ds"], empty_day)
    ).as_py() in (None, 0)
