"""What every encoder is (the :class:`Encoder` protocol) and the argument checks they share."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from interests.encoding.errors import InvalidEncoderArgumentError


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into unit-norm float32 vectors of a fixed dimension."""

    model_version: str
    """Identifies the weights; part of the encoding cache's key."""
    dim: int
    """Length of every vector."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dim) with L2-normalized rows."""
        ...


def check_texts(texts: Sequence[str]) -> list[str]:
    """Return texts as a list, or raise TypeError naming the first entry that is not a str."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("encode expects a sequence of str, got a single str; wrap it in a list")
    if not isinstance(texts, Iterable):
        raise TypeError(f"encode expects a sequence of str, got {type(texts).__name__}")
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] is {type(text).__name__} ({text!r:.60}), expected str")
    return items


def check_positive_int(name: str, value: object) -> int:
    """Return value if it is an int >= 1 (not a bool), else raise InvalidEncoderArgumentError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidEncoderArgumentError(f"{name} must be an int >= 1, got {value!r}")
    return value
