"""The published tables as Airflow Assets: the nightly's ``publish`` task updates them, consumers schedule on them.

One Asset per table a consumer reads, named ``interests.<table>``, with a URI that names the table of
the *published night*, not a storage location (``interests://published/<table>``): the same asset in
every deployment, wherever its lake lives. Its events say which night: ``publish`` attaches
``{"ds": ..., "run_id": ...}`` to each (``SparkJobOperator`` does it for its outlets), and a consumer
reads that night through the published pointer (``interests.consume.NightReader(ds=...)``), i.e. each
table at the Delta version the publication names, never a table's newest version. All five get an
event in the same task, once per published night, so a DAG scheduled on all of them runs once a night.
"""

from __future__ import annotations

from airflow.sdk import Asset

PUBLISHED_TABLES = ("item_embeddings", "topics", "user_embeddings", "user_topics", "user_subinterests")
"""The night's embedding tables (docs/tables.md); ``interests.catalog`` knows their schemas."""


def published_asset(table: str) -> Asset:
    """The Asset of one published table."""
    if table not in PUBLISHED_TABLES:
        raise ValueError(f"{table!r} is not a published table; use one of {', '.join(PUBLISHED_TABLES)}")
    return Asset(name=f"interests.{table}", uri=f"interests://published/{table}", group="interests")


PUBLISHED_ASSETS = tuple(published_asset(table) for table in PUBLISHED_TABLES)
