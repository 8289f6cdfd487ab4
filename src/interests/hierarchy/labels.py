"""Human-readable labels of tree nodes: class-based TF-IDF keywords of the members' texts."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_STOPWORDS = frozenset(
    ["the", "and", "for", "with", "this", "that", "from", "your", "you", "are", "was", "were", "have", "has", "had", "not", "but", "all", "any", "can", "its", "our", "out", "who", "how", "why", "what", "when", "where", "which", "will", "just", "more", "most", "very", "into", "over", "than", "then", "them", "they", "their", "there", "these", "those", "about", "after", "before", "also", "been", "being", "both", "each", "few", "here", "some", "such", "only", "own", "same", "too", "under", "until", "while", "would", "could", "should", "may", "might", "must", "shall", "one", "two", "new", "best", "great", "good", "today"]
)


def tokenize(text: str) -> list[str]:
    """Lower-case words of three letters or more, without stopwords."""
    return [word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


def label_keywords(texts: list[str], labels: np.ndarray, k: int, n_keywords: int) -> list[list[str]]:
    """Top keywords per cluster by class-based TF-IDF (a word's share in the cluster x its rarity across clusters)."""
    counts = [Counter() for _ in range(k)]
    for text, label in zip(texts, labels):
        counts[label].update(tokenize(text))
    clusters_with = Counter()
    for counter in counts:
        clusters_with.update(counter.keys())
    keywords = []
    for counter in counts:
        total = sum(counter.values()) or 1
        scored = sorted(
            counter.items(),
            key=lambda pair: (-(pair[1] / total) * math.log(1 + k / clusters_with[pair[0]]), pair[0]),
        )
        keywords.append([word for word, _ in scored[:n_keywords]])
    return keywords
