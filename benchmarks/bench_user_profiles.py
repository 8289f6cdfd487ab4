"""Per-user aggregation at scale: every user's profile rows (user, topics, sub-interests) from engagement signals.

Candidate: ``users.user_profiles`` (narrow signal rows shuffled by user, the item matrix broadcast,
one Python call per Arrow batch of whole users). Baseline, measured in the same run and session on
the same input, alternating A B A B: the path before it (issue 13), i.e. every signal joined to its
item's 449-float vector before the shuffle, ``groupBy(user_id).applyInArrow(profile_user)``, one
Python call per user. Both end in a noop write, which makes Spark produce every column of every row.

Input, written to Parquet once before the timed runs: ``--users`` x ``--engagements-per-user``
engagements (user_id, item_id, base_weight, event_ts) over ``--items`` items with Zipf-like popularity,
items spread over ``--topics`` topics of ``--subinterests-per-topic`` sub-interests; one user in ten
also wrote a text (its own vector); the item matrix is random unit float32 rows of ``--dim``.

    .venv/bin/python benchmarks/bench_user_profiles.py [--users 20000] [--engagements-per-user 30] \\
        [--items 100000] [--repeats 2] [--no-baseline]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from process_memory import tree_rss_bytes  # benchmarks/ is on the path of a script run from it

END = datetime(2026, 11, 21, tzinfo=UTC)


class PeakMemory:
    """Samples the process tree's resident memory every 0.2 s while in the with-block."""

    def __enter__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(os.getpid()))
            time.sleep(0.2)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def item_table(items: int, dim: int, topics: int, per_topic: int, seed: int) -> pa.Table:
    """item_embeddings-like rows: item_id, topic_id, subinterest_id, unit float32 embedding."""
    from interests.hierarchy.tables import embedding_array

    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(items, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sub = rng.integers(0, topics * per_topic, items)
    return pa.table({
        "item_id": [f"i{n:08d}" for n in range(items)],
        "topic_id": [f"t{s // per_topic:04d}" for s in sub],
        "subinterest_id": [f"s{s:05d}" for s in sub],
        "embedding": embedding_array(vectors),
    })


def write_inputs(spark, root: str, users: int, per_user: int, items: int, dim: int, seed: int) -> None:
    """Engagements and user texts as Parquet under root (generated in Spark, partition by partition)."""
    from pyspark.sql import functions as F

    n = users * per_user
    rank = F.floor(F.pow(F.rand(seed), 2.0) * items).cast("long")  # Zipf-like: low ids popular
    engagements = spark.range(0, n, numPartitions=max(8, n // 500_000)).select(
        F.format_string("u%09d", (F.col("id") % users)).alias("user_id"),
        F.format_string("i%08d", rank).alias("item_id"),
        F.element_at(F.array(*[F.lit(w) for w in (0.1, 1.0, 1.5, 2.0, 3.0)]),
                     (F.floor(F.rand(seed + 1) * 5) + 1).cast("int")).alias("base_weight"),
        (F.lit(END.timestamp()) - F.rand(seed + 2) * 14 * 86400).cast("timestamp").alias("event_ts"),
    )
    engagements.write.mode("overwrite").parquet(f"{root}/engagements")

    def text_vectors(batches):
        for batch in batches:
            ids = batch.column("id").to_numpy()
            rng = np.random.default_rng(int(ids[0]) if len(ids) else 0)
            vectors = rng.normal(size=(len(ids), dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            from interests.hierarchy.tables import embedding_array

            yield pa.RecordBatch.from_pydict({
                "user_id": [f"u{i:09d}" for i in ids], "text_hash": [f"h{i:09d}" for i in ids],
                "text_ts": pa.array(np.full(len(ids), int(END.timestamp() * 1e6) - 86_400_000_000)).cast(
                    pa.timestamp("us", tz="UTC")),
                "embedding": embedding_array(vectors),
            })

    texts = spark.range(0, users, 10).mapInArrow(
        text_vectors, "user_id string, text_hash string, text_ts timestamp, embedding array<float>"
    )
    texts.write.mode("overwrite").parquet(f"{root}/texts")


def run_candidate(spark, root: str, items: pa.Table, settings) -> None:
    from interests.catalog import embedding_matrix
    from interests.hierarchy.users import engagement_signals, item_rows, text_signals, user_profiles

    engagements, texts = spark.read.parquet(f"{root}/engagements"), spark.read.parquet(f"{root}/texts")
    signals = engagement_signals(engagements, item_rows(spark, items.select(["item_id", "topic_id", "subinterest_id"])))
    signals = signals.unionByName(
        text_signals(texts.select("user_id", "text_hash", "text_ts"), texts.select("text_hash", "embedding"), 0.25)
    )
    profiles = user_profiles(signals, settings, embedding_matrix(items.column("embedding")))
    profiles.write.format("noop").mode("overwrite").save()


def run_baseline(spark, root: str, items_frame, settings) -> None:
    """The path before issue 13: vectors joined before the shuffle, one profile_user call per user."""
    from pyspark.sql import functions as F

    from interests.hierarchy.profiles import PROFILE_DDL, profile_user

    engagements, texts = spark.read.parquet(f"{root}/engagements"), spark.read.parquet(f"{root}/texts")
    events = engagements.join(items_frame, "item_id").select(
        "user_id", F.lit("event").alias("source"), F.col("item_id").alias("key"), "topic_id", "subinterest_id",
        "base_weight", "event_ts", "embedding",
    )
    text_rows = texts.select(
        "user_id", F.lit("text").alias("source"), F.col("text_hash").alias("key"),
        F.lit(None).cast("string").alias("topic_id"), F.lit(None).cast("string").alias("subinterest_id"),
        F.lit(0.25).alias("base_weight"), F.col("text_ts").alias("event_ts"), "embedding",
    )

    def profile(table: pa.Table) -> pa.Table:
        return profile_user(table, settings)

    events.unionByName(text_rows).groupBy("user_id").applyInArrow(profile, PROFILE_DDL) \
        .write.format("noop").mode("overwrite").save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--engagements-per-user", type=int, default=30)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=449, help="the retrieval space's width (behaviour 64 + text 384 + 1)")
    parser.add_argument("--topics", type=int, default=12)
    parser.add_argument("--subinterests-per-topic", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="A B pairs")
    parser.add_argument("--no-baseline", action="store_true", help="time the candidate only (sizes the baseline cannot reach)")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    from interests.config import load_config
    from interests.hierarchy.profiles import ProfileSettings
    from interests.spark import build_spark

    scratch = tempfile.mkdtemp(prefix="bench-user-profiles-")
    config = load_config(environ={
        "INTERESTS_SPARK__MASTER": args.master, "INTERESTS_SPARK__DRIVER_MEMORY": args.driver_memory,
        "INTERESTS_SPARK__SHUFFLE_PARTITIONS": str(args.shuffle_partitions), "INTERESTS_PATHS__LAKE_ROOT": scratch,
    })
    spark = build_spark(config, "bench-user-profiles")
    settings = ProfileSettings(END.timestamp(), half_life_days=7.0, max_topics_per_user=5, max_subinterests_per_user=10)
    items = item_table(args.items, args.dim, args.topics, args.subinterests_per_topic, args.seed)
    started = time.perf_counter()
    write_inputs(spark, scratch, args.users, args.engagements_per_user, args.items, args.dim, args.seed)
    print(f"inputs written in {time.perf_counter() - started:.1f} s", flush=True)
    items_frame = None if args.no_baseline else spark.createDataFrame(items).cache()
    if items_frame is not None:
        items_frame.count()

    runs: dict[str, list[tuple[float, float]]] = {"baseline": [], "candidate": []}
    load_before = os.getloadavg()
    for repeat in range(args.repeats):
        for name in ("baseline", "candidate"):
            if name == "baseline" and args.no_baseline:
                continue
            with PeakMemory() as memory:
                started = time.perf_counter()
                if name == "baseline":
                    run_baseline(spark, scratch, items_frame, settings)
                else:
                    run_candidate(spark, scratch, items, settings)
                seconds = time.perf_counter() - started
            runs[name].append((seconds, memory.peak / 1024**3))
            print(f"run {repeat + 1} {name}: {seconds:.1f} s, {args.users / seconds:,.0f} users/s, "
                  f"peak RSS (driver, JVM, workers) {memory.peak / 1024**3:.2f} GB", flush=True)
    load_after = os.getloadavg()
    spark.stop()
    shutil.rmtree(scratch, ignore_errors=True)

    engagements = args.users * args.engagements_per_user
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "cpu")
    print(f"machine: {platform.machine()} {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"master {args.master}; load average before {load_before[0]:.1f}, after {load_after[0]:.1f}")
    print(f"size: {args.users:,} users x {args.engagements_per_user} = {engagements:,} engagements "
          f"(+{(args.users + 9) // 10:,} texts), {args.items:,} items x {args.dim} float32, "
          f"{args.topics} topics x {args.subinterests_per_topic} sub-interests")
    for name, figures in runs.items():
        if not figures:
            continue
        wall = statistics.median(seconds for seconds, _ in figures)
        print(f"{name}: median {wall:.1f} s over {len(figures)} runs ({', '.join(f'{s:.1f}' for s, _ in figures)}), "
              f"{args.users / wall:,.0f} users/s, {engagements / wall:,.0f} engagements/s, "
              f"peak RSS {max(peak for _, peak in figures):.2f} GB")
    if runs["baseline"] and runs["candidate"]:
        ratios = [b / c for (b, _), (c, _) in zip(runs["baseline"], runs["candidate"])]
        print(f"ratio baseline / candidate (x faster): median {statistics.median(ratios):.2f}, "
              f"range {min(ratios):.2f}-{max(ratios):.2f}")
    wall = statistics.median(seconds for seconds, _ in runs["candidate"])
    print(f"1M users x 30M engagements at this rate (linear): {30_000_000 / (engagements / wall) / 60:.1f} min "
          "(an extrapolation, not a measurement)")


if __name__ == "__main__":
    main()
