"""The nightly DAG's worker-side checks and its Assets: the landing sensor, the lookback window check,
the published tables' Assets and the example consumer DAG scheduled on them.

The sensor and the window check are the real operators and callables, run on a tmp landing zone and
lake (the whole-night runs through Airflow are in test_dag_run.py).
"""

from __future__ import annotations

import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow_helpers import DAGS_FOLDER, NIGHTLY_DAG_ID

DS = "2026-11-20"
NIGHTLY_FILE = DAGS_FOLDER / "interests_nightly.py"


@pytest.fixture(scope="module")
def nightly(dagbag: Any) -> Any:
    return dagbag.dags[NIGHTLY_DAG_ID]


def _parse_nightly_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(NIGHTLY_FILE), run_name="interests_nightly_under_test")["interests_nightly"]()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dagbag: Any) -> SimpleNamespace:
    """A project home without conf/ (the config's defaults) and a landing zone and lake under tmp_path."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    monkeypatch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(landing))
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(lake))
    monkeypatch.setenv("INTERESTS_HIERARCHY__LOOKBACK_DAYS", "3")
    home = tmp_path / "home"
    home.mkdir()
    return SimpleNamespace(home=home, landing=landing, lake=lake)


def _sensor(dag: Any, ds: str = DS) -> Any:
    sensor = dag.get_task("wait_for_landing")
    sensor.ds = ds  # what rendering {{ ds }} gives
    return sensor


# --- the landing sensor ----------------------------------------------------------------------


def test_the_sensor_waits_in_reschedule_mode_with_a_timeout(nightly: Any) -> None:
    from airflow.sdk import BaseSensorOperator

    sensor = nightly.get_task("wait_for_landing")
    assert isinstance(sensor, BaseSensorOperator)
    assert sensor.mode == "reschedule"  # holds no worker slot between pokes
    assert sensor.timeout == timedelta(hours=6).total_seconds()
    assert sensor.poke_interval == 300
    assert sensor.soft_fail is False  # a night without data fails, it is not skipped
    assert sensor.ds == "{{ ds }}" and "ds" in sensor.template_fields
    assert sensor.source == "events"


def test_the_sensor_timeout_and_poke_interval_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, dagbag: Any
) -> None:
    dag = _parse_nightly_with(
        monkeypatch, INTERESTS_DAG_LANDING_TIMEOUT_HOURS="0.5", INTERESTS_DAG_LANDING_POKE_SECONDS="60"
    )
    sensor = dag.get_task("wait_for_landing")
    assert sensor.timeout == 1800 and sensor.poke_interval == 60


@pytest.mark.parametrize(
    ("name", "value"),
    [("INTERESTS_DAG_LANDING_TIMEOUT_HOURS", "six"), ("INTERESTS_DAG_LANDING_TIMEOUT_HOURS", "-1"),
     ("INTERESTS_DAG_LANDING_POKE_SECONDS", "0"), ("INTERESTS_DAG_LANDING_POKE_SECONDS", "nan")],
)
def test_the_sensor_settings_reject_a_bad_value(
    monkeypatch: pytest.MonkeyPatch, dagbag: Any, name: str, value: str
) -> None:
    with pytest.raises(ValueError, match=f"{name}='{value}'"):
        _parse_nightly_with(monkeypatch, **{name: value})


def test_the_sensor_pokes_until_the_day_holds_a_non_empty_file(
    nightly: Any, project: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    sensor = _sensor(nightly)
    monkeypatch.setattr(sensor, "project_home", str(project.home))
    folder = project.landing / "events" / f"ds={DS}"
    assert sensor.poke({}) is False
    assert str(folder) in sensor._problem and "does not exist" in sensor._problem
    folder.mkdir(parents=True)
    (folder / "part-0.jsonl").write_bytes(b"")
    assert sensor.poke({}) is False
    assert "is empty" in sensor._problem
    (folder / "part-1.jsonl.gz").write_bytes(b"\x1f\x8b not empty")
    assert sensor.poke({}) is True


def test_the_sensor_timeout_names_the_folder(
    nightly: Any, project: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poke past the timeout fails with AirflowSensorTimeout (never retried) naming the folder."""
    from airflow.sdk.exceptions import AirflowSensorTimeout

    sensor = _sensor(nightly)
    monkeypatch.setattr(sensor, "project_home", str(project.home))
    monkeypatch.setattr(sensor, "timeout", 0)
    monkeypatch.setattr(sensor, "mode", "poke")  # reschedule mode asks the API for its first try
    with pytest.raises(AirflowSensorTimeout) as raised:
        sensor.execute({"logical_date": DS})
    message = str(raised.value)
    assert f"ds={DS}" in message and str(project.landing / "events" / f"ds={DS}") in message
    assert "gave up after 0:00:00" in message and "clear this task" in message


