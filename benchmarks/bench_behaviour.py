"""Behaviour factors at scale: implicit ALS item factors for 1M items and 30M engagements on this machine.

Uses the pipeline's own code (``interests.behaviour.als.ratings`` and ``fit_item_factors``) on
engagements generated inside Spark (no driver-side lists): about 1M users in 100 planted
communities, each engaging mostly with its community's items under a Zipf-like popularity, 20% noise.
Baseline, measured in the same run: the same fit on 10% of the engagements over the same catalog
(linear scaling would make the full fit 10x the baseline).

    .venv/bin/python benchmarks/bench_behaviour.py [--engagements 30000000] [--items 1000000] [--rank 64]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from interests.behaviour import als
from interests.config import load_config
from interests.spark import build_spark

COMMUNITIES = 100


class JvmPeak:
    """Samples the driver JVM's peak resident memory (VmHWM) while a fit runs."""

    def __init__(self) -> None:
        command = ["pgrep", "-P", str(os.getpid()), "java"]
        pids = subprocess.run(command, check=False, capture_output=True, text=True).stdout.split()
        self.pid = pids[0] if pids else None

    def peak_gb(self) -> float:
        if self.pid is None:
            return float("nan")
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2
        return float("nan")


def engagements(spark, n: int, n_items: int, n_users: int, seed: int):
    """user_id, item_id, base_weight, event_ts, all computed in Spark from spark.range(n)."""
    from pyspark.sql import functions as F

    per_community = n_items // COMMUNITIES
    user = F.pmod(F.xxhash64(F.col("id"), F.lit(seed)), F.lit(n_users))
    community = F.pmod(F.xxhash64(user, F.lit(seed + 1)), F.lit(COMMUNITIES))
    draw = F.rand(seed)
    rank = F.floor(F.exp(F.rand(seed + 2) * F.log(F.lit(float(per_community))))).cast("long")
    in_community = community * per_community + F.least(rank, F.lit(per_community - 1))
    noise = F.pmod(F.xxhash64(F.col("id"), F.lit(seed + 3)), F.lit(n_items))
    item = F.when(draw < 0.8, in_community).otherwise(noise)
    return spark.range(n).select(
        F.concat(F.lit("u"), user.cast("string")).alias("user_id"),
        F.concat(F.lit("i"), item.cast("string")).alias("item_id"),
        F.lit(1.0).alias("base_weight"),
        F.lit("2026-11-20 12:00:00").cast("timestamp").alias("event_ts"),
    )


def fit(frame, args, spark_partitions: int):
    ratings = als.ratings(frame).cache()
    pairs = ratings.count()
    peak = JvmPeak()
    started = time.perf_counter()
    factors = als.fit_item_factors(ratings, args.rank, 0.1, 10.0, args.iterations, args.seed, spark_partitions)
    seconds = time.perf_counter() - started
    ratings.unpersist()
    return factors, seconds, pairs, peak.peak_gb()


def community_cosines(factors: als.ItemFactors, n_items: int) -> tuple[float, float]:
    """Mean cosine of item factors within a planted community and across communities (sampled pairs)."""
    rng = np.random.default_rng(0)
    ids = np.array([int(item[1:]) for item in factors.item_ids])
    unit = factors.factors / np.maximum(np.linalg.norm(factors.factors, axis=1, keepdims=True), 1e-12)
    community = ids // (n_items // COMMUNITIES)
    a, b = rng.integers(0, len(ids), 200_000), rng.integers(0, len(ids), 200_000)
    cosine = np.einsum("ij,ij->i", unit[a], unit[b])
    same = community[a] == community[b]
    # pairs of the same community are rare at random: add pairs drawn within communities
    order = np.argsort(community, kind="stable")
    starts = np.searchsorted(community[order], np.arange(COMMUNITIES))
    ends = np.searchsorted(community[order], np.arange(COMMUNITIES), side="right")
    c = rng.integers(0, COMMUNITIES, 50_000)
    valid = ends[c] - starts[c] > 1
    c = c[valid]
    x = order[starts[c] + rng.integers(0, (ends[c] - starts[c]))]
    y = order[starts[c] + rng.integers(0, (ends[c] - starts[c]))]
    within = np.einsum("ij,ij->i", unit[x], unit[y])
    return float(np.mean(np.concatenate([within, cosine[same]]))), float(np.mean(cosine[~same]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engagements", type=int, default=30_000_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--rank", type=int, default=64, help="the largest rank of the default grid")
    parser.add_argument("--iterations", type=int, default=10, help="behaviour.max_iter of the defaults")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--driver-memory", default="14g")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    config = load_config(environ={
        "INTERESTS_SPARK__MASTER": "local[*]",
        "INTERESTS_SPARK__SHUFFLE_PARTITIONS": str(args.partitions),
        "INTERESTS_SPARK__DRIVER_MEMORY": args.driver_memory,
        "INTERESTS_PATHS__LAKE_ROOT": "/tmp/interests-bench-behaviour",
    })
    spark = build_spark(config, "bench-behaviour")
    spark.sparkContext.setCheckpointDir("/tmp/interests-bench-behaviour/checkpoints")
    full = engagements(spark, args.engagements, args.items, args.users, args.seed)
    baseline_frame = full.where(f"pmod(xxhash64(user_id, {args.seed + 9}), 10) = 0")

    _, base_seconds, base_pairs, base_peak = fit(baseline_frame, args, args.partitions)
    factors, seconds, pairs, peak = fit(full, args, args.partitions)
    within, across = community_cosines(factors, args.items)
    python_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    spark.stop()

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; Spark local[*], driver memory {args.driver_memory}, "
          f"{args.partitions} partitions/blocks; ALS implicit rank {args.rank}, {args.iterations} iterations")
    print(f"baseline (10% of engagements, {base_pairs:,} user-item pairs): {base_seconds:.1f} s, driver JVM peak {base_peak:.1f} GB")
    print(f"full ({args.engagements:,} engagements, {pairs:,} pairs, {len(factors.item_ids):,} items with factors): "
          f"{seconds:.1f} s, {args.engagements / seconds:,.0f} engagements/s, driver JVM peak {peak:.1f} GB, "
          f"Python peak {python_peak:.1f} GB")
    print(f"ratio full / baseline: {seconds / base_seconds:.2f} (10.0 would be linear in engagements)")
    print(f"sanity: mean cosine of item factors within a planted community {within:.3f}, across {across:.3f}")


if __name__ == "__main__":
    main()
