"""The feed pipeline, step by step: profile → candidates → features → score → diversify.

Split in two (`plan`, then `rank`) because the caller fetches the candidates' facts
(age, text length) from storage in between.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ranking import features
from ranking.candidates import DEFAULT_LIMITS, Candidates, Limits, gather
from ranking.catalogue import FactColumns, Facts
from ranking.diversify import cap_per_page, select
from ranking.explore import Slot, explore
from ranking.index import VectorIndex
from ranking.model import Ranker
from ranking.profile import (
    WEIGHTS,
    Interaction,
    Onboarding,
    Profile,
    build_profile,
    interests,
    onboarding_weight,
    with_onboarding,
)
from ranking.stats import CatalogueStats

# The most recent/heaviest liked papers that shape a profile.
MAX_HISTORY = 200


@dataclass(frozen=True, slots=True)
class Plan:
    profile: Profile
    # Rows of context.history_vectors: liked papers' keys, then onboarding topics as
    # negative keys (see `topic_of`).
    history_keys: list[int]
    context: features.Context
    candidates: Candidates
    onboarding_keys: frozenset[int] = frozenset()  # papers the reader picked as interests
    topics: tuple[str, ...] = ()  # onboarding topics in force (history keys -1, -2, ...)


def topic_of(key: int) -> int | None:
    """The onboarding topic (its index) a negative history key stands for; None for papers."""
    return -1 - key if key < 0 else None


@dataclass(frozen=True, slots=True)
class Variety:
    """How a feed is kept varied (besides MMR): near-duplicates collapse to one paper,
    and each page of `page_size` has at most `author_cap` papers by one first author."""

    duplicate_cosine: float | None = None  # None: only equal normalised titles collapse
    author_cap: int = 0  # 0: no cap
    page_size: int = 0


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
    onboarding: Onboarding | None = None,
) -> Plan:
    """Build the reader's profile and gather candidates for their feed.

    Onboarding interests join the profile at `profile.onboarding_weight` of the reader's
    current saves: picked papers as saves of that weight; topics as history rows of that
    weight (their similarity in `sim_max` scaled by it too) and as interests of their
    own (likewise scaled in `sim_interest`); at weight 0 topics are dropped."""
    profile = build_profile(interactions)
    onboarding = onboarding or Onboarding()
    fade = onboarding_weight(len(profile.saved))
    profile = with_onboarding(profile, onboarding.keys, fade)
    liked = list(profile.weights)[:MAX_HISTORY]
    present, vectors = index.vectors(liked)
    history_keys = [k for k, ok in zip(liked, present, strict=True) if ok]
    history_vectors = vectors[present]
    weights = [profile.weights[k] for k in history_keys]
    scale = [1.0] * len(history_keys)
    topics = onboarding.topics if fade > 0 else ()
    if topics:
        # Each topic joins the history as a saved paper would, at the faded weight; its
        # key is negative (-1 for the first topic): no paper, but `topic_of` tells which.
        history_keys += [-1 - t for t in range(len(topics))]
        history_vectors = np.vstack([history_vectors, onboarding.topic_vectors[: len(topics)]])
        weights += [WEIGHTS["save"] * fade] * len(topics)
        scale += [fade] * len(topics)
    history_weights = np.array(weights, dtype=np.float32)
    centroids = (
        interests(history_vectors, history_weights)
        if len(history_keys)
        else np.zeros((0, index.dim))
    )
    # Topics also are interests of their own, so that each has its own retrieval query.
    interest_weights = np.array([1.0] * len(centroids) + [fade] * len(topics))
    if topics:
        centroids = np.vstack([centroids, onboarding.topic_vectors[: len(topics)]])
    cosave = stats.cosave_scores(liked)
    context = features.Context(
        history_vectors.astype(np.float32),
        history_weights,
        centroids.astype(np.float32),
        now_epoch,
        stats,
        cosave,
        len(interactions),
        related=stats.related_scores(liked),
        taste=stats.taste(liked),
        ease=stats.ease_scores(liked),
        interest_weights=interest_weights.astype(np.float32),
        history_scale=np.array(scale, dtype=np.float32),
    )
    excluded = set(hidden) | profile.excluded
    collaborative = cosave.top(limits.collaborative + len(excluded))
    popular = stats.popular(limits.popular + len(excluded))
    related = context.related.top(limits.related + len(excluded))
    ease = context.ease.top(limits.ease + len(excluded))
    als = stats.models.factors
    factors = als.top(context.taste, limits.factors, exclude=excluded) if als else []
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
    return Plan(
        profile,
        history_keys,
        context,
        cands,
        frozenset(onboarding.keys),
        tuple(topics),
    )


def featurize(
    plan: Plan, index: VectorIndex, facts: FactColumns | Mapping[int, Facts]
) -> tuple[Candidates, np.ndarray, features.Features]:
    """(candidates, their vectors, their features), leaving out candidates that vanished
    since planning (withdrawn, or without facts). `facts`: of the plan's candidates, in
    their order, or by key."""
    cands, vectors, _, built = _featurize(plan, index, facts)
    return cands, vectors, built


def _featurize(
    plan: Plan, index: VectorIndex, facts: FactColumns | Mapping[int, Facts]
) -> tuple[Candidates, np.ndarray, FactColumns, features.Features]:
    """`featurize`, with the kept candidates' facts."""
    if not isinstance(facts, FactColumns):
        facts = FactColumns.of(plan.candidates.keys.tolist(), facts)
    cands, facts = plan.candidates.take(facts.known), facts.take(facts.known)
    present, vectors = index.vectors(cands.keys.tolist())
    cands, facts, vectors = cands.take(present), facts.take(present), vectors[present]
    return cands, vectors, facts, features.build(cands, vectors, facts, plan.context)


