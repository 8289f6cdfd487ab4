"""An approximate nearest-neighbour index of a published night's item vectors, for a retrieval service.

``export_index`` resolves a published night (never a staged or failed one), reads
``item_embeddings.embedding`` at the Delta version that night published, builds a faiss index
(inner product; the vectors are unit length, so the score is the cosine), measures recall@10 of
the index against exact search on a seeded sample of the night's own item vectors, and writes one
folder:

- ``index.faiss``: the index (``faiss.write_index``); faiss id ``i`` is row ``i`` of the ids file;
- ``item_ids.parquet``: one column ``item_id``, the items in index order (sorted by item id);
- ``manifest.json``: the night (ds, run id, table version, model version), the index kind and its
  parameters, dim, metric, item count, build seconds and the measured recall.

A service calls ``load_index(folder)`` once and then ``ItemIndex.search(vectors, k)``, which returns
item ids and scores. ``exact_search`` is the reference every index is measured against.

Index kinds (``docs/decisions.md``, "The ANN index: HNSW by default, exact up to 10,000 items"):
``flat`` (exact, ``IndexFlatIP``), ``hnsw`` (``IndexHNSWFlat``) and ``ivf`` (``IndexIVFFlat`` with
spherical k-means); ``auto`` picks ``flat`` for small catalogs and ``hnsw`` above.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from interests.catalog import ITEM_EMBEDDINGS, InvalidDsError, embedding_matrix
from interests.errors import EXIT_BAD_INPUT, InterestsError
from interests.publishing.nights import NoPublishedNightError, resolve_night

if TYPE_CHECKING:
    import faiss

    from interests.lake import Lake

logger = logging.getLogger(__name__)

KINDS = ("auto", "flat", "hnsw", "ivf")
INDEX_FILE, IDS_FILE, MANIFEST_FILE = "index.faiss", "item_ids.parquet", "manifest.json"
METRIC = "inner_product"
RECALL_K = 10
FLAT_MAX_ITEMS = 10_000
"""``auto`` keeps exact search up to this many items (a batched query scans 10,000 x 449 floats in about a millisecond here)."""
UNIT_NORM_TOLERANCE = 1e-3


class IndexExportError(InterestsError, ValueError):
    """An index cannot be exported: no item vectors, vectors not unit length, or an unusable output folder."""


class IndexFolderError(InterestsError, ValueError):
    """A folder is not a complete exported index (a file missing, or files that disagree)."""


@dataclass(frozen=True)
class IndexSettings:
    """How to build an index; ``None`` parameters are derived from the item count."""

    kind: str = "auto"
    """``auto``, ``flat`` (exact), ``hnsw`` or ``ivf``."""
    hnsw_m: int = 32
    """HNSW links per node (memory: 2 x m x 4 bytes per item on top of the vector)."""
    hnsw_ef_construction: int = 80
    """HNSW candidate list while building."""
    hnsw_ef_search: int = 128
    """HNSW candidate list while searching (recall against speed)."""
    ivf_nlist: int | None = None
    """IVF lists; default about 4 x sqrt(items), at most items / 39; k-means trains on 40 items per list."""
    ivf_nprobe: int | None = None
    """IVF lists scanned per query; default nlist / 64, at least 16 (all of them when fewer): recall@10 0.999 at 100k items, measured."""
    seed: int = 13
    """Seeds the IVF training sample and k-means, and the recall query sample."""
    threads: int | None = None
    """faiss threads while building; ``1`` makes an HNSW build reproducible bit for bit."""
    recall_queries: int = 1000
    """How many item vectors are searched at export to measure recall@10 against exact search."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown index kind {self.kind!r}; allowed: {list(KINDS)}")


@dataclass(frozen=True)
class IndexManifest:
    """What ``manifest.json`` of an exported index says."""

    ds: str
    run_id: str
    table: str
    table_version: int
    model_version: str
    encoder_model_version: str
    dim: int
    metric: str
    kind: str
    parameters: dict[str, Any]
    item_count: int
    build_seconds: float
    recall_at_10: float
    recall_queries: int
    faiss_version: str
    exported_at: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per role (``index``, ``ids``): the file's ``name``, ``bytes`` and ``sha256`` (``load_index`` checks them)."""

    def to_json(self) -> str:
        """The manifest as indented JSON."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> IndexManifest:
        """A manifest from its JSON text."""
        return cls(**json.loads(text))


@dataclass(frozen=True)
class SearchResult:
    """Per query the k best items, best first: ids (None past the last hit) and inner-product scores (NaN there)."""

    item_ids: np.ndarray
    scores: np.ndarray


@contextmanager
def faiss_threads(threads: int | None) -> Iterator[None]:
    """Run the block with faiss (OpenMP) limited to ``threads``; ``None`` leaves faiss's setting alone."""
    faiss = _faiss()
    if threads is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def choose_kind(item_count: int) -> str:
    """The kind ``auto`` builds for a catalog of ``item_count`` items."""
    return "flat" if item_count <= FLAT_MAX_ITEMS else "hnsw"


