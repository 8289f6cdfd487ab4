"""Encoding: the text of items and users, and the encoders that turn it into unit vectors.

One module per concern (see :mod:`interests.encoding.encoder` for the map); the names below are
the public API. Importing the package does not import torch, transformers, pyarrow or pyspark.
"""

from interests.encoding.arrow import encode_arrow
from interests.encoding.devices import pick_device
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
)
from interests.encoding.protocol import Encoder
from interests.encoding.text import item_text, text_hash
from interests.encoding.transformer import TransformerEncoder, clear_encoder_cache, load_encoder

__all__ = [
    "DEFAULT_MODEL_NAME",
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
    "item_text",
    "load_encoder",
    "model_identity",
    "model_version_for",
    "pick_device",
    "text_hash",
]
