"""The night's own evaluation on a generated world big enough to measure: behaviour must pay.

The `small` preset (3,000 users, 2,000 items, 8 topics x 4 sub-interests, tastes that cut across
topics), five days, real Spark, Delta and model. Only the last night's learn_behaviour and
build_hierarchy run (after cleaning every day and encoding), then the figures the night wrote to
stage_runs are checked against its baselines of the same run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from interests.catalog import STAGE_RUNS
from interests.lake import Lake
from interests.runtime import run_job
from interests.synthetic.cli import main as generate

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAYS = ("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")
DS = DAYS[-1]


def _run(name: str, attribute: str, ds: str) -> None:
    spec = importlib.util.spec_from_file_location(f"jobs_{name}", ROOT / "jobs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert run_job(name, getattr(module, attribute), ["--ds", ds, "--run-id", "quality"], stop_spark=False) == 0


@pytest.fixture(scope="module")
def figures(tmp_path_factory, spark) -> dict[str, float]:
    root = tmp_path_factory.mktemp("quality")
    landing, truth, lake_root = root / "landing", root / "truth", root / "lake"
    assert generate(["--preset", "small", "--end", DS, "--days", str(len(DAYS)), "--landing", str(landing),
                     "--truth", str(truth)]) == 0
    patch = pytest.MonkeyPatch()
    patch.setenv("INTERESTS_PATHS__LANDING_ROOT", str(landing))
    patch.setenv("INTERESTS_PATHS__LAKE_ROOT", str(lake_root))
    for day in DAYS:
        _run("clean_events", "clean", day)
    _run("encode_texts", "encode", DS)
    _run("learn_behaviour", "learn", DS)
    _run("build_hierarchy", "build", DS)
    patch.undo()
    rows = Lake(lake_root).read(STAGE_RUNS, ds=DS).to_pylist()
    metrics = {}
    for row in rows:
        metrics.update({f"{row['stage']}.{key}": value for key, value in row["metrics"]})
    figures = {key.split("evaluation.", 1)[1]: value for key, value in metrics.items() if ".evaluation." in key} | {
        key: value for key, value in metrics.items() if key.startswith("learn_behaviour.")
    }
    print("retrieval figures:", {key: round(value, 4) for key, value in sorted(figures.items())})  # for -s runs
    return figures


# Bars from the measurement of 2026-11-24 on this world (fixed seeds), with margins for BLAS and
# thread-count differences between machines. Measured (624 reporting users), recall@10: user level
# 0.285, sub-interest level 0.301, EASE 0.284, most popular 0.032, text only 0.064; users with 3+
# interests (269): sub-interest 0.237, user 0.206, EASE 0.230; items new that day (68 users):
# recall@50 user 0.132, sub-interest 0.147, text only 0.397; text -> factors cosine 0.57 (see the last test).


def test_enough_users_are_evaluated(figures):
    assert figures["users.report"] >= 500


def test_behaviour_beats_popularity_and_text_by_far(figures):
    for level in ("user", "subinterest"):
        assert figures[f"{level}.recall_at_10"] > 6 * figures["popular.recall_at_10"], figures
        assert figures[f"{level}.recall_at_10"] > 3 * figures["text.recall_at_10"], figures


def test_the_best_level_matches_the_strong_behaviour_only_baseline(figures):
    # Measured 1.06 here (and 1.02 on the 7-day `make run` world).
    assert figures["ratio.best_level_to_ease"] >= 1.0, figures


def test_multi_interest_users_are_served_by_their_sub_interests(figures):
    # Measured 0.237 vs 0.206 (+15%) here; 0.260 vs 0.253 on the 7-day world.
    assert figures["multi_interest.subinterest.recall_at_10"] > figures["multi_interest.user.recall_at_10"], figures
    assert figures["multi_interest.subinterest.users"] >= 150


def test_new_items_are_retrieved_the_night_they_land(figures):
    assert figures["new_items.user.users"] >= 30
    assert max(figures["new_items.user.recall_at_50"], figures["new_items.subinterest.recall_at_50"]) > 0.05, figures


def test_text_predicts_behaviour_better_than_chance(figures):
    # Chance is predicting every held-back item's factors as the mean factors, ignoring its text. Both
    # cosines fall as the chosen rank grows, so the bar is the baseline of the same fit, not a number:
    # measured 2026-12-02 (rank 64 chosen on this world since the generator's dirt of 09b6c47), cosine
    # 0.363 vs 0.103 for the mean alone, R^2 0.100; 0.484 at rank 32 before.
    cosine, mean_only = figures["learn_behaviour.text_mapping.cosine"], figures["learn_behaviour.text_mapping.cosine_mean_only"]
    assert cosine > max(2 * mean_only, mean_only + 0.15), figures
    assert figures["learn_behaviour.text_mapping.r2"] > 0.05, figures
