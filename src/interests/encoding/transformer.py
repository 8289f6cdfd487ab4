"""The real encoder: a Hugging Face sentence-embedding model (all-MiniLM-L6-v2 by default).

:class:`TransformerEncoder` works like sentence-transformers' ``encode``: it checks its arguments
before any work, sorts the texts longest first by token count (so a batch pads to similar
lengths), runs batches bounded by a text count and a token budget under
``torch.inference_mode()``, pools as the model's ``1_Pooling/config.json`` says, normalizes, moves
each batch to CPU numpy and restores the input order. sentence-transformers itself is not a
dependency: ``AutoTokenizer`` and ``AutoModel`` from transformers are enough.

Speed (docs/decisions.md, "The encoder's backend"): the ``backend`` picks the numeric path
(:mod:`~interests.encoding.backends`); attention is PyTorch's SDPA; texts are tokenized a chunk
ahead, in a thread, while the model encodes the current chunk; a batch that runs out of GPU memory
is split in halves and retried (:mod:`~interests.encoding.batching`). Every call logs texts,
tokens, seconds, texts/s and tokens/s; ``show_progress_bar`` shows the same figures live.

:func:`load_encoder` is the one loader: one model per process (a job, a Spark Python worker, a
test session) for given settings. torch and transformers are imported only when a model is built.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from interests.encoding.backends import (
    CHECK_TEXTS,
    agreement,
    agrees,
    cpu_has_native_bf16,
    resolve_backend,
)
from interests.encoding.batching import plan_batches, run_halving_on_oom
from interests.encoding.devices import limit_cpu_threads, pick_device, pick_dtype
from interests.encoding.errors import InvalidEncoderArgumentError, UnsupportedModelError
from interests.encoding.model_files import (
    DEFAULT_MODEL_NAME,
    model_version_for,
    read_json,
    resolve_model_dir,
)
from interests.encoding.pooling import pool, read_pooling_config
from interests.encoding.protocol import check_positive_int, check_texts

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

TOKENIZE_CHUNK_TEXTS = 2048
"""Texts tokenized at once, a chunk ahead of the model; batches are planned within a chunk."""


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
        backend: str = "torch",
        batch_tokens: int | None = None,
    ) -> None:
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.max_length = check_positive_int("max_length", max_length)
        self.batch_tokens = None if batch_tokens is None else check_positive_int("batch_tokens", batch_tokens)
        self.model_name = model_name
        self.model_path = resolve_model_dir(model_path)
        self.device = pick_device(device)
        self.backend = resolve_backend(backend, self.device)
        if self.backend == "bf16":
            if dtype not in ("auto", "bfloat16"):
                raise InvalidEncoderArgumentError(
                    f"backend 'bf16' runs the model in bfloat16; dtype {dtype!r} is not "
                    "allowed with it; allowed: ['auto', 'bfloat16']"
                )
            dtype = "float32"  # loaded in float32, checked, then narrowed to bfloat16
        self.dtype = pick_dtype(dtype, self.device)
        self.pooling, pooling_config = read_pooling_config(self.model_path)
        # Every backend offered stays within 1e-3 cosine of float32 (checked below), so the cache
        # key names the weights alone; see interests.encoding.backends.
        self.model_version = model_version_for(self.model_path, model_name)

        sentence_config_path = self.model_path / "sentence_bert_config.json"
        sentence_config = read_json(sentence_config_path) if sentence_config_path.is_file() else {}
        self._lower_case = bool(sentence_config.get("do_lower_case", False))

        # Never reach for the hub; huggingface_hub reads this once, when it is first imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoTokenizer

        if self.device.type == "cpu":
            limit_cpu_threads()
        started = time.perf_counter()
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path), local_files_only=True)
        self._pad_id = self._tokenizer.pad_token_id or 0
        self._pad_left = getattr(self._tokenizer, "padding_side", "right") == "left"
        self._model = self._load_model().to(self.device).eval()

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
        if self.backend != "torch":
            self._check_fast_backend(requested=backend)
        logger.info("loaded %s (%s, dim %d, %s pooling) on %s as %s, backend %s in %.1fs",
                    self.model_version, self.model_path, self.dim, self.pooling, self.device,
                    self.dtype, self.backend, time.perf_counter() - started)

    def _load_model(self):
        from transformers import AutoModel

        try:
            return AutoModel.from_pretrained(
                str(self.model_path), local_files_only=True, dtype=self.dtype, attn_implementation="sdpa"
            )
        except (ValueError, ImportError) as error:  # an architecture without SDPA support
            logger.info("SDPA attention unavailable for %s (%s); using the model's default", self.model_path, error)
            return AutoModel.from_pretrained(str(self.model_path), local_files_only=True, dtype=self.dtype)

    def _check_fast_backend(self, requested: str) -> None:
        """Keep the fast backend only if it encodes CHECK_TEXTS like float32; else fall back."""
        if self.device.type == "cpu" and self.backend == "bf16" and not cpu_has_native_bf16():
            logger.warning("backend 'bf16' was asked for, but this CPU has no AMX or AVX512-BF16: "
                           "bfloat16 is emulated and likely slower than float32")
        import torch

        # The model was loaded in float32: encode the reference, then narrow the same weights.
        fast = self.backend
        self.backend = "torch"
        reference = self._encode_items(list(CHECK_TEXTS), self.batch_size)
        self._model.to(torch.bfloat16)
        self.backend, self.dtype = fast, torch.bfloat16
        candidate = self._encode_items(list(CHECK_TEXTS), self.batch_size)
        mean, least = agreement(reference, candidate)
        if agrees(reference, candidate):
            logger.info("backend %s (asked: %s) agrees with float32 on %d check texts: mean cosine "
                        "%.6f, min %.6f", fast, requested, len(CHECK_TEXTS), mean, least)
            return
        logger.warning("backend %s (asked: %s) disagrees with float32 on %d check texts (mean cosine "
                       "%.6f, min %.6f); falling back to backend torch", fast, requested,
                       len(CHECK_TEXTS), mean, least)
        # Widening bfloat16 weights would not give the float32 model back: load it again.
        self.backend, self.dtype = "torch", torch.float32
        self._model = self._load_model().to(self.device).eval()

    def __repr__(self) -> str:
        return (
            f"TransformerEncoder(model_version={self.model_version!r}, "
            f"device={str(self.device)!r}, dtype={str(self.dtype)!r}, backend={self.backend!r}, "
            f"batch_size={self.batch_size}, batch_tokens={self.batch_tokens}, max_length={self.max_length})"
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
        if not items:
            return np.empty((0, self.dim), dtype=np.float32)
        started = time.perf_counter()
        counts = {"tokens": 0}
        vectors = self._encode_items(items, size, show_progress_bar, counts)
        seconds = max(time.perf_counter() - started, 1e-9)
        logger.info("encoded %d texts (%d tokens) in %.2fs: %.1f texts/s, %.0f tokens/s (%s, %s)",
                    len(items), counts["tokens"], seconds, len(items) / seconds, counts["tokens"] / seconds,
                    self.device, self.backend)
        return vectors

    def _encode_items(
        self, items: list[str], size: int, show_progress_bar: bool = False, counts: dict[str, int] | None = None
    ) -> np.ndarray:
        import torch

        counts = {"tokens": 0} if counts is None else counts
        vectors = np.empty((len(items), self.dim), dtype=np.float32)
        if self._lower_case:
            items = [text.lower() for text in items]
        budget = self.batch_tokens or size * self.max_length
        progress = None
        if show_progress_bar:
            from tqdm.auto import tqdm

            progress = tqdm(total=len(items), desc="encode", unit="text")
        try:
            with torch.inference_mode():
                for offset, token_ids in self._tokenized_chunks(items):
                    lengths = [len(ids) for ids in token_ids]
                    for batch in plan_batches(lengths, size, budget):
                        rows = [token_ids[index] for index in batch]
                        pooled = self._encode_rows(rows)
                        vectors[[offset + index for index in batch]] = pooled
                        tokens = sum(lengths[index] for index in batch)
                        counts["tokens"] += tokens
                        if progress is not None:
                            progress.update(len(batch))
                            elapsed = progress.format_dict["elapsed"] or 1e-9
                            progress.set_postfix_str(f"{counts['tokens'] / elapsed:,.0f} tokens/s", refresh=False)
        finally:
            if progress is not None:
                progress.close()
        return vectors

    def _tokenized_chunks(self, items: list[str]) -> Iterator[tuple[int, list[list[int]]]]:
        """(offset, token ids) per chunk of texts; the next chunk is tokenized while this one encodes."""
        starts = list(range(0, len(items), TOKENIZE_CHUNK_TEXTS))

        def tokenize(start: int) -> list[list[int]]:
            chunk = items[start:start + TOKENIZE_CHUNK_TEXTS]
            return self._tokenizer(
                chunk, truncation=True, max_length=self.max_length,
                return_attention_mask=False, return_token_type_ids=False,
            )["input_ids"]

        if len(starts) == 1:
            yield 0, tokenize(0)
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenize") as pool_:
            pending = pool_.submit(tokenize, starts[0])
            for position, start in enumerate(starts):
                token_ids = pending.result()
                if position + 1 < len(starts):
                    pending = pool_.submit(tokenize, starts[position + 1])
                yield start, token_ids

    def _encode_rows(self, rows: list[list[int]]) -> np.ndarray:
        """Unit vectors of one batch of token-id rows, split in halves if it runs out of memory."""
        import torch

        features = self._pad(rows)
        on_oom = torch.cuda.empty_cache if self.device.type == "cuda" else (lambda: None)
        pooled = run_halving_on_oom(
            self._forward, features, len(rows),
            split=lambda batch, at: ({k: v[:at] for k, v in batch.items()}, {k: v[at:] for k, v in batch.items()}),
            join=lambda parts: torch.cat(parts),
            on_oom=on_oom,
        )
        return pooled.numpy()

    def _pad(self, rows: list[list[int]]) -> dict[str, torch.Tensor]:
        """input_ids and attention_mask of rows padded to the longest, as the tokenizer would."""
        import torch

        width = max(len(row) for row in rows)
        input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(rows), width), dtype=np.int64)
        for position, row in enumerate(rows):
            span = slice(width - len(row), width) if self._pad_left else slice(0, len(row))
            input_ids[position, span] = row
            attention_mask[position, span] = 1
        return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention_mask)}

    def _forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Pooled, normalized float32 vectors of one batch, on the CPU."""
        from torch.nn import functional

        on_device = {name: tensor.to(self.device, non_blocking=True) for name, tensor in features.items()}
        hidden = self._model(**on_device).last_hidden_state
        # Pool and normalize in float32 even when the model runs in half precision.
        pooled = pool(hidden.float(), on_device["attention_mask"], self.pooling)
        return functional.normalize(pooled, p=2, dim=1).cpu()


