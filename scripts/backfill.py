#!/usr/bin/env python3
"""Backfill the nightly DAG through Airflow 3's own backfill, with the scheduler it needs, then report.

    scripts/backfill.py --start 2026-11-01 --end 2026-11-07      # what `make backfill START= END=` runs

1. Parses the DAGs into the metadata DB (``airflow dags reserialize``) of the project-local
   ``AIRFLOW_HOME`` (``scripts/airflow.sh`` chooses it), refusing to go on if a scheduler already
   runs there (`make airflow`: create the backfill in its UI, or stop it first).
2. Unpauses ``interests_nightly`` and runs ``airflow backfill create --dag-id interests_nightly
   --from-date START --to-date END --max-active-runs 1 --reprocess-behavior REPROCESS``: one night at a
   time, oldest first (each night folds the nights before it). This comes before any other Airflow
   process starts: reprocessing clears the days' task instances, which on sqlite raced the scheduler.
3. Starts an api-server (127.0.0.1, a free port: the tasks' Execution API) and, once it answers, a
   scheduler and a dag-processor in the background (tasks queued before the API answered failed
   their first try). The scheduler runs with ``[scheduler] use_job_schedule`` off:
   Airflow 3 runs a backfill only for an unpaused DAG, and unpausing must not start a scheduled night.
4. Waits until every night it created has ended and the scheduler has marked the backfill completed
   (an open backfill makes Airflow refuse the next one), prints each day's state and the verdict of
   ``interests check-night`` (the night published its tables), pauses the DAG again if it was paused,
   and stops what it started (also on Ctrl-C or a timeout). Exit 0 only if every night succeeded.

Days a run already exists for are not run again unless ``--reprocess`` says so (Airflow's
``none|failed|completed``; default ``failed``): they are reported as skipped, with check-night's verdict.
Component logs: ``$AIRFLOW_HOME/backfill-logs/``; task logs: ``$AIRFLOW_HOME/logs/``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

PROJECT_HOME = Path(__file__).resolve().parents[1]
AIRFLOW_SH = PROJECT_HOME / "scripts" / "airflow.sh"
DAG_ID = "interests_nightly"
FINISHED = {"success", "failed"}


def log(message: str) -> None:
    print(f"backfill: {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def airflow(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """One Airflow CLI call through scripts/airflow.sh (project-local AIRFLOW_HOME, migrated DB)."""
    result = subprocess.run(
        ["bash", str(AIRFLOW_SH), *args], env=env, cwd=PROJECT_HOME,
        capture_output=True, text=True, check=False,
    )
    if check and result.returncode != 0:
        raise SystemExit(
            f"backfill: `airflow {' '.join(args)}` failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result


def json_output(result: subprocess.CompletedProcess[str]) -> list[dict]:
    """The JSON list an `airflow ... -o json` call printed (log lines before it are skipped)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\[", result.stdout, flags=re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(result.stdout[match.start():])
        except ValueError:
            continue
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            return value
    raise SystemExit(f"backfill: no JSON list in the output of `airflow {' '.join(result.args[2:])}`:\n{result.stdout[-2000:]}")


def days_between(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if first > last:
        raise SystemExit(f"backfill: START {start} is after END {end}")
    return [(first + timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]


class Components:
    """The Airflow processes this script starts, each in its own process group, stopped by their ids."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir = env, log_dir
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        output = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept open while it runs
        self.processes[name] = subprocess.Popen(
            ["bash", str(AIRFLOW_SH), *args], env=self.env, cwd=PROJECT_HOME,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log(f"started {name} (pid {self.processes[name].pid}, log {self.log_dir / f'{name}.log'})")

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"backfill: the {name} exited ({process.returncode}):\n{tail}")

    def stop(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log(f"stopped {name}")


def wait_for_api(port: int, components: Components, timeout: float = 300) -> None:
    url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        components.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(3)
    raise SystemExit(f"backfill: the api-server did not answer on {url} within {timeout:.0f} s")


def runs_by_day(env: dict[str, str]) -> dict[str, dict]:
    """The latest run of each logical date (YYYY-MM-DD) of the nightly DAG."""
    runs = json_output(airflow(env, "dags", "list-runs", DAG_ID, "-o", "json"))
    latest: dict[str, dict] = {}
    for run in sorted(runs, key=lambda run: run.get("run_after") or ""):
        if run.get("logical_date"):
            latest[run["logical_date"][:10]] = run
    return latest


def attempted_days(env: dict[str, str], create_args: list[str]) -> list[str]:
    """The logical dates `backfill create --dry-run` says it would run, oldest first."""
    dry = airflow(env, *create_args, "--dry-run")
    return sorted(set(re.findall(r"(\d{4}-\d{2}-\d{2})[ T]00:00:00", dry.stdout.split("Runs to be attempted")[-1])))


# The open (not yet completed) backfills of the DAG, from the metadata DB (the CLI has no `backfill list`).
OPEN_BACKFILLS = f"""
from sqlalchemy import func, select
from airflow.models.backfill import Backfill
from airflow.utils.session import create_session
with create_session() as session:
    print(session.scalar(select(func.count()).where(Backfill.dag_id == {DAG_ID!r}, Backfill.completed_at.is_(None))))
"""


def open_backfills(env: dict[str, str]) -> int:
    result = subprocess.run([sys.executable, "-c", OPEN_BACKFILLS], env=env, cwd=PROJECT_HOME,
                            capture_output=True, text=True, check=True)
    return int(result.stdout.strip().splitlines()[-1])


def wait_until_completed(env: dict[str, str], components: Components, timeout: float = 180) -> None:
    """Keep the scheduler up until it marks the backfill completed (it checks every 30 s).

    Stopping it as soon as the runs end left the backfill open, and Airflow refuses a new backfill of
    the DAG while one is open ("Another backfill is running"): the next `make backfill` failed.
    """
    deadline = time.monotonic() + timeout
    while open_backfills(env):
        components.check_alive()
        if time.monotonic() > deadline:
            log(f"the scheduler has not marked the backfill completed within {timeout:.0f} s")
            return
        time.sleep(5)
    log("the backfill is marked completed")


def check_night(env: dict[str, str], day: str, since: str | None) -> tuple[bool, str]:
    args = [sys.executable, "-m", "interests", "check-night", "--ds", day] + (["--since", since] if since else [])
    result = subprocess.run(args, env=env, cwd=PROJECT_HOME, capture_output=True, text=True, check=False)
    lines = (result.stdout + result.stderr).strip().splitlines()
    return result.returncode == 0, (lines[-1] if lines else f"exit {result.returncode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", required=True, help="first ds, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last ds, YYYY-MM-DD (included)")
    parser.add_argument("--reprocess", choices=("none", "failed", "completed"), default="failed",
                        help="days that already have a run: run them again if it failed (default), always, or never")
    parser.add_argument("--timeout-hours", type=float, default=None,
                        help="give up (and stop everything) after this long; default 4 h per night")
    parser.add_argument("--poll-seconds", type=float, default=20)
    args = parser.parse_args(argv)
    days = days_between(args.start, args.end)
    timeout = (args.timeout_hours or 4 * len(days)) * 3600

    env = dict(os.environ)
    port = int(env.get("BACKFILL_API_PORT") or free_port())
    env.update({
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        # Tasks authenticate to the Execution API with tokens the api-server checks: one secret for
        # every process started here, whatever airflow.cfg holds.
        "AIRFLOW__API_AUTH__JWT_SECRET": env.get("AIRFLOW__API_AUTH__JWT_SECRET") or secrets.token_urlsafe(32),
    })
    airflow_home = Path(env.get("AIRFLOW_HOME") or PROJECT_HOME / ".airflow").resolve()
    env["AIRFLOW_HOME"] = str(airflow_home)

    log(f"AIRFLOW_HOME={airflow_home}; parsing the DAGs into the metadata DB")
    airflow(env, "dags", "reserialize")
    if airflow(env, "jobs", "check", "--job-type", "SchedulerJob", check=False).returncode == 0:
        raise SystemExit(
            f"backfill: a scheduler is already running on {airflow_home} (make airflow?): create the "
            "backfill there (UI, or scripts/airflow.sh backfill create ...), or stop it and run this again"
        )
    dags = {entry["dag_id"]: entry for entry in json_output(airflow(env, "dags", "list", "-o", "json"))}
    if DAG_ID not in dags:
        errors = airflow(env, "dags", "list-import-errors", check=False).stdout
        raise SystemExit(f"backfill: {DAG_ID} is not among the parsed DAGs:\n{errors[-3000:]}")
    was_paused = str(dags[DAG_ID].get("is_paused")).lower() == "true"

    create = ["backfill", "create", "--dag-id", DAG_ID, "--from-date", args.start, "--to-date", args.end,
              "--max-active-runs", "1", "--reprocess-behavior", args.reprocess]
    attempted = attempted_days(env, create)
    skipped = [day for day in days if day not in attempted]
    log(f"{len(attempted)} night(s) to run: {', '.join(attempted) or 'none'}"
        + (f"; skipped (a run exists, --reprocess {args.reprocess}): {', '.join(skipped)}" if skipped else ""))

    components = Components(env, airflow_home / "backfill-logs")
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    states: dict[str, str] = {}
    try:
        # The backfill is created before the scheduler starts: with --reprocess-behavior completed it
        # clears the days' task instances, and on sqlite that raced the scheduler's own writes
        # ("database is locked") and left a half-created backfill.
        if attempted:
            airflow(env, "dags", "unpause", DAG_ID)
            log(f"airflow {' '.join(create)}")
            airflow(env, *create)
        # The scheduler starts once the api-server answers: a task it queued before failed its first try
        # (the Execution API refused the connection) and waited out a retry delay.
        components.start("api-server", "api-server", "--port", str(port))
        wait_for_api(port, components)
        components.start("scheduler", "scheduler")
        components.start("dag-processor", "dag-processor")
        deadline = time.monotonic() + timeout
        while attempted:
            components.check_alive()
            runs = runs_by_day(env)
            for day in attempted:
                run = runs.get(day, {})
                # A run counts once it ended after the backfill was created (a reprocessed run is cleared first).
                ended = run.get("state") in FINISHED and (run.get("end_date") or "") >= started_at[:19]
                state = run.get("state", "not created") if ended or run.get("state") not in FINISHED else "queued"
                if states.get(day) != state:
                    log(f"ds={day}: {state}")
                    states[day] = state
            if all(states.get(day) in FINISHED for day in attempted):
                wait_until_completed(env, components)
                break
            if time.monotonic() > deadline:
                log(f"timed out after {timeout / 3600:.1f} h; stopping")
                break
            time.sleep(args.poll_seconds)
    finally:
        if attempted and was_paused:
            airflow(env, "dags", "pause", DAG_ID, check=False)
        components.stop()

    failures = 0
    print(f"\nbackfill {DAG_ID} {args.start}..{args.end} (AIRFLOW_HOME={airflow_home}):")
    for day in days:
        state = states.get(day, "skipped (run exists)" if day in skipped else "not run")
        published, verdict = check_night(env, day, started_at if day in attempted else None)
        ok = published and (state == "success" or day in skipped)
        failures += not ok
        print(f"  {day}  {state:<22} check-night: {'ok' if published else 'FAILED'}  {verdict}")
    print(f"{len(days) - failures} of {len(days)} night(s) ok" + (f", {failures} not" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
