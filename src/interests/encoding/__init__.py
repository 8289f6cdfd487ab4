"""Encoding: the text of items and users, and the encoders that turn it into unit vectors."""

from interests.encoding.encoder import (
    DEFAULT_MODEL_NAME,
    Encoder,
    EncoderError,
    HashingEncoder,
    InvalidDeviceError,
    InvalidEncoderArgumentError,
    ModelIdentity,
    ModelNotFoundError,
    TransformerEncoder,
    UnsupportedModelError,
    clear_encoder_cache,
    default_model_path,
    encode_arrow,
    load_encoder,
    model_identity,
    model_version_for,
    pick_device,
)
from interests.encoding.text import item_text, text_hash

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
