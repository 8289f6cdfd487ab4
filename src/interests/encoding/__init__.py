"""Encoding: the text of items and users, and the encoders that turn it into unit vectors.

One module per concern; the names below are the public API:

- :mod:`~interests.encoding.protocol`: the :class:`Encoder` protocol and shared argument checks;
- :mod:`~interests.encoding.errors`: the typed errors;
- :mod:`~interests.encoding.devices`: device and dtype choice, torch's CPU threads;
- :mod:`~interests.encoding.model_files`: the model folder, its weights and ``model_version``;
- :mod:`~interests.encoding.pooling`: the sentence-transformers pooling;
- :mod:`~interests.encoding.transformer`: the real encoder and its per-process loader;
- :mod:`~interests.encoding.hashing`: the deterministic fake for unit tests;
- :mod:`~interests.encoding.arrow`: the Arrow adapter;
- :mod:`~interests.encoding.executors`: encoding inside Spark, on the executors;
- :mod:`~interests.encoding.cache`: which texts still need encoding, and the cache rows;
- :mod:`~interests.encoding.text`: item text and content hashes.

Importing the package does not import torch, transformers, pyarrow or pyspark.
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
