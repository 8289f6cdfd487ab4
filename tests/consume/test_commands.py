"""The reader's CLI commands through ``interests.cli.main``: the rows they print, and bad input exiting 2."""

from __future__ import annotations

import csv
import io
import json
import logging

import numpy as np
import pytest
from published_lake import item_ids, user_subinterests

from interests.behaviour.space import as_query
from interests.cli import main
from interests.errors import EXIT_BAD_INPUT
from interests.pseudonyms import pseudonymize_user_id


def _json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_nights_lists_the_published_nights(published, capsys):
    root, _ = published
    nights = _json(capsys, "nights", "--lake", str(root), "--format", "json")["nights"]
    assert [(night["ds"], night["run_id"], night["tables"]) for night in nights] == [
        ("2026-11-18", "scheduled__2026-11-18", 7), ("2026-11-19", "scheduled__2026-11-19", 7),
    ]
    assert nights[0]["published_at"] == "2030-01-01T00:00:00+00:00"
    assert nights[1]["registered_models"] == {"interests-encoder": "1", "interests-hierarchy": "2"}
    assert nights[1]["table_versions"]["user_embeddings"] == 2
    assert [n["ds"] for n in _json(capsys, "nights", "--lake", str(root), "--format", "json", "-k", "1")["nights"]] == ["2026-11-19"]
    earlier = _json(capsys, "nights", "--lake", str(root), "--format", "json", "--as-of-version", "1")["nights"]
    assert [night["ds"] for night in earlier] == ["2026-11-18"]


def test_user_prints_the_three_levels_of_the_latest_night(published, capsys):
    root, _ = published
    out = _json(capsys, "user", "--user-id", "u01", "--lake", str(root), "--format", "json")
    assert (out["ds"], out["run_id"], out["user_id"]) == ("2026-11-19", "scheduled__2026-11-19", "u01")
    assert out["user"]["n_engagements"] == 6 and "embedding" not in out["user"]
    assert [(row["subinterest_id"], row["label"], row["medoid_item_id"]) for row in out["subinterests"]] == [
        (sub, f"{'cooking' if sub.startswith('t0') else 'jazz'} {sub[-2:]}", f"{sub}.i0") for sub, _ in user_subinterests("u01")
    ]
    assert [(row["topic_id"], row["weight"]) for row in out["topics"]] == [("t0", pytest.approx(2 / 3)), ("t2", pytest.approx(1 / 3))]
    heaviest = _json(capsys, "user", "--user-id", "u01", "--lake", str(root), "--format", "json", "-k", "1")
    assert [row["topic_id"] for row in heaviest["topics"]] == ["t0"]


def test_user_by_raw_id(pseudonymized, capsys):
    root, _, key = pseudonymized
    out = _json(capsys, "user", "--raw-user-id", "u04", "--lake", str(root), "--format", "json")
    assert out["user_id"] == pseudonymize_user_id("u04", key)
    assert [row["subinterest_id"] for row in out["subinterests"]] == [sub for sub, _ in user_subinterests("u04")]


def test_topics_prints_the_tree(published, capsys):
    root, _ = published
    out = _json(capsys, "topics", "--lake", str(root), "--format", "json", "--ds", "2026-11-18")
    assert out["ds"] == "2026-11-18"
    assert [row["node_id"] for row in out["topics"]] == ["t0", "t0.s0", "t0.s1", "t1", "t1.s0", "t1.s1", "t2", "t2.s0", "t2.s1"]
    assert out["topics"][0] == {
        "level": "topic", "node_id": "t0", "parent_id": None, "label": "cooking / recipes",
        "keywords": ["cooking", "recipes"], "size": 20, "medoid_item_id": "t0.s0.i0",
    }
    assert len(_json(capsys, "topics", "--lake", str(root), "--format", "json", "-k", "1")["topics"]) == 3


def test_similar_reads_the_first_publication_of_a_ds_whose_rerun_failed(published, capsys):
    root, content = published
    out = _json(capsys, "similar", "--item-id", "t2.s1.i4", "-k", "5", "--ds", "2026-11-18", "--lake", str(root), "--format", "json")
    assert out["run_id"] == "scheduled__2026-11-18"
    vectors = content["2026-11-18"].item_vectors
    query = as_query(vectors["t2.s1.i4"])[0]
    expected = sorted((item for item in vectors if item != "t2.s1.i4"), key=lambda item: -(query @ vectors[item]))[:5]
    assert [row["item_id"] for row in out["items"]] == expected
    assert [row["score"] for row in out["items"]] == pytest.approx([float(query @ vectors[item]) for item in expected], abs=1e-5)


