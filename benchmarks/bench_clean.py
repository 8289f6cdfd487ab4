"""The cleaning job against the machine's floor for the same landing day, in the same run (A B A B).

A (baseline, the floor): a Spark job that only reads the day's three sources (events, items, user
texts), parses every line as JSON once and writes the parsed rows to Parquet: what any Spark job on
this day must pay. B (candidate): ``jobs/clean_events.py`` itself, the whole process (JVM start,
checks, deduplication, bots, pseudonyms, snapshots, Delta commits, the stage_runs row). Both run as
fresh processes, so start-up is included. Printed per size: wall time, raw event lines per second,
the ratio job / floor, and how the job's time grows from the smallest to the largest size.

The landing days are generated once per size (``interests generate --preset large --users N``,
about 2 event lines per user) under ``--data-dir`` and reused by later runs.

    .venv/bin/python benchmarks/bench_clean.py [--users 500000,5000000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DS = "2026-11-20"  # the large preset's one day
SOURCES = ("events", "items", "user_texts")


def floor_job(landing: str, out: str) -> None:
    """Read, parse and write every line of the day once (run in its own process by the benchmark)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from interests.config import load_config
    from interests.spark import build_spark

    spark = build_spark(load_config(), "bench-floor")
    for source in SOURCES:
        lines = spark.read.text(f"{landing}/{source}/ds={DS}")
        parsed = lines.select(F.from_json("value", T.MapType(T.StringType(), T.StringType())).alias("fields"))
        parsed.write.mode("overwrite").parquet(f"{out}/{source}")
    spark.stop()


def ensure_day(data_dir: Path, users: int) -> tuple[Path, int]:
    """The generated landing zone for this many users (made once), and its event line count."""
    landing = data_dir / f"users-{users}" / "landing"
    done = landing.parent / "events.count"
    if not done.exists():
        shutil.rmtree(landing.parent, ignore_errors=True)
        landing.mkdir(parents=True)
        subprocess.run(
            [str(ROOT / ".venv/bin/interests"), "generate", "--preset", "large", "--users", str(users),
             "--landing", str(landing), "--truth", str(landing.parent / "truth")],
            check=True, stdout=subprocess.DEVNULL,
        )
        lines = sum(
            sum(1 for _ in path.open("rb")) for path in (landing / "events" / f"ds={DS}").glob("*.jsonl")
        )
        done.write_text(str(lines))
    return landing, int(done.read_text())


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed


def measure(landing: Path, scratch: Path, repeats: int) -> dict[str, list[float]]:
    env = {
        **os.environ, "HF_HUB_OFFLINE": "1", "INTERESTS_PATHS__LANDING_ROOT": str(landing),
        "INTERESTS_PATHS__LAKE_ROOT": str(scratch / "lake"),
    }
    python = str(ROOT / ".venv/bin/python")
    floor = [python, __file__, "--floor", str(landing), str(scratch / "floor")]
    job = [python, "jobs/clean_events.py", "--ds", DS, "--run-id", "bench"]
    times: dict[str, list[float]] = {"floor": [], "job": []}
    for _ in range(repeats):
        for name, command in (("floor", floor), ("job", job)):
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            times[name].append(timed(command, env))
    shutil.rmtree(scratch, ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="500000,5000000", help="comma-separated sizes (users; ~2 event lines each)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/interests-bench-clean"))
    parser.add_argument("--floor", nargs=2, metavar=("LANDING", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor_job(*args.floor)
        return

    import pyspark

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"PySpark {pyspark.__version__}, conf spark.master from conf/ (local[*] by default)")
    results = []
    for users in [int(size) for size in args.users.split(",")]:
        landing, lines = ensure_day(args.data_dir, users)
        times = measure(landing, args.data_dir / "scratch", args.repeats)
        job, floor = statistics.median(times["job"]), statistics.median(times["floor"])
        ratios = [j / f for j, f in zip(times["job"], times["floor"])]
        results.append({"users": users, "event_lines": lines, "job_s": job, "floor_s": floor})
        print(f"{lines:,} event lines ({users:,} users): job {job:.1f} s = {lines / job:,.0f} lines/s; "
              f"floor {floor:.1f} s = {lines / floor:,.0f} lines/s; job/floor x{statistics.median(ratios):.2f} "
              f"({min(ratios):.2f}-{max(ratios):.2f}); runs job {times['job']} floor {times['floor']}", flush=True)
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth = large["job_s"] / small["job_s"]
        print(f"job time grows x{growth:.2f} for x{large['event_lines'] / small['event_lines']:.2f} the lines "
              f"(floor x{large['floor_s'] / small['floor_s']:.2f})")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
