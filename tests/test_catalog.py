"""The catalog: partitioning and keys of every table, ds validation, landing paths, docs in step."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from interests.catalog import (
    EMBEDDING,
    ITEM_EMBEDDINGS,
    LANDING_SOURCES,
    OUTPUT_TABLES,
    TABLES,
    TEXT_EMBEDDINGS,
    TOPICS,
    InvalidDsError,
    UnknownTableError,
    landing_path,
    table,
    validate_ds,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TABLES_DOC = PROJECT_ROOT / "docs" / "tables.md"

ALL_TABLES = sorted(TABLES)


@pytest.mark.parametrize("name", ALL_TABLES)
def test_partitioning_is_ds_except_for_the_encoding_cache(name):
    spec = TABLES[name]
    expected = ("model_version",) if name == "text_embeddings" else ("ds",)
    assert spec.partition_by == expected
    for column in spec.partition_by:
        field = spec.schema.field(column)
        assert field.type == pa.string() and not field.nullable


@pytest.mark.parametrize("name", ALL_TABLES)
def test_key_columns_are_non_null_schema_columns_led_by_the_partition(name):
    spec = TABLES[name]
    assert spec.name == name
    assert len(set(spec.key)) == len(spec.key)
    for column in spec.key:
        assert column in spec.schema.names
        assert not spec.schema.field(column).nullable, column
    assert spec.key[: len(spec.partition_by)] == spec.partition_by
    assert len(set(spec.schema.names)) == len(spec.schema.names)
    assert spec.description


def test_output_tables_are_known_and_ds_partitioned():
    assert set(OUTPUT_TABLES) <= set(TABLES)
    assert "text_embeddings" not in OUTPUT_TABLES
    assert all(TABLES[name].partition_by == ("ds",) for name in OUTPUT_TABLES)


def test_embedding_columns():
    assert ITEM_EMBEDDINGS.embedding_columns == ("embedding", "text_embedding")
    assert TOPICS.embedding_columns == ("centroid",)
    assert TABLES["events_clean"].embedding_columns == ()
    assert TEXT_EMBEDDINGS.schema.field("embedding").type == EMBEDDING


def test_table_lookup():
    assert table("topics") is TOPICS
    with pytest.raises(UnknownTableError, match="'topic'.*known: \\["):
        table("topic")


def test_table_path_is_under_the_lake_root(tmp_path):
    assert TOPICS.path(tmp_path) == tmp_path / "topics"


@pytest.mark.parametrize("ds", ["2026-11-20", "2024-02-29", "1999-12-31"])
def test_validate_ds_accepts_real_days(ds):
    assert validate_ds(ds) == ds


@pytest.mark.parametrize(
    "ds",
    [
        "2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10",
        "2026-1-1", "20261120", "2026/11/20", "26-11-20",
        "", " 2026-11-20", "2026-11-20\n", "2026-11-20T00:00", "\u0662\u0660\u0662\u0666-01-01",
        None, 20261120,
    ],
)
def test_validate_ds_rejects_anything_else(ds):
    with pytest.raises(InvalidDsError):
        validate_ds(ds)


@pytest.mark.parametrize("source", LANDING_SOURCES)
def test_landing_path(tmp_path, source):
    assert landing_path(tmp_path, source, "2026-11-20") == tmp_path / source / "ds=2026-11-20"


@pytest.mark.parametrize(
    ("source", "ds", "error"),
    [("clicks", "2026-11-20", ValueError), ("events", "2026-11-31", InvalidDsError), ("events", "x", InvalidDsError)],
)
def test_landing_path_rejects_unknown_source_and_bad_ds(tmp_path, source, ds, error):
    with pytest.raises(error):
        landing_path(tmp_path, source, ds)


@pytest.mark.parametrize("name", ALL_TABLES)
def test_docs_tables_md_mentions_every_table_and_column(name):
    if not TABLES_DOC.exists():
        pytest.skip(f"{TABLES_DOC.relative_to(PROJECT_ROOT)} does not exist yet")
    text = TABLES_DOC.read_text()
    spec = TABLES[name]
    missing = [
        word for word in (spec.name, *spec.schema.names)
        if not re.search(rf"(?<![A-Za-z0-9_]){re.escape(word)}(?![A-Za-z0-9_])", text)
    ]
    assert missing == [], f"docs/tables.md does not mention {missing} of table {name}"
