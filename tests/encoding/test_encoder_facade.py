"""The package's import cost and the names interests.encoding.encoder keeps for existing importers."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_importing_the_encoding_package_does_not_import_torch_transformers_pyarrow_or_pyspark():
    code = (
        "import sys, interests.encoding, interests.encoding.encoder;"
        "from interests.encoding.encoder import HashingEncoder; HashingEncoder().encode(['x']);"
        "print(sorted(m for m in ('torch', 'transformers', 'pyarrow', 'pyspark') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "name",
    [
        "DEFAULT_MODEL_NAME", "Encoder", "EncoderError", "HashingEncoder", "InvalidDeviceError",
        "InvalidEncoderArgumentError", "ModelIdentity", "ModelNotFoundError", "TransformerEncoder",
        "UnsupportedModelError", "clear_encoder_cache", "default_model_path", "encode_arrow",
        "load_encoder", "model_identity", "model_version_for", "pick_device",
    ],
)
def test_the_encoder_module_still_offers_every_name_it_had(name):
    from interests import encoding
    from interests.encoding import encoder

    assert getattr(encoder, name) is getattr(encoding, name)
