"""The real encoder: a Hugging Face sentence-embedding model (all-MiniLM-L6-v2 by default).

:class:`TransformerEncoder` works like sentence-transformers' ``encode``: it checks its arguments
before any work, sorts the texts longest first (so a batch pads to similar lengths), runs the
batches under ``torch.inference_mode()``, pools as the model's ``1_Pooling/config.json`` says,
normalizes, moves each batch to CPU numpy and restores the input order. sentence-transformers
itself is not a dependency: ``AutoTokenizer`` and ``AutoModel`` from transformers are enough.

:func:`load_encoder` is the one loader: one model per process (a job, a Spark Python worker, a
test session) for given settings. torch and transformers are imported only when a model is built.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from interests.encoding.devices import limit_cpu_threads, pick_device, pick_dtype
from interests.encoding.errors import UnsupportedModelError
from interests.encoding.model_files import (
    DEFAULT_MODEL_NAME,
    model_version_for,
    read_json,
    resolve_model_dir,
)
from interests.encoding.pooling import pool, read_pooling_config
from interests.encoding.protocol import check_positive_int, check_texts

logger = logging.getLogger(__name__)


class TransformerEncoder:
    """A Hugging Face sentence-embedding model, loaded once, encoding like sentence-transformers."""

    def __init__(
        self,
        model_path: Path | str | None = None,
        model_name: str = DEFAULT_MODEL_NAME,
        batch_size: int = 64,
        max_length: int = 256,
        device: str = "auto",
        dtype: str = "auto",
    ) -> None:
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.max_length = check_positive_int("max_length", max_length)
        self.model_name = model_name
        self.model_path = resolve_model_dir(model_path)
        self.device = pick_device(device)
        self.dtype = pick_dtype(dtype, self.device)
        self.pooling, pooling_config = read_pooling_config(self.model_path)
        self.model_version = model_version_for(self.model_path, model_name)

        sentence_config_path = self.model_path / "sentence_bert_config.json"
        sentence_config = read_json(sentence_config_path) if sentence_config_path.is_file() else {}
        self._lower_case = bool(sentence_config.get("do_lower_case", False))

        # Never reach for the hub; huggingface_hub reads this once, when it is first imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        if self.device.type == "cpu":
            limit_cpu_threads()
        started = time.perf_counter()
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path), local_files_only=True)
        model = AutoModel.from_pretrained(
            str(self.model_path), local_files_only=True, dtype=self.dtype
        )
        self._model = model.to(self.device).eval()

        self.dim = int(self._model.config.hidden_size)
        pooled_dim = pooling_config.get("word_embedding_dimension", self.dim)
        if pooled_dim != self.dim:
            raise UnsupportedModelError(
                f"pooling config says word_embedding_dimension={pooled_dim}, "
                f"model hidden_size={self.dim}"
            )
        # Positions past the model's table would fail deep inside the forward pass.
        model_limit = getattr(self._model.config, "max_position_embeddings", None)
        if model_limit is not None and self.max_length > model_limit:
            logger.warning("max_length %d exceeds the model's %d positions; using %d",
                           self.max_length, model_limit, model_limit)
            self.max_length = int(model_limit)
        logger.info("loaded %s (%s, dim %d, %s pooling) on %s as %s in %.1fs", self.model_version,
                    self.model_path, self.dim, self.pooling, self.device, self.dtype,
                    time.perf_counter() - started)

    def __repr__(self) -> str:
        return (
            f"TransformerEncoder(model_version={self.model_version!r}, "
            f"device={str(self.device)!r}, dtype={str(self.dtype)!r}, "
            f"batch_size={self.batch_size}, max_length={self.max_length})"
        )

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        """Encode texts into a (len(texts), dim) float32 array of unit rows, in input order."""
        items = check_texts(texts)
        if batch_size is None:
            size = self.batch_size
        else:
            size = check_positive_int("batch_size", batch_size)
        vectors = np.empty((len(items), self.dim), dtype=np.float32)
        if not items:
            return vectors

        import torch
        from torch.nn import functional

        if self._lower_case:
            items = [text.lower() for text in items]
        # Longest first: texts of similar length share a batch, so little compute goes to padding,
        # and an out-of-memory error shows on the first batch rather than after an hour.
        order = sorted(range(len(items)), key=lambda index: -len(items[index]))
        starts = range(0, len(items), size)
        if show_progress_bar:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="encode", unit="batch")
        with torch.inference_mode():
            for start in starts:
                batch_indices = order[start:start + size]
                features = self._tokenizer(
                    [items[index] for index in batch_indices],
                    padding=True, truncation=True, max_length=self.max_length, return_tensors="pt",
                )
                features = {name: tensor.to(self.device) for name, tensor in features.items()}
                hidden = self._model(**features).last_hidden_state
                # Pool and normalize in float32 even when the model runs in half precision.
                pooled = pool(hidden.float(), features["attention_mask"], self.pooling)
                normalized = functional.normalize(pooled, p=2, dim=1)
                vectors[batch_indices] = normalized.cpu().numpy()
        return vectors


_encoders_lock = threading.Lock()
_encoders: dict[tuple[str, str, int, int, str, str], TransformerEncoder] = {}


def load_encoder(
    model_path: Path | str = "",
    model_name: str = DEFAULT_MODEL_NAME,
    batch_size: int = 64,
    max_length: int = 256,
    device: str = "auto",
    dtype: str = "auto",
) -> TransformerEncoder:
    """Return this process's encoder for these settings, loading the model on the first call only.

    Jobs, Spark executors and tests call this instead of ``TransformerEncoder(...)`` so that a
    process loads a model once, however many partitions or batches it encodes.
    """
    model_dir = resolve_model_dir(model_path)
    resolved_device = pick_device(device)
    key = (str(model_dir), model_name, batch_size, max_length, str(resolved_device), dtype)
    with _encoders_lock:  # held while loading, so two threads never load the same model twice
        encoder = _encoders.get(key)
        if encoder is None:
            encoder = TransformerEncoder(
                model_dir, model_name, batch_size, max_length, str(resolved_device), dtype
            )
            _encoders[key] = encoder
    return encoder


def clear_encoder_cache() -> None:
    """Forget the encoders :func:`load_encoder` holds (their memory is freed once unreferenced)."""
    with _encoders_lock:
        _encoders.clear()
