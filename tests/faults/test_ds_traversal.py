"""Fault: a ds that is a path (``../../x`` and friends) handed to every job and CLI entry point that takes one.

Each must refuse it with exit 2 (bad input: no retry) before it opens a path, so nothing is written
anywhere: not in the lake, not beside it, not in the working directory (``interests report`` writes
to ``data/reports/<ds>.html`` relative to it). The lake API refuses it too.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from interests.catalog import EVENTS_CLEAN, InvalidDsError, landing_path
from interests.cli import main as interests_cli
from interests.errors import EXIT_BAD_INPUT
from interests.lake import Lake
from interests.runtime import run_job

ROOT = Path(__file__).resolve().parents[2]
BAD_DS = ("../../x", "2026-11-20/../../x", "..", "2026-11-20\n")
JOBS = {"clean_events": "clean", "encode_texts": "encode", "learn_behaviour": "learn", "build_hierarchy": "build",
        "publish": "publish", "maintain_lake": "maintain"}


def _cli_commands(ds: str, out: Path) -> dict[str, list[str]]:
    return {
        "summary": ["summary", "--ds", ds],
        "check-landing": ["check-landing", "--ds", ds],
        "check-night": ["check-night", "--ds", ds],
        "evaluate": ["evaluate", "--ds", ds],
        "report": ["report", "--ds", ds],
        "export-index": ["export-index", "--out", str(out / "index"), "--ds", ds],
        "nights": ["nights", "--ds", ds],
        "user": ["user", "--ds", ds, "--user-id", "u1"],
        "topics": ["topics", "--ds", ds],
        "similar": ["similar", "--ds", ds, "--item-id", "i1"],
        "recommend": ["recommend", "--ds", ds, "--user-id", "u1"],
        "generate": ["generate", "--preset", "tiny", "--end", ds, "--landing", str(out / "landing"),
                     "--truth", str(out / "truth")],
    }


def _files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Path:
    """A working directory with a lake and landing root inside it, nested so that ../../ stays in tmp_path."""
    work = tmp_path / "a" / "b" / "work"
    (work / "data").mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(work / "data" / "lake"))
    monkeypatch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(work / "data" / "landing"))
    return tmp_path


def _exit_code(call) -> int:
    try:
        return call()
    except SystemExit as stop:  # argparse refuses a bad --end itself, with exit 2
        return stop.code


@pytest.mark.parametrize("ds", BAD_DS)
def test_every_job_and_cli_command_refuses_a_path_as_ds_and_writes_nothing(sandbox, ds):
    before = _files(sandbox)
    codes = {}
    for name, attribute in JOBS.items():
        spec = importlib.util.spec_from_file_location(f"jobs_{name}", ROOT / "jobs" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        codes[f"jobs/{name}.py"] = run_job(name, getattr(module, attribute), ["--ds", ds, "--run-id", "r"],
                                           stop_spark=False)
    for name, argv in _cli_commands(ds, sandbox / "out").items():
        codes[f"interests {name}"] = _exit_code(lambda argv=argv: interests_cli(argv))
    assert codes == dict.fromkeys(codes, EXIT_BAD_INPUT)
    assert _files(sandbox) == before, sorted(_files(sandbox) - before)


def test_the_lake_refuses_a_path_as_ds(tmp_path):
    lake = Lake(tmp_path / "lake")
    rows = pa.Table.from_pylist([], schema=EVENTS_CLEAN.schema)
    for ds in BAD_DS:
        with pytest.raises(InvalidDsError):
            lake.write_partition(EVENTS_CLEAN, ds, rows)
        with pytest.raises(InvalidDsError):
            lake.read(EVENTS_CLEAN, ds=ds)
        with pytest.raises(InvalidDsError):
            landing_path(tmp_path / "landing", "events", ds)
    assert list(tmp_path.iterdir()) == []


def test_a_job_process_exits_2_on_a_path_as_ds(sandbox):
    """The real process boundary Airflow sees: exit status 2, one error line, no traceback, nothing written."""
    before = _files(sandbox)
    job = subprocess.run(
        [sys.executable, str(ROOT / "jobs" / "clean_events.py"), "--ds", "../../x", "--run-id", "r"],
        check=False, capture_output=True, text=True, timeout=300, env=os.environ.copy(),
    )
    assert job.returncode == EXIT_BAD_INPUT, job.stderr[-2000:]
    assert "ds must look like YYYY-MM-DD" in job.stderr and "Traceback" not in job.stderr
    assert _files(sandbox) == before
