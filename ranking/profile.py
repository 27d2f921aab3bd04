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
    # Saved now (the latest of save/unsave is a save).
    saved: frozenset[int] = frozenset()

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
    current = frozenset(k for k, age in saved.items() if age is not None)
    return Profile(weights=ordered, excluded=frozenset(saved) | frozenset(dismissed), saved=current)


# Onboarding interests (topics and papers a reader names) stand in for saves until real
# saves arrive: their weight halves with every ONBOARDING_HALF_SAVES saves the reader has,
# and they stop counting below ONBOARDING_FLOOR (after 22 saves).
ONBOARDING_HALF_SAVES = 5.0
ONBOARDING_FLOOR = 0.05


@dataclass(frozen=True, slots=True)
class Onboarding:
    """What a reader said they care about: papers (index keys) and free-text topics
    with their unit vectors (one row per topic, same embedding model as the papers)."""

    keys: tuple[int, ...] = ()
    topics: tuple[str, ...] = ()
    topic_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))


def onboarding_weight(saves: int) -> float:
    """The weight of onboarding interests for a reader with `saves` current saves:
    1 with none, 0.5 after 5, 0.25 after 10, 0 from 22 on."""
    weight = 0.5 ** (saves / ONBOARDING_HALF_SAVES)
    return weight if weight >= ONBOARDING_FLOOR else 0.0


def with_onboarding(profile: Profile, keys: Iterable[int], weight: float) -> Profile:
    """`profile` with the reader's onboarding papers liked as a save of `weight` (times a
    save's weight) each; they are never recommended back, faded or not."""
    picked = frozenset(keys)
    weights = dict(profile.weights)
    if weight > 0:
        for key in picked:
            weights[key] = weights.get(key, 0.0) + WEIGHTS["save"] * weight
    ordered = dict(sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))
    return Profile(ordered, profile.excluded | picked, profile.saved)


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
    previous = None
    for _ in range(iterations):
        assign = np.argmax(vectors @ centroids.T, axis=1)
        if previous is not None and np.array_equal(assign, previous):
            break  # converged: the same members give the same centroids from here on
        previous = assign
        for c in range(k):
            members = assign == c
            if members.any():
                centroids[c] = (vectors[members] * weights[members, None]).sum(axis=0)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
    return centroids.astype(np.float32)
