"""A reader's profile: which papers they like (time-decayed), which to never show again,
and a few interest centroids for readers with broad taste."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

WEIGHTS = {"save": 3.0, "click": 1.0}


@dataclass(frozen=True, slots=True)
class Interaction:
    key: int
    kind: str  # click, save, unsave, dismiss
    age_days: float


@dataclass(frozen=True, slots=True)
class Profile:
    # Positive papers and their decayed weight, heaviest first.
    weights: dict[int, float] = field(default_factory=dict)
    # Saved (now or before) or dismissed: never recommended.
    excluded: frozenset[int] = frozenset()

    @property
    def is_cold(self) -> bool:
        return not self.weights


def build_profile(interactions: Iterable[Interaction], half_life_days: float = 30.0) -> Profile:
    """Fold a reader's events, in any order, into a profile.

    The latest of save/unsave wins; a dismissal removes the paper's weight; each click
    and the current save count with weight 2^(-age / half_life).
    """
    weight: dict[int, float] = {}
    saved: dict[int, float | None] = {}  # key -> age of the save in force, None if unsaved
    dismissed: set[int] = set()
    for event in sorted(interactions, key=lambda e: -e.age_days):  # oldest first
        if event.kind == "save":
            saved[event.key] = event.age_days
        elif event.kind == "unsave":
            saved[event.key] = None
        elif event.kind == "dismiss":
            dismissed.add(event.key)
        elif event.kind == "click":
            weight[event.key] = weight.get(event.key, 0.0) + _decayed(
                "click", event, half_life_days
            )
    for key, age in saved.items():
        if age is not None:
            save = Interaction(key, "save", age)
            weight[key] = weight.get(key, 0.0) + _decayed("save", save, half_life_days)
    for key in dismissed:
        weight.pop(key, None)
    ordered = dict(sorted(weight.items(), key=lambda kv: (-kv[1], kv[0])))
    return Profile(weights=ordered, excluded=frozenset(saved) | frozenset(dismissed))


def _decayed(kind: str, event: Interaction, half_life_days: float) -> float:
    return float(WEIGHTS[kind] * 0.5 ** (max(event.age_days, 0.0) / half_life_days))


def interests(
    vectors: np.ndarray, weights: np.ndarray, max_interests: int = 3, iterations: int = 10
) -> np.ndarray:
    """Unit-length interest centroids (k, dim) of a reader's history.

    One centroid per ~4 papers up to `max_interests`, found by weighted spherical k-means
    seeded deterministically (heaviest paper, then the farthest ones), so the same
    history always gives the same interests.
    """
    if len(vectors) == 0:
        return np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    k = max(1, min(max_interests, len(vectors) // 4))
    seeds = [int(np.argmax(weights))]
    while len(seeds) < k:
        closeness = (vectors @ vectors[seeds].T).max(axis=1)
        closeness[seeds] = np.inf
        seeds.append(int(np.argmin(closeness)))
    centroids = vectors[seeds].copy()
    for _ in range(iterations):
        assign = np.argmax(vectors @ centroids.T, axis=1)
        for c in range(k):
            members = assign == c
            if members.any():
                centroids[c] = (vectors[members] * weights[members, None]).sum(axis=0)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
    return centroids.astype(np.float32)
