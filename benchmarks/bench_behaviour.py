"""Behaviour stage at scale: implicit ALS item factors (the pipeline's own code) for 1M items and 30M engagements.

Engagements are generated inside Spark from ``spark.range`` (no driver-side lists) and cached before any
clock starts: about 1M users (seeded hash of the row id), each in one of 100 planted communities, 80% of a
user's engagements go to items of its own community and 20% to any community's, an item drawn within its
community from a Zipf-like popularity (P(rank k) ~ 1/k); event types weighted by hierarchy.event_weights,
timestamps over the 14-day lookback. Timed: ``als.ratings`` (cached, counted) + ``als.fit_item_factors``,
at the largest rank of the default grid and behaviour.max_iter (conf/base/pipeline.yml: 64, 10).
Baseline, measured in the same run: the same fit on 10% of the users (so about 10% of the engagements,
each user's history unchanged) over the same catalog; linear scaling would make the full fit x10 of it.

    .venv/bin/python benchmarks/bench_behaviour.py [--engagements 30000000] [--items 1000000] [--rank 64] \
        [--iterations 10] [--partitions 8] [--driver-memory 12g]     # quick: --engagements 300000 --items 10000
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import platform
import resource
import shlex
import subprocess
import sys
import threading
import time
from typing import Self

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from interests.behaviour import als
from interests.config import load_config
from interests.spark import build_spark

COMMUNITIES = 100
IN_COMMUNITY = 0.8
# Share of engagements by event type (most are exposure, few are purchases); weights come from the config.
EVENT_MIX = {"impression": 0.45, "click": 0.30, "dwell": 0.12, "like": 0.07, "share": 0.04, "purchase": 0.02}
WINDOW_START = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
WINDOW_DAYS = 14
GB = 1024**3


def rss_kb(pid: int, field: str) -> int:
    """VmRSS / VmHWM (kB) of a process from /proc; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def driver_jvm_pid() -> int | None:
    """The Spark driver JVM: the java child of this Python process (spark-submit execs into it)."""
    found = subprocess.run(["pgrep", "-P", str(os.getpid()), "java"], check=False, capture_output=True, text=True)
    pids = found.stdout.split()
    return int(pids[0]) if pids else None


class Sampler:
    """Every ``interval`` s: the Spark stages running (time is split among them) and both processes' RSS.

    The Spark UI is off in local runs; the status tracker still sees stages, so the fit's time is
    attributed to the call sites of its stages ("... at ALS.scala:NNN"), the rest to the driver.
    """

    def __init__(self, spark, jvm_pid: int | None, interval: float = 0.5, heartbeat: float = 60.0) -> None:
        self.tracker = spark.sparkContext.statusTracker()
        self.jvm_pid, self.interval, self.heartbeat = jvm_pid, interval, heartbeat
        self.phase = "setup"
        self.seconds: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.stages: dict[str, dict[str, set]] = collections.defaultdict(lambda: collections.defaultdict(set))
        self.jvm_peak_kb: collections.Counter = collections.Counter()
        self.python_peak_kb: collections.Counter = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = last = beat = time.perf_counter()
        while not self._stop.wait(self.interval):
            now = time.perf_counter()
            elapsed, last, phase = now - last, now, self.phase
            names = []
            for stage_id in self.tracker.getActiveStageIds():
                info = self.tracker.getStageInfo(stage_id)
                if info is not None:
                    names.append(info.name)
                    self.stages[phase][info.name].add(stage_id)
            for name in names or ["(driver: no Spark stage running)"]:
                self.seconds[phase][name] += elapsed / max(len(names), 1)
            jvm_kb = rss_kb(self.jvm_pid, "VmRSS") if self.jvm_pid is not None else 0
            self.jvm_peak_kb[phase] = max(self.jvm_peak_kb[phase], jvm_kb)
            self.python_peak_kb[phase] = max(self.python_peak_kb[phase], rss_kb(os.getpid(), "VmRSS"))
            if now - beat >= self.heartbeat:  # progress in the log, should a long run be cut short
                beat = now
                print(f"  .. +{now - started:6.0f} s [{phase}] driver JVM RSS {jvm_kb * 1024 / GB:.1f} GB; "
                      f"running: {', '.join(names) or '-'}", flush=True)

    def top(self, phase: str, n: int = 8) -> list[tuple[str, float, int]]:
        """The phase's n costliest stage call sites: (name, seconds, stages seen with that name)."""
        return [(name, s, len(self.stages[phase][name])) for name, s in self.seconds[phase].most_common(n)]


