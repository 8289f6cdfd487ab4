"""One error base, one exit code for bad input, and the old bases callers catch kept."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import interests.runtime
from interests.catalog import InvalidDsError, UnknownTableError, table, validate_ds
from interests.config import ConfigError
from interests.errors import EXIT_BAD_INPUT, BadInputError, InterestsError
from interests.lake import SchemaMismatchError
from interests.landing import LandingDayError
from interests.runtime import run_job

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("error", "old_base"),
    [
        (ConfigError, ValueError),
        (InvalidDsError, ValueError),
        (UnknownTableError, KeyError),
        (SchemaMismatchError, ValueError),
        (BadInputError, RuntimeError),
        (LandingDayError, RuntimeError),
    ],
)
def test_library_errors_share_the_base_and_keep_their_old_one(error: type, old_base: type) -> None:
    assert issubclass(error, InterestsError)
    assert issubclass(error, old_base)  # callers' `except ValueError/KeyError/RuntimeError` still work


def test_raised_errors_are_caught_by_the_base_and_by_the_old_base() -> None:
    with pytest.raises(InterestsError, match="not a calendar day"):
        validate_ds("2026-02-30")
    with pytest.raises(ValueError, match="not a calendar day"):
        validate_ds("2026-02-30")
    with pytest.raises(KeyError):
        table("no_such_table")


def test_bad_input_error_is_still_importable_from_runtime() -> None:
    assert interests.runtime.BadInputError is BadInputError
    assert EXIT_BAD_INPUT == 2  # the jobs' contract with Airflow (JobOperator) and with scripts


@pytest.mark.parametrize(
    "error", [BadInputError("no events"), LandingDayError("no landing day"), ConfigError("bad value")]
)
def test_a_job_exits_with_the_one_bad_input_code(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    def body(context: object) -> dict[str, int]:
        raise error

    assert run_job("some_job", body, ["--ds", "2026-11-20"]) == EXIT_BAD_INPUT
    assert f"some_job: {error}" in caplog.text


def test_a_job_crash_is_not_bad_input() -> None:
    def body(context: object) -> dict[str, int]:
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):  # a traceback and a retry, not exit 2
        run_job("some_job", body, ["--ds", "2026-11-20"])


def test_exit_code_two_is_spelled_once() -> None:
    """Code returns or compares EXIT_BAD_INPUT; only interests/errors.py says what number it is."""
    spelled = re.compile(r"return 2\b|exit\(2\)|returncode == 2\b|EXIT_CODE = 2\b|EXIT_BAD_INPUT = 2\b")
    places = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for folder in ("src", "jobs", "dags")
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if spelled.search(line)
    ]
    assert places == ["src/interests/errors.py:10"]


def test_errors_module_is_a_light_import() -> None:
    """The DAG helper imports it while Airflow parses DAG files: nothing heavy may come with it."""
    probe = "import json, sys, interests.errors; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    modules = json.loads(result.stdout)
    assert [name for name in modules if name.startswith("interests")] == ["interests", "interests.errors"]
    assert not {"pyarrow", "pyspark", "torch", "pydantic", "deltalake"} & {name.split(".")[0] for name in modules}


def test_a_job_takes_the_per_run_options_and_records_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--max-lateness-days / --lookback-days reach the job's config; an empty one (an unset DAG param) is the config's."""
    from interests.catalog import STAGE_RUNS
    from interests.lake import Lake

    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(tmp_path / "lake"))
    seen = {}

    def body(context) -> dict[str, int]:
        seen["lateness"] = context.config.cleaning.max_lateness_days
        seen["lookback"] = context.config.hierarchy.lookback_days
        return {"rows": 1}

    argv = ["--ds", "2026-11-20", "--run-id", "r", "--max-lateness-days", "120", "--lookback-days", ""]
    assert run_job("some_job", body, argv) == 0
    assert seen == {"lateness": 120, "lookback": 14}
    counts = dict(Lake(tmp_path / "lake").read(STAGE_RUNS, ds="2026-11-20").to_pylist()[0]["counts"])
    assert counts == {"rows": 1, "run.max_lateness_days": 120}
    with pytest.raises(SystemExit):
        run_job("some_job", body, ["--ds", "2026-11-20", "--lookback-days", "two weeks"])
