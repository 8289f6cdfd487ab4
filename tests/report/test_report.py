"""The nightly report: its figures from known nights, the page that shows them, the command that writes it."""

from __future__ import annotations

import re

import numpy as np
import pytest
from published_lake import build_published_lake

from interests.cli import main
from interests.errors import EXIT_BAD_INPUT
from interests.lake import Lake
from interests.report import write_report
from interests.report.figures import gather_report, pca_2d, sample_ids
from interests.report.html import render_report


def _figures_shown(page: str) -> dict[str, str]:
    """The churn tiles of a page: figure name -> the value shown."""
    return dict(re.findall(r'data-figure="([^"]+)"><div class="v">([^<]*)</div>', page))


def test_the_latest_published_night_is_reported_with_no_churn_against_its_identical_predecessor(tmp_path):
    build_published_lake(tmp_path / "lake")  # published 11-18 and 11-19, failed 11-20
    figures = gather_report(Lake(tmp_path / "lake"))

    assert figures["ds"] == "2026-11-19"  # not the failed 2026-11-20
    assert figures["previous_ds"] == "2026-11-18"
    churn = figures["churn"]
    assert churn["items"] | {"examples": None, "new_examples": None, "gone_examples": None} == {
        "before": 60, "after": 60, "new": 0, "gone": 0, "topic_changed": 0, "subinterest_changed": 0,
        "examples": None, "new_examples": None, "gone_examples": None,
    }
    assert (churn["users"]["compared"], churn["users"]["top_topic_changed"]) == (12, 0)
    assert [row["change"] for row in churn["topics"]["sizes"]] == [0, 0, 0]
    assert [attempt["ds"] for attempt in figures["failed_attempts"]] == ["2026-11-20"]
    assert figures["trend"]["nights"] == ["2026-11-18", "2026-11-19"]


def test_churn_counts_every_change_against_the_previous_published_night(report_lake, changes):
    figures = gather_report(report_lake, changes.ds)

    assert figures["previous_ds"] == "2026-11-19"  # the failed 2026-11-20 in between is skipped
    items, users, topics = figures["churn"]["items"], figures["churn"]["users"], figures["churn"]["topics"]
    assert (items["before"], items["after"], items["new"], items["gone"]) == (60, 62, len(changes.new_items), len(changes.gone_items))
    assert (items["topic_changed"], items["subinterest_changed"]) == (len(changes.moved_items), len(changes.moved_items))
    assert [(move["item_id"], move["from"], move["to"]) for move in items["examples"]] == [
        (item, "t0", "t1") for item in changes.moved_items
    ]
    assert items["new_examples"] == sorted(changes.new_items) and items["gone_examples"] == sorted(changes.gone_items)
    assert (users["new"], users["gone"], users["compared"], users["top_topic_changed"]) == (1, 1, 11, 1)
    assert [(move["user_id"], move["from"], move["to"]) for move in users["examples"]] == [(changes.swapped_user, "t0", "t1")]
    assert {row["id"]: (row["before"], row["after"], row["change"]) for row in topics["sizes"]} == {
        "t0": (20, 17, -3), "t1": (20, 23, 3), "t2": (20, 22, 2),
    }


def test_the_report_gathers_the_tree_users_map_gate_and_trend(report_lake, changes):
    figures = gather_report(report_lake, changes.ds, map_items=50, sample_users=5)

    tree = {topic["id"]: topic for topic in figures["topics"]}
    assert [topic["id"] for topic in figures["topics"]] == ["t1", "t2", "t0"]  # largest first
    assert tree["t0"]["label"] == "cooking / recipes" and tree["t2"]["label"] == changes.nasty_label
    assert [(sub["id"], sub["size"]) for sub in tree["t1"]["subinterests"]] == [("t1.s0", 13), ("t1.s1", 10)]
    assert tree["t0"]["medoid_title"] == "cooking 0"
    assert figures["item_map"]["items"] == 62 and figures["item_map"]["shown"] == 50
    users = figures["users"]
    assert len(users) == 5 and users[0]["user_id"] == changes.new_user  # 99 engagements
    assert abs(sum(topic["weight"] for topic in users[0]["topics"]) - 1) < 1e-9
    assert figures["gate"]["passed"] is True and len(figures["gate"]["checks"]) == 2
    assert figures["trend"]["nights"] == ["2026-11-18", "2026-11-19", changes.ds]
    user_line = next(line for line in figures["trend"]["series"] if line["method"] == "user")
    assert user_line["values"] == pytest.approx([0.25, 0.26, changes.recall])
    failed = figures["failed_attempts"]
    assert [(a["ds"], a["status"]) for a in failed] == [("2026-11-20", "failed_quality")]
    assert failed[0]["failed_checks"][0]["check"] == "embedding_unit_norm"


