"""The night's quality gate: every check a night's tables must pass before it counts as published.

``night_checks`` reads the night's tables through a ``Lake`` and runs the checks of
``publishing/quality.py`` on them; ``jobs/publish.py`` records the result and fails the night on any
failed check. Vectors live in two spaces with two widths: the retrieval space (item and user
``embedding`` columns: behaviour part + text part + slack, see behaviour/space.py) and the text space
(``item_embeddings.text_embedding``, ``topics.centroid``: the encoder's dimension).
"""

from __future__ import annotations

from interests.catalog import (
    EVENTS_CLEAN,
    ITEM_EMBEDDINGS,
    TOPICS,
    USER_EMBEDDINGS,
    USER_SUBINTERESTS,
    USER_TOPICS,
)
from interests.config import QualityConfig
from interests.lake import Lake
from interests.publishing.quality import (
    QualityCheck,
    assignment_checks,
    conservation_check,
    embedding_checks,
    min_rows_check,
    weight_sum_check,
)

RETRIEVAL_TABLES = (ITEM_EMBEDDINGS, USER_EMBEDDINGS, USER_TOPICS, USER_SUBINTERESTS)
"""Tables whose ``embedding`` column is a retrieval-space vector."""


def night_checks(
    lake: Lake, ds: str, quality: QualityConfig, retrieval_dim: int, text_dim: int, stage_counts: dict[str, int]
) -> list[QualityCheck]:
    """Every check of the gate for the night ds."""
    cleaning = {key.split(".", 1)[1]: value for key, value in stage_counts.items() if key.startswith("clean_events.")}
    checks = [conservation_check(cleaning)]
    checks.append(min_rows_check(EVENTS_CLEAN.name, lake.read(EVENTS_CLEAN, ds=ds, columns=["ds"]).num_rows, 1))
    minimums = {ITEM_EMBEDDINGS.name: quality.min_items, USER_EMBEDDINGS.name: quality.min_users}
    for spec in RETRIEVAL_TABLES:
        rows = lake.read(spec, ds=ds, columns=["embedding"])
        checks.append(min_rows_check(spec.name, rows.num_rows, minimums.get(spec.name, 0)))
        checks.extend(embedding_checks(spec.name, rows.column("embedding"), retrieval_dim, quality.norm_tolerance))
    text = lake.read(ITEM_EMBEDDINGS, ds=ds, columns=["text_embedding"]).column("text_embedding")
    checks.extend(embedding_checks(f"{ITEM_EMBEDDINGS.name}.text_embedding", text, text_dim, quality.norm_tolerance))
    topics = lake.read(TOPICS, ds=ds)
    checks.extend(embedding_checks(TOPICS.name, topics.column("centroid"), text_dim, quality.norm_tolerance))
    checks.extend(assignment_checks(lake.read(ITEM_EMBEDDINGS, ds=ds, columns=["topic_id", "subinterest_id"]), topics))
    for spec in (USER_TOPICS, USER_SUBINTERESTS):
        checks.append(weight_sum_check(spec.name, lake.read(spec, ds=ds, columns=["user_id", "weight"])))
    return checks
