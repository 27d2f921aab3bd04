"""The feed pipeline, step by step: profile → candidates → features → score → diversify.

Split in two (`plan`, then `rank`) because the caller fetches the candidates' facts
(age, text length) from storage in between.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ranking import features
from ranking.candidates import DEFAULT_LIMITS, Candidate, Limits, gather
from ranking.diversify import mmr
from ranking.explore import explore
from ranking.index import VectorIndex
from ranking.model import Ranker
from ranking.profile import Interaction, Profile, build_profile, interests
from ranking.stats import CatalogueStats

# The most recent/heaviest liked papers that shape a profile.
MAX_HISTORY = 200


@dataclass(frozen=True, slots=True)
class Plan:
    profile: Profile
    history_keys: list[int]  # rows of context.history_vectors
    context: features.Context
    candidates: list[Candidate]


@dataclass(frozen=True, slots=True)
class Ranked:
    key: int
    score: float
    sources: list[str]
    features: np.ndarray
    similar_to: int | None  # key of the closest liked paper, for "similar" items
    propensity: float = 1.0
    explored: bool = False


def plan(
    index: VectorIndex,
    interactions: Sequence[Interaction],
    stats: CatalogueStats,
    fresh: Sequence[int],
    hidden: Collection[int],
    now_epoch: float,
    limits: Limits = DEFAULT_LIMITS,
) -> Plan:
    """Build the reader's profile and gather candidates for their feed."""
    profile = build_profile(interactions)
    liked = list(profile.weights)[:MAX_HISTORY]
    present, vectors = index.vectors(liked)
    history_keys = [k for k, ok in zip(liked, present, strict=True) if ok]
    history_vectors = vectors[present]
    weights = np.array([profile.weights[k] for k in history_keys], dtype=np.float32)
    centroids = (
        interests(history_vectors, weights) if len(history_keys) else np.zeros((0, index.dim))
    )
    cosave = stats.cosave_scores(liked)
    collaborative = sorted(cosave.items(), key=lambda kv: (-kv[1], kv[0]))
    context = features.Context(
        history_vectors,
        weights,
        centroids.astype(np.float32),
        now_epoch,
        stats,
        cosave,
        len(interactions),
        related=stats.related_scores(liked),
        taste=stats.taste(liked),
        ease=stats.ease_scores(liked),
    )
    excluded = set(hidden) | profile.excluded
    popular = stats.popular(limits.popular + len(excluded))
    related = context.related.top(limits.related + len(excluded))
    ease = context.ease.top(limits.ease + len(excluded))
    als = stats.models.factors
    factors = als.top(context.taste, limits.factors + len(excluded)) if als else []
    cands = gather(
        index,
        context.interests,
        collaborative,
        popular,
        fresh,
        excluded,
        limits,
        related=related,
        factors=factors,
        ease=ease,
    )
    return Plan(profile, history_keys, context, cands)


def featurize(
    plan: Plan, index: VectorIndex, facts: Mapping[int, features.PaperFacts]
) -> tuple[list[Candidate], np.ndarray, features.Features]:
    """(candidates, their vectors, their features), leaving out candidates that vanished
    since planning (withdrawn, or without facts)."""
    cands = [c for c in plan.candidates if c.key in facts]
    present, vectors = index.vectors([c.key for c in cands])
    cands = [c for c, ok in zip(cands, present, strict=True) if ok]
    vectors = vectors[present]
    return cands, vectors, features.build(cands, vectors, facts, plan.context)


def rank(
    plan: Plan,
    index: VectorIndex,
    facts: Mapping[int, features.PaperFacts],
    ranker: Ranker,
    k: int,
    relevance: float = 0.85,
    explore_share: float = 0.0,
    rng: np.random.Generator | None = None,
) -> list[Ranked]:
    """Score the plan's candidates with `ranker`, pick a diverse top `k`, and give each
    slot with probability `explore_share` to a random other candidate."""
    cands, vectors, built = featurize(plan, index, facts)
    scores = ranker.score(built.matrix) if cands else np.zeros(0, dtype=np.float32)
    order = mmr(scores, vectors, k, relevance)
    slots = explore(order, len(cands), explore_share, rng or np.random.default_rng())
    out = []
    for slot in slots:
        i = slot.index
        nearest = int(built.nearest_history[i])
        out.append(
            Ranked(
                key=cands[i].key,
                score=float(scores[i]),
                sources=list(cands[i].ranks),
                features=built.matrix[i],
                similar_to=plan.history_keys[nearest] if nearest >= 0 else None,
                propensity=slot.propensity,
                explored=slot.explored,
            )
        )
    return out