def test_the_page_shows_the_figures_and_escapes_every_label(report_lake, changes, tmp_path):
    path = write_report(report_lake, tmp_path / "out" / "report.html", ds=changes.ds)
    page = path.read_text(encoding="utf-8")

    assert f"<title>Interests report, ds={changes.ds}</title>" in page
    for label in ("cooking / recipes", "football / league", "cooking s0", "football s1"):
        assert label in page
    assert "jazz &lt;piano&gt; &amp; &quot;blues&quot;" in page and changes.nasty_label not in page
    assert "max |norm-1| &lt; &lt;tol&gt;" in page
    shown = _figures_shown(page)
    assert shown["items whose topic changed"] == "3"
    assert shown["users whose top topic changed"] == "1"
    assert (shown["new items"], shown["gone items"], shown["new users"], shown["gone users"]) == ("4", "2", "1", "1")
    failed_rows = re.findall(r'<tr class="failed-attempt">(.*?)</tr>', page)
    assert len(failed_rows) == 1 and "2026-11-20" in failed_rows[0] and "failed_quality" in failed_rows[0]
    assert "ds=2026-11-20" not in page  # never reported as a night, only listed as a failed attempt
    assert page.count("<circle") >= 62 + 3  # every item on the map, and the trend's points
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page


def test_the_command_writes_the_latest_published_night_and_refuses_a_failed_one(report_lake, changes, tmp_path, monkeypatch,
                                                                                  capsys):
    monkeypatch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(report_lake.root))
    monkeypatch.chdir(tmp_path)

    assert main(["report"]) == 0
    written = tmp_path / "data" / "reports" / f"{changes.ds}.html"
    assert capsys.readouterr().out.strip() == str(written.relative_to(tmp_path))
    assert written.stat().st_size > 10_000
    assert main(["report", "--ds", "2026-11-19", "--out", "old.html"]) == 0
    assert "Interests report, ds=2026-11-19" in (tmp_path / "old.html").read_text(encoding="utf-8")
    assert main(["report", "--ds", "2026-11-20", "--out", "failed.html"]) == EXIT_BAD_INPUT
    assert not (tmp_path / "failed.html").exists()


def test_render_without_a_previous_night_or_an_evaluation(report_lake, changes):
    figures = gather_report(report_lake, "2026-11-18")
    figures["evaluation"]["methods"] = []

    page = render_report(figures)

    assert figures["churn"] is None and "No earlier published night to compare with." in page
    assert "No evaluation for this night" in page


def test_pca_puts_the_widest_direction_first_with_a_fixed_sign():
    rng = np.random.default_rng(0)
    line = np.outer(np.linspace(-1, 1, 200), [3.0, 0.0, 4.0]) + rng.normal(scale=0.01, size=(200, 3))

    coordinates, explained = pca_2d(line)
    flipped, _ = pca_2d(line[::-1])

    assert explained[0] > 0.99 and sum(explained) <= 1 + 1e-9
    assert np.allclose(coordinates[:, 0], np.linspace(-1, 1, 200) * 5, atol=0.1)
    assert np.allclose(flipped[::-1], coordinates)


def test_the_map_sample_is_the_same_whatever_the_order():
    ids = [f"i{n:05d}" for n in range(1000)]

    chosen = sample_ids(ids, 100)

    assert len(chosen) == 100 and chosen == sorted(chosen)
    assert sample_ids(ids[::-1], 100) == chosen
    assert sample_ids(ids[:50], 100) == ids[:50]
