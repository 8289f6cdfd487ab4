"""Soak: N consecutive generated nights on a fresh lake, then lake maintenance; do time, files and consistency hold?

Every night runs the five jobs (clean_events, encode_texts, learn_behaviour, build_hierarchy,
publish) one after another, each as its own ``python jobs/<job>.py --ds D`` process with its own
Spark session, as the DAG's spark-submit tasks do (start-up included: that is what a night pays).
After the last night ``jobs/maintain_lake.py`` runs once with ``compact_days`` = N, so every
partition the soak wrote is compacted, as if the nightly maintenance had run after each night.

Printed: per-night wall time (and per job), events / users / items of each night; per table the
live Delta files (what the current version reads: count, bytes), the files stored under the table
(live or removed, not yet vacuumed), the Delta versions and the rows, before and after maintenance;
then consistency checks as PASS/FAIL lines (the script exits 1 if any fails):

- every night is published (its ``pipeline_runs`` row), and the latest published night is the last;
- every published night's tables, read at the versions its publication names, hold the row counts it
  recorded, before and after maintenance (vacuum must keep at least the last ``keep_nights``);
- maintenance changed no table's rows at its current version;
- MLflow: one ``interests-hierarchy`` version per night tagged with its ds and ``gate=passed``, the
  one its pipeline_runs row names; ``production`` on the last night's versions; no version whose ds
  is not a published night unless tagged ``gate=failed``; one encoder version for the one model.

Ratios against baselines measured in the same run: wall time of the last 5 nights over nights 2-6
(the lookback window still filling) and over the first 5 nights with a full window; live files,
live bytes, stored files and stored bytes after maintenance over before.

The jobs run from a snapshot of the committed code (``git archive HEAD`` into the work folder), not
the working tree, so edits made while the soak runs cannot change it halfway (``--worktree`` runs
the working tree instead).

    .venv/bin/python benchmarks/bench_soak.py [--nights 30] [--preset small] [--users N] [--items N]
        [--lake DIR] [--keep] [--keep-nights 7] [--json soak.json] [--set quality.min_metric_fraction=0]

A night the quality gate refuses (publish exits 2) does not stop the soak; three nights in a row
that fail otherwise do. ``--set SECTION.FIELD=VALUE`` overrides the config for every job.
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
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
JOBS = ("clean_events", "encode_texts", "learn_behaviour", "build_hierarchy", "publish")
HIERARCHY, ENCODER = "interests-hierarchy", "interests-encoder"


# ------------------------------------------------------------------ figures (pure, tested)


@dataclass(frozen=True)
class TableStats:
    """One Delta table as it stands: what its current version reads, what is stored, its history."""

    live_files: int
    live_bytes: int
    stored_files: int
    stored_bytes: int
    versions: int
    rows: int


def table_stats(path: Path) -> TableStats:
    """Live files and bytes from the Delta log's add actions, stored Parquet files on disk, versions, rows."""
    from deltalake import DeltaTable

    delta = DeltaTable(str(path))
    actions = pa.table(delta.get_add_actions(flatten=True))
    stored = [file for file in path.rglob("*.parquet") if "_delta_log" not in file.parts]
    return TableStats(
        live_files=actions.num_rows,
        live_bytes=int(sum(actions["size_bytes"].to_pylist())),
        stored_files=len(stored),
        stored_bytes=sum(file.stat().st_size for file in stored),
        versions=delta.version() + 1,
        rows=delta.to_pyarrow_dataset().count_rows(),  # Parquet footers: independent of the log's statistics
    )


def lake_stats(lake_root: Path) -> dict[str, TableStats]:
    """table_stats of every catalog table that exists under the lake."""
    from deltalake import DeltaTable

    from interests.catalog import TABLES

    return {name: table_stats(spec.path(lake_root)) for name, spec in TABLES.items()
            if DeltaTable.is_deltatable(str(spec.path(lake_root)))}


