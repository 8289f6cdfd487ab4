"""Encoding on the executors: settings, device per task, one encoder per Python worker, the mapInArrow body."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest

from interests.catalog import TEXT_EMBEDDINGS
from interests.config import load_config
from interests.encoding.errors import EncoderError
from interests.encoding.executors import (
    TEXTS_PER_PARTITION,
    HashingSettings,
    TaskResources,
    TransformerSettings,
    clear_worker_encoders,
    encode_partition,
    encoding_partitions,
    task_device,
    worker_encoder,
)
from interests.encoding.hashing import HashingEncoder
from interests.encoding.model_files import model_identity
from interests.encoding.text import text_hash

DS = "2026-11-20"


@pytest.mark.parametrize(
    ("requested", "task", "expected"),
    [
        ("auto", TaskResources(cpus=1, gpus=("1",)), "cuda:1"),
        ("cuda", TaskResources(cpus=4, gpus=("0", "2")), "cuda:0"),
        ("cuda:3", TaskResources(cpus=1, gpus=("1",)), "cuda:3"),
        ("cpu", TaskResources(cpus=1, gpus=("1",)), "cpu"),
        ("auto", TaskResources(cpus=2), "auto"),
        ("auto", None, "auto"),
    ],
)
def test_a_task_uses_the_gpu_spark_assigned_it(requested, task, expected):
    assert task_device(requested, task) == expected


@pytest.mark.parametrize(
    ("texts", "parallelism", "expected"),
    [
        (0, 8, 1),
        (3, 8, 3),  # never more tasks than texts
        (500, 8, 8),  # every task slot busy
        (TEXTS_PER_PARTITION * 20 + 1, 8, 21),  # no task bigger than TEXTS_PER_PARTITION
    ],
)
def test_encoding_partitions(texts, parallelism, expected):
    assert encoding_partitions(texts, parallelism) == expected


def test_transformer_settings_follow_the_config_and_name_the_model_without_loading_it():
    config = load_config(environ={"INTERESTS_ENCODER__BATCH_SIZE": "16", "INTERESTS_ENCODER__DEVICE": "cpu"})
    settings = TransformerSettings.from_config(config.encoder)
    assert (settings.batch_size, settings.device, settings.model_path) == (16, "cpu", "")
    assert settings.model_version() == model_identity("", config.encoder.model_name).model_version
    assert hash(settings) == hash(TransformerSettings.from_config(config.encoder))  # a cache key


def test_a_worker_keeps_one_encoder_per_settings():
    clear_worker_encoders()
    first = worker_encoder(HashingSettings(dim=8), TaskResources(cpus=1))
    assert worker_encoder(HashingSettings(dim=8), TaskResources(cpus=1)) is first
    assert worker_encoder(HashingSettings(dim=16), None) is not first
    clear_worker_encoders()


def _batches(*texts: str, size: int = 2) -> list[pa.RecordBatch]:
    table = pa.table({"text_hash": [text_hash(t) for t in texts], "text": list(texts)})
    return table.to_batches(max_chunksize=size)


def test_encode_partition_gives_text_embeddings_rows_in_process():
    texts = ("bread and butter", "", "stock market news", "bread")
    batches = [pa.RecordBatch.from_pylist([], schema=_batches("x")[0].schema), *_batches(*texts)]
    out = pa.Table.from_batches(list(encode_partition(iter(batches), HashingSettings(dim=8), "hashing-8", DS)))
    assert out.schema == TEXT_EMBEDDINGS.schema
    assert out["text_hash"].to_pylist() == [text_hash(t) for t in texts]
    assert set(out["model_version"].to_pylist()) == {"hashing-8"} and set(out["first_ds"].to_pylist()) == {DS}
    np.testing.assert_array_equal(np.array(out["embedding"].to_pylist(), np.float32), HashingEncoder(8).encode(texts))


def test_encode_partition_refuses_a_model_other_than_the_drivers():
    with pytest.raises(EncoderError, match=r"executor's model is 'hashing-8' but the driver named 'other@1'"):
        list(encode_partition(iter(_batches("x")), HashingSettings(dim=8), "other@1", DS))


def test_an_empty_partition_builds_no_encoder():
    clear_worker_encoders()
    assert list(encode_partition(iter([]), HashingSettings(dim=8), "wrong version, never checked", DS)) == []
    from interests.encoding import executors

    assert executors._worker_encoders == {}


def test_a_python_worker_builds_its_encoder_once_and_keeps_it_across_tasks(spark):
    settings = HashingSettings(dim=8)

    def probe(batches):
        # Runs on the executors: reports which worker ran the task and how many tasks its encoder served.
        from interests.encoding.executors import current_task_resources, worker_encoder

        task = current_task_resources()
        encoder = worker_encoder(settings, task)
        encoder.tasks_served = getattr(encoder, "tasks_served", 0) + 1
        for _ in batches:
            pass
        yield pa.RecordBatch.from_pydict(
            {"pid": [os.getpid()], "encoder": [id(encoder)], "served": [encoder.tasks_served], "cpus": [task.cpus]}
        )  # every column int64

    partitions = 8
    rows = spark.range(0, 64, numPartitions=partitions).mapInArrow(
        probe, "pid long, encoder long, served long, cpus long"
    ).collect()
    assert len(rows) == partitions
    by_worker: dict[int, list] = {}
    for row in rows:
        by_worker.setdefault(row["pid"], []).append(row)
    assert len(by_worker) < partitions, "Python workers were not reused"
    for worker_rows in by_worker.values():
        assert len({row["encoder"] for row in worker_rows}) == 1
        # The same object served each of this worker's tasks in turn: built once, not per task.
        assert len({row["served"] for row in worker_rows}) == len(worker_rows)
    assert {row["cpus"] for row in rows} == {1}  # spark.task.cpus of the test session


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.integration
@pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA device")
def test_auto_encodes_on_the_gpu_inside_a_spark_task(spark):
    settings = TransformerSettings(device="auto")

    def probe(batches):
        from interests.encoding.executors import current_task_resources, worker_encoder

        encoder = worker_encoder(settings, current_task_resources())
        for _ in batches:
            pass
        yield pa.RecordBatch.from_pydict({"device": [str(encoder.device)]})

    rows = spark.range(0, 1, numPartitions=1).mapInArrow(probe, "device string").collect()
    assert rows[0]["device"].startswith("cuda")