def rank(
    plan: Plan,
    index: VectorIndex,
    facts: FactColumns | Mapping[int, Facts],
    ranker: Ranker,
    k: int,
    relevance: float = 0.85,
    explore_share: float = 0.0,
    rng: np.random.Generator | None = None,
    variety: Variety = Variety(),
) -> list[Ranked]:
    """Score the plan's candidates with `ranker`, pick a diverse top `k` with one paper per
    work (equal normalised titles, as `facts.works` codes them, or
    `variety.duplicate_cosine`), give each slot with probability `explore_share` to a
    random other candidate, and cap the papers per first author (`facts.authors`) on each
    page of `variety.page_size`. Exploration touches the first page only. `facts`: of the
    plan's candidates, in their order, or by key (facts without titles and authors
    collapse and cap nothing)."""
    cands, vectors, known, built = _featurize(plan, index, facts)
    scores = ranker.score(built.matrix) if cands else np.zeros(0, dtype=np.float32)
    keys = cands.keys.tolist()
    chosen = select(
        scores,
        vectors,
        k,
        relevance,
        works=known.works if known.works.any() else None,
        duplicate_cosine=variety.duplicate_cosine,
    )
    # Exploration fills slots of the first page only, from candidates not on it: so it keeps
    # its share and propensities however deep the list is ranked (a list as deep as the
    # candidates would leave nothing to explore with). A paper explored onto the first
    # page leaves the later pages, which are the ranker's alone.
    page = variety.page_size or k
    slots = explore(
        chosen.order[:page],
        len(cands),
        explore_share,
        rng or np.random.default_rng(),
        skip=chosen.collapsed,
    )
    placed = {slot.index for slot in slots}
    slots += [Slot(i, 1.0, False) for i in chosen.order[page:] if i not in placed]
    if variety.author_cap > 0 and known.authors.any():
        by_index = {slot.index: slot for slot in slots}
        capped = cap_per_page(
            [s.index for s in slots],
            known.authors.tolist(),
            variety.page_size or k,
            variety.author_cap,
        )
        slots = [by_index[i] for i in capped]
    out = []
    for slot in slots:
        i = slot.index
        nearest = int(built.nearest_history[i])
        out.append(
            Ranked(
                key=keys[i],
                score=float(scores[i]),
                sources=cands.sources(i),
                features=built.matrix[i],
                similar_to=plan.history_keys[nearest] if nearest >= 0 else None,
                propensity=slot.propensity,
                explored=slot.explored,
            )
        )
    return out
