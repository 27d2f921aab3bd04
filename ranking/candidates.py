"""Candidate generation: the union of several retrieval sources, remembering who found what."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ranking.index import VectorIndex

# similar: content neighbours (FAISS); collaborative: co-saved with the history (item-kNN);
# related: RP3beta item-item neighbours; factors: ALS (FAISS over item factors);
# ease: EASE item-item neighbours.
SOURCES = ("similar", "collaborative", "related", "factors", "ease", "popular", "fresh")
SIMILAR = SOURCES.index("similar")

# One source's papers as gathered: (its column in SOURCES, keys, ranks, scores).
Part = tuple[int, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, slots=True)
class Candidates:
    """Papers to rank, as arrays (a feed has several hundred: no object per paper).
    Column j of `ranks` and `scores` is source `SOURCES[j]`."""

    keys: np.ndarray  # (n,) int64
    ranks: np.ndarray  # (n, len(SOURCES)) int64: 0-based rank in that source, -1: not found
    scores: np.ndarray  # (n, len(SOURCES)) float64: that source's own score, 0: not found

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, rows: np.ndarray) -> Candidates:
        """The candidates at `rows` (indexes or a boolean mask), in that order."""
        return Candidates(self.keys[rows], self.ranks[rows], self.scores[rows])

    def sources(self, i: int) -> list[str]:
        """The sources that found candidate `i`, in `SOURCES` order."""
        return [s for s, rank in zip(SOURCES, self.ranks[i].tolist(), strict=True) if rank >= 0]

    def found(self, i: int) -> dict[str, int]:
        """Candidate `i`'s rank in each source that found it."""
        return {s: int(self.ranks[i, SOURCES.index(s)]) for s in self.sources(i)}

    @classmethod
    def of(cls, found: Sequence[tuple[int, Mapping[str, int], Mapping[str, float]]]) -> Candidates:
        """From (key, {source: rank}, {source: score}) per candidate."""
        n = len(found)
        ranks = np.full((n, len(SOURCES)), -1, dtype=np.int64)
        scores = np.zeros((n, len(SOURCES)), dtype=np.float64)
        for i, (_, by_rank, by_score) in enumerate(found):
            for source, rank in by_rank.items():
                ranks[i, SOURCES.index(source)] = rank
            for source, score in by_score.items():
                scores[i, SOURCES.index(source)] = score
        return cls(np.array([k for k, _, _ in found], dtype=np.int64), ranks, scores)


@dataclass(frozen=True, slots=True)
class Limits:
    per_interest: int = 100
    collaborative: int = 100
    related: int = 100
    factors: int = 100
    ease: int = 100
    popular: int = 50
    fresh: int = 50


DEFAULT_LIMITS = Limits()


def gather(
    index: VectorIndex,
    interests: np.ndarray,
    collaborative: Sequence[tuple[int, float]],
    popular: Sequence[tuple[int, float]],
    fresh: Sequence[int],
    hidden: Collection[int],
    limits: Limits = DEFAULT_LIMITS,
    related: Sequence[tuple[int, float]] = (),
    factors: Sequence[tuple[int, float]] = (),
    ease: Sequence[tuple[int, float]] = (),
) -> Candidates:
    """Merge nearest neighbours of each interest, papers co-saved with the history
    (`collaborative`), RP3beta neighbours of the history (`related`), the reader's best
    papers by ALS factors (`factors`), EASE neighbours of the history (`ease`), popular
    and fresh papers; lists best first.

    Papers in `hidden` (already saved, dismissed, shown too often) and papers missing
    from the index (withdrawn, not yet embedded) are left out. Hidden papers take no
    place in a ranked list (its next paper moves up); in the popular and fresh lists
    they keep theirs. A paper's rank in a source is its best there (the content search
    returns one list per interest). The result is in first-found order: similar,
    collaborative, related, factors, ease, popular, fresh; within a source, best first
    (interest by interest for the content search).

    Vectorised: one pass of numpy over each list instead of Python per paper.
    """
    hidden_keys = np.fromiter(hidden, dtype=np.int64, count=len(hidden))
    parts: list[Part] = []

    if len(interests):
        # The search leaves hidden papers out itself (and answers live papers only).
        scores, keys = index.search(interests, limits.per_interest, exclude=hidden_keys)
        valid = keys >= 0
        rank = np.cumsum(valid, axis=1) - 1
        parts.append((SIMILAR, keys[valid], rank[valid], scores[valid].astype(np.float64)))

    listed: list[Part] = []  # the other sources' papers, before asking the index which it holds
    for name, ranked, limit in (
        ("collaborative", collaborative, limits.collaborative),
        ("related", related, limits.related),
        ("factors", factors, limits.factors),
        ("ease", ease, limits.ease),
    ):
        keys, scores = _columns(ranked[: limit + len(hidden)])
        valid = ~np.isin(keys, hidden_keys)
        rank = np.cumsum(valid) - 1
        kept = valid & (rank < limit)
        listed.append((SOURCES.index(name), keys[kept], rank[kept], scores[kept]))
    for name, (keys, scores) in (
        ("popular", _columns(popular[: limits.popular])),
        ("fresh", _columns([(k, 0.0) for k in fresh[: limits.fresh]])),
    ):
        rank = np.arange(len(keys))
        kept = ~np.isin(keys, hidden_keys)
        listed.append((SOURCES.index(name), keys[kept], rank[kept], scores[kept]))
    live = index.live_mask(np.concatenate([keys for _, keys, _, _ in listed]))
    start = 0
    for source, keys, rank, scores in listed:
        ok = live[start : start + len(keys)] & (keys >= 0)
        start += len(keys)
        parts.append((source, keys[ok], rank[ok], scores[ok]))
    return _merge(parts)


def _columns(ranked: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """(keys, scores) of (key, score) pairs."""
    keys = np.fromiter((k for k, _ in ranked), dtype=np.int64, count=len(ranked))
    scores = np.fromiter((s for _, s in ranked), dtype=np.float64, count=len(ranked))
    return keys, scores


def _merge(parts: list[Part]) -> Candidates:
    """One row per paper, in first-found order, with its best rank (and that rank's score,
    the first found at it) in each source."""
    width = len(SOURCES)
    if not sum(len(k) for _, k, _, _ in parts):
        return Candidates(
            np.zeros(0, np.int64), np.zeros((0, width), np.int64), np.zeros((0, width))
        )
    keys = np.concatenate([k for _, k, _, _ in parts])
    ranks = np.concatenate([r for _, _, r, _ in parts])
    scores = np.concatenate([s for _, _, _, s in parts])
    source = np.concatenate([np.full(len(k), s) for s, k, _, _ in parts])
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # first-found order
    row = np.empty(len(unique), dtype=np.int64)
    row[order] = np.arange(len(unique))
    row = row[inverse.reshape(-1)]
    # Best rank per (paper, source), the earliest entry among equals.
    best = np.lexsort((np.arange(len(keys)), ranks, source, row))
    cell = row[best] * width + source[best]
    best = best[np.r_[True, cell[1:] != cell[:-1]]]
    out_ranks = np.full((len(unique), width), -1, dtype=np.int64)
    out_scores = np.zeros((len(unique), width), dtype=np.float64)
    out_ranks[row[best], source[best]] = ranks[best]
    out_scores[row[best], source[best]] = scores[best]
    return Candidates(unique[order], out_ranks, out_scores)
