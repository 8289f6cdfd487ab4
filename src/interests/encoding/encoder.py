"""The encoder API in one import, kept so that ``from interests.encoding.encoder import ...`` works.

The code lives in one module per concern; new code may import from those directly:

- :mod:`~interests.encoding.protocol`: the :class:`Encoder` protocol and shared argument checks;
- :mod:`~interests.encoding.errors`: the typed errors;
- :mod:`~interests.encoding.devices`: device and dtype choice, torch's CPU threads;
- :mod:`~interests.encoding.model_files`: the model folder, its weights and ``model_version``;
- :mod:`~interests.encoding.pooling`: the sentence-transformers pooling;
- :mod:`~interests.encoding.transformer`: the real encoder and its per-process loader;
- :mod:`~interests.encoding.hashing`: the deterministic fake for unit tests;
- :mod:`~interests.encoding.arrow`: the Arrow adapter;
- :mod:`~interests.encoding.executors`: encoding inside Spark, on the executors.

Importing this module does not import torch, transformers or pyarrow.
"""

from __future__ import annotations

from interests.encoding.arrow import encode_arrow
from interests.encoding.devices import DEVICE_CHOICES, DTYPE_CHOICES, pick_device, pick_dtype
from interests.encoding.errors import (
    EncoderError,
    InvalidDeviceError,
    InvalidEncoderArgumentError,
    ModelNotFoundError,
    UnsupportedModelError,
)
from interests.encoding.hashing import HashingEncoder
from interests.encoding.model_files import (
    DEFAULT_MODEL_NAME,
    ModelIdentity,
    default_model_path,
    model_identity,
    model_version_for,
    weights_digest,
)
from interests.encoding.pooling import SUPPORTED_POOLING
from interests.encoding.protocol import Encoder
from interests.encoding.transformer import TransformerEncoder, clear_encoder_cache, load_encoder

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEVICE_CHOICES",
    "DTYPE_CHOICES",
    "SUPPORTED_POOLING",
    "Encoder",
    "EncoderError",
    "HashingEncoder",
    "InvalidDeviceError",
    "InvalidEncoderArgumentError",
    "ModelIdentity",
    "ModelNotFoundError",
    "TransformerEncoder",
    "UnsupportedModelError",
    "clear_encoder_cache",
    "default_model_path",
    "encode_arrow",
    "load_encoder",
    "model_identity",
    "model_version_for",
    "pick_device",
    "pick_dtype",
    "weights_digest",
]
