"""The encoder backend setting, from the config to the executors' settings (no model loaded)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from interests.config import EncoderConfig
from interests.encoding.executors import TransformerSettings


def test_the_backend_and_token_budget_reach_the_executors():
    settings = TransformerSettings.from_config(EncoderConfig(backend="auto", batch_tokens=8192))
    assert (settings.backend, settings.batch_tokens) == ("auto", 8192)


def test_the_pipeline_default_is_auto_and_the_library_default_float32():
    # The pipeline asks for the fast path where it agrees with float32; the library alone stays exact.
    assert EncoderConfig().backend == "auto" and TransformerSettings().backend == "torch"


@pytest.mark.parametrize(("field", "value"), [("backend", "onnx-int8"), ("batch_tokens", 0)])
def test_bad_backend_settings_fail_fast(field, value):
    with pytest.raises(ValidationError, match=field):
        EncoderConfig(**{field: value})
