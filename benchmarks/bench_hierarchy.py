"""Topic tree at scale: build_hierarchy on 1M clustered unit vectors, time and peak memory.

Baseline, measured in the same run on the same vectors: one full-data k-means (scikit-learn KMeans,
lloyd, n_init=1) into as many clusters as the tree's sub-interests, i.e. the flat clustering a tree
replaces. The ratio says what the tree (fine k-means on a sample + assignment + Ward on the fine
centroids + two cuts + medoids) costs relative to it.

    .venv/bin/python benchmarks/bench_hierarchy.py [--items 1000000] [--dim 384] [--clusters 48]
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from interests.hierarchy.clustering import build_hierarchy


def clustered_vectors(n: int, dim: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``clusters`` random centres, grouped 4 to a topic; float32, built in blocks."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(clusters // 4 + 1, dim)).astype(np.float32)
    centres = topics[np.arange(clusters) // 4] + 0.6 * rng.normal(size=(clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    vectors = np.empty((n, dim), dtype=np.float32)
    for begin in range(0, n, 100_000):
        part = labels[begin : begin + 100_000]
        block = centres[part] + 0.9 * rng.normal(size=(len(part), dim)).astype(np.float32)
        vectors[begin : begin + 100_000] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return vectors, labels


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=48, help="planted sub-interests (4 per topic)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    vectors, labels = clustered_vectors(args.items, args.dim, args.clusters, args.seed)
    item_ids = np.array([f"i{n:07d}" for n in range(args.items)])
    data_gb = vectors.nbytes / 1024**3
    before = peak_rss_gb()

    started = time.perf_counter()
    tree = build_hierarchy(item_ids, vectors, n_topics=None, n_subinterests=None, seed=args.seed)
    tree_seconds = time.perf_counter() - started
    tree_peak = peak_rss_gb()

    from sklearn.cluster import KMeans

    k = len(tree.subinterest_ids)
    started = time.perf_counter()
    KMeans(n_clusters=k, n_init=1, random_state=args.seed, algorithm="lloyd", max_iter=30).fit(vectors)
    baseline_seconds = time.perf_counter() - started
    nmi = normalized_mutual_info_score(labels[np.argsort(item_ids)], tree.subinterest_of_item)

    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; items {args.items:,} x {args.dim} "
          f"float32 ({data_gb:.2f} GB of vectors)")
    print(f"tree: {tree_seconds:.1f} s, {len(tree.topic_ids)} topics / {k} sub-interests chosen from the data "
          f"({args.clusters} planted; sub-interest NMI {nmi:.3f}); process peak RSS {tree_peak:.2f} GB "
          f"(before the build {before:.2f} GB)")
    print(f"baseline, one full-data KMeans into {k}: {baseline_seconds:.1f} s")
    print(f"ratio tree / baseline: {tree_seconds / baseline_seconds:.2f}")
    print(f"targets: <= 300 s and <= 12 GB: {'met' if tree_seconds <= 300 and tree_peak <= 12 else 'NOT met'}")


if __name__ == "__main__":
    main()
