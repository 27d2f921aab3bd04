"""Catalogue-wide statistics that features need, so that a feed request needs no heavy
query: feedback and exposure counts per paper (refreshed periodically by each server), and
the co-save lists, RP3beta and EASE neighbour tables and ALS factors (`ranking.collab`,
fitted offline and loaded from an artifact)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ranking import collab
from ranking.collab import NO_COLLABORATIVE, Collaborative, SparseScores

# Strength of the prior in smoothed rates: a paper's rate starts at the catalogue's rate
# and moves towards its own as it collects impressions.
PRIOR_IMPRESSIONS = 20.0


@dataclass(frozen=True, slots=True)
class PaperStats:
    clicks_7d: int = 0
    saves_7d: int = 0
    clicks_30d: int = 0
    saves_30d: int = 0
    impressions_30d: int = 0


NO_STATS = PaperStats()

# Popularity: a save counts three clicks. Also the trending endpoint's score
# (storage/sql/popular.sql takes these as parameters).
SAVE_WEIGHT = 3.0
CLICK_WEIGHT = 1.0


def popularity(saves: int, clicks: int) -> float:
    return SAVE_WEIGHT * saves + CLICK_WEIGHT * clicks


@dataclass(frozen=True)
class CatalogueStats:
    version: str
    papers: Mapping[int, PaperStats] = field(default_factory=dict)
    # Co-save lists, RP3beta and EASE tables, ALS factors: a loaded artifact, or fitted
    # in process by the offline evaluation (`from_saves`).
    models: Collaborative = NO_COLLABORATIVE

    # Catalogue-wide rates per impression: the priors of the smoothed per-paper rates.
    click_rate: float = 0.1
    save_rate: float = 0.05
    # (key, popularity over 7 days), best first: sorted once per snapshot.
    ranked_popular: tuple[tuple[int, float], ...] = ()

    @classmethod
    def from_saves(
        cls,
        version: str,
        papers: Mapping[int, PaperStats],
        readers: np.ndarray,
        saved: np.ndarray,
        params: collab.CollabParams = collab.DEFAULT_PARAMS,
    ) -> CatalogueStats:
        """A snapshot whose collaborative models are fitted on the given saves, one
        (reader, paper) pair per position of `readers` and `saved` (reader ids as integers):
        the offline evaluation's way. Servers never fit; they load the fit job's artifact."""
        return cls.build(version, papers, collab.fit(readers, saved, params))

    @classmethod
    def build(
        cls,
        version: str,
        papers: Mapping[int, PaperStats],
        models: Collaborative = NO_COLLABORATIVE,
    ) -> CatalogueStats:
        impressions = sum(s.impressions_30d for s in papers.values())
        clicks = sum(s.clicks_30d for s in papers.values())
        saves = sum(s.saves_30d for s in papers.values())
        scored = [(k, popularity(s.saves_7d, s.clicks_7d)) for k, s in papers.items()]
        scored = sorted((kv for kv in scored if kv[1] > 0), key=lambda kv: (-kv[1], -kv[0]))
        return cls(
            version,
            papers,
            models,
            click_rate=(clicks + 1) / (impressions + 10),
            save_rate=(saves + 1) / (impressions + 20),
            ranked_popular=tuple(scored),
        )

    def of(self, key: int) -> PaperStats:
        return self.papers.get(key, NO_STATS)

    def smoothed_click_rate(self, key: int) -> float:
        s = self.of(key)
        return (s.clicks_30d + PRIOR_IMPRESSIONS * self.click_rate) / (
            s.impressions_30d + PRIOR_IMPRESSIONS
        )

    def smoothed_save_rate(self, key: int) -> float:
        s = self.of(key)
        return (s.saves_30d + PRIOR_IMPRESSIONS * self.save_rate) / (
            s.impressions_30d + PRIOR_IMPRESSIONS
        )

    def popular(self, limit: int) -> list[tuple[int, float]]:
        """(key, popularity over 7 days), best first."""
        return list(self.ranked_popular[:limit])

    def cosave_scores(self, history: Iterable[int]) -> dict[int, float]:
        """For every paper co-saved with the history: the number of (reader, history paper)
        pairs that saved it too; the item-kNN signal."""
        return self.models.cosaves.scores(list(history))

    def related_scores(self, history: Iterable[int]) -> SparseScores:
        """RP3beta scores of every paper linked to the history (the sum of its rows)."""
        return self.models.related.scores(list(history))

    def ease_scores(self, history: Iterable[int]) -> SparseScores:
        """EASE scores of every paper linked to the history (the sum of its rows)."""
        return self.models.ease.scores(list(history))

    def taste(self, history: Iterable[int]) -> np.ndarray:
        """The reader's ALS vector folded in from the history; empty without factors."""
        if self.models.factors is None:
            return np.zeros(0, dtype=np.float32)
        return self.models.factors.fold_in(list(history))


EMPTY_STATS = CatalogueStats(version="empty")
