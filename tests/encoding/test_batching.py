"""Batch planning by token budget and the out-of-memory halving (no model needed)."""

from __future__ import annotations

import pytest

from interests.encoding.batching import plan_batches, run_halving_on_oom
from interests.encoding.errors import InvalidEncoderArgumentError

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("lengths", "max_texts", "max_tokens", "expected"),
    [
        ([5, 9, 7, 3], 2, 1000, [[1, 2], [0, 3]]),  # longest first, max_texts rows
        ([5, 9, 7, 3], 10, 18, [[1, 2], [0, 3]]),  # 3 rows x 9 tokens > 18: a new batch
        ([5, 5, 5, 5], 10, 10, [[0, 1], [2, 3]]),  # ties keep input order
        ([50, 2, 2], 10, 20, [[0], [1, 2]]),  # a text over the budget gets a batch of its own
        ([], 4, 100, []),
    ],
)
def test_plan_batches(lengths, max_texts, max_tokens, expected):
    assert plan_batches(lengths, max_texts, max_tokens) == expected


def test_plan_batches_covers_every_text_once_within_the_budgets():
    lengths = [(index * 37) % 200 + 1 for index in range(500)]
    batches = plan_batches(lengths, max_texts=64, max_tokens=4096)
    assert sorted(index for batch in batches for index in batch) == list(range(500))
    for batch in batches:
        width = max(lengths[index] for index in batch)
        assert len(batch) <= 64 and (len(batch) == 1 or len(batch) * width <= 4096)
    # Short texts fill a batch up to max_texts; long ones are cut by the token budget.
    assert len(batches[0]) < 64 and len(batches[-1]) == min(64, len(lengths) - sum(map(len, batches[:-1])))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_plan_batches_refuses_bad_budgets(bad):
    with pytest.raises(InvalidEncoderArgumentError, match="max_tokens"):
        plan_batches([1, 2], 4, bad)


def _split(batch, at):
    return batch[:at], batch[at:]


def _join(parts):
    return [value for part in parts for value in part]


def test_out_of_memory_halves_the_batch_until_it_fits_and_keeps_the_order():
    calls = []

    def run(batch):
        calls.append(len(batch))
        if len(batch) > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return [value * 10 for value in batch]

    freed = []
    result = run_halving_on_oom(run, list(range(10)), 10, _split, _join, lambda: freed.append(1))
    assert result == [value * 10 for value in range(10)]
    assert calls == [10, 5, 2, 3, 5, 2, 3]
    assert len(freed) == 3  # once per batch that did not fit


def test_out_of_memory_on_a_single_text_is_raised():
    def run(batch):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")

    with pytest.raises(torch.cuda.OutOfMemoryError):
        run_halving_on_oom(run, [1, 2], 2, _split, _join)


def test_other_errors_are_not_retried():
    calls = []

    def run(batch):
        calls.append(len(batch))
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_halving_on_oom(run, [1, 2, 3, 4], 4, _split, _join)
    assert calls == [4]