def index_parameters(settings: IndexSettings, item_count: int) -> tuple[str, dict[str, Any]]:
    """The concrete kind and parameters ``build_index`` uses for this many items."""
    kind = choose_kind(item_count) if settings.kind == "auto" else settings.kind
    if kind == "hnsw":
        return kind, {"m": settings.hnsw_m, "ef_construction": settings.hnsw_ef_construction,
                      "ef_search": settings.hnsw_ef_search}
    if kind == "ivf":
        nlist = settings.ivf_nlist or max(1, min(round(4 * math.sqrt(item_count)), item_count // 39))
        nprobe = min(nlist, settings.ivf_nprobe or max(16, round(nlist / 64)))
        return kind, {"nlist": nlist, "nprobe": nprobe, "train_points": min(item_count, 40 * nlist),
                      "seed": settings.seed}
    return kind, {}


def build_index(vectors: np.ndarray, settings: IndexSettings = IndexSettings()) -> tuple[faiss.Index, str, dict[str, Any]]:
    """A faiss inner-product index over ``vectors`` (rows = faiss ids), with its kind and parameters."""
    faiss = _faiss()
    vectors = _as_matrix(vectors)
    n, dim = vectors.shape
    if n == 0:
        raise IndexExportError("no vectors to index")
    kind, params = index_parameters(settings, n)
    with faiss_threads(settings.threads):
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, params["m"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params["ef_construction"]
            index.hnsw.efSearch = params["ef_search"]
        else:
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, params["nlist"], faiss.METRIC_INNER_PRODUCT)
            # Spherical k-means: with plain k-means an inner-product quantizer favours long centroids
            # and piles items into few lists (recall@10 0.85-0.92 at 10% of the lists scanned, measured).
            index.cp.spherical = True
            index.cp.seed = params["seed"]
            rng = np.random.default_rng(params["seed"])
            sample = np.sort(rng.choice(n, size=params["train_points"], replace=False))
            index.train(vectors[sample])
            index.nprobe = params["nprobe"]
        index.add(vectors)
    return index, kind, params


def exact_search(item_vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact top-k rows of ``item_vectors`` by inner product with each query: (scores, rows), best first."""
    faiss = _faiss()
    item_vectors, queries = _as_matrix(item_vectors), _as_matrix(queries)
    k = min(k, len(item_vectors))
    scores, rows = faiss.knn(queries, item_vectors, k, faiss.METRIC_INNER_PRODUCT)
    return scores, rows


def recall_at_k(found_rows: np.ndarray, exact_rows: np.ndarray) -> float:
    """Mean over queries of |found top-k ∩ exact top-k| / k (k = the exact lists' width)."""
    if len(exact_rows) == 0:
        return float("nan")
    k = exact_rows.shape[1]
    hits = [len(set(found[found >= 0].tolist()) & set(exact.tolist())) for found, exact in zip(found_rows, exact_rows)]
    return float(np.mean(hits) / k)


def measure_recall(index: faiss.Index, item_vectors: np.ndarray, queries: np.ndarray, k: int = RECALL_K) -> float:
    """recall@k of ``index`` against exact search over ``item_vectors`` for ``queries``."""
    _, exact_rows = exact_search(item_vectors, queries, k)
    _, found_rows = index.search(_as_matrix(queries), exact_rows.shape[1])
    return recall_at_k(found_rows, exact_rows)


def export_index(
    lake: Lake, out: Path | str, ds: str | None = None, as_of_version: int | None = None,
    settings: IndexSettings = IndexSettings(),
) -> IndexManifest:
    """Build the index of a published night's item vectors and write it to ``out``; the manifest written.

    The default night is the latest published one; ``as_of_version`` resolves nights as of a
    ``pipeline_runs`` version. Raises ``NoPublishedNightError`` when there is no such night, and
    ``IndexExportError`` for an unusable ``out`` or unusable vectors, both before building anything.
    """
    faiss = _faiss()
    night = resolve_night(lake, ds=ds, as_of_version=as_of_version)
    out = Path(out)
    _require_writable(out)
    items = night.read(lake, ITEM_EMBEDDINGS, columns=["item_id", "embedding", "model_version"])
    if items.num_rows == 0:
        raise IndexExportError(f"the published night ds={night.ds} (run {night.run_id}) has no rows in item_embeddings")
    items = _sorted_by_item_id(items)
    model_versions = sorted(set(items.column("model_version").unique().to_pylist()))
    item_ids = items.column("item_id").combine_chunks()
    vectors = embedding_matrix(items.column("embedding"))
    del items
    worst = float(np.max(np.abs(np.linalg.norm(vectors, axis=1) - 1.0)))
    if worst > UNIT_NORM_TOLERANCE:
        raise IndexExportError(f"item_embeddings of ds={night.ds}: max |norm-1| = {worst:.2e} (> {UNIT_NORM_TOLERANCE}); "
                               "inner product is the cosine only for unit vectors")

    logger.info("building the index of ds=%s (run %s): %d items x %d", night.ds, night.run_id, *vectors.shape)
    started = time.perf_counter()
    index, kind, params = build_index(vectors, settings)
    build_seconds = time.perf_counter() - started
    rng = np.random.default_rng(settings.seed)
    sample = np.sort(rng.choice(len(vectors), size=min(settings.recall_queries, len(vectors)), replace=False))
    with faiss_threads(settings.threads):
        recall = measure_recall(index, vectors, vectors[sample])
    manifest = IndexManifest(
        ds=night.ds, run_id=night.run_id, table=ITEM_EMBEDDINGS.name, table_version=night.version_of(ITEM_EMBEDDINGS),
        model_version=",".join(model_versions), encoder_model_version=night.encoder_model_version,
        dim=int(vectors.shape[1]), metric=METRIC, kind=kind, parameters={**params, "threads": settings.threads},
        item_count=len(vectors), build_seconds=round(build_seconds, 3), recall_at_10=round(recall, 6),
        recall_queries=len(sample), faiss_version=faiss.__version__,
        exported_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    manifest = _write_folder(out, index, item_ids, manifest)
    logger.info("index of ds=%s written to %s: %s, %d items, recall@10 %.4f, built in %.1f s",
                night.ds, out, kind, manifest.item_count, recall, build_seconds)
    return manifest


class ItemIndex:
    """An exported index loaded for search: the faiss index, the item ids in index order, the manifest."""

    def __init__(self, index: faiss.Index, item_ids: np.ndarray, manifest: IndexManifest):
        self.index = index
        self.item_ids = item_ids
        self.manifest = manifest

    def search(self, vectors: np.ndarray, k: int = RECALL_K) -> SearchResult:
        """The ``k`` items with the largest inner product with each query vector (a 1-D vector is one query)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        queries = _as_matrix(vectors)
        if queries.shape[1] != self.manifest.dim:
            raise ValueError(f"query vectors have dimension {queries.shape[1]}; the index has {self.manifest.dim}")
        scores, rows = self.index.search(queries, k)
        missing = rows < 0
        item_ids = self.item_ids[np.where(missing, 0, rows)]
        item_ids[missing] = None
        scores = scores.astype(np.float32)
        scores[missing] = np.nan
        return SearchResult(item_ids=item_ids, scores=scores)


def load_index(folder: Path | str) -> ItemIndex:
    """Load an exported index folder, checking that its index, ids and manifest agree."""
    faiss = _faiss()
    folder = Path(folder)
    paths = {name: folder / name for name in (MANIFEST_FILE, INDEX_FILE, IDS_FILE)}
    absent = [name for name, path in paths.items() if not path.is_file()]
    if absent:
        raise IndexFolderError(f"{folder} is not an exported index: {', '.join(absent)} missing")
    manifest = IndexManifest.from_json(paths[MANIFEST_FILE].read_text())
    for role, path in (("index", paths[INDEX_FILE]), ("ids", paths[IDS_FILE])):
        expected = manifest.files.get(role, {})
        if _file_digest(path) != (expected.get("bytes"), expected.get("sha256")):
            raise IndexFolderError(f"{folder}: {path.name} is not the file its manifest describes "
                                   "(a partial or mixed export? export again)")
    index = faiss.read_index(str(paths[INDEX_FILE]))
    item_ids = pq.read_table(paths[IDS_FILE], columns=["item_id"]).column("item_id").to_numpy(zero_copy_only=False)
    if not index.ntotal == len(item_ids) == manifest.item_count or index.d != manifest.dim:
        raise IndexFolderError(
            f"{folder}: the files disagree: index {index.ntotal} x {index.d}, {len(item_ids)} ids, "
            f"manifest {manifest.item_count} x {manifest.dim} (a partial export? export again)"
        )
    if manifest.kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = manifest.parameters["ef_search"]
    elif manifest.kind == "ivf":
        faiss.extract_index_ivf(index).nprobe = manifest.parameters["nprobe"]
    return ItemIndex(index, np.asarray(item_ids, dtype=object), manifest)


def _faiss():
    """faiss, imported on first use; its loader's INFO lines (one per SIMD variant it tries) are silenced."""
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    import faiss

    return faiss


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise ValueError(f"vectors must be a (n, dim) matrix, got shape {matrix.shape}")
    return np.ascontiguousarray(matrix)


def _sorted_by_item_id(items: pa.Table) -> pa.Table:
    """Rows in item id order (the lake writes them so; sort only when a read returned another order)."""
    ids = items.column("item_id")
    if len(ids) < 2 or pc.all(pc.less(ids[:-1], ids[1:])).as_py():
        return items
    return items.take(pc.sort_indices(ids))


def _require_writable(out: Path) -> None:
    """Fail before any work if ``out`` cannot be created or written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-"):
            pass
    except OSError as error:
        raise IndexExportError(f"cannot write the index to {out}: {error.strerror or error}") from None


def _write_folder(out: Path, index: faiss.Index, item_ids: pa.Array, manifest: IndexManifest) -> IndexManifest:
    """Write index and ids under temporary names, rename them, and write the manifest (with their checksums) last.

    A crash part-way leaves files that do not match the manifest, which ``load_index`` refuses.
    """
    faiss = _faiss()
    index_tmp, ids_tmp, manifest_tmp = (out / f".{name}.tmp" for name in (INDEX_FILE, IDS_FILE, MANIFEST_FILE))
    faiss.write_index(index, str(index_tmp))
    pq.write_table(pa.table({"item_id": item_ids}), ids_tmp)
    files = {}
    for role, name, path in (("index", INDEX_FILE, index_tmp), ("ids", IDS_FILE, ids_tmp)):
        size, digest = _file_digest(path)
        files[role] = {"name": name, "bytes": size, "sha256": digest}
    manifest = replace(manifest, files=files)
    manifest_tmp.write_text(manifest.to_json())
    os.replace(index_tmp, out / INDEX_FILE)
    os.replace(ids_tmp, out / IDS_FILE)
    os.replace(manifest_tmp, out / MANIFEST_FILE)
    return manifest


def _file_digest(path: Path) -> tuple[int, str]:
    """A file's size and SHA-256, read in 8 MB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def add_command(commands: argparse._SubParsersAction) -> None:
    """Register ``interests export-index`` on the CLI's subcommands."""
    parser = commands.add_parser(
        "export-index", help="build an ANN index (faiss) of a published night's item vectors for a retrieval service",
    )
    parser.add_argument("--out", required=True, help=f"folder to write {INDEX_FILE}, {IDS_FILE} and {MANIFEST_FILE} to")
    parser.add_argument("--ds", default=None, help="the published night (default: the latest)")
    parser.add_argument("--as-of-version", type=int, default=None,
                        help="resolve the published nights as of this pipeline_runs Delta version")
    parser.add_argument("--lake", default=None, help="lake root (default: the config's paths.lake_root)")
    parser.add_argument("--kind", choices=KINDS, default="auto",
                        help=f"index kind (auto: flat up to {FLAT_MAX_ITEMS:,} items, hnsw above)")
    parser.add_argument("--threads", type=int, default=None, help="faiss threads for the build (1: reproducible)")
    parser.set_defaults(handler=_export_index_command)


def _export_index_command(args: argparse.Namespace) -> int:
    """Export the index and print where it went and how good it is; bad input exits 2 with one line."""
    from interests.config import load_config
    from interests.lake import Lake

    lake_root = args.lake if args.lake else load_config().paths.lake_root
    try:
        manifest = export_index(Lake(lake_root), args.out, ds=args.ds, as_of_version=args.as_of_version,
                                settings=IndexSettings(kind=args.kind, threads=args.threads))
    except (NoPublishedNightError, InvalidDsError, IndexExportError) as error:
        logger.error("%s", error)
        return EXIT_BAD_INPUT
    shown = ", ".join(f"{key}={value}" for key, value in manifest.parameters.items() if value is not None)
    print(f"index of ds={manifest.ds} (run {manifest.run_id}, {manifest.table} version {manifest.table_version}) "
          f"written to {Path(args.out).resolve()}")
    print(f"  items:   {manifest.item_count:,} x {manifest.dim}, {manifest.kind}" + (f" ({shown})" if shown else ""))
    print(f"  recall@10 vs exact: {manifest.recall_at_10:.4f} over {manifest.recall_queries:,} item queries")
    print(f"  build:   {manifest.build_seconds:.2f} s")
    print(f"  load it: interests.consume.index.load_index({str(args.out)!r}).search(vectors, k=10)")
    return 0
