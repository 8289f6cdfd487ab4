"""The fake encoder for unit tests: deterministic, dependency-free signed hashing of words.

It follows the :class:`~interests.encoding.protocol.Encoder` protocol like the real model, so any
code that takes an encoder can be tested in milliseconds; integration tests use the real model.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence

import numpy as np

from interests.encoding.protocol import check_positive_int, check_texts

_WORD_PATTERN = re.compile(r"\w+")


@functools.lru_cache(maxsize=65536)
def _token_bucket(token: str, dim: int) -> tuple[int, float]:
    # blake2b rather than hash(): Python's string hash is salted per process.
    value = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
    return value % dim, (1.0 if value >> 63 == 0 else -1.0)


class HashingEncoder:
    """A deterministic, dependency-free fake: signed hashing of lower-cased word tokens.

    Texts that share words get a high cosine, texts that share none a cosine near zero, which is
    enough structure for clustering and pipeline tests. A text without any word (e.g. "") maps
    to bucket 0, so every row is still a unit vector.
    """

    def __init__(self, dim: int = 384) -> None:
        self.dim = check_positive_int("dim", dim)
        self.model_version = f"hashing-{self.dim}"

    def __repr__(self) -> str:
        return f"HashingEncoder(dim={self.dim})"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts into a (len(texts), dim) float32 array of unit rows, in input order."""
        items = check_texts(texts)
        vectors = np.zeros((len(items), self.dim), dtype=np.float32)
        for row, text in enumerate(items):
            for token in _WORD_PATTERN.findall(text.lower()):
                bucket, sign = _token_bucket(token, self.dim)
                vectors[row, bucket] += sign
            norm = float(np.linalg.norm(vectors[row]))
            if norm == 0.0:  # no words, or words whose signs cancelled in one bucket
                vectors[row] = 0.0
                vectors[row, 0] = 1.0
            else:
                vectors[row] /= norm
        return vectors
