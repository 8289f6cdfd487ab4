"""Which texts share a forward pass, and what happens when one pass does not fit in memory.

Batches are planned on token counts, longest first: texts of similar length share a batch, so
little compute goes to padding, and a batch holds at most ``max_texts`` texts and at most
``max_tokens`` padded tokens (rows x longest row), so a batch of long texts is smaller than one of
short texts and the memory of a pass stays bounded. The longest batches come first, so an
out-of-memory error shows at once rather than after an hour.

:func:`run_halving_on_oom` runs one batch and, when the device runs out of memory, splits it in
two halves and runs those (recursively), so a night slows down instead of failing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from interests.encoding.protocol import check_positive_int

logger = logging.getLogger(__name__)

Batch = TypeVar("Batch")
Result = TypeVar("Result")


def plan_batches(lengths: Sequence[int], max_texts: int, max_tokens: int) -> list[list[int]]:
    """Indices of the texts, grouped into batches, longest first (ties in input order).

    A batch has at most ``max_texts`` rows and at most ``max_tokens`` padded tokens; a single
    text longer than the budget still gets a batch of its own.
    """
    check_positive_int("max_texts", max_texts)
    check_positive_int("max_tokens", max_tokens)
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # Sorted longest first, so the first row of a batch sets its padded width.
        width = lengths[current[0]] if current else lengths[index]
        if current and (len(current) >= max_texts or (len(current) + 1) * width > max_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def out_of_memory_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "this batch does not fit": torch's out-of-memory errors."""
    import torch

    errors: list[type[BaseException]] = [torch.cuda.OutOfMemoryError]
    if hasattr(torch, "OutOfMemoryError"):
        errors.append(torch.OutOfMemoryError)
    return tuple(errors)


def run_halving_on_oom(
    run: Callable[[Batch], Result],
    batch: Batch,
    rows: int,
    split: Callable[[Batch, int], tuple[Batch, Batch]],
    join: Callable[[list[Result]], Result],
    on_oom: Callable[[], None] = lambda: None,
) -> Result:
    """``run(batch)``; if it runs out of memory, run the two halves of the batch and join them.

    ``split(batch, at)`` cuts a batch of ``rows`` rows into rows [0, at) and [at, rows); ``on_oom``
    frees what it can (``torch.cuda.empty_cache``) before the halves run. A single row that does
    not fit raises the error: nothing smaller can be tried.
    """
    errors = out_of_memory_errors()
    try:
        return run(batch)
    except errors:
        if rows <= 1:
            raise
    # Outside the except block, so the traceback (and the tensors it holds) is released first.
    on_oom()
    half = rows // 2
    logger.warning("out of memory on a batch of %d texts; retrying as %d + %d", rows, half, rows - half)
    first, second = split(batch, half)
    return join([
        run_halving_on_oom(run, first, half, split, join, on_oom),
        run_halving_on_oom(run, second, rows - half, split, join, on_oom),
    ])
