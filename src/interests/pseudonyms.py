"""User-id pseudonyms: the secret that keys them and the Python form of the hash (no Spark needed).

The cleaning job pseudonymizes in Spark (``cleaning.events.pseudonymize``); services, the reader API and
the evaluation look a raw id up with ``pseudonymize_user_id``, which gives the same 32 hex characters.
"""

from __future__ import annotations

import hashlib
import os

from interests.config import ConfigError, PipelineConfig

PSEUDONYM_KEY_ENV = "INTERESTS_PSEUDONYM_KEY"
_LOCAL_PSEUDONYM_KEY = "interests-local-development-key"
PSEUDONYM_CHARS = 32
"""Hex characters of the SHA-256 kept as the pseudonym."""


def pseudonym_key(config: PipelineConfig) -> str:
    """The secret that keys user-id pseudonyms: from the environment; a fixed dev key only when local."""
    key = os.environ.get(PSEUDONYM_KEY_ENV, "")
    if key:
        return key
    if config.env == "local":
        return _LOCAL_PSEUDONYM_KEY
    raise ConfigError(f"{PSEUDONYM_KEY_ENV} must be set when env is {config.env!r}")


def pseudonymize_user_id(raw_user_id: str, key: str) -> str:
    """The stored pseudonym of a raw user id: the first 32 hex characters of SHA-256 of ``<key>:<id>``."""
    return hashlib.sha256(f"{key}:{raw_user_id}".encode()).hexdigest()[:PSEUDONYM_CHARS]