def files_read(path: Path, versions: set[int]) -> dict[str, int]:
    """Every data file any of these versions of the table reads, and its size in bytes."""
    from deltalake import DeltaTable

    files: dict[str, int] = {}
    for version in sorted(versions):
        actions = pa.table(DeltaTable(str(path), version=version).get_add_actions(flatten=True))
        files.update(zip(actions["path"].to_pylist(), actions["size_bytes"].to_pylist()))
    return files


def retained_once_expired(lake_root: Path, nights, keep_nights: int) -> dict[str, tuple[int, int]]:
    """Per table, (files, bytes) still stored once vacuum's retention has passed: what the current version
    or a version one of the last ``keep_nights`` published nights names reads (a projection: vacuum's
    clock is in hours, so on a soak run in one sitting it deletes almost nothing yet).
    """
    from deltalake import DeltaTable

    from interests.catalog import TABLES

    kept = sorted(nights, key=lambda night: night.ds)[-keep_nights:]
    retained = {}
    for name, spec in TABLES.items():
        path = spec.path(lake_root)
        if not DeltaTable.is_deltatable(str(path)):
            continue
        versions = {DeltaTable(str(path)).version()} | {night.table_versions[name] for night in kept
                                                        if name in night.table_versions}
        files = files_read(path, versions)
        retained[name] = (len(files), sum(files.values()))
    return retained


def totals(stats: dict[str, TableStats]) -> dict[str, int]:
    """Every figure summed over the tables."""
    names = TableStats.__dataclass_fields__
    return {name: sum(getattr(table, name) for table in stats.values()) for name in names}


def ratio(after: float, before: float) -> float:
    """after / before; nan when before is 0."""
    return after / before if before else float("nan")


def wall_ratios(walls: list[float], lookback_days: int, last: int = 5) -> dict[str, float]:
    """Median wall time of the last nights over two baselines of the same run.

    ``window_filling``: nights 2-6 (night 1 is cold: every text encoded), while the lookback window
    still grows, so this ratio includes the growth of each night's input. ``full_window``: the first
    ``last`` nights whose window is full (nights lookback_days+1 ...), left out when they overlap the
    last nights.
    """
    ratios = {}
    tail = walls[-last:]
    if len(walls) >= 1 + last + last:
        ratios["last_over_nights_2_6"] = ratio(statistics.median(tail), statistics.median(walls[1:1 + last]))
    first_full = lookback_days  # 0-based index of night lookback_days + 1
    if len(walls) - last >= first_full + last:
        ratios["last_over_first_full_window"] = ratio(
            statistics.median(tail), statistics.median(walls[first_full:first_full + last]))
    return ratios


@dataclass(frozen=True)
class Check:
    """One consistency check: its name, whether it passed, and what was found."""

    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.detail}"


def check_published(expected: list[str], attempts: list[dict]) -> list[Check]:
    """Every expected ds has a published pipeline_runs row; the latest published ds is the last expected."""
    published = sorted({row["ds"] for row in attempts if row["status"] == "published"})
    missing = [ds for ds in expected if ds not in published]
    checks = [Check("every night published", not missing,
                    f"{len(expected) - len(missing)}/{len(expected)} published" + (f"; missing {missing}" if missing else ""))]
    latest = published[-1] if published else None
    checks.append(Check("latest published night is the last", latest == (expected[-1] if expected else None),
                        f"latest {latest}, last night {expected[-1] if expected else None}"))
    return checks


def night_row_mismatches(lake, nights, tables: tuple[str, ...]) -> dict[str, list[str]]:
    """Per night (ds): the tables whose rows, read at the night's recorded version, differ from its recorded count.

    A table that cannot be read at that version (a file vacuumed away) is a mismatch too.
    """
    from interests.catalog import table

    mismatches: dict[str, list[str]] = {}
    for night in nights:
        wrong = []
        for name in tables:
            if name not in night.table_versions or name not in night.row_counts:
                wrong.append(f"{name} (not recorded)")
                continue
            try:  # the partition column alone: the row count without reading wide columns
                rows = night.read(lake, table(name), columns=["ds"]).num_rows
            except Exception as error:  # noqa: BLE001 - reported as a mismatch, the check fails
                wrong.append(f"{name} (unreadable at v{night.table_versions[name]}: {type(error).__name__}: {error})")
                continue
            if rows != night.row_counts[name]:
                wrong.append(f"{name} ({rows} rows, recorded {night.row_counts[name]})")
        if wrong:
            mismatches[night.ds] = wrong
    return mismatches


