"""TransformerEncoder refuses bad arguments before it loads the model."""

from __future__ import annotations

import pytest

from interests.encoding.errors import (
    InvalidDeviceError,
    InvalidEncoderArgumentError,
    ModelNotFoundError,
)
from interests.encoding.transformer import TransformerEncoder

pytest.importorskip("torch")


def test_missing_model_directory_is_refused(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        TransformerEncoder(tmp_path / "nowhere", device="cpu")


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("batch_size", 0), ("batch_size", -1), ("batch_size", 1.5),
        ("max_length", 0), ("max_length", True),
    ],
)
def test_bad_sizes_are_refused(argument, value):
    message = rf"{argument} must be an int >= 1, got {value!r}"
    with pytest.raises(InvalidEncoderArgumentError, match=message):
        TransformerEncoder(**{argument: value, "device": "cpu"})


def test_bad_device_is_refused_before_loading():
    with pytest.raises(InvalidDeviceError, match="'gpu'"):
        TransformerEncoder(device="gpu")


def test_bad_dtype_is_refused_before_loading():
    with pytest.raises(InvalidEncoderArgumentError, match=r"dtype 'float64' is not allowed"):
        TransformerEncoder(device="cpu", dtype="float64")