def test_the_sensor_fails_at_once_without_a_logical_date(nightly: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="logical date"):
        nightly.get_task("wait_for_landing").render_template_fields({"logical_date": None})


# --- the lookback window check ---------------------------------------------------------------


def test_the_window_check_gets_the_project_and_the_first_night(
    nightly: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interests_airflow.checks import check_lookback_window

    task = nightly.get_task("check_lookback_window")
    assert task.python_callable is check_lookback_window
    assert task.op_kwargs["first_night"] is None  # default: the lake's first cleaned day
    dag = _parse_nightly_with(monkeypatch, INTERESTS_DAG_START_DATE="2026-11-01")
    assert dag.get_task("check_lookback_window").op_kwargs["first_night"] == "2026-11-01"


def test_the_window_check_fails_naming_the_missing_days(project: SimpleNamespace) -> None:
    from airflow.sdk.exceptions import AirflowFailException
    from interests_airflow.checks import check_lookback_window

    from interests.lake import Lake
    from interests.runtime import record_stage

    lake = Lake(project.lake)
    for ds in ("2026-11-17", DS):
        record_stage(lake, ds, "clean_events", "run", {})
    # Lookback 3 days: 2026-11-18..20; the lake starts 2026-11-17, so 11-18 and 11-19 are holes.
    with pytest.raises(AirflowFailException, match="2026-11-18, 2026-11-19"):
        check_lookback_window(DS, str(project.home))
    # Days before the deployment's first night are not holes.
    assert check_lookback_window(DS, str(project.home), first_night=DS) == [DS]
    record_stage(lake, "2026-11-18", "clean_events", "run", {})
    record_stage(lake, "2026-11-19", "clean_events", "run", {})
    assert check_lookback_window(DS, str(project.home)) == ["2026-11-18", "2026-11-19", DS]


def test_a_new_lakes_first_night_has_no_holes(project: SimpleNamespace) -> None:
    from airflow.sdk.exceptions import AirflowFailException
    from interests_airflow.checks import check_lookback_window

    from interests.lake import Lake
    from interests.runtime import record_stage

    with pytest.raises(AirflowFailException, match=f"misses 1 cleaned day.*: {DS} "):
        check_lookback_window(DS, str(project.home))  # ds itself was not cleaned
    record_stage(Lake(project.lake), DS, "clean_events", "run", {})
    assert check_lookback_window(DS, str(project.home)) == [DS]


# --- assets and the consumer -----------------------------------------------------------------


def test_publish_updates_one_asset_per_published_table(nightly: Any) -> None:
    from interests_airflow.assets import PUBLISHED_ASSETS, PUBLISHED_TABLES

    from interests.catalog import OUTPUT_TABLES

    assert set(PUBLISHED_TABLES) <= set(OUTPUT_TABLES)
    assert [asset.uri for asset in PUBLISHED_ASSETS] == [f"interests://published/{t}" for t in PUBLISHED_TABLES]
    assert [asset.name for asset in PUBLISHED_ASSETS] == [f"interests.{t}" for t in PUBLISHED_TABLES]
    assert list(nightly.get_task("publish").outlets) == list(PUBLISHED_ASSETS)
    others = [task.task_id for task in nightly.tasks if task.task_id != "publish" and task.outlets]
    assert others == []  # only a published night updates them


def test_an_unknown_table_has_no_asset() -> None:
    from interests_airflow.assets import published_asset

    with pytest.raises(ValueError, match="'events_clean' is not a published table"):
        published_asset("events_clean")


def test_the_example_consumer_is_scheduled_on_the_published_tables(dagbag: Any) -> None:
    from airflow.sdk import AssetAll
    from interests_airflow.assets import PUBLISHED_ASSETS

    consumer = dagbag.dags["example_consumer"]
    condition = consumer.timetable.asset_condition
    assert isinstance(condition, AssetAll)  # one run once every table has a new event: once a night
    assert {asset.uri for asset in condition.objects} == {asset.uri for asset in PUBLISHED_ASSETS}
    assert consumer.task_ids == ["read_published_night"]


def test_the_consumer_reads_the_ds_of_its_newest_triggering_event(dagbag: Any) -> None:
    namespace = runpy.run_path(str(DAGS_FOLDER / "example_consumer.py"), run_name="consumer_under_test")
    triggering_ds = namespace["triggering_ds"]
    event = lambda **extra: SimpleNamespace(extra=extra)  # what an asset event carries
    assert triggering_ds(None) is None and triggering_ds({}) is None
    assert triggering_ds({"a": [event(ds="2026-11-19")], "b": [event(ds="2026-11-20"), event()]}) == "2026-11-20"
