"""The encoder's errors: each names the bad value and, where there is a list, the allowed ones."""

from __future__ import annotations


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
