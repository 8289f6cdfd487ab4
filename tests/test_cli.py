"""The `interests` command: check-landing, summary and evaluate on tiny inputs."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from interests.catalog import ITEM_EMBEDDINGS
from interests.cli import main
from interests.lake import Lake

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


def test_summary_lists_every_table_with_its_rows(paths, capsys):
    _, lake_root, _ = paths
    rows = pa.table({
        "ds": [DS], "item_id": ["i1"], "embedding": [[1.0, 0.0]], "topic_id": ["t000"],
        "subinterest_id": ["t000.s00"], "model_version": ["m"], "text_hash": ["h"],
    })
    Lake(lake_root).write_partition(ITEM_EMBEDDINGS, DS, rows)
    assert main(["summary", "--ds", DS]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("item_embeddings"))
    assert line.split()[1] == "1"
    assert "user_topics" in out and "make mlflow-ui" in out


def test_evaluate_prints_nmi_against_the_planted_truth(paths, capsys):
    _, lake_root, tmp_path = paths
    found = pa.table({
        "ds": [DS] * 4, "item_id": ["a", "b", "c", "d"], "embedding": [[1.0, 0.0]] * 4,
        "topic_id": ["t000", "t000", "t001", "t001"], "subinterest_id": ["t000.s00", "t000.s01", "t001.s00", "t001.s00"],
        "model_version": ["m"] * 4, "text_hash": ["h"] * 4,
    })
    Lake(lake_root).write_partition(ITEM_EMBEDDINGS, DS, found)
    truth = tmp_path / "truth"
    truth.mkdir()
    pq.write_table(pa.table({"item_id": ["a", "b", "c", "d"], "topic": [5, 5, 7, 7], "subinterest": [1, 2, 3, 4]}),
                   truth / "items.parquet")
    assert main(["evaluate", "--ds", DS, "--truth", str(truth)]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["topic_nmi"] == pytest.approx(1.0)
    assert scores["subinterest_nmi"] < 1.0
    assert scores["items"] == 4