def uniform(salt: int):
    """A seeded uniform [0, 1) per row, from a hash of the row id (independent of partitioning)."""
    from pyspark.sql import functions as F

    return F.pmod(F.xxhash64(F.col("id"), F.lit(salt)), F.lit(1 << 53)).cast("double") / float(1 << 53)


def make_engagements(spark, n: int, n_items: int, n_users: int, event_weights: dict[str, float], seed: int,
                     partitions: int):
    """user_id, item_id, base_weight, event_ts, as als.engagements returns them, computed in Spark."""
    from pyspark.sql import functions as F

    per_community = max(n_items // COMMUNITIES, 1)
    user = F.pmod(F.xxhash64(F.col("id"), F.lit(seed)), F.lit(n_users))
    own = F.pmod(F.xxhash64(user, F.lit(seed + 1)), F.lit(COMMUNITIES))
    community = F.when(uniform(seed + 2) < IN_COMMUNITY, own).otherwise(
        F.floor(uniform(seed + 3) * COMMUNITIES).cast("long")
    )
    # Zipf-like within the community: floor((N + 1) ** u) - 1 has P(k) ~ 1 / (k + 1), k in [0, N).
    popularity = F.least(
        F.floor(F.exp(uniform(seed + 4) * float(np.log(per_community + 1)))).cast("long") - 1,
        F.lit(per_community - 1),
    )
    item = community * per_community + popularity
    draw, weight, bound = uniform(seed + 5), None, 0.0
    for event_type, share in EVENT_MIX.items():
        bound += share
        value = F.lit(float(event_weights[event_type]))
        weight = F.when(draw < bound, value) if weight is None else weight.when(draw < bound, value)
    weight = weight.otherwise(F.lit(float(event_weights["impression"])))
    seconds = F.floor(uniform(seed + 6) * (WINDOW_DAYS * 86400)).cast("long")
    return spark.range(0, n, numPartitions=partitions).select(
        F.format_string("u%07d", user).alias("user_id"),
        F.format_string("i%06d", item).alias("item_id"),
        weight.alias("base_weight"),
        F.timestamp_seconds(F.lit(int(WINDOW_START.timestamp())) + seconds).alias("event_ts"),
    )


def community_cosines(factors: als.ItemFactors, n_items: int, per_community_sample: int = 200) -> tuple[float, float]:
    """Mean cosine of item factors: pairs within a planted community, pairs across (community c vs c + 1)."""
    rng = np.random.default_rng(0)
    per_community = max(n_items // COMMUNITIES, 1)
    community = np.array([int(item_id[1:]) for item_id in factors.item_ids]) // per_community
    norms = np.linalg.norm(factors.factors, axis=1, keepdims=True)
    unit = factors.factors / np.maximum(norms, 1e-12)
    members = [np.flatnonzero(community == c) for c in range(COMMUNITIES)]
    picked = [rng.choice(m, size=min(len(m), per_community_sample), replace=False) for m in members]
    within, across = [], []
    for c in range(COMMUNITIES):
        a, b = unit[picked[c]], unit[picked[(c + 1) % COMMUNITIES]]
        if len(a) > 1:
            gram = a @ a.T
            within.append((gram.sum() - np.trace(gram)) / (len(a) * (len(a) - 1)))
        if len(a) and len(b):
            across.append(float((a @ b.T).mean()))
    return float(np.mean(within)), float(np.mean(across))


def run_stage(label: str, frame, args, behaviour, sampler: Sampler) -> dict:
    """Cache and count the engagements (untimed), then time ratings + fit_item_factors."""
    sampler.phase = f"{label}: generate"
    engaged = frame.cache()
    n = engaged.count()
    sampler.phase = label
    started = time.perf_counter()
    ratings = als.ratings(engaged).cache()
    pairs = ratings.count()
    rated = time.perf_counter()
    factors = als.fit_item_factors(
        ratings, args.rank, max(behaviour.regularizations), behaviour.alpha, args.iterations, behaviour.seed,
        args.partitions,
    )
    done = time.perf_counter()
    sampler.phase = f"{label}: after"
    ratings.unpersist()
    engaged.unpersist()
    result = {
        "engagements": n, "pairs": pairs, "items": len(factors.item_ids), "ratings_s": rated - started,
        "fit_s": done - rated, "total_s": done - started, "factors": factors,
    }
    print(f"[{label}] {n:,} engagements -> {pairs:,} user-item pairs, {len(factors.item_ids):,} items with factors: "
          f"ratings {result['ratings_s']:.1f} s + fit {result['fit_s']:.1f} s = {result['total_s']:.1f} s "
          f"({n / result['total_s']:,.0f} engagements/s); driver JVM RSS peak "
          f"{sampler.jvm_peak_kb[label] * 1024 / GB:.2f} GB", flush=True)
    for name, seconds, stages in sampler.top(label):
        print(f"    {seconds:7.1f} s  {name}" + (f" ({stages} stages)" if stages else ""), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engagements", type=int, default=30_000_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=None, help="default: engagements / 30 (1M at full scale)")
    parser.add_argument("--rank", type=int, default=None, help="default: the largest of behaviour.ranks (64)")
    parser.add_argument("--iterations", type=int, default=None, help="default: behaviour.max_iter (10)")
    parser.add_argument("--partitions", type=int, default=None,
                        help="spark.sql.shuffle.partitions, also ALS's user/item blocks as in the pipeline; default "
                        "8 (the committed default) from 1M engagements, 2 below (task overhead rules tiny fits)")
    parser.add_argument("--driver-memory", default="12g")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.users = args.users or max(args.engagements // 30, 1)
    args.partitions = args.partitions or (8 if args.engagements >= 1_000_000 else 2)

    config = load_config(environ={
        "INTERESTS_SPARK__MASTER": "local[*]",
        "INTERESTS_SPARK__SHUFFLE_PARTITIONS": str(args.partitions),
        "INTERESTS_SPARK__DRIVER_MEMORY": args.driver_memory,
        "INTERESTS_PATHS__LAKE_ROOT": "/tmp/interests-bench-behaviour",
    })
    behaviour = config.behaviour
    args.rank = args.rank or behaviour.dim_behaviour
    args.iterations = args.iterations or behaviour.max_iter
    spark = build_spark(config, "bench-behaviour")
    jvm_pid = driver_jvm_pid()
    full = make_engagements(spark, args.engagements, args.items, args.users, config.hierarchy.event_weights,
                            args.seed, args.partitions)
    # 10% of the users, each with all their engagements: the same catalog, a tenth of the traffic.
    baseline = full.where(f"pmod(xxhash64(user_id, {args.seed + 9}), 10) = 0")

    with Sampler(spark, jvm_pid) as sampler:
        base = run_stage("baseline", baseline, args, behaviour, sampler)
        base.pop("factors")
        cand = run_stage("full", full, args, behaviour, sampler)
        sampler.phase = "sanity"
        within, across = community_cosines(cand["factors"], args.items)
    jvm_hwm = rss_kb(jvm_pid, "VmHWM") * 1024 / GB if jvm_pid else float("nan")
    python_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB
    spark_version = spark.version
    spark.stop()

    ratio, fit_ratio = cand["total_s"] / base["total_s"], cand["fit_s"] / base["fit_s"]
    print()
    print("==== behaviour stage at scale ====")
    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GB:.1f} GiB; Spark {spark_version} "
          f"{config.spark.master}, driver memory {args.driver_memory}, {args.partitions} shuffle partitions = ALS blocks")
    print(f"ALS implicit: rank {args.rank}, {args.iterations} iterations, reg {max(behaviour.regularizations)}, "
          f"alpha {behaviour.alpha} (conf/base/pipeline.yml behaviour: largest rank {behaviour.dim_behaviour}, "
          f"max_iter {behaviour.max_iter}); data: {args.items:,} items in {COMMUNITIES} communities, "
          f"{args.users:,} users, Zipf-like popularity")
    for label, r in (("baseline (10% of users)", base), ("full", cand)):
        print(f"{label}: {r['engagements']:,} engagements, {r['pairs']:,} pairs, {r['items']:,} items with factors: "
              f"{r['total_s']:.1f} s (ratings {r['ratings_s']:.1f} s, fit {r['fit_s']:.1f} s), "
              f"{r['engagements'] / r['total_s']:,.0f} engagements/s")
    print(f"ratio full / baseline: x{ratio:.2f} for {cand['engagements'] / base['engagements']:.1f}x the "
          f"engagements (fit alone x{fit_ratio:.2f}; x10 would be linear)")
    print(f"peak memory: driver JVM {jvm_hwm:.2f} GB (VmHWM; sampled RSS peak baseline "
          f"{sampler.jvm_peak_kb['baseline'] * 1024 / GB:.2f} GB, full {sampler.jvm_peak_kb['full'] * 1024 / GB:.2f} GB), "
          f"Python {python_peak:.2f} GB (ru_maxrss)")
    print(f"sanity: mean cosine of item factors within a planted community {within:.3f}, across communities "
          f"{across:.3f}: {'ok' if within > across else 'FAILED'}")
    print(f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")


if __name__ == "__main__":
    main()
