"""ANN index of item vectors: build time, query throughput and recall@10 against exact search.

Baseline, measured in the same run on the same vectors and queries: exact search with faiss
``IndexFlatIP`` (what ``interests export-index --kind flat`` builds and ``exact_search`` computes).
Candidates: the kinds ``interests.consume.index.build_index`` builds, ``hnsw`` and ``ivf``, with the
export's default parameters; the searches are timed in turn, baseline then each candidate, ``--repeats``
times (A B C A B C), and the medians compared; recall@10 is against the baseline's own answers. Searches run as one batch of ``--queries`` queries (service batch
throughput) and one query per call for ``--single-queries`` queries (a request's latency); faiss
uses every core (2 here) for both.

Data: a Gaussian mixture on the unit sphere in the retrieval width (449 = 64 + 384 + 1): one centre
per ``--items-per-cluster`` items; an item is its centre plus noise in a 16-dimensional subspace of
its cluster (norm about 0.8) plus isotropic noise (norm about 0.4), normalized, so an item's cosine
to its centre is about 0.75, like an embedding to its topic's. Queries are fresh draws from the same
mixture (not indexed items). Uniform random unit vectors have no neighbour structure at this width
(every cosine is about 0), which no ANN index is built for; ``--uniform`` measures them anyway.

    .venv/bin/python benchmarks/bench_index.py [--sizes 100000,200000] [--kinds hnsw,ivf] [--queries 1000] [--sweep]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from process_memory import tree_rss_bytes  # benchmarks/ is on the path of a script run from it

from interests.consume.index import IndexSettings, build_index, exact_search, recall_at_k


def mixture(n: int, dim: int, items_per_cluster: int, seed: int, rank: int = 16) -> np.ndarray:
    """n unit float32 vectors around n / items_per_cluster centres (see the module docstring)."""
    rng = np.random.default_rng(seed)
    clusters = max(1, n // items_per_cluster)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    bases = (rng.normal(size=(clusters, rank, dim)) / np.sqrt(dim)).astype(np.float32)
    which = rng.integers(0, clusters, n)
    vectors = np.empty((n, dim), np.float32)
    for cluster in range(clusters):
        rows = np.flatnonzero(which == cluster)
        spread = rng.normal(size=(len(rows), rank)).astype(np.float32) * np.float32(0.8 / np.sqrt(rank))
        noise = rng.normal(size=(len(rows), dim)).astype(np.float32) * np.float32(0.4 / np.sqrt(dim))
        vectors[rows] = centres[cluster] + spread @ bases[cluster] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def uniform(n: int, dim: int, seed: int) -> np.ndarray:
    """n uniform random unit float32 vectors."""
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def time_batch(index, queries: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """Seconds for one batched search of every query, and the rows found."""
    started = time.perf_counter()
    _, rows = index.search(queries, k)
    return time.perf_counter() - started, rows


def time_single(index, queries: np.ndarray, k: int) -> float:
    """Seconds per query when each query is its own search call."""
    started = time.perf_counter()
    for row in range(len(queries)):
        index.search(queries[row:row + 1], k)
    return (time.perf_counter() - started) / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,200000", help="item counts, comma-separated")
    parser.add_argument("--kinds", default="hnsw,ivf", help="candidate kinds, comma-separated")
    parser.add_argument("--dim", type=int, default=449, help="the retrieval space's width (behaviour 64 + text 384 + 1)")
    parser.add_argument("--items-per-cluster", type=int, default=1000)
    parser.add_argument("--uniform", action="store_true", help="uniform random unit vectors instead of the mixture")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--single-queries", type=int, default=50)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2, help="A B pairs per search")
    parser.add_argument("--sweep", action="store_true", help="also print recall and throughput at other ef_search / nprobe")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    import faiss

    sizes = [int(size) for size in args.sizes.split(",")]
    kinds = [kind for kind in args.kinds.split(",") if kind]
    load_before = os.getloadavg()
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "cpu")
    print(f"machine: {platform.machine()} {cpu}, {os.cpu_count()} cores, faiss {faiss.__version__} "
          f"({faiss.omp_get_max_threads()} threads), numpy {np.__version__}", flush=True)
    data = "uniform random unit vectors" if args.uniform else f"Gaussian mixture, {args.items_per_cluster} items per cluster"
    print(f"data: {data}, dim {args.dim}; {args.queries} batched + {args.single_queries} single queries "
          f"(fresh draws), k={args.k}, {args.repeats} repeats of every search in turn", flush=True)

    for n in sizes:
        started = time.perf_counter()
        if args.uniform:
            everything = uniform(n + args.queries, args.dim, args.seed)
        else:
            everything = mixture(n + args.queries, args.dim, args.items_per_cluster, args.seed)
        vectors, queries = everything[:n], everything[n:]
        single = queries[: args.single_queries]
        print(f"\n== {n:,} items x {args.dim} ({vectors.nbytes / 1024**3:.2f} GB), generated in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        flat = faiss.IndexFlatIP(args.dim)
        flat.add(vectors)
        flat_build = time.perf_counter() - started
        indexes, builds = {"flat": flat}, {"flat": (flat_build, "", 0.0)}
        for kind in kinds:
            rss_before = tree_rss_bytes(os.getpid())
            started = time.perf_counter()
            index, _, params = build_index(vectors, IndexSettings(kind=kind, seed=args.seed))
            seconds = time.perf_counter() - started
            grown = (tree_rss_bytes(os.getpid()) - rss_before) / 1024**3
            indexes[kind] = index
            builds[kind] = (seconds, ", ".join(f"{key}={value}" for key, value in params.items()), grown)
            print(f"built {kind} in {seconds:.1f} s", flush=True)

        # A B C A B C: the exact baseline and every candidate, each search in turn, per repeat.
        batch: dict[str, list[float]] = {name: [] for name in indexes}
        one: dict[str, list[float]] = {name: [] for name in indexes}
        found: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):
            for name, index in indexes.items():
                seconds, rows = time_batch(index, queries, args.k)
                batch[name].append(seconds)
                found[name] = rows
                one[name].append(time_single(index, single, args.k))
        exact_rows = found["flat"]
        scores, reference = exact_search(vectors, queries[:50], args.k)
        assert recall_at_k(exact_rows[:50], reference) == 1.0, "IndexFlatIP disagrees with exact_search"
        flat_qps = args.queries / statistics.median(batch["flat"])
        flat_ms = 1000 * statistics.median(one["flat"])
        print(f"exact neighbours (50 queries): mean cosine of the 1st {scores[:, 0].mean():.3f}, "
              f"of the {args.k}th {scores[:, -1].mean():.3f}")
        print(f"baseline flat (IndexFlatIP, exact): build {flat_build:.2f} s; batch {flat_qps:,.0f} q/s; "
              f"one query per call {flat_ms:.2f} ms", flush=True)
        for kind in kinds:
            build, shown, grown = builds[kind]
            ann_qps = args.queries / statistics.median(batch[kind])
            ann_ms = 1000 * statistics.median(one[kind])
            recall = recall_at_k(found[kind], exact_rows)
            pairs = ", ".join(f"{f / a:.1f}" for f, a in zip(batch["flat"], batch[kind]))
            print(f"{kind} ({shown}): build {build:.1f} s (x{build / flat_build:.0f} the flat build), "
                  f"memory +{grown:.2f} GB; recall@{args.k} {recall:.4f}")
            print(f"  batch: {ann_qps:,.0f} q/s vs flat {flat_qps:,.0f} q/s -> x{ann_qps / flat_qps:.1f} (per pair: {pairs})")
            print(f"  one query per call: {ann_ms:.2f} ms vs flat {flat_ms:.2f} ms -> x{flat_ms / ann_ms:.1f}", flush=True)
            if args.sweep:
                index = indexes[kind]
                knob = "ef_search" if kind == "hnsw" else "nprobe"
                for value in ((32, 64, 128, 256) if kind == "hnsw" else (8, 16, 32, 64)):
                    if kind == "hnsw":
                        index.hnsw.efSearch = value
                    else:
                        index.nprobe = value
                    seconds, rows = time_batch(index, queries, args.k)
                    print(f"  sweep {knob}={value}: recall@{args.k} {recall_at_k(rows, exact_rows):.4f}, "
                          f"{args.queries / seconds:,.0f} q/s (x{args.queries / seconds / flat_qps:.1f} flat)", flush=True)
        del indexes, index, flat
        del vectors, everything
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.1f}, after {load_after[0]:.1f}")


if __name__ == "__main__":
    main()