def check_recorded_rows(label: str, mismatches: dict[str, list[str]], nights: list[str], keep_nights: int) -> Check:
    """The last keep_nights nights must read their recorded rows; an older night that does not is reported, not failed."""
    kept = set(nights[-keep_nights:])
    failed = {ds: wrong for ds, wrong in mismatches.items() if ds in kept}
    older = sorted(ds for ds in mismatches if ds not in kept)
    detail = f"{len(nights) - len(mismatches)}/{len(nights)} nights read their recorded row counts at their versions"
    if failed:
        detail += f"; kept nights wrong: {failed}"
    if older:
        detail += f"; older than the kept {keep_nights} (vacuum may drop them): {older}"
    return Check(f"recorded rows at recorded versions, {label}", not failed, detail)


def check_rows_unchanged(before: dict[str, TableStats], after: dict[str, TableStats],
                         added: dict[str, int] | None = None) -> Check:
    """Maintenance kept every table's rows at its current version, but for the rows it adds itself.

    ``added``: rows a table is expected to gain (the maintenance job's own ``stage_runs`` row).
    """
    added = added or {}
    changed = {name: (before[name].rows, after[name].rows if name in after else None)
               for name in before
               if name not in after or after[name].rows != before[name].rows + added.get(name, 0)}
    detail = f"{len(before) - len(changed)}/{len(before)} tables unchanged"
    if added:
        detail += f" (counting the rows maintenance adds: {added})"
    return Check("maintenance kept every table's rows", not changed, detail + (f"; changed {changed}" if changed else ""))


@dataclass(frozen=True)
class ModelVersion:
    """What the checks need of one registered model version."""

    name: str
    version: str
    tags: dict[str, str]


def check_mlflow(versions: list[ModelVersion], aliases: dict[str, str], nights: list[str],
                 registered: dict[str, dict[str, str]]) -> list[Check]:
    """Hierarchy versions against the published nights (one each, gate passed, the recorded one), aliases, orphans.

    ``aliases``: model name -> version ``production`` names; ``registered``: ds -> its pipeline_runs'
    registered_models.
    """
    hierarchy = [v for v in versions if v.name == HIERARCHY]
    by_ds: dict[str, list[ModelVersion]] = {}
    for version in hierarchy:
        by_ds.setdefault(version.tags.get("ds", ""), []).append(version)
    problems = []
    for ds in nights:
        found = [v for v in by_ds.get(ds, []) if v.tags.get("gate") == "passed"]
        recorded = registered.get(ds, {}).get(HIERARCHY)
        if len(found) != 1:
            problems.append(f"{ds}: {len(found)} passed versions")
        elif found[0].version != recorded:
            problems.append(f"{ds}: version {found[0].version}, pipeline_runs names {recorded}")
    checks = [Check("one hierarchy version per night (ds tag, gate=passed, the one pipeline_runs names)", not problems,
                    f"{len(nights) - len(problems)}/{len(nights)} nights" + (f"; {problems}" if problems else ""))]
    orphans = [f"v{v.version} ds={v.tags.get('ds')} gate={v.tags.get('gate')}" for v in hierarchy
               if v.tags.get("ds") not in nights and v.tags.get("gate") != "failed"]
    checks.append(Check("no orphan hierarchy version", not orphans,
                        f"{len(hierarchy)} versions" + (f"; orphans {orphans}" if orphans else "")))
    last = nights[-1] if nights else None
    expected = registered.get(last, {})
    wrong = {name: (aliases.get(name), expected.get(name)) for name in (HIERARCHY, ENCODER)
             if aliases.get(name) is None or aliases.get(name) != expected.get(name)}
    checks.append(Check("production names the last night's versions", not wrong,
                        f"production {aliases}, last night {last} registered "
                        f"{ {k: v for k, v in expected.items() if k != 'mlflow_run_id'} }" + (f"; wrong {wrong}" if wrong else "")))
    encoders = [v for v in versions if v.name == ENCODER]
    model_versions = {v.tags.get("model_version") for v in encoders}
    checks.append(Check("one encoder version per encoder model", len(encoders) == len(model_versions) >= 1,
                        f"{len(encoders)} encoder versions for {len(model_versions)} model versions"))
    return checks


