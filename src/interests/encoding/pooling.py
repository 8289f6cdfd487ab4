"""Pooling: how token vectors become one sentence vector, as the model's sentence-transformers files say.

A sentence-transformers model folder lists its modules in ``modules.json`` (Transformer, Pooling,
Normalize, ...) and its pooling in ``1_Pooling/config.json``. This encoder reproduces exactly the
Transformer -> Pooling -> Normalize chain; a model that asks for anything else is refused rather
than silently mis-encoded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interests.encoding.errors import UnsupportedModelError
from interests.encoding.model_files import read_json

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

SUPPORTED_POOLING = ("mean", "cls", "max")

# sentence-transformers modules whose effect this encoder reproduces; anything else (a Dense
# projection, say) would change the vectors, so such a model is refused rather than mis-encoded.
_KNOWN_MODULE_TYPES = {"Transformer", "Pooling", "Normalize"}


def read_pooling_config(model_dir: Path) -> tuple[str, dict[str, Any]]:
    """Return (pooling mode, pooling config) from the sentence-transformers files, if any.

    A plain Hugging Face directory without them is mean-pooled, the usual choice for sentence
    embeddings; a pooling or module this encoder does not implement is refused, never guessed.
    """
    pooling_dir = model_dir / "1_Pooling"
    modules_path = model_dir / "modules.json"
    if modules_path.is_file():
        for module in read_json(modules_path):
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
    config = read_json(config_path)
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


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool token vectors (batch, tokens, dim) into one vector per text, ignoring padding."""
    if mode == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "max":
        return hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
    summed = (hidden * mask).sum(dim=1)
    return summed / mask.sum(dim=1).clamp(min=1e-9)