_encoders_lock = threading.Lock()
_encoders: dict[tuple, TransformerEncoder] = {}


def load_encoder(
    model_path: Path | str = "",
    model_name: str = DEFAULT_MODEL_NAME,
    batch_size: int = 64,
    max_length: int = 256,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "torch",
    batch_tokens: int | None = None,
) -> TransformerEncoder:
    """Return this process's encoder for these settings, loading the model on the first call only.

    Jobs, Spark executors and tests call this instead of ``TransformerEncoder(...)`` so that a
    process loads a model once, however many partitions or batches it encodes.
    """
    model_dir = resolve_model_dir(model_path)
    resolved_device = pick_device(device)
    key = (str(model_dir), model_name, batch_size, max_length, str(resolved_device), dtype, backend, batch_tokens)
    with _encoders_lock:  # held while loading, so two threads never load the same model twice
        encoder = _encoders.get(key)
        if encoder is None:
            encoder = TransformerEncoder(
                model_dir, model_name, batch_size, max_length, str(resolved_device), dtype, backend, batch_tokens
            )
            _encoders[key] = encoder
    return encoder


def clear_encoder_cache() -> None:
    """Forget the encoders :func:`load_encoder` holds (their memory is freed once unreferenced)."""
    with _encoders_lock:
        _encoders.clear()