def test_recommend_prints_items_from_the_users_subinterests(published, capsys):
    root, _ = published
    out = _json(capsys, "recommend", "--user-id", "u00", "--level", "subinterest", "-k", "8", "--lake", str(root), "--format", "json")
    heavy, light = [sub for sub, _ in user_subinterests("u00")]
    assert [row["via_subinterest_id"] for row in out["items"]] == [heavy] * 7 + [light]
    assert {row["item_id"] for row in out["items"][:7]} == set(item_ids(heavy)[3:])


def test_recommend_folds_in_a_fresh_events_file(published, capsys, tmp_path):
    root, _ = published
    fresh = tmp_path / "fresh.jsonl"
    lines = [{"item_id": item, "event_type": "purchase", "ts": "2026-11-20T02:00:00Z"} for item in item_ids("t2.s0")[:5]]
    fresh.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    before = _json(capsys, "recommend", "--user-id", "u00", "-k", "10", "--lake", str(root), "--format", "json")["items"]
    after = _json(capsys, "recommend", "--user-id", "u00", "-k", "10", "--lake", str(root), "--format", "json",
                  "--fresh-events", str(fresh))["items"]
    assert not any(row["subinterest_id"] == "t2.s0" for row in before)
    jazz = [row["item_id"] for row in after if row["subinterest_id"] == "t2.s0"]
    assert jazz and set(jazz) <= set(item_ids("t2.s0")[5:])
    with_engaged = _json(capsys, "recommend", "--user-id", "u00", "-k", "3", "--lake", str(root), "--format", "json",
                         "--include-engaged")["items"]
    assert {row["item_id"] for row in with_engaged} & set(item_ids("t0.s0")[:3])


def test_csv_and_table_formats(published, capsys):
    root, _ = published
    assert main(["similar", "--item-id", "t0.s1.i2", "-k", "3", "--lake", str(root), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["rank"] for row in rows] == ["1", "2", "3"] and rows[0]["subinterest_id"] == "t0.s1"
    assert main(["topics", "--lake", str(root), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert json.loads(rows[0]["keywords"]) == ["cooking", "recipes"]
    assert main(["recommend", "--user-id", "u03", "-k", "2", "--lake", str(root)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("ds=2026-11-19 (run scheduled__2026-11-19")
    assert text[1].split() == ["rank", "item_id", "score", "topic_id", "topic_label", "subinterest_id",
                               "subinterest_label", "via_subinterest_id"]
    assert len(text) == 5
    assert main(["user", "--user-id", "u03", "--lake", str(root), "--format", "csv"]) == 0
    sections = [line for line in capsys.readouterr().out.splitlines() if line.startswith("# ")]
    assert sections == ["# user", "# topics", "# subinterests"]


@pytest.mark.parametrize(("argv", "message"), [
    (["user", "--user-id", "nobody"], "user 'nobody' has no row in user_embeddings of ds=2026-11-19"),
    (["recommend", "--user-id", "nobody"], "user 'nobody' has no row"),
    (["user", "--user-id", "u00", "--ds", "2026-11-20"], "ds=2026-11-20 is not a published night"),
    (["topics", "--ds", "2026-13-01"], "ds '2026-13-01' is not a calendar day"),
    (["similar", "--item-id", "nothing"], "item 'nothing' has no row in item_embeddings"),
    (["nights", "--ds", "2026-11-20"], "ds=2026-11-20 is not a published night"),
])
def test_unknown_user_item_or_night_exits_2_with_one_line(published, capsys, caplog, argv, message):
    root, _ = published
    with caplog.at_level(logging.ERROR):
        assert main([*argv, "--lake", str(root)]) == EXIT_BAD_INPUT
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and message in errors[0].getMessage()
    assert "\n" not in errors[0].getMessage()
    assert capsys.readouterr().out == ""


def test_an_empty_lake_has_no_night(tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        assert main(["recommend", "--user-id", "u00", "--lake", str(tmp_path)]) == EXIT_BAD_INPUT
    assert "no night is published under" in caplog.text


def test_results_match_the_api(published, capsys):
    root, _ = published
    from interests.consume import NightReader

    api = NightReader(root).recommend("u05", k=4).to_pylist()
    cli = _json(capsys, "recommend", "--user-id", "u05", "-k", "4", "--lake", str(root), "--format", "json")["items"]
    assert [row["item_id"] for row in cli] == [row["item_id"] for row in api]
    assert np.allclose([row["score"] for row in cli], [row["score"] for row in api])


def test_a_bad_fresh_events_file_exits_2_naming_the_line(published, tmp_path, caplog):
    root, _ = published
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text('{"item_id": "t0.s0.i1", "event_type": "click", "ts": "2026-11-20T01:00:00Z"}\n{not json\n')
    with caplog.at_level(logging.ERROR):
        assert main(["recommend", "--user-id", "u00", "--fresh-events", str(fresh), "--lake", str(root)]) == EXIT_BAD_INPUT
    assert f"{fresh}:2 is not JSON" in caplog.text
