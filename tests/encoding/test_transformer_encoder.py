"""TransformerEncoder with the real packaged all-MiniLM-L6-v2 (loaded once per test session)."""

from __future__ import annotations

import random
import re

import numpy as np
import pyarrow as pa
import pytest

from interests.encoding import model_files
from interests.encoding.arrow import encode_arrow
from interests.encoding.errors import InvalidEncoderArgumentError
from interests.encoding.model_files import default_model_path, model_version_for
from interests.encoding.protocol import Encoder
from interests.encoding.transformer import TransformerEncoder, load_encoder

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.integration

_WORDS = ["bread", "market", "guitar", "league", "travel", "coffee", "river", "engine", "garden", "winter", "music", "painting", "election", "protein", "galaxy", "harbor", "recipe", "football", "startup", "poetry"]


def _text_of(words: int, seed: int) -> str:
    generator = random.Random(seed)
    return " ".join(generator.choice(_WORDS) for _ in range(words))


# Very different lengths, in no particular order; the 600-word one is truncated at 256 tokens.
MIXED_TEXTS = [
    _text_of(3, 1), "", _text_of(600, 2), "short", _text_of(40, 3),
    "a recipe for sourdough bread", _text_of(150, 4), "   ", _text_of(12, 5),
]


def test_dimension_and_version(minilm_encoder):
    assert minilm_encoder.dim == 384
    assert re.fullmatch(r"all-MiniLM-L6-v2@[0-9a-f]{12}", minilm_encoder.model_version)
    expected_version = model_version_for(default_model_path(), "all-MiniLM-L6-v2")
    assert minilm_encoder.model_version == expected_version
    assert isinstance(minilm_encoder, Encoder)
    assert minilm_encoder.device.type == "cpu"
    assert minilm_encoder.dtype == torch.float32


def test_matches_sentence_transformers_reference_values(minilm_encoder):
    # First values printed by SentenceTransformer("all-MiniLM-L6-v2").encode on the model card's
    # example sentences: mean pooling and normalization are done as sentence-transformers does.
    vectors = minilm_encoder.encode(["This is an example sentence", "Each sentence is converted"])
    expected = np.array(
        [
            [0.0676569, 0.0634959, 0.0487131, 0.0793050,
             0.0374480, 0.0026528, 0.0393749, -0.0070985],
            [0.0864386, 0.1027627, 0.0053946, 0.0020444,
             -0.0099634, 0.0253855, 0.0492876, -0.0306265],
        ],
        dtype=np.float32,
    )
    np.testing.assert_allclose(vectors[:, :8], expected, atol=1e-5)


def test_shape_dtype_and_unit_norms(mixed_reference):
    vectors = mixed_reference
    assert vectors.shape == (len(MIXED_TEXTS), 384)
    assert vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_no_texts_gives_an_empty_matrix(minilm_encoder):
    vectors = minilm_encoder.encode([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_empty_and_blank_strings_encode_to_unit_vectors(minilm_encoder):
    vectors = minilm_encoder.encode(["", " ", "\n\t"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # The tokenizer drops whitespace, so all three are the same [CLS] [SEP] input.
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)


@pytest.fixture(scope="module")
def mixed_reference(minilm_encoder) -> np.ndarray:
    """MIXED_TEXTS encoded once with the default batch size."""
    return minilm_encoder.encode(MIXED_TEXTS)


def test_input_order_is_restored(minilm_encoder, mixed_reference):
    together = mixed_reference
    alone = np.vstack([minilm_encoder.encode([text]) for text in MIXED_TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    # And the rows really differ, so a permutation would have been caught.
    assert (together @ together.T - np.eye(len(MIXED_TEXTS)) < 0.999).sum() > 0


@pytest.mark.parametrize("batch_size", [1, 2, 5, 128])
def test_results_do_not_depend_on_batch_size(minilm_encoder, mixed_reference, batch_size):
    vectors = minilm_encoder.encode(MIXED_TEXTS, batch_size=batch_size)
    np.testing.assert_allclose(vectors, mixed_reference, atol=1e-5)


def test_texts_longer_than_max_length_are_truncated(minilm_encoder):
    long_text = _text_of(400, 7)  # well over 256 tokens
    vectors = minilm_encoder.encode([long_text, long_text + " " + _text_of(100, 8)])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-5)


def test_semantic_sanity(minilm_encoder):
    bread, baking, stocks = minilm_encoder.encode(
        ["a recipe for sourdough bread", "baking bread at home", "stock market earnings report"]
    )
    assert bread @ baking > bread @ stocks + 0.2


def test_duplicates_get_identical_rows(minilm_encoder):
    vectors = minilm_encoder.encode(["same text", "other", "same text"])
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-6)


def test_non_string_entry_is_named_by_index(minilm_encoder):
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        minilm_encoder.encode(["fine", None])  # type: ignore[list-item]


def test_bad_batch_size_in_encode_is_refused(minilm_encoder):
    with pytest.raises(InvalidEncoderArgumentError, match="batch_size"):
        minilm_encoder.encode(["x"], batch_size=0)


def test_encode_arrow_with_the_real_model(minilm_encoder):
    texts = ["bread", "stock market", ""]
    result = encode_arrow(minilm_encoder, pa.array(texts))
    assert result.type == pa.list_(pa.float32())
    expected = minilm_encoder.encode(texts)
    np.testing.assert_allclose(np.asarray(result.to_pylist()), expected, atol=1e-6)


def test_a_second_load_gives_the_same_version_and_vectors(minilm_encoder, mixed_reference):
    model_files._digests.clear()  # hash the weights again rather than trust the cache
    second = TransformerEncoder(device="cpu", batch_size=16)
    assert second.model_version == minilm_encoder.model_version
    np.testing.assert_allclose(second.encode(MIXED_TEXTS), mixed_reference, atol=1e-5)


def test_load_encoder_loads_once_per_process(minilm_encoder):
    assert load_encoder(device="cpu") is minilm_encoder
    assert load_encoder(str(default_model_path()), device="cpu") is minilm_encoder


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_and_cpu_agree(mixed_reference):
    reference = mixed_reference
    # The default on CUDA is float16; its rows stay within 1e-3 cosine of float32 on CPU.
    half = load_encoder(device="cuda")
    assert half.dtype == torch.float16
    cosines = (half.encode(MIXED_TEXTS) * reference).sum(axis=1)
    assert (1.0 - cosines).max() < 1e-3
    # In float32 the GPU gives the same numbers as the CPU, element by element.
    full = load_encoder(device="cuda", dtype="float32")
    np.testing.assert_allclose(full.encode(MIXED_TEXTS), reference, atol=1e-3)
