"""The ranker's features: one function, used by serving, training and evaluation alike.

Changing `NAMES` changes the feature set: a model trained on other names is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ranking.candidates import SOURCES, Candidates
from ranking.catalogue import FactColumns
from ranking.collab import SparseScores
from ranking.stats import COUNTS, CatalogueStats

# A source that did not find the candidate reports this rank.
MISSING_RANK = 1000.0

NAMES: tuple[str, ...] = (
    "sim_profile",  # cosine to the weighted mean of the reader's history
    "sim_max",  # highest cosine to any paper of the history
    "sim_interest",  # highest cosine to an interest centroid
    *(f"from_{s}" for s in SOURCES),  # 1 if that source found the candidate
    *(f"rank_{s}" for s in SOURCES),  # its rank there (MISSING_RANK if not found)
    "n_sources",
    "cosave",  # log1p of co-saves with the reader's history (item-kNN)
    "related_score",  # RP3beta score with the reader's history
    "factor_score",  # inner product of the reader's ALS vector and the paper's
    "ease_score",  # EASE score with the reader's history
    # The same scores against the reader's best candidate: comparable across readers with
    # short and long histories.
    "related_share",  # related_score / the highest among the candidates
    "cosave_share",  # co-saves / the most any candidate has
    "factor_gap",  # factor_score - the highest among the candidates
    "ease_share",  # ease_score / the highest among the candidates
    "sim_gap",  # sim_max - the highest among the candidates
    "clicks_7d",  # log1p of clicks by everyone
    "saves_7d",
    "clicks_30d",
    "saves_30d",
    "click_rate",  # clicks per impression over 30 days, smoothed towards the catalogue's
    "save_rate",
    "age_days",  # log1p of days since publication
    "abstract_chars",  # log1p
    "history_size",  # log1p of the number of papers the reader likes
    "reader_events",  # log1p of the reader's events: how active they are
    "heuristic",  # the hand-weighted score below: a trained model starts from it
)

# The heuristic: content similarity first, then co-saves, popularity and freshness.
HEURISTIC_WEIGHTS = {
    "sim_profile": 1.0,
    "sim_max": 0.6,
    "sim_interest": 0.6,
    "cosave": 0.1,
    "saves_7d": 0.05,
    "clicks_7d": 0.03,
    "n_sources": 0.02,
}
FRESH_WEIGHT = 0.1
FRESH_DAYS = 30.0


def names_hash(names: Sequence[str] = NAMES) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class PaperFacts:
    abstract_chars: int
    published_epoch: float


@dataclass(frozen=True, slots=True)
class Context:
    """What is known about the reader when the feed is built."""

    history_vectors: np.ndarray  # (h, dim) unit vectors of liked papers
    history_weights: np.ndarray  # (h,)
    interests: np.ndarray  # (k, dim)
    now_epoch: float
    stats: CatalogueStats
    cosave: SparseScores  # co-save scores with the history (item-kNN)
    reader_events: int
    related: SparseScores = field(default_factory=SparseScores)  # RP3beta with the history
    taste: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))  # ALS
    ease: SparseScores = field(default_factory=SparseScores)  # EASE with the history
    # (k,) weight of each interest in `sim_interest` (empty: all 1); onboarding topics fade.
    interest_weights: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    # (h,) scale of each history row's similarity in `sim_max` (empty: all 1): onboarding
    # topics stand in the history like saved papers, scaled by their fading weight.
    history_scale: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))


@dataclass(frozen=True, slots=True)
class Features:
    matrix: np.ndarray  # (n, len(NAMES)) float32
    # For each candidate, the row of the history it is most similar to (-1: no history).
    nearest_history: np.ndarray


def build(
    candidates: Candidates,
    vectors: np.ndarray,
    facts: FactColumns,
    context: Context,
) -> Features:
    """Feature rows for `candidates` (whose unit vectors are `vectors` and facts `facts`,
    in order)."""
    n = len(candidates)
    m = np.zeros((n, len(NAMES)), dtype=np.float32)
    col = {name: i for i, name in enumerate(NAMES)}
    nearest = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return Features(m, nearest)

    hist, weights = context.history_vectors, context.history_weights
    if len(hist):
        sims = vectors @ hist.T
        if len(context.history_scale):
            sims = sims * context.history_scale
        mean = (hist * weights[:, None]).sum(axis=0)
        mean /= np.linalg.norm(mean) + 1e-12
        m[:, col["sim_profile"]] = vectors @ mean
        m[:, col["sim_max"]] = sims.max(axis=1)
        nearest = sims.argmax(axis=1)
    if len(context.interests):
        sims = vectors @ context.interests.T
        if len(context.interest_weights):
            sims = sims * context.interest_weights
        m[:, col["sim_interest"]] = sims.max(axis=1)

    found = candidates.ranks >= 0
    for j, source in enumerate(SOURCES):
        m[:, col[f"from_{source}"]] = found[:, j]
        m[:, col[f"rank_{source}"]] = np.where(found[:, j], candidates.ranks[:, j], MISSING_RANK)
    m[:, col["n_sources"]] = found.sum(axis=1)
    keys = candidates.keys.tolist()
    cosave = context.cosave.lookup(keys)
    m[:, col["cosave"]] = np.log1p(cosave)
    m[:, col["cosave_share"]] = cosave / max(float(cosave.max()), 1.0)
    m[:, col["related_score"]] = related = context.related.lookup(keys)
    m[:, col["related_share"]] = related / max(float(related.max()), 1e-9)
    m[:, col["ease_score"]] = ease = context.ease.lookup(keys)
    m[:, col["ease_share"]] = ease / max(float(ease.max()), 1e-9)
    if (factors := context.stats.models.factors) is not None:
        m[:, col["factor_score"]] = factor = factors.score(context.taste, keys)
        m[:, col["factor_gap"]] = factor - factor.max()
    m[:, col["sim_gap"]] = m[:, col["sim_max"]] - m[:, col["sim_max"]].max()
    counts = context.stats.counts.lookup(keys)
    for name in ("clicks_7d", "saves_7d", "clicks_30d", "saves_30d"):
        m[:, col[name]] = np.log1p(counts[:, COUNTS.index(name)])
    m[:, col["click_rate"]], m[:, col["save_rate"]] = context.stats.smoothed_rates(counts)
    age = np.maximum(context.now_epoch - facts.published, 0.0) / 86_400
    m[:, col["age_days"]] = np.log1p(age)
    m[:, col["abstract_chars"]] = np.log1p(facts.abstract_chars)
    m[:, col["history_size"]] = np.log1p(len(hist))
    m[:, col["reader_events"]] = np.log1p(context.reader_events)
    m[:, col["heuristic"]] = heuristic_score(m)
    return Features(m, nearest)


def heuristic_score(m: np.ndarray) -> np.ndarray:
    """The hand-weighted score of feature rows (the other columns of `m`)."""
    score = sum(w * m[:, NAMES.index(name)] for name, w in HEURISTIC_WEIGHTS.items())
    age_days = np.expm1(m[:, NAMES.index("age_days")])
    return np.asarray(score + FRESH_WEIGHT * np.exp(-age_days / FRESH_DAYS), dtype=np.float32)
