"""Lake engines: one night's user_embeddings partition written by delta-rs and by delta-spark.

The table is built in Spark (as build_hierarchy builds it: a DataFrame of every user's vector) and
handed to ``Lake.write_partition`` with each engine, each in its own process so that peaks do not
mix. delta-rs collects the DataFrame to the driver (``toArrow``) and writes from Python;
delta-spark writes from the executors and only commits on the driver. Printed per engine: wall
time of the write (session start excluded), peak RSS of the Python driver and of the whole process
tree (driver JVM included), and the ratio delta-spark / delta-rs. Both write the same rows; the
rows read back with delta-rs are compared.

    .venv/bin/python benchmarks/bench_lake_engines.py [--users 200000] [--dim 449] [--master local[2]]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from process_memory import tree_rss_bytes  # benchmarks/ is on the path of a script run from it

DS = "2026-11-20"


def write_once(engine: str, users: int, dim: int, master: str, lake_root: str) -> dict:
    """Run in a child process: build the frame in Spark, write it with ``engine``, report figures."""
    import numpy as np
    import pyarrow as pa

    from interests.catalog import USER_EMBEDDINGS
    from interests.config import load_config
    from interests.lake import Lake
    from interests.spark import build_spark

    config = load_config(
        environ={
            "INTERESTS_SPARK__MASTER": master, "INTERESTS_SPARK__DRIVER_MEMORY": "6g",
            "INTERESTS_LAKE__ENGINE": engine, "INTERESTS_PATHS__LAKE_ROOT": lake_root,
        }
    )
    spark = build_spark(config, f"bench-{engine}")
    peak_tree = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak_tree[0] = max(peak_tree[0], tree_rss_bytes(os.getpid()))
            time.sleep(0.2)

    def rows(batches):
        from interests.hierarchy.tables import embedding_array

        for batch in batches:
            ids = batch.column("id").to_numpy()
            rng = np.random.default_rng(int(ids[0]) if len(ids) else 0)
            vectors = rng.normal(size=(len(ids), dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            n = len(ids)
            yield pa.RecordBatch.from_pydict(
                {
                    "ds": [DS] * n, "user_id": [f"u{i:08d}" for i in ids],
                    "embedding": embedding_array(vectors),
                    "n_engagements": ids % 50, "n_items": ids % 40, "n_texts": ids % 2,
                    "engagement_weight": (ids % 50).astype(np.float64), "last_event_ts": pa.nulls(n, pa.timestamp("us", tz="UTC")),
                    "vector_source": ["engagement"] * n, "vector_mass": np.ones(n), "half_life_days": np.full(n, 7.0),
                }
            )

    from interests.lake import spark_schema_of

    frame = spark.range(0, users, numPartitions=8).mapInArrow(rows, spark_schema_of(USER_EMBEDDINGS))
    lake = Lake(lake_root, engine=engine, spark=spark)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    lake.write_partition(USER_EMBEDDINGS, DS, frame)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    spark.stop()
    return {
        "engine": engine, "seconds": seconds,
        "python_peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "tree_peak_gb": peak_tree[0] / 1024**3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=449, help="the retrieval space's width (behaviour 64 + text 384 + 1)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--lake", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(write_once(args.child, args.users, args.dim, args.master, args.lake)))
        return

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for engine in ("delta-rs", "delta-spark"):
            lake = str(Path(scratch) / engine)
            command = [
                sys.executable, __file__, "--child", engine, "--lake", lake,
                "--users", str(args.users), "--dim", str(args.dim), "--master", args.master,
            ]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            results[engine] = json.loads(output.strip().splitlines()[-1])
        from deltalake import DeltaTable

        tables = {
            engine: DeltaTable(str(Path(scratch) / engine / "user_embeddings")).to_pyarrow_table().sort_by("user_id")
            for engine in results
        }
        same = tables["delta-rs"].equals(tables["delta-spark"])
        rows = tables["delta-rs"].num_rows

    mib = args.users * args.dim * 4 / 1024**2
    print(f"machine: {platform.node()} {os.cpu_count()} cores, {platform.python_version()}, master {args.master}")
    print(f"user_embeddings: {rows:,} users x {args.dim} floats ({mib:,.0f} MiB of vectors); same rows both ways: {same}")
    for engine, figures in results.items():
        print(
            f"  {engine:12s} write {figures['seconds']:7.1f} s   python driver peak {figures['python_peak_gb']:5.2f} GB"
            f"   process tree peak {figures['tree_peak_gb']:5.2f} GB"
        )
    rs, spark = results["delta-rs"], results["delta-spark"]
    print(
        f"ratio delta-spark / delta-rs: time {spark['seconds'] / rs['seconds']:.2f}x, "
        f"python driver peak {spark['python_peak_gb'] / rs['python_peak_gb']:.2f}x, "
        f"tree peak {spark['tree_peak_gb'] / rs['tree_peak_gb']:.2f}x"
    )
    if not same:
        sys.exit("the two engines wrote different rows")


if __name__ == "__main__":
    main()
