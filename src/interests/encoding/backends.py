"""How the encoder computes: which numeric path runs the model, and the check that lets a fast one in.

Backends (see docs/decisions.md, "The encoder's backend", for the measurements behind them):

- ``"torch"``: the model in its dtype, float32 on the CPU and float16 on CUDA (``pick_dtype``);
- ``"bf16"``: the model in bfloat16 (the CPU's AMX / AVX512-BF16 units, a GPU's tensor cores);
  pooling and normalization stay float32;
- ``"auto"``: ``"bf16"`` on a CPU with native bfloat16 units, ``"torch"`` everywhere else.

A fast backend is used only after it agrees with float32 on :data:`CHECK_TEXTS` at load
(:func:`agreement`); otherwise the encoder falls back to ``"torch"`` and says so in a warning.
The bar, every row within :data:`MAX_COSINE_DISTANCE` of float32, is the one float16 on CUDA
already meets; that is why both share the plain ``model_version``: a cache keyed by it holds only
vectors within 1e-3 cosine of the float32 ones, whichever machine encoded them. A backend that
cannot meet that bar (dynamic int8 measured 0.94 mean cosine here) would need its own
``model_version`` and is not offered.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from interests.encoding.errors import InvalidEncoderArgumentError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

BACKEND_CHOICES = ("auto", "torch", "bf16")

MAX_COSINE_DISTANCE = 1e-3
"""Largest 1 - cosine allowed between a fast backend's row and float32's on :data:`CHECK_TEXTS`."""

CHECK_TEXTS = (
    "a recipe for sourdough bread with a long cold proof",
    "Election night: turnout was the highest in forty years, officials said.",
    "guitar",
    "The league announced a new schedule; football fans travel to the harbor city every winter.",
    "How do I replace the water pump on a 2009 diesel engine? The manual says nothing about it.",
    "protein folding, galaxy formation and other things a startup promises to simulate",
    (
        "I loved this coffee grinder for two weeks and then the motor died. Customer service never "
        "answered my emails, so I bought another brand. Three stars for the design, none for support."
    ),
    "Poetry reading at the river garden, Sunday at 5pm, free entry, bring a blanket.",
    " ".join(["music", "painting", "market", "winter", "travel", "recipe"] * 30),
    "Ünïcödé, emoji 🎸 and numbers 3.14159 all in one line.",
    "",
    "short",
)
"""Fixed texts of mixed length and kind that a fast backend must encode like float32."""


def check_backend(requested: str) -> str:
    """The requested backend if it is one of :data:`BACKEND_CHOICES`, else a typed error."""
    if requested not in BACKEND_CHOICES:
        raise InvalidEncoderArgumentError(
            f"backend {requested!r} is not allowed; allowed: {list(BACKEND_CHOICES)}"
        )
    return requested


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX tiles or AVX512-BF16).

    Without them oneDNN emulates bfloat16 and the "fast" path is slower than float32.
    """
    import torch

    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    try:
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    except RuntimeError:  # a torch built without these probes
        return False


def resolve_backend(requested: str, device: torch.device) -> str:
    """The backend to try on device: "auto" becomes "bf16" on a CPU with native bfloat16, else "torch"."""
    check_backend(requested)
    if requested != "auto":
        return requested
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "torch"


def agreement(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, float]:
    """(mean, min) cosine between matching unit rows of two encodings of the same texts."""
    cosines = np.sum(reference.astype(np.float64) * candidate.astype(np.float64), axis=1)
    return float(cosines.mean()), float(cosines.min())


def agrees(reference: np.ndarray, candidate: np.ndarray) -> bool:
    """Whether every candidate row is within :data:`MAX_COSINE_DISTANCE` of its reference row."""
    _, least = agreement(reference, candidate)
    return 1.0 - least <= MAX_COSINE_DISTANCE
