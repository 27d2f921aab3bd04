"""Candidate generation: the union of several retrieval sources, remembering who found what."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from ranking.index import VectorIndex

# similar: content neighbours (FAISS); collaborative: co-saved with the history (item-kNN);
# related: RP3beta item-item neighbours; factors: ALS (FAISS over item factors);
# ease: EASE item-item neighbours.
SOURCES = ("similar", "collaborative", "related", "factors", "ease", "popular", "fresh")


@dataclass(slots=True)
class Candidate:
    key: int
    # source -> 0-based rank of the paper in that source's list
    ranks: dict[str, int] = field(default_factory=dict)
    # source -> that source's own score (cosine similarity, popularity)
    scores: dict[str, float] = field(default_factory=dict)


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
) -> list[Candidate]:
    """Merge nearest neighbours of each interest, papers co-saved with the history
    (`collaborative`), RP3beta neighbours of the history (`related`), the reader's best
    papers by ALS factors (`factors`), EASE neighbours of the history (`ease`), popular
    and fresh papers; lists best first.

    Papers in `hidden` (already saved, dismissed, shown too often) and papers missing
    from the index (withdrawn, not yet embedded) are left out. The result is in
    first-found order: similar, collaborative, related, factors, ease, popular, fresh.
    """
    found: dict[int, Candidate] = {}
    # Which listed papers the index holds, looked up at once; search answers only those.
    # Each list is read up to its limit past the hidden papers it may skip.
    listed = [k for k, _ in popular[: limits.popular]] + list(fresh[: limits.fresh])
    for ranked, limit in (
        (collaborative, limits.collaborative),
        (related, limits.related),
        (factors, limits.factors),
        (ease, limits.ease),
    ):
        listed += [k for k, _ in ranked[: limit + len(hidden)]]
    indexed = index.live(listed)

    def add(source: str, key: int, rank: int, score: float, searched: bool = False) -> None:
        if key < 0 or key in hidden or not (searched or key in indexed):
            return
        cand = found.get(key)
        if cand is None:  # not setdefault: that would build a Candidate for every add
            cand = found[key] = Candidate(key)
        if rank < cand.ranks.get(source, rank + 1):
            cand.ranks[source] = rank
            cand.scores[source] = score

    if len(interests):
        scores, keys = index.search(interests, limits.per_interest + len(hidden))
        for row_scores, row_keys in zip(scores, keys, strict=True):
            kept = 0
            for score, key in zip(row_scores.tolist(), row_keys.tolist(), strict=True):
                if kept >= limits.per_interest:
                    break
                if key >= 0 and key not in hidden:
                    add("similar", key, kept, score, searched=True)
                    kept += 1
    for source, ranked, limit in (
        ("collaborative", collaborative, limits.collaborative),
        ("related", related, limits.related),
        ("factors", factors, limits.factors),
        ("ease", ease, limits.ease),
    ):
        # Hidden papers take no slot, like in the content search above.
        kept = 0
        for key, score in ranked:
            if kept >= limit:
                break
            if key not in hidden:
                add(source, key, kept, score)
                kept += 1
    for rank, (key, score) in enumerate(popular[: limits.popular]):
        add("popular", key, rank, score)
    for rank, key in enumerate(fresh[: limits.fresh]):
        add("fresh", key, rank, 0.0)
    return list(found.values())
