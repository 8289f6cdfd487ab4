"""Lakes of known published nights for the reader's tests (delta-rs, no Spark)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from published_lake import READER_TABLES, build_published_lake

from interests.catalog import PIPELINE_RUNS
from interests.config import load_config
from interests.lake import Lake
from interests.pseudonyms import pseudonym_key, pseudonymize_user_id
from interests.publishing.nights import resolve_night

PSEUDONYMIZED_DS = "2026-11-25"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(root, content): nights 2026-11-18 and -19 published, -20 failed, and a failed rerun of -18."""
    root = tmp_path_factory.mktemp("published-lake")
    return root, build_published_lake(root, republish_failed_over="2026-11-18")


@pytest.fixture(scope="module")
def pseudonymized(tmp_path_factory):
    """(root, content, pseudonyms): night 2026-11-18, republished as PSEUDONYMIZED_DS with user ids as the night stores them.

    The test lake's user ids are plain ("u00"); a real night stores keyed pseudonyms of the raw ids.
    Here every table of 2026-11-18 is copied to a later ds with ``user_id`` replaced by the pseudonym
    of the plain id under the configured key, and that copy is published: the raw-id path then has
    a stored user to find.
    """
    root = tmp_path_factory.mktemp("pseudonymized-lake")
    content = build_published_lake(root, published=("2026-11-18",), failed=None)
    lake = Lake(root)
    night = resolve_night(lake, "2026-11-18")
    key = pseudonym_key(load_config())
    versions = {}
    for spec in READER_TABLES:
        rows = night.read(lake, spec)
        rows = rows.set_column(rows.schema.get_field_index("ds"), "ds", pa.array([PSEUDONYMIZED_DS] * rows.num_rows, pa.string()))
        if "user_id" in rows.column_names:
            pseudonyms = [pseudonymize_user_id(user, key) for user in rows.column("user_id").to_pylist()]
            rows = rows.set_column(rows.schema.get_field_index("user_id"), "user_id", pa.array(pseudonyms, pa.string()))
        versions[spec.name] = lake.write_partition(spec, PSEUDONYMIZED_DS, rows)
    run = lake.read(PIPELINE_RUNS, ds="2026-11-18").to_pylist()[0]
    run.update(ds=PSEUDONYMIZED_DS, run_id=f"scheduled__{PSEUDONYMIZED_DS}", published_at=datetime(2030, 2, 1, tzinfo=UTC),
               table_versions=sorted(versions.items()), quality_checks=json.dumps([]))
    lake.write_partition(PIPELINE_RUNS, PSEUDONYMIZED_DS, pa.Table.from_pylist([run], schema=PIPELINE_RUNS.schema))
    assert pc.count_distinct(lake.read(PIPELINE_RUNS).column("ds")).as_py() == 2
    return root, content["2026-11-18"], key
