"""Fixtures of the encoding tests: the real packaged model, loaded once per test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def minilm_encoder():
    """The packaged all-MiniLM-L6-v2 on CPU, through the process-wide loader (loaded once)."""
    from interests.encoding.transformer import load_encoder

    return load_encoder(device="cpu")
