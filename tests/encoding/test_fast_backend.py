"""The encoder's backends with the real packaged model: the fast one agrees with float32, or is not used."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from interests.encoding import backends, transformer
from interests.encoding.backends import agreement, resolve_backend
from interests.encoding.errors import InvalidEncoderArgumentError
from interests.encoding.transformer import TransformerEncoder

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.integration

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

# Item-like texts of 1 to ~250 tokens, none of them among the load check's CHECK_TEXTS.
_WORDS = ["bread", "market", "guitar", "league", "travel", "coffee", "river", "engine", "garden", "winter",
          "music", "painting", "election", "protein", "galaxy", "harbor", "recipe", "football", "startup"]
FIXED_TEXTS = [" ".join(_WORDS[(seed * 7 + i) % len(_WORDS)] for i in range(words))
               for seed, words in enumerate([1, 3, 8, 20, 45, 90, 140, 200, 240, 12, 30, 60])]


@pytest.fixture(scope="module")
def bf16_encoder():
    return TransformerEncoder(device="cpu", backend="bf16")


@pytest.fixture(scope="module")
def float32_vectors(minilm_encoder):
    return minilm_encoder.encode(FIXED_TEXTS)


def test_bf16_agrees_with_float32_on_a_fixed_text_set(bf16_encoder, float32_vectors):
    assert bf16_encoder.backend == "bf16"  # its check at load passed
    vectors = bf16_encoder.encode(FIXED_TEXTS)
    mean, least = agreement(float32_vectors, vectors)
    # Measured 0.99993 mean, 0.99988 min on 20-200 token texts; the bar is a mean of 0.99, the load check's 1e-3.
    assert mean >= 0.999 and least >= 1 - backends.MAX_COSINE_DISTANCE, (mean, least)
    assert not np.array_equal(vectors, float32_vectors)  # it really ran another numeric path
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_every_backend_keeps_the_plain_model_version(bf16_encoder, minilm_encoder):
    # Every backend offered stays within 1e-3 cosine of float32 (the float16-on-CUDA bar), so the
    # cache key names the weights only: a driver names it without knowing its executors' hardware.
    assert bf16_encoder.model_version == minilm_encoder.model_version
    assert "+" not in minilm_encoder.model_version


def test_a_fast_backend_that_disagrees_falls_back_to_float32(monkeypatch, caplog, float32_vectors):
    monkeypatch.setattr(transformer, "agrees", lambda reference, candidate: False)
    with caplog.at_level(logging.WARNING, logger="interests.encoding.transformer"):
        encoder = TransformerEncoder(device="cpu", backend="bf16")
    assert encoder.backend == "torch"
    assert "falling back to backend torch" in caplog.text
    np.testing.assert_allclose(encoder.encode(FIXED_TEXTS), float32_vectors, atol=1e-5)


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "torch")])
def test_auto_uses_bf16_only_on_a_cpu_with_native_bfloat16(monkeypatch, native, expected):
    monkeypatch.setattr(backends, "cpu_has_native_bf16", lambda: native)
    assert resolve_backend("auto", torch.device("cpu")) == expected
    assert resolve_backend("auto", torch.device("cuda", 0)) == "torch"  # float16 there already
    assert resolve_backend("torch", torch.device("cpu")) == "torch"


def test_auto_without_native_bfloat16_loads_the_float32_path(monkeypatch, float32_vectors):
    monkeypatch.setattr(backends, "cpu_has_native_bf16", lambda: False)
    encoder = TransformerEncoder(device="cpu", backend="auto")
    assert encoder.backend == "torch" and encoder.dtype == torch.float32
    np.testing.assert_allclose(encoder.encode(FIXED_TEXTS), float32_vectors, atol=1e-5)


@pytest.mark.parametrize(("backend", "dtype", "match"), [
    ("onnx-int8", "auto", "backend 'onnx-int8' is not allowed"),
    ("bf16", "float32", "dtype 'float32' is not allowed with it"),
])
def test_bad_backend_settings_are_refused_before_loading(backend, dtype, match):
    with pytest.raises(InvalidEncoderArgumentError, match=match):
        TransformerEncoder(device="cpu", backend=backend, dtype=dtype)


def test_out_of_memory_in_the_forward_pass_halves_the_batch(minilm_encoder, monkeypatch, float32_vectors):
    forward = minilm_encoder._forward
    rows_seen = []

    def forward_that_fits_three(features):
        rows = features["input_ids"].shape[0]
        rows_seen.append(rows)
        if rows > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return forward(features)

    monkeypatch.setattr(minilm_encoder, "_forward", forward_that_fits_three)
    vectors = minilm_encoder.encode(FIXED_TEXTS)
    np.testing.assert_allclose(vectors, float32_vectors, atol=1e-5)
    assert max(rows_seen) == len(FIXED_TEXTS) and sum(rows <= 3 for rows in rows_seen) >= 4


def test_token_budget_batches_keep_the_input_order(minilm_encoder, float32_vectors, monkeypatch):
    calls = []
    forward = minilm_encoder._forward
    monkeypatch.setattr(minilm_encoder, "_forward", lambda features: calls.append(features["input_ids"].shape) or forward(features))
    monkeypatch.setattr(minilm_encoder, "batch_tokens", 600)
    vectors = minilm_encoder.encode(FIXED_TEXTS)
    np.testing.assert_allclose(vectors, float32_vectors, atol=1e-5)
    assert len(calls) > 1 and all(rows == 1 or rows * width <= 600 for rows, width in calls)


def test_tokenization_a_chunk_ahead_keeps_the_input_order(minilm_encoder, float32_vectors, monkeypatch):
    monkeypatch.setattr(transformer, "TOKENIZE_CHUNK_TEXTS", 5)
    np.testing.assert_allclose(minilm_encoder.encode(FIXED_TEXTS), float32_vectors, atol=1e-5)


def test_each_call_logs_its_throughput_and_the_bar_shows_it(minilm_encoder, caplog, capsys):
    with caplog.at_level(logging.INFO, logger="interests.encoding.transformer"):
        minilm_encoder.encode(FIXED_TEXTS, show_progress_bar=True)
    line = next(record.getMessage() for record in caplog.records if record.getMessage().startswith("encoded"))
    assert f"encoded {len(FIXED_TEXTS)} texts" in line and "texts/s" in line and "tokens/s" in line
    assert "tokens/s" in capsys.readouterr().err


def test_encoder_and_benchmark_import_without_spark_or_arrow():
    # The GPU benchmark machine has torch, transformers and sentence-transformers only.
    code = (
        "import sys; sys.modules['pyspark'] = None; sys.modules['pyarrow'] = None;"
        f"sys.path.insert(0, {str(BENCHMARKS)!r});"
        "import interests.encoding.transformer, encode; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "ok", result.stderr
