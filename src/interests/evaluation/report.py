"""The night's evaluation figures as people read them: from pipeline_runs (or stage_runs before a publish)."""

from __future__ import annotations

from interests.catalog import PIPELINE_RUNS
from interests.lake import Lake
from interests.runtime import stage_results

PREFIX = "build_hierarchy.evaluation."
METHODS = (
    ("user", "user level"),
    ("subinterest", "sub-interest level"),
    ("ease", "EASE (behaviour only)"),
    ("popular", "most popular"),
    ("text", "text only (mean of items' text)"),
)
METRICS = ("recall_at_10", "recall_at_50", "ndcg_at_10")


def night_metrics(lake: Lake, ds: str) -> dict[str, float]:
    """The metrics of the night's latest publish attempt, or of its stages if it was not published yet."""
    runs = lake.read(PIPELINE_RUNS, ds=ds).to_pylist()
    if runs:
        latest = max(runs, key=lambda row: row["published_at"])
        if latest.get("metrics"):
            return dict(latest["metrics"])
    return stage_results(lake, ds)[1]


def evaluation(metrics: dict[str, float]) -> dict[str, float]:
    """The evaluation figures alone, without their stage prefix."""
    return {key[len(PREFIX):]: value for key, value in metrics.items() if key.startswith(PREFIX)}


def headline(metrics: dict[str, float]) -> str:
    """One line: recall@10 of both levels against the baselines, and the ratio to the strongest."""
    figures = evaluation(metrics)
    if not figures:
        return ("evaluation: none for this night (no time split, or fewer than 20 users to evaluate: "
                "the window needs days of engagements before its last one)")
    parts = [f"{name} {figures.get(f'{name}.recall_at_10', float('nan')):.3f}" for name, _ in METHODS]
    ratio = figures.get("ratio.best_level_to_ease", float("nan"))
    return (f"recall@10 on the held-out day ({int(figures.get('users.report', 0))} users): " + ", ".join(parts)
            + f"; best level / EASE = {ratio:.2f}")


def evaluation_lines(metrics: dict[str, float]) -> list[str]:
    """A small table of every method's figures, then the slices (multi-interest users, new items)."""
    figures = evaluation(metrics)
    if not figures:
        return [headline(metrics)]
    lines = [headline(metrics), "", f"  {'method':<40} " + " ".join(f"{m:>13}" for m in METRICS)]
    for prefix, title in (("", "all users"), ("multi_interest.", "users with 3+ interests"), ("new_items.", "items new that day")):
        lines.append(f"  -- {title}")
        for name, label in METHODS:
            values = [figures.get(f"{prefix}{name}.{metric}") for metric in METRICS]
            if all(value is None for value in values):
                continue
            users = figures.get(f"{prefix}{name}.users", 0)
            lines.append(f"  {label + f' ({int(users)})':<40} "
                         + " ".join(f"{value:>13.4f}" if value is not None else f"{'-':>13}" for value in values))
    tuning = {key: value for key, value in metrics.items() if key.startswith("learn_behaviour.")}
    if tuning:
        lines += ["", "  chosen: " + ", ".join(
            f"{key.split('.', 2)[-1]}={value:g}" for key, value in sorted(tuning.items()) if ".chosen." in key)]
        lines.append("  text -> behaviour mapping on held-back items: "
                     f"cosine {tuning.get('learn_behaviour.text_mapping.cosine', float('nan')):.3f} "
                     f"(the mean factors alone {tuning.get('learn_behaviour.text_mapping.cosine_mean_only', float('nan')):.3f}), "
                     f"R^2 {tuning.get('learn_behaviour.text_mapping.r2', float('nan')):.3f}")
    return lines
