"""Ranking metrics shared by training and evaluation: NDCG (one definition, graded or
binary gains) and a paired bootstrap interval."""

from __future__ import annotations

import numpy as np


def ndcg(ranked: np.ndarray, ideal: np.ndarray) -> np.ndarray:
    """Per row, DCG of the gains `ranked` (rows × k, in ranked order, 0 past the list's
    end) over DCG of the gains `ideal` (the best possible order), with log2 discounts;
    0 for a row whose ideal DCG is 0."""
    discounts = 1.0 / np.log2(np.arange(2, ranked.shape[1] + 2))
    dcg = ranked @ discounts
    best = ideal @ discounts
    return np.divide(dcg, best, out=np.zeros(len(best)), where=best > 0)


def ndcg_by_group(
    scores: np.ndarray,
    labels: np.ndarray,
    group_sizes: np.ndarray,
    k: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """NDCG@k of each group, with LightGBM's gains (2^label - 1), each multiplied by the
    row's weight if given (inverse examination probability, for unbiased evaluation); a
    group without any gain scores 0."""
    sizes = np.asarray(group_sizes, dtype=np.int64)
    n, width = len(sizes), int(sizes.max()) if len(sizes) else 0
    gains = (2.0 ** np.asarray(labels, dtype=np.float64) - 1) * (
        1.0 if weights is None else weights
    )
    # Groups padded into one (groups x longest) matrix, so every group is ranked at once: a
    # padding slot scores -inf (ranked last) and gains 0; gains are never negative.
    row = np.repeat(np.arange(n), sizes)
    column = np.arange(len(row)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    padded_scores = np.full((n, width), -np.inf)
    padded_scores[row, column] = scores
    padded_gains = np.zeros((n, width))
    padded_gains[row, column] = gains
    order = np.argsort(-padded_scores, axis=1, kind="stable")[:, :k]
    ranked = np.take_along_axis(padded_gains, order, axis=1)
    ideal = -np.sort(-padded_gains, axis=1)[:, :k]
    return ndcg(_widened(ranked, k), _widened(ideal, k))


def _widened(rows: np.ndarray, k: int) -> np.ndarray:
    """`rows` with zero columns up to k (groups shorter than k)."""
    return np.pad(rows, ((0, 0), (0, k - rows.shape[1])))


def ndcg_at(
    scores: np.ndarray,
    labels: np.ndarray,
    group_sizes: np.ndarray,
    k: int,
    weights: np.ndarray | None = None,
) -> float:
    """Mean NDCG@k over groups (`ndcg_by_group`); 0 without groups."""
    by_group = ndcg_by_group(scores, labels, group_sizes, k, weights)
    return float(by_group.mean()) if len(by_group) else 0.0


def bootstrap_interval(
    differences: np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval at `confidence` for the mean of `differences` (one per feed),
    from `resamples` resamplings of the feeds with replacement; the same input and seed
    always give the same interval. (0, 0) without any difference: no evidence."""
    n = len(differences)
    if n == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    block = max(1, 2_000_000 // n)  # resamples drawn at a time: bounded memory
    means = np.concatenate(
        [
            differences[rng.integers(0, n, size=(min(block, resamples - done), n))].mean(axis=1)
            for done in range(0, resamples, block)
        ]
    )
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)
