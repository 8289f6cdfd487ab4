"""
### Example consumer of the published nights

Runs when `interests_nightly` has published a night: it is scheduled on the Assets of the published
tables (`interests.item_embeddings`, `interests.topics`, `interests.user_embeddings`,
`interests.user_topics`, `interests.user_subinterests`), which the nightly's `publish` task updates
together, once per published night (a night whose quality gate fails updates none). A copy of this
DAG is the starting point for a downstream job (an index build, a feature export).

`read_published_night` takes the night's `ds` from the triggering asset events (their extra is
`{"ds": ..., "run_id": ...}`) and reads it with the reader API, `interests.consume.NightReader`
(no Spark): each table at the Delta version the night's publication names, so it never sees a
staged, failed or half-rewritten night. It logs a few figures: items, topics and sub-interests,
users, the heaviest topics. A run triggered by hand (no asset event) reads the latest published night.

Like the nightly DAG, it reads the project's config (`INTERESTS_HOME`, `conf/`, `INTERESTS_*` where
Airflow runs; `INTERESTS_PATHS__LAKE_ROOT` names the lake). New DAGs are paused when Airflow first
sees them: unpause it in the UI (or `scripts/airflow.sh dags unpause example_consumer`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import dag, task
from interests_airflow.assets import PUBLISHED_ASSETS
from interests_airflow.settings import dag_settings

logger = logging.getLogger(__name__)
SETTINGS = dag_settings(Path(__file__).parent)


def triggering_ds(triggering_asset_events: Any) -> str | None:
    """The newest ds named by the events that triggered this run (None: no event names one)."""
    days = [
        event.extra["ds"]
        for events in (triggering_asset_events or {}).values()
        for event in events
        if isinstance(getattr(event, "extra", None), dict) and event.extra.get("ds")
    ]
    return max(days) if days else None


@dag(
    dag_id="example_consumer",
    doc_md=__doc__,
    schedule=list(PUBLISHED_ASSETS),
    start_date=SETTINGS.start_date,
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "interests",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(minutes=30),
    },
    tags=["interests", "example", "consumer"],
)
def example_consumer() -> None:
    @task
    def read_published_night(triggering_asset_events: Any = None) -> dict[str, Any]:
        from interests.config import load_config
        from interests.consume import NightReader

        ds = triggering_ds(triggering_asset_events)
        reader = NightReader(ds=ds, config=load_config(root=SETTINGS.project_home))
        tree = reader.topic_tree().to_pylist()
        topics = [node for node in tree if node["level"] == "topic"]
        figures = {
            "ds": reader.ds,
            "run_id": reader.night.run_id,
            "items": reader.items().num_rows,
            "topics": len(topics),
            "subinterests": len(tree) - len(topics),
            "users": reader.night.row_counts.get("user_embeddings", 0),
        }
        logger.info("published night %s: %s", reader.ds, figures)
        for node in sorted(topics, key=lambda node: -node["size"])[:3]:
            logger.info("topic %s (%d items): %s", node["node_id"], node["size"], node["label"])
        return figures

    read_published_night()


example_consumer()
