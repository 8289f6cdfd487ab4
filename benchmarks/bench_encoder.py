"""Encoder benchmarks, each a ratio against a baseline measured in the same run, same model, same texts.

1. length-sorted batching (TransformerEncoder.encode) vs batches in arrival order (the baseline:
   encode each arrival-order chunk of batch_size separately, so every batch pads to its own longest text);
2. a warm night (98% of texts already in the content-hash cache) vs a cold night (everything encoded).

    .venv/bin/python benchmarks/bench_encoder.py [--texts 1500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import pyarrow as pa

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from interests.encoding.cache import texts_to_encode
from interests.encoding.text import text_hash
from interests.encoding.transformer import load_encoder
from interests.synthetic.vocabulary import FILLER_WORDS, all_words


def make_texts(n: int, seed: int) -> list[str]:
    """Texts of mixed length (4..160 words, long-tailed), as item bodies and user reviews are."""
    rng = np.random.default_rng(seed)
    words = np.array(sorted(all_words()) + list(FILLER_WORDS))
    lengths = np.clip(rng.lognormal(mean=3.0, sigma=0.8, size=n).astype(int), 4, 160)
    return [" ".join(rng.choice(words, size=length)) for length in lengths]


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    encoder = load_encoder(batch_size=args.batch_size)
    texts = make_texts(args.texts, seed=1)
    encoder.encode(texts[:64])  # warm-up

    def arrival_order() -> None:
        for start in range(0, len(texts), args.batch_size):
            encoder.encode(texts[start:start + args.batch_size])

    def sorted_batches() -> None:
        encoder.encode(texts)

    baseline, candidate = [], []
    for _ in range(args.repeats):  # A B A B: drift of a shared machine hits both alike
        baseline.append(timed(arrival_order))
        candidate.append(timed(sorted_batches))
    ratios = [b / c for b, c in zip(baseline, candidate)]
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, device {encoder.device}, {encoder.model_version}")
    print(f"[sorted batching] {len(texts)} texts, batch {args.batch_size}: "
          f"arrival order {statistics.median(baseline):.2f}s ({len(texts) / statistics.median(baseline):.0f} texts/s), "
          f"length-sorted {statistics.median(candidate):.2f}s ({len(texts) / statistics.median(candidate):.0f} texts/s); "
          f"speed-up x{statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")

    table = pa.table({"text": texts, "text_hash": [text_hash(t) for t in texts]})
    cached = pa.array([text_hash(t) for t in texts[: int(len(texts) * 0.98)]])
    nothing = pa.array([], pa.string())

    def night(cache: pa.Array) -> None:
        todo, _ = texts_to_encode([table], cache)
        encoder.encode(todo.column("text").to_pylist())

    cold, warm = [], []
    for _ in range(args.repeats):
        cold.append(timed(lambda: night(nothing)))
        warm.append(timed(lambda: night(cached)))
    ratios = [c / w for c, w in zip(cold, warm)]
    print(f"[content-hash cache] cold night {statistics.median(cold):.2f}s, warm night (98% cached) "
          f"{statistics.median(warm):.3f}s; warm costs 1/{statistics.median(ratios):.0f} of cold "
          f"(min x{min(ratios):.0f}, max x{max(ratios):.0f})")


if __name__ == "__main__":
    main()
