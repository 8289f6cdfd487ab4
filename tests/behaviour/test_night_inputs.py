"""What learn_behaviour and build_hierarchy read for a night (interests.night_inputs), on a tmp lake."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from interests.catalog import ITEMS, TEXT_EMBEDDINGS
from interests.errors import BadInputError
from interests.lake import Lake
from interests.night_inputs import read_catalog

pytestmark = pytest.mark.integration

DS = "2026-03-10"


def items(item_ids: list[str], hashes: list[str]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"ds": DS, "item_id": i, "landed_ds": DS, "text": f"text of {i}", "text_hash": h} for i, h in zip(item_ids, hashes)],
        schema=ITEMS.schema,
    )


def cache(model_version: str, hashes: list[str], vectors: list[list[float]]) -> pa.Table:
    return pa.table({
        "model_version": [model_version] * len(hashes), "text_hash": hashes,
        "embedding": pa.array(vectors, pa.list_(pa.float32())), "first_ds": [DS] * len(hashes),
    }, schema=TEXT_EMBEDDINGS.schema)


def test_read_catalog_takes_only_the_catalogs_cache_rows_of_the_model(spark, tmp_path):
    lake = Lake(tmp_path / "lake", spark=spark)
    lake.write_partition(ITEMS, DS, items(["b", "a"], ["hb", "ha"]))
    # Cache rows the catalog does not use (user texts, other model versions) must not matter.
    lake.append(TEXT_EMBEDDINGS, cache("m1", ["ha", "hb", "user-text"], [[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]]))
    lake.append(TEXT_EMBEDDINGS, cache("m0", ["ha", "hb"], [[1.0, 0.0], [1.0, 0.0]]))
    night = read_catalog(lake, DS, "m1")
    assert night.items.column("item_id").to_pylist() == ["a", "b"]
    np.testing.assert_allclose(night.text, [[0.6, 0.8], [0.0, 1.0]], atol=1e-7)
    assert night.index.positions(["b"]).tolist() == [1]


def test_read_catalog_without_the_items_cached_is_bad_input(spark, tmp_path):
    lake = Lake(tmp_path / "lake", spark=spark)
    lake.write_partition(ITEMS, DS, items(["a"], ["ha"]))
    lake.append(TEXT_EMBEDDINGS, cache("m0", ["ha"], [[1.0, 0.0]]))
    with pytest.raises(BadInputError, match="1 of 1 items have no embedding for m1"):
        read_catalog(lake, DS, "m1")