# ------------------------------------------------------------------ the run


@dataclass
class Night:
    """One night of the soak: its jobs' wall times and exit codes, and what it processed."""

    ds: str
    wall_s: float = 0.0
    jobs_s: dict[str, float] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    peak_rss_gb: float = 0.0
    raw_event_lines: int = 0
    events_clean: int = 0
    users: int = 0
    items: int = 0
    lake_bytes: int = 0
    status: str = ""
    """The status of its pipeline_runs row (published, failed_quality, staged), empty if publish never ran."""
    user_recall_at_10: float = float("nan")
    evaluated_users: int = 0
    load_1min: float = 0.0
    """The machine's 1-minute load average when the night ended (other sessions share the cores)."""


def _peak_rss(process: subprocess.Popen, peak: list[int]) -> None:
    from process_memory import tree_rss_bytes  # benchmarks/ is on the path of a script run from it

    while process.poll() is None:
        peak[0] = max(peak[0], tree_rss_bytes(process.pid))
        time.sleep(1.0)


def run_logged(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[int, float, int]:
    """Run a command with its output appended to ``log``; exit code, wall seconds, peak process-tree RSS."""
    with log.open("a") as out:
        out.write(f"\n===== {' '.join(command)}\n")
        out.flush()
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        peak = [0]
        watcher = threading.Thread(target=_peak_rss, args=(process, peak), daemon=True)
        watcher.start()
        code = process.wait()
        seconds = time.perf_counter() - started
        watcher.join()
    return code, seconds, peak[0]


def snapshot_code(work: Path, worktree: bool) -> tuple[Path, str]:
    """The code the jobs run: ``git archive HEAD`` of src, jobs, conf under ``work`` (or the working tree)."""
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    if worktree:
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return ROOT, f"working tree at {commit}" + (" (uncommitted changes)" if dirty else "")
    code = work / "code"
    code.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD", "src", "jobs", "conf"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive.stdout, check=True)
    return code, f"git archive of {commit}"


def job_env(code: Path, landing: Path, lake: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("INTERESTS_") and key not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    env.update({
        "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(code / "src"), "INTERESTS_HOME": str(code),
        "INTERESTS_SPARK__JARS_DIR": str(ROOT / ".spark-jars"),
        "INTERESTS_PATHS__LANDING_ROOT": str(landing), "INTERESTS_PATHS__LAKE_ROOT": str(lake), **extra,
    })
    return env


def lake_table(name: str):
    """The catalog's spec of a table (imported late: the benchmark sets the config's environment first)."""
    from interests.catalog import table

    return table(name)


def describe_night(lake, night: Night, attempts: list[dict]) -> None:
    """Fill in what the night processed from its pipeline_runs row (the last attempt of its ds)."""
    rows = [row for row in attempts if row["ds"] == night.ds]
    if rows:
        counts, stages = dict(rows[-1]["row_counts"]), dict(rows[-1]["stage_counts"])
        night.raw_event_lines = stages.get("clean_events.events.raw", 0)
        night.events_clean = counts.get("events_clean", 0)
        night.users = counts.get("user_embeddings", 0)
        night.items = counts.get("item_embeddings", 0)
        night.status = rows[-1]["status"]
        metrics = dict(rows[-1]["metrics"])
        night.user_recall_at_10 = metrics.get("build_hierarchy.evaluation.user.recall_at_10", float("nan"))
        night.evaluated_users = int(metrics.get("build_hierarchy.evaluation.user.users", 0))
    night.lake_bytes = sum(file.stat().st_size for file in Path(lake.root).rglob("*")
                           if file.is_file() and "_mlflow" not in file.parts)


def mlflow_state(tracking_uri: str) -> tuple[list[ModelVersion], dict[str, str]]:
    """Every registered version of the two models (with tags) and the versions ``production`` names."""
    from mlflow import MlflowClient

    from interests.publishing.mlflow_models import PRODUCTION, alias_versions

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    versions = [ModelVersion(name, str(v.version), dict(v.tags))
                for name in (HIERARCHY, ENCODER) for v in client.search_model_versions(f"name = '{name}'")]
    return versions, alias_versions(tracking_uri, PRODUCTION)


def _pair(before: TableStats | None, after: TableStats | None, attribute: str, scale: float = 1.0, digits: int = 0) -> str:
    """'before -> after' of one figure ('-' for a table missing on one side)."""
    def shown(stats: TableStats | None) -> str:
        return "-" if stats is None else f"{getattr(stats, attribute) / scale:,.{digits}f}"

    return f"{shown(before)} -> {shown(after)}"


def print_stats(title: str, before: dict[str, TableStats], after: dict[str, TableStats]) -> None:
    print(f"\n{title}")
    print(f"{'table':<20} {'live files':>17} {'live MB':>17} {'stored files':>17} {'stored MB':>17} "
          f"{'versions':>11} {'rows':>12}")
    for name in {**before, **after}:
        b, a = before.get(name), after.get(name)
        print(f"{name:<20} {_pair(b, a, 'live_files'):>17} {_pair(b, a, 'live_bytes', 1e6, 1):>17} "
              f"{_pair(b, a, 'stored_files'):>17} {_pair(b, a, 'stored_bytes', 1e6, 1):>17} "
              f"{_pair(b, a, 'versions'):>11} {b.rows if b else '-':>12}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--preset", default="small", help="generator preset (tiny|small|large) the size starts from")
    parser.add_argument("--users", type=int, help="generator override: users")
    parser.add_argument("--items", type=int, help="generator override: catalog size on the first day")
    parser.add_argument("--start", default="2026-11-01", help="the first night's ds")
    parser.add_argument("--lake", type=Path, help="work folder (landing, lake, logs); must not exist; kept")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    parser.add_argument("--keep-nights", type=int, help="maintenance.keep_nights (default: the config's)")
    parser.add_argument("--worktree", action="store_true", help="run the working tree's code, not a snapshot of HEAD")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="a config override for every job (INTERESTS_SECTION__FIELD), e.g. quality.min_metric_fraction=0")
    args = parser.parse_args()

    from interests.catalog import OUTPUT_TABLES
    from interests.lake import Lake
    from interests.publishing.nights import publish_attempts, published_nights

    if args.lake:
        if args.lake.exists():
            sys.exit(f"--lake {args.lake} exists: the soak starts on a fresh lake")
        work = args.lake.resolve()
        work.mkdir(parents=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="interests-soak-"))
    keep = args.keep or args.lake is not None
    landing, truth, lake_root, logs = work / "landing", work / "truth", work / "lake", work / "logs"
    logs.mkdir()
    code, code_note = snapshot_code(work, args.worktree)
    python = str(ROOT / ".venv/bin/python")
    extra = {"INTERESTS_MAINTENANCE__COMPACT_DAYS": str(args.nights)}
    if args.keep_nights:
        extra["INTERESTS_MAINTENANCE__KEEP_NIGHTS"] = str(args.keep_nights)
    for setting in args.set:
        key, _, value = setting.partition("=")
        section, _, name = key.partition(".")
        if not (section and name and value):
            sys.exit(f"--set {setting!r}: expected SECTION.FIELD=VALUE")
        extra[f"INTERESTS_{section.upper()}__{name.upper()}"] = value
    env = job_env(code, landing, lake_root, extra)

    # The benchmark's own reads use the same config as the jobs (lake, MLflow store, keep_nights).
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        os.environ.pop(key, None)
    os.environ.update({key: value for key, value in env.items() if key.startswith("INTERESTS_") and key != "INTERESTS_HOME"})
    from interests.config import load_config

    config = load_config()
    keep_nights, lookback = config.maintenance.keep_nights, config.hierarchy.lookback_days

    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "cpu")
    print(f"machine: {platform.machine()} {cpu}, {os.cpu_count()} CPUs, load {os.getloadavg()}; code: {code_note}")
    print(f"work folder: {work}; {args.nights} nights from {args.start}, preset {args.preset} "
          f"users={args.users or 'preset'} items={args.items or 'preset'}; keep_nights {keep_nights}, "
          f"lookback {lookback} days; overrides {args.set or 'none'}", flush=True)

    generate = [python, "-m", "interests", "generate", "--preset", args.preset, "--start", args.start,
                "--days", str(args.nights), "--landing", str(landing), "--truth", str(truth)]
    for option in ("users", "items"):
        if getattr(args, option):
            generate += [f"--{option}", str(getattr(args, option))]
    code_rc, seconds, _ = run_logged(generate, env, code, logs / "generate.log")
    if code_rc:
        sys.exit(f"generation failed ({code_rc}); see {logs / 'generate.log'}")
    print(f"generated {args.nights} days in {seconds:.1f} s", flush=True)

    lake = Lake(lake_root)
    days = [(date.fromisoformat(args.start) + timedelta(days=n)).isoformat() for n in range(args.nights)]
    nights: list[Night] = []
    started = time.perf_counter()
    failed_in_a_row = 0
    for n, ds in enumerate(days, start=1):
        night = Night(ds)
        peak = 0
        for job in JOBS:
            rc, seconds, rss = run_logged([python, f"jobs/{job}.py", "--ds", ds, "--run-id", f"soak-{ds}"], env, code,
                                          logs / f"{ds}.log")
            night.jobs_s[job], night.exit_codes[job], peak = seconds, rc, max(peak, rss)
            if rc:
                break
        night.wall_s, night.peak_rss_gb = sum(night.jobs_s.values()), peak / 1024**3
        night.load_1min = os.getloadavg()[0]
        describe_night(lake, night, publish_attempts(lake) if lake.exists(lake_table("pipeline_runs")) else [])
        nights.append(night)
        failed = {job: rc for job, rc in night.exit_codes.items() if rc}
        print(f"night {n:>2} {ds}: {night.wall_s:6.1f} s ("
              + ", ".join(f"{job} {s:.0f}" for job, s in night.jobs_s.items())
              + f"); {night.raw_event_lines:,} raw event lines, {night.events_clean:,} clean, {night.users:,} users, "
              f"{night.items:,} items; {night.status or 'not staged'}, user recall@10 {night.user_recall_at_10:.3f} "
              f"({night.evaluated_users} users); peak RSS {night.peak_rss_gb:.1f} GB; lake {night.lake_bytes / 1e6:.1f} MB; "
              f"load {night.load_1min:.1f}"
              + (f"; FAILED {failed} (log {logs / (ds + '.log')})" if failed else ""), flush=True)
        # A night refused by the quality gate (publish exits 2) is the pipeline working: the soak goes on.
        crashed = {job: rc for job, rc in failed.items() if not (job == "publish" and rc == 2)}
        failed_in_a_row = failed_in_a_row + 1 if crashed else 0
        if failed_in_a_row >= 3:
            print("three nights in a row failed (not the gate): the soak stops here", flush=True)
            break
    nights_s = time.perf_counter() - started

    attempts = publish_attempts(lake)
    published = published_nights(lake)
    checks = check_published(days, attempts)
    checks.append(check_recorded_rows("before maintenance", night_row_mismatches(lake, published, OUTPUT_TABLES),
                                      [night.ds for night in published], keep_nights))

    before = lake_stats(lake_root)
    rc, maintenance_s, _ = run_logged([python, "jobs/maintain_lake.py", "--ds", days[-1], "--run-id", "soak-maintenance"],
                                      env, code, logs / "maintenance.log")
    if rc:
        checks.append(Check("maintenance ran", False, f"exit {rc}; log {logs / 'maintenance.log'}"))
    after = lake_stats(lake_root)
    checks.append(check_rows_unchanged(before, after, added={"stage_runs": 1}))  # its own stage_runs row
    published_after = published_nights(lake)
    retained = retained_once_expired(lake_root, published_after, keep_nights)
    checks.append(check_recorded_rows("after maintenance", night_row_mismatches(lake, published_after, OUTPUT_TABLES),
                                      [night.ds for night in published_after], keep_nights))
    maintenance_counts = {}
    stage_rows = lake.read(lake_table("stage_runs"), ds=days[-1]).to_pylist()
    for row in stage_rows:
        if row["stage"] == "maintain_lake":
            maintenance_counts = dict(row["counts"])
    versions, aliases = mlflow_state(config.mlflow_uri)
    registered = {night.ds: night.registered_models for night in published_after}
    checks += check_mlflow(versions, aliases, [night.ds for night in published_after], registered)

    # ---- report
    walls = [night.wall_s for night in nights]
    print(f"\n{len(nights)} nights in {nights_s / 60:.1f} min; wall per night min {min(walls):.1f} s, "
          f"median {statistics.median(walls):.1f} s, max {max(walls):.1f} s; maintenance {maintenance_s:.1f} s")
    for job in JOBS:
        times = [night.jobs_s[job] for night in nights if job in night.jobs_s]
        if times:
            print(f"  {job:<16} min {min(times):6.1f}  median {statistics.median(times):6.1f}  max {max(times):6.1f} s")
    print_stats("tables before -> after maintenance (live: what the current version reads; stored: on disk)", before, after)
    total_before, total_after = totals(before), totals(after)
    print(f"{'all tables':<20} {total_before['live_files']:,} -> {total_after['live_files']:,} live files, "
          f"{total_before['live_bytes'] / 1e6:,.1f} -> {total_after['live_bytes'] / 1e6:,.1f} live MB, "
          f"{total_before['stored_files']:,} -> {total_after['stored_files']:,} stored files, "
          f"{total_before['stored_bytes'] / 1e6:,.1f} -> {total_after['stored_bytes'] / 1e6:,.1f} stored MB")
    retained_files = sum(files for files, _ in retained.values())
    retained_bytes = sum(size for _, size in retained.values())
    print(f"once vacuum's retention has passed (projection): {retained_files:,} stored files, "
          f"{retained_bytes / 1e6:,.1f} MB (what the current versions and the last {keep_nights} nights' versions read)")
    print(f"maintenance: {maintenance_counts.get('total.files_compacted', 0)} files compacted, "
          f"{maintenance_counts.get('total.files_vacuumed', 0)} files "
          f"({maintenance_counts.get('total.bytes_vacuumed', 0) / 1e6:.1f} MB) vacuumed; retention hours per table "
          + str({key.split('.')[0]: value for key, value in sorted(maintenance_counts.items())
                 if key.endswith('.retention_hours')}))
    ratios = {
        **wall_ratios(walls, lookback),
        "live_files_after_over_before": ratio(total_after["live_files"], total_before["live_files"]),
        "live_bytes_after_over_before": ratio(total_after["live_bytes"], total_before["live_bytes"]),
        "stored_files_after_over_before": ratio(total_after["stored_files"], total_before["stored_files"]),
        "stored_bytes_after_over_before": ratio(total_after["stored_bytes"], total_before["stored_bytes"]),
        "stored_files_once_expired_over_before": ratio(retained_files, total_before["stored_files"]),
        "stored_bytes_once_expired_over_before": ratio(retained_bytes, total_before["stored_bytes"]),
    }
    print("\nratios (same run): " + ", ".join(f"{name} {value:.3f}" for name, value in ratios.items()))
    print()
    for check in checks:
        print(check.line())
    passed = all(check.passed for check in checks)
    print(f"\n{'PASS' if passed else 'FAIL'}: {sum(c.passed for c in checks)}/{len(checks)} checks passed", flush=True)

    if args.json:
        args.json.write_text(json.dumps({
            "nights": [asdict(night) for night in nights], "nights_s": nights_s, "maintenance_s": maintenance_s,
            "before": {k: asdict(v) for k, v in before.items()}, "after": {k: asdict(v) for k, v in after.items()},
            "maintenance_counts": maintenance_counts, "ratios": ratios,
            "retained_once_expired": retained,
            "checks": [asdict(check) for check in checks], "code": code_note, "work": str(work),
        }, indent=1, default=str))
    if keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
