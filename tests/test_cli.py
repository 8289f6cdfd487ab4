"""The `interests` command: check-landing, summary and evaluate on tiny inputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from interests.catalog import ITEM_EMBEDDINGS, PIPELINE_RUNS, TableSpec, table
from interests.cli import NIGHT_TABLES, main
from interests.lake import Lake
from interests.runtime import record_stage

DS = "2026-11-20"


@pytest.fixture
def paths(tmp_path, monkeypatch):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    monkeypatch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(landing))
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(lake))
    return landing, lake, tmp_path


def test_check_landing_fails_clearly_on_a_missing_or_empty_day(paths, caplog):
    landing, _, _ = paths
    assert main(["check-landing", "--ds", DS]) == 2
    assert f"events/ds={DS} does not exist" in caplog.text
    folder = landing / "events" / f"ds={DS}"
    folder.mkdir(parents=True)
    (folder / "part-0.jsonl").write_text("")
    assert main(["check-landing", "--ds", DS]) == 2
    assert "is empty" in caplog.text
    (folder / "part-0.jsonl").write_text('{"event_id": "e1"}\n')
    assert main(["check-landing", "--ds", DS]) == 0


def test_check_landing_rejects_a_bad_ds(paths, caplog):
    assert main(["check-landing", "--ds", "2026-02-30"]) == 2
    assert "not a calendar day" in caplog.text


_ROW_VALUES = {
    pa.string(): "x", pa.int64(): 1, pa.float64(): 1.0, pa.bool_(): True,
    pa.list_(pa.float32()): [1.0, 0.0], pa.list_(pa.string()): ["x"],
}


def _one_row(spec: TableSpec, ds: str, **values) -> pa.Table:
    """One schema-valid row of a ds-partitioned table; ``values`` set columns by name."""
    row = {"ds": ds, **values}
    columns = {}
    for field in spec.schema:
        if field.name in row:
            value = row[field.name]
        elif pa.types.is_timestamp(field.type):
            value = datetime(2026, 1, 1, tzinfo=UTC)
        elif pa.types.is_map(field.type):
            value = []
        else:
            value = _ROW_VALUES[field.type]
        columns[field.name] = pa.array([value], field.type)
    return pa.table(columns, schema=spec.schema)


def _errors(caplog) -> str:
    """The ERROR lines only: the lake logs its writes at INFO when another test raised the level."""
    return "\n".join(record.getMessage() for record in caplog.records if record.levelname == "ERROR")


def _publish_night(lake_root, ds: str, status: str = "published") -> None:
    """The smallest lake a published night leaves: a row in each night table and a pipeline_runs row."""
    lake = Lake(lake_root)
    for name in NIGHT_TABLES:
        lake.write_partition(table(name), ds, _one_row(table(name), ds))
    lake.write_partition(PIPELINE_RUNS, ds, _one_row(PIPELINE_RUNS, ds, run_id="manual__r1", status=status))


def test_summary_lists_every_table_with_its_rows(paths, capsys):
    _, lake_root, _ = paths
    _publish_night(lake_root, DS)
    rows = pa.table({
        "ds": [DS] * 2, "item_id": ["i1", "i2"], "embedding": [[1.0, 0.0]] * 2, "text_embedding": [[1.0, 0.0]] * 2,
        "factors_source": ["engagement"] * 2, "topic_id": ["t0001"] * 2, "subinterest_id": ["s0001"] * 2,
        "model_version": ["m"] * 2, "text_hash": ["h"] * 2,
    })
    Lake(lake_root).write_partition(ITEM_EMBEDDINGS, DS, rows)
    assert main(["summary", "--ds", DS]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("item_embeddings"))
    assert line.split()[1] == "2"
    assert "user_topics" in out and "make mlflow-ui" in out
    assert "last publish: published (run manual__r1" in out


def test_summary_fails_naming_what_a_missing_night_lacks(paths, capsys, caplog):
    """A night that scheduled no task (or failed) leaves no rows: summary must not look like success."""
    assert main(["summary", "--ds", "2015-03-01"]) == 2
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("user_embeddings"))
    assert line.split()[1] == "0"  # the row counts are still printed
    assert "make mlflow-ui" not in out
    errors = _errors(caplog).splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("the night ds=2015-03-01 did not produce its tables under ")
    assert f"no rows in {', '.join(NIGHT_TABLES)}; no publish attempt in pipeline_runs" in errors[0]


@pytest.mark.parametrize("emptied", NIGHT_TABLES)
def test_summary_fails_when_one_night_table_has_no_rows_for_ds(paths, caplog, emptied):
    _, lake_root, _ = paths
    _publish_night(lake_root, DS)
    Lake(lake_root).write_partition(table(emptied), DS, table(emptied).schema.empty_table())
    assert main(["summary", "--ds", DS]) == 2
    assert f"no rows in {emptied} " in _errors(caplog) and "pipeline_runs" not in _errors(caplog)


def test_summary_and_check_night_fail_when_the_last_publish_did_not_pass(paths, caplog):
    _, lake_root, _ = paths
    _publish_night(lake_root, DS, status="failed")
    assert main(["summary", "--ds", DS]) == 2
    assert main(["check-night", "--ds", DS]) == 2
    assert _errors(caplog).count("last publish failed (run manual__r1)") == 2 and "no rows" not in _errors(caplog)


def _night_figures(lake_root) -> None:
    """A stage_runs row of build_hierarchy with evaluation figures, as a night leaves it."""
    metrics = {"evaluation.users.report": 40.0, "evaluation.ratio.best_level_to_ease": 1.25}
    for method, recall in (("user", 0.30), ("subinterest", 0.25), ("ease", 0.24), ("popular", 0.05), ("text", 0.10)):
        metrics |= {f"evaluation.{method}.recall_at_10": recall, f"evaluation.{method}.recall_at_50": 2 * recall,
                    f"evaluation.{method}.ndcg_at_10": recall / 2, f"evaluation.{method}.users": 40.0}
    record_stage(Lake(lake_root), DS, "build_hierarchy", "r1", {"items": 4}, metrics)


def test_evaluate_prints_the_nights_retrieval_figures_and_nmi(paths, capsys):
    _, lake_root, tmp_path = paths
    found = pa.table({
        "ds": [DS] * 4, "item_id": ["a", "b", "c", "d"], "embedding": [[1.0, 0.0]] * 4,
        "text_embedding": [[1.0, 0.0]] * 4, "factors_source": ["engagement"] * 4,
        "topic_id": ["t0001", "t0001", "t0002", "t0002"], "subinterest_id": ["s0001", "s0002", "s0003", "s0003"],
        "model_version": ["m"] * 4, "text_hash": ["h"] * 4,
    })
    Lake(lake_root).write_partition(ITEM_EMBEDDINGS, DS, found)
    truth = tmp_path / "truth"
    truth.mkdir()
    pq.write_table(pa.table({"item_id": ["a", "b", "c", "d"], "topic": [5, 5, 7, 7], "subinterest": [1, 2, 3, 4]}),
                   truth / "items.parquet")
    assert main(["evaluate", "--ds", DS]) == 2  # no figures yet: the night has not run
    _night_figures(lake_root)
    assert main(["evaluate", "--ds", DS, "--truth", str(truth), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    scores = result["topic_recovery"]
    assert scores["topic_nmi"] == pytest.approx(1.0)
    assert scores["subinterest_nmi"] < 1.0
    assert scores["items"] == 4
    assert result["retrieval"]["user.recall_at_10"] == pytest.approx(0.30)
    assert main(["evaluate", "--ds", DS]) == 0
    out = capsys.readouterr().out
    assert "user 0.300, subinterest 0.250, ease 0.240, popular 0.050, text 0.100; best level / EASE = 1.25" in out
    assert "sub-interest level (40)" in out


def test_check_night_fails_loudly_unless_the_night_was_published_with_its_tables(paths, caplog):
    _, lake_root, _ = paths
    assert main(["check-night", "--ds", "2015-03-01"]) == 2
    assert "did not produce its tables" in caplog.text and "no publish attempt" in caplog.text
    _publish_night(lake_root, "2015-03-01")
    assert main(["check-night", "--ds", "2015-03-01"]) == 0


def test_check_night_since_ignores_an_earlier_publish_of_the_same_ds(paths, caplog):
    """make night passes the time it started: tables left by an earlier run must not pass for this one's."""
    _, lake_root, _ = paths
    _publish_night(lake_root, DS)  # published at 2026-01-01T00:00:00Z
    assert main(["check-night", "--ds", DS, "--since", "2026-06-01T00:00:00Z"]) == 2
    assert "no publish attempt since 2026-06-01T00:00:00Z (the last was at 2026-01-01T00:00:00Z)" in caplog.text
    assert main(["check-night", "--ds", DS, "--since", "2026-01-01T00:30:00+01:00"]) == 0
    assert main(["check-night", "--ds", DS, "--since", "last night"]) == 2
    assert "--since 'last night' is not an ISO-8601 time" in caplog.text
