"""Exploration: a small share of feed slots shows a random candidate instead of the ranker's
choice, with the probability logged, so later models learn from more than the current
ranker's own picks (and can be evaluated off-policy)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Slot:
    index: int  # candidate index
    propensity: float  # probability that this candidate was put in this slot
    explored: bool


def explore(
    order: list[int],
    n: int,
    share: float,
    rng: np.random.Generator,
    skip: Collection[int] = frozenset(),
) -> list[Slot]:
    """Fill each slot of `order` (candidate indexes, best first) with probability `share`
    by a candidate drawn uniformly from the `n` candidates not in the feed nor in `skip`
    (near-duplicates of papers in it)."""
    taken = set(order) | set(skip)
    spare = [i for i in range(n) if i not in taken]
    slots = []
    for index in order:
        if spare and share > 0 and rng.random() < share:
            pick = spare.pop(int(rng.integers(len(spare))))
            slots.append(Slot(pick, share / (len(spare) + 1), True))
        else:
            slots.append(Slot(index, 1.0 - share if spare else 1.0, False))
    return slots
