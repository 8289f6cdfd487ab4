"""The night's quality gate: every check a night's tables must pass before it counts as published.

``night_checks`` reads the night's tables into Spark through a ``Lake`` and measures each table in
one aggregation on the executors (``publishing/quality.py``), so the driver receives one small row
of figures per table, however many users, items and events the night has; ``publication.py``
records the result and fails the night on any failed check. Vectors live in two spaces with two
widths: the retrieval space (item and user ``embedding`` columns: behaviour part + text part +
slack, see behaviour/space.py) and the text space (``item_embeddings.text_embedding``,
``topics.centroid``: the encoder's dimension).
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
    ROWS,
    QualityCheck,
    assignment_checks,
    assignment_figures,
    conservation_check,
    embedding_checks,
    embedding_figures,
    measure,
    min_rows_check,
    weight_sum_check,
    with_assignment_flags,
)

RETRIEVAL_TABLES = (ITEM_EMBEDDINGS, USER_EMBEDDINGS, USER_TOPICS, USER_SUBINTERESTS)
"""Tables whose ``embedding`` column is a retrieval-space vector."""

WEIGHTED_TABLES = (USER_TOPICS, USER_SUBINTERESTS)
"""Per-user tables whose weights sum to 1 for each user."""


def night_checks(
    lake: Lake, ds: str, quality: QualityConfig, retrieval_dim: int, text_dim: int, stage_counts: dict[str, int],
    versions: dict[str, int] | None = None,
) -> list[QualityCheck]:
    """Every check on the night's own tables; ``lake`` must have a SparkSession.

    ``versions`` pins each table to the Delta version the night was staged at (default: the newest).
    """
    tolerance = quality.norm_tolerance

    def read(spec):
        return lake.read_spark(spec, ds=ds, version=(versions or {}).get(spec.name))

    cleaning = {key.split(".", 1)[1]: value for key, value in stage_counts.items() if key.startswith("clean_events.")}
    checks = [conservation_check(cleaning)]
    checks.append(min_rows_check(EVENTS_CLEAN.name, read(EVENTS_CLEAN).count(), 1))

    topics = read(TOPICS)
    retrieval = embedding_figures("embedding", retrieval_dim)
    figures = {
        ITEM_EMBEDDINGS.name: measure(
            with_assignment_flags(read(ITEM_EMBEDDINGS), topics),
            retrieval | embedding_figures("text_embedding", text_dim) | assignment_figures(),
        ),
        USER_EMBEDDINGS.name: measure(read(USER_EMBEDDINGS), retrieval),
        **{spec.name: measure(read(spec), retrieval, weights_per_user=True) for spec in WEIGHTED_TABLES},
    }
    minimums = {ITEM_EMBEDDINGS.name: quality.min_items, USER_EMBEDDINGS.name: quality.min_users}
    for spec in RETRIEVAL_TABLES:
        checks.append(min_rows_check(spec.name, figures[spec.name][ROWS], minimums.get(spec.name, 0)))
        checks.extend(embedding_checks(spec.name, figures[spec.name], "embedding", retrieval_dim, tolerance))
    items = figures[ITEM_EMBEDDINGS.name]
    checks.extend(embedding_checks(f"{ITEM_EMBEDDINGS.name}.text_embedding", items, "text_embedding", text_dim, tolerance))
    topic_figures = measure(topics, embedding_figures("centroid", text_dim))
    checks.extend(embedding_checks(TOPICS.name, topic_figures, "centroid", text_dim, tolerance))
    checks.extend(assignment_checks(items))
    checks.extend(weight_sum_check(spec.name, figures[spec.name]) for spec in WEIGHTED_TABLES)
    return checks
