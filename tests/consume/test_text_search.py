"""similar_items(text=...) with the real packaged encoder, on a tiny night whose text vectors it wrote."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from interests.catalog import ITEM_EMBEDDINGS, PIPELINE_RUNS, TOPICS
from interests.config import load_config
from interests.consume import EncoderMismatchError, NightReader
from interests.lake import Lake

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DS = "2026-11-19"
TEXTS = {
    "soup": ("t0", "a recipe for tomato soup with fresh basil and garlic"),
    "bread": ("t0", "how to bake sourdough bread in a home oven"),
    "final": ("t1", "the football league final ended in a penalty shootout"),
    "derby": ("t1", "the striker scored twice in the derby match"),
    "trio": ("t2", "a late night jazz piano trio album"),
    "bebop": ("t2", "saxophone solos of the great bebop jazz musicians"),
}
LABELS = {"t0": "cooking", "t1": "football", "t2": "jazz"}


@pytest.fixture(scope="module")
def encoder_config():
    """The committed config with the exact float32 CPU backend (vectors compared to 1e-5)."""
    return load_config(environ={"INTERESTS_ENCODER__BACKEND": "torch", "INTERESTS_ENCODER__DEVICE": "cpu"})


@pytest.fixture(scope="module")
def text_night(tmp_path_factory, encoder_config):
    """(root, text vectors): one published night of six items whose text vectors the real model wrote."""
    from interests.encoding.executors import TransformerSettings

    settings = TransformerSettings.from_config(encoder_config.encoder)
    encoder = settings.build("cpu")
    vectors = encoder.encode([text for _, text in TEXTS.values()])
    root = tmp_path_factory.mktemp("text-lake")
    lake = Lake(root)
    retrieval = np.eye(len(TEXTS) + 1, dtype=np.float32)  # any unit vectors: this night is searched by text
    items = [
        {"ds": DS, "item_id": item, "embedding": retrieval[n].tolist(), "text_embedding": vectors[n].tolist(),
         "factors_source": "predicted", "topic_id": topic, "subinterest_id": f"{topic}.s0",
         "model_version": encoder.model_version, "text_hash": f"h-{item}"}
        for n, (item, (topic, _)) in enumerate(TEXTS.items())
    ]
    nodes = [
        {"ds": DS, "level": level, "node_id": node, "parent_id": parent, "label": LABELS[topic],
         "keywords": [LABELS[topic]], "centroid": vectors[0].tolist(), "size": 2, "medoid_item_id": "soup"}
        for topic in LABELS for level, node, parent in (("topic", topic, None), ("subinterest", f"{topic}.s0", topic))
    ]
    versions = {
        ITEM_EMBEDDINGS.name: lake.write_partition(ITEM_EMBEDDINGS, DS, pa.Table.from_pylist(items, schema=ITEM_EMBEDDINGS.schema)),
        TOPICS.name: lake.write_partition(TOPICS, DS, pa.Table.from_pylist(nodes, schema=TOPICS.schema)),
    }
    run = {
        "ds": DS, "run_id": "text-night", "status": "published", "published_at": datetime(2030, 1, 1, tzinfo=UTC),
        "row_counts": [], "stage_counts": [], "metrics": [], "table_versions": sorted(versions.items()),
        "quality_passed": True, "quality_checks": json.dumps([]), "encoder_model_version": encoder.model_version,
        "registered_models": [],
    }
    lake.write_partition(PIPELINE_RUNS, DS, pa.Table.from_pylist([run], schema=PIPELINE_RUNS.schema))
    return root, dict(zip(TEXTS, vectors))


@pytest.mark.integration
@pytest.mark.parametrize(("query", "topic"), [
    ("recipes for home cooking and baking", "t0"),
    ("soccer match results and goals", "t1"),
    ("jazz musicians playing piano and saxophone", "t2"),
])
def test_a_text_finds_the_items_written_about_it(text_night, encoder_config, query, topic):
    root, _ = text_night
    result = NightReader(root, config=encoder_config).similar_items(text=query, k=2).to_pylist()
    assert [row["topic_id"] for row in result] == [topic, topic], result
    assert result[0]["topic_label"] == LABELS[topic]


@pytest.mark.integration
def test_text_scores_are_cosines_in_the_text_space(text_night, encoder_config):
    root, vectors = text_night
    reader = NightReader(root, config=encoder_config)
    result = reader.similar_items(text="a late night jazz piano trio album", k=6).to_pylist()
    assert result[0]["item_id"] == "trio" and result[0]["score"] == pytest.approx(1.0, abs=1e-4)
    query = reader.encoder.encode(["a late night jazz piano trio album"])[0]
    for row in result:
        assert row["score"] == pytest.approx(float(query @ vectors[row["item_id"]]), abs=1e-5)


def test_the_configured_encoder_is_refused_for_a_night_of_another_model(published, encoder_config):
    root, _ = published  # the test lake's text vectors name model "test-model-v1"
    with pytest.raises(EncoderMismatchError, match="text vectors of ds=2026-11-19 come from \\['test-model-v1'\\]"):
        NightReader(root, config=encoder_config).similar_items(text="jazz")
