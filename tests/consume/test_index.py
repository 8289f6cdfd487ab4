"""The ANN index export: built from a published night only, searchable after load, equal to exact search on a small lake."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest
from published_lake import MODEL_VERSION, RETRIEVAL_DIM, build_published_lake

from interests.catalog import ITEM_EMBEDDINGS
from interests.cli import main
from interests.consume.index import (
    IDS_FILE,
    INDEX_FILE,
    MANIFEST_FILE,
    IndexExportError,
    IndexFolderError,
    IndexSettings,
    build_index,
    exact_search,
    export_index,
    load_index,
    recall_at_k,
)
from interests.errors import EXIT_BAD_INPUT
from interests.lake import Lake
from interests.publishing.nights import NoPublishedNightError


@pytest.fixture(scope="module")
def index_lake(tmp_path_factory):
    """(lake, content): 2026-11-18 and -19 published, -20 failed, and a failed rerun of -18."""
    root = tmp_path_factory.mktemp("index-lake")
    return Lake(root), build_published_lake(root, republish_failed_over="2026-11-18")


def _matrix(vectors: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    ids = sorted(vectors)
    return ids, np.stack([vectors[item] for item in ids]).astype(np.float32)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_export_then_load_searches_like_exact_search(index_lake, tmp_path, kind):
    lake, content = index_lake
    night = content["2026-11-19"]
    manifest = export_index(lake, tmp_path / "index", settings=IndexSettings(kind=kind, threads=1))
    assert manifest.ds == "2026-11-19" and manifest.kind == kind
    assert manifest.recall_at_10 == 1.0 and manifest.recall_queries == 60

    loaded = load_index(tmp_path / "index")
    ids, vectors = _matrix(night.item_vectors)
    users = np.stack(list(night.user_vectors.values())).astype(np.float32)
    queries = np.concatenate([users, vectors[:7]])
    result = loaded.search(queries, k=10)
    exact_scores, exact_rows = exact_search(vectors, queries, 10)
    assert result.item_ids.shape == result.scores.shape == (len(queries), 10)
    assert result.item_ids.tolist() == [[ids[row] for row in rows] for rows in exact_rows]
    np.testing.assert_allclose(result.scores, exact_scores, atol=1e-5)
    # An item's nearest item is itself (score 1), and a user's best items are in its heaviest sub-interest.
    assert result.item_ids[len(users):, 0].tolist() == ids[:7]
    np.testing.assert_allclose(result.scores[len(users):, 0], 1.0, atol=1e-5)
    from published_lake import user_subinterests

    for user, row in zip(night.user_vectors, result.item_ids[: len(users)]):
        heaviest = user_subinterests(user)[0][0]
        assert all(item.startswith(heaviest + ".") for item in row[:5])


def test_manifest_and_ids_describe_the_published_night(index_lake, tmp_path):
    lake, content = index_lake
    night = content["2026-11-18"]
    export_index(lake, tmp_path, ds="2026-11-18", settings=IndexSettings(kind="hnsw", hnsw_m=8, hnsw_ef_search=40))
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    assert {key: manifest[key] for key in ("ds", "run_id", "table", "table_version", "model_version", "dim", "metric",
                                           "kind", "item_count", "recall_queries")} == {
        "ds": "2026-11-18", "run_id": "scheduled__2026-11-18", "table": "item_embeddings",
        "table_version": night.table_versions[ITEM_EMBEDDINGS.name], "model_version": MODEL_VERSION,
        "dim": RETRIEVAL_DIM, "metric": "inner_product", "kind": "hnsw", "item_count": 60, "recall_queries": 60,
    }
    assert manifest["parameters"] == {"m": 8, "ef_construction": 80, "ef_search": 40, "threads": None}
    assert manifest["encoder_model_version"] == MODEL_VERSION
    assert manifest["build_seconds"] >= 0 and 0.9 <= manifest["recall_at_10"] <= 1.0
    assert {role: entry["name"] for role, entry in manifest["files"].items()} == {"index": INDEX_FILE, "ids": IDS_FILE}
    assert manifest["files"]["ids"]["bytes"] == (tmp_path / IDS_FILE).stat().st_size
    assert len(manifest["files"]["index"]["sha256"]) == 64
    assert sorted(os.listdir(tmp_path)) == sorted([INDEX_FILE, IDS_FILE, MANIFEST_FILE])

    ids = pq.read_table(tmp_path / IDS_FILE).column("item_id").to_pylist()
    assert ids == sorted(night.item_vectors)
    loaded = load_index(tmp_path)
    assert loaded.index.hnsw.efSearch == 40
    # Row i of the ids file is faiss id i: each item's stored vector is found at its own position.
    _, vectors = _matrix(night.item_vectors)
    np.testing.assert_allclose(loaded.index.reconstruct_n(0, len(ids)), vectors, atol=1e-6)


def test_a_failed_night_is_never_exported(index_lake, tmp_path):
    lake, content = index_lake
    # The latest ds (2026-11-20) failed its gate: the default is the latest *published* night.
    assert export_index(lake, tmp_path / "latest", settings=IndexSettings(kind="flat")).ds == "2026-11-19"
    with pytest.raises(NoPublishedNightError, match="ds=2026-11-20 is not a published night"):
        export_index(lake, tmp_path / "failed", ds="2026-11-20")
    assert not (tmp_path / "failed").exists()
    # 2026-11-18 was rerun and failed: its first publication (its vectors, its table version) is exported.
    export_index(lake, tmp_path / "rerun", ds="2026-11-18", settings=IndexSettings(kind="flat"))
    loaded = load_index(tmp_path / "rerun")
    assert loaded.manifest.table_version == content["2026-11-18"].table_versions[ITEM_EMBEDDINGS.name]
    first = content["2026-11-18"].item_vectors["t0.s0.i0"]
    found = loaded.search(first, k=1)
    assert found.item_ids.tolist() == [["t0.s0.i0"]]
    np.testing.assert_allclose(found.scores, [[1.0]], atol=1e-5)
    rerun = content["rerun"].item_vectors["t0.s0.i0"]
    assert float(rerun @ first) < 0.999


def test_as_of_version_resolves_the_nights_of_then(index_lake, tmp_path):
    lake, _ = index_lake
    # pipeline_runs version 1 holds only the first publication (2026-11-18); version 0 created the table.
    assert export_index(lake, tmp_path, as_of_version=1, settings=IndexSettings(kind="flat")).ds == "2026-11-18"


def test_auto_is_exact_on_a_small_catalog():
    vectors = np.eye(4, 6, dtype=np.float32)
    index, kind, params = build_index(vectors)
    assert (kind, params) == ("flat", {})
    assert index.search(vectors[:1], 2)[1].tolist() == [[0, 1]]
    with pytest.raises(ValueError, match="unknown index kind 'annoy'"):
        IndexSettings(kind="annoy")


def test_search_past_the_catalog_gives_none_and_nan(index_lake, tmp_path):
    lake, content = index_lake
    export_index(lake, tmp_path, settings=IndexSettings(kind="flat"))
    result = load_index(tmp_path).search(content["2026-11-19"].item_vectors["t2.s1.i9"], k=64)
    assert result.item_ids[0, 0] == "t2.s1.i9"
    assert all(item is not None for item in result.item_ids[0, :60]) and len(set(result.item_ids[0, :60])) == 60
    assert result.item_ids[0, 60:].tolist() == [None] * 4
    assert np.isnan(result.scores[0, 60:]).all() and not np.isnan(result.scores[0, :60]).any()


def test_recall_counts_the_exact_neighbours_found():
    exact = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    assert recall_at_k(exact, exact) == 1.0
    assert recall_at_k(np.array([[3, 2, 9, -1], [4, 5, 6, 7]]), exact) == pytest.approx((2 / 4 + 1) / 2)


def test_hnsw_build_is_reproducible_on_one_thread():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    settings = IndexSettings(kind="hnsw", hnsw_m=8, hnsw_ef_construction=20, hnsw_ef_search=16, threads=1)
    first, _, _ = build_index(vectors, settings)
    second, _, _ = build_index(vectors, settings)
    queries = vectors[:200] + 0.1 * rng.normal(size=(200, 16)).astype(np.float32)
    assert np.array_equal(first.search(queries, 10)[1], second.search(queries, 10)[1])
    ivf = IndexSettings(kind="ivf", ivf_nlist=16, ivf_nprobe=2, threads=1)
    assert np.array_equal(build_index(vectors, ivf)[0].search(queries, 10)[1],
                          build_index(vectors, ivf)[0].search(queries, 10)[1])


def test_search_rejects_a_query_of_another_width(index_lake, tmp_path):
    lake, _ = index_lake
    export_index(lake, tmp_path, settings=IndexSettings(kind="flat"))
    loaded = load_index(tmp_path)
    with pytest.raises(ValueError, match=f"dimension 5; the index has {RETRIEVAL_DIM}"):
        loaded.search(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="k must be at least 1"):
        loaded.search(np.ones(RETRIEVAL_DIM, np.float32), k=0)


def test_load_refuses_an_incomplete_or_inconsistent_folder(index_lake, tmp_path):
    lake, _ = index_lake
    with pytest.raises(IndexFolderError, match="manifest.json, index.faiss, item_ids.parquet missing"):
        load_index(tmp_path)
    export_index(lake, tmp_path, settings=IndexSettings(kind="flat"))
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    (tmp_path / MANIFEST_FILE).write_text(json.dumps({**manifest, "item_count": 59}))
    with pytest.raises(IndexFolderError, match="the files disagree"):
        load_index(tmp_path)
    # A crash between renames: another night's index (same items, other vectors) under this night's manifest.
    other = tmp_path.parent / f"{tmp_path.name}-other"
    export_index(lake, other, ds="2026-11-18", settings=IndexSettings(kind="flat"))
    export_index(lake, tmp_path, ds="2026-11-19", settings=IndexSettings(kind="flat"))
    assert (other / IDS_FILE).read_bytes() == (tmp_path / IDS_FILE).read_bytes()
    (tmp_path / INDEX_FILE).write_bytes((other / INDEX_FILE).read_bytes())
    with pytest.raises(IndexFolderError, match="index.faiss is not the file its manifest describes"):
        load_index(tmp_path)


def test_an_unwritable_out_fails_before_the_build(index_lake, tmp_path):
    lake, _ = index_lake
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(IndexExportError, match="cannot write the index to"):
        export_index(lake, blocker / "index")


def test_cli_exports_and_prints_where_and_how_good(index_lake, tmp_path, capsys):
    lake, content = index_lake
    version = content["2026-11-19"].table_versions[ITEM_EMBEDDINGS.name]
    out = tmp_path / "cli-index"
    assert main(["export-index", "--out", str(out), "--lake", str(lake.root), "--kind", "hnsw", "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"index of ds=2026-11-19 (run scheduled__2026-11-19, item_embeddings version {version})" in printed
    assert str(out.resolve()) in printed
    assert "60 x 12, hnsw (m=32, ef_construction=80, ef_search=128, threads=1)" in printed
    assert "recall@10 vs exact: 1.0000 over 60 item queries" in printed
    assert "build:" in printed
    assert load_index(out).manifest.kind == "hnsw"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ds", "2026-11-20"], "ds=2026-11-20 is not a published night"),
        (["--ds", "2026-12-31"], "ds=2026-12-31 is not a published night"),
        (["--ds", "2026-02-30"], "not a calendar day"),
        (["--as-of-version", "1", "--ds", "2026-11-19"], "ds=2026-11-19 is not a published night under"),
        (["--as-of-version", "0"], "no night is published under"),
    ],
)
def test_cli_exits_2_on_a_night_it_cannot_export(index_lake, tmp_path, caplog, argv, message):
    lake, _ = index_lake
    assert main(["export-index", "--out", str(tmp_path / "out"), "--lake", str(lake.root), *argv]) == EXIT_BAD_INPUT
    assert message in caplog.text
    assert not (tmp_path / "out").exists()


def test_cli_exits_2_on_an_empty_lake_and_an_unwritable_out(index_lake, tmp_path, caplog):
    assert main(["export-index", "--out", str(tmp_path / "out"), "--lake", str(tmp_path / "no-lake")]) == EXIT_BAD_INPUT
    assert "no night is published under" in caplog.text
    lake, _ = index_lake
    (tmp_path / "a-file").write_text("")
    assert main(["export-index", "--out", str(tmp_path / "a-file" / "out"), "--lake", str(lake.root)]) == EXIT_BAD_INPUT
    assert "cannot write the index to" in caplog.text
