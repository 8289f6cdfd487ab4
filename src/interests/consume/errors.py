"""The typed errors of the reader API: each names the bad value and where it was looked for."""

from __future__ import annotations

from interests.errors import InterestsError
from interests.publishing.nights import NoPublishedNightError


class UnknownUserError(InterestsError, LookupError):
    """A user id with no row in the night's user_embeddings."""


class UnknownItemError(InterestsError, LookupError):
    """An item id with no row in the night's item_embeddings."""


class ReaderArgumentError(InterestsError, ValueError):
    """An argument the reader cannot work with (k below 1, an unknown level, a malformed fresh event)."""


class EncoderMismatchError(InterestsError, ValueError):
    """The encoder that would embed a text query is not the one the night's text vectors came from."""


__all__ = [
    "EncoderMismatchError",
    "NoPublishedNightError",
    "ReaderArgumentError",
    "UnknownItemError",
    "UnknownUserError",
]
