"""HashingEncoder: the deterministic fake that unit tests elsewhere use instead of the model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from interests.encoding.errors import InvalidEncoderArgumentError
from interests.encoding.hashing import HashingEncoder
from interests.encoding.protocol import Encoder

TEXTS = [
    "a recipe for sourdough bread",
    "baking sourdough bread at home",
    "stock market earnings report",
    "",
    "!!! ???",
    "Bread BREAD bread",
]


def test_shape_dtype_and_unit_norms():
    vectors = HashingEncoder(dim=64).encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 64)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_no_texts_gives_an_empty_matrix_of_the_right_width():
    vectors = HashingEncoder(dim=32).encode([])
    assert vectors.shape == (0, 32)
    assert vectors.dtype == np.float32


def test_text_without_words_is_a_fixed_unit_vector():
    vectors = HashingEncoder(dim=16).encode(["", "   ", "?!"])
    expected = np.zeros(16, dtype=np.float32)
    expected[0] = 1.0
    for row in vectors:
        np.testing.assert_array_equal(row, expected)


def test_deterministic_across_instances():
    first = HashingEncoder().encode(TEXTS)
    second = HashingEncoder().encode(TEXTS)
    np.testing.assert_array_equal(first, second)


def test_deterministic_across_processes():
    # Python's hash() of a str changes per process; the fake must not depend on it.
    code = (
        "from interests.encoding.hashing import HashingEncoder;"
        "print(repr(HashingEncoder(dim=64).encode(['hello world']).tolist()))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": ":".join(sys.path)},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    expected = HashingEncoder(dim=64).encode(["hello world"]).tolist()
    assert eval(outputs.pop()) == expected


def test_rows_follow_input_order():
    encoder = HashingEncoder()
    together = encoder.encode(TEXTS)
    alone = np.vstack([encoder.encode([text]) for text in TEXTS])
    np.testing.assert_array_equal(together, alone)
    reversed_rows = encoder.encode(TEXTS[::-1])
    np.testing.assert_array_equal(reversed_rows, together[::-1])


def test_shared_words_give_higher_cosine_than_unrelated_texts():
    vectors = HashingEncoder().encode(TEXTS[:3])
    # Two of five words shared: cosine 2/5 unless buckets collide.
    assert vectors[0] @ vectors[1] == pytest.approx(0.4, abs=0.1)
    assert abs(vectors[0] @ vectors[2]) < 0.2


def test_case_and_punctuation_do_not_matter():
    vectors = HashingEncoder().encode(["Bread, bread!", "bread bread"])
    np.testing.assert_allclose(vectors[0], vectors[1])


def test_model_version_names_the_dimension_and_protocol_holds():
    encoder = HashingEncoder(dim=128)
    assert encoder.model_version == "hashing-128"
    assert encoder.dim == 128
    assert isinstance(encoder, Encoder)


@pytest.mark.parametrize("dim", [0, -3, 2.5, True, "384"])
def test_bad_dimension_is_refused(dim):
    with pytest.raises(InvalidEncoderArgumentError, match="dim"):
        HashingEncoder(dim=dim)


def test_non_string_entry_is_named_by_index():
    with pytest.raises(TypeError, match=r"texts\[2\] is int"):
        HashingEncoder().encode(["a", "b", 3, "d"])  # type: ignore[list-item]


def test_a_bare_string_is_refused():
    with pytest.raises(TypeError, match="single str"):
        HashingEncoder().encode("not a list")


def test_none_is_refused():
    with pytest.raises(TypeError, match="NoneType"):
        HashingEncoder().encode(None)  # type: ignore[arg-type]
