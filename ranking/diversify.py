"""Maximal marginal relevance: trade a little score for less repetition in a feed."""

from __future__ import annotations

import numpy as np


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, relevance: float = 0.85) -> list[int]:
    """Indexes of `k` items chosen greedily by relevance·score − (1−relevance)·redundancy.

    Scores are rescaled to [0, 1] first so that `relevance` means the same for every
    ranker; redundancy is the highest cosine to an item already chosen.
    """
    n = len(scores)
    k = min(k, n)
    if k == 0:
        return []
    spread = float(scores.max() - scores.min())
    norm = (scores - scores.min()) / spread if spread > 0 else np.ones(n)
    chosen: list[int] = []
    redundancy = np.zeros(n)
    available = np.ones(n, dtype=bool)
    for _ in range(k):
        value = relevance * norm - (1 - relevance) * redundancy
        value[~available] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
    return chosen
