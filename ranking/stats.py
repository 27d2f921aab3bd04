"""Catalogue-wide statistics that features need, so that a feed request needs no heavy
query: feedback and exposure counts per paper (refreshed periodically by each server), and
the co-save lists, RP3beta and EASE neighbour tables and ALS factors (`ranking.collab`,
fitted offline and loaded from an artifact)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ranking import collab
from ranking.collab import NO_COLLABORATIVE, Collaborative, SparseScores
from ranking.keys import find

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
COUNTS = tuple(PaperStats.__dataclass_fields__)  # the columns of PaperCounts.values
# A paper's counts over 30 days stay far below 2**31; every worker holds them for the
# whole catalogue, so 32 bits halve that memory. Sums over papers are taken in 64 bits.
COUNT_DTYPE = np.int32

# Popularity: a save counts three clicks. Also the trending endpoint's score
# (storage/sql/popular.sql takes these as parameters).
SAVE_WEIGHT = 3.0
CLICK_WEIGHT = 1.0


@dataclass(frozen=True)
class PaperCounts:
    """Counts per paper as arrays: `keys` ascending and unique, `values[i]` the COUNTS of
    `keys[i]`; papers without a row count zero. Arrays, not a dict of objects: a million
    papers fit in 28 MB, and a refresh adds a delta with a few numpy calls."""

    keys: np.ndarray  # (n,) int64
    values: np.ndarray  # (n, len(COUNTS)) COUNT_DTYPE

    @classmethod
    def of_columns(
        cls, keys: Sequence[int] | np.ndarray, columns: Sequence[Sequence[int] | np.ndarray]
    ) -> PaperCounts:
        """Counts from a key per row and one column per name in COUNTS, as a database
        returns them; rows may repeat a key (summed) or be all zero (dropped). Columns,
        not a tuple per row: a full recount at 1M papers is a million rows."""
        k = np.asarray(keys, dtype=np.int64)
        v = np.empty((len(k), len(COUNTS)), dtype=np.int64)
        for c, column in enumerate(columns):
            v[:, c] = np.asarray(column, dtype=np.int64)
        if not len(k):
            return cls(k, v.astype(COUNT_DTYPE))
        order = np.argsort(k, kind="stable")
        k, v = k[order], v[order]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])  # each key's first row
        summed = np.add.reduceat(v, starts, axis=0)
        return cls(k[starts], summed.astype(COUNT_DTYPE))._without_zeros()

    @classmethod
    def of_mapping(cls, papers: Mapping[int, PaperStats]) -> PaperCounts:
        return cls.of_columns(
            list(papers), [[getattr(s, c) for s in papers.values()] for c in COUNTS]
        )

    def plus(self, other: PaperCounts, sign: int = 1) -> PaperCounts:
        """These counts with `other`'s added (sign 1) or taken away (-1); a new object.
        Costs a copy of these arrays and a binary search per row of `other` (a refresh
        adds a small change to the counts of a whole catalogue)."""
        at = np.searchsorted(self.keys, other.keys)
        found = at < len(self.keys)
        found[found] = self.keys[at[found]] == other.keys[found]
        values = self.values.copy()
        values[at[found]] += sign * other.values[found]  # keys are unique: no clashes
        new = ~found
        keys = np.insert(self.keys, at[new], other.keys[new])
        values = np.insert(values, at[new], sign * other.values[new], axis=0)
        return PaperCounts(keys, values)._without_zeros()

    def refreshed(
        self, last_recent: PaperCounts, settled_since: PaperCounts, recent: PaperCounts
    ) -> PaperCounts:
        """Counts that were settled counts plus `last_recent` (counted in full at the last
        read), brought up to a read that found `settled_since` settled since and `recent`:
        a change to a few papers, added with one copy of these arrays. Holding only the
        sum, not the settled counts besides, keeps one copy per worker (25 MB at 1M)."""
        return self.plus(settled_since.plus(recent).plus(last_recent, sign=-1))

    def _without_zeros(self) -> PaperCounts:
        kept = self.values.any(axis=1)
        return self if kept.all() else PaperCounts(self.keys[kept], self.values[kept])

    def lookup(self, keys: Iterable[int]) -> np.ndarray:
        """(len(keys), len(COUNTS)) counts of `keys`, zero for papers without a row."""
        k = np.fromiter(keys, dtype=np.int64)
        at, found = find(self.keys, k)
        out = np.zeros((len(k), len(COUNTS)), dtype=np.int64)
        out[found] = self.values[at[found]]
        return out

    def total(self, name: str) -> int:
        return int(self.values[:, COUNTS.index(name)].sum(dtype=np.int64))

    def as_dict(self) -> dict[int, PaperStats]:
        return {
            int(k): PaperStats(*map(int, v)) for k, v in zip(self.keys, self.values, strict=True)
        }

    def __len__(self) -> int:
        return len(self.keys)


EMPTY_COUNTS = PaperCounts(
    np.zeros(0, dtype=np.int64), np.zeros((0, len(COUNTS)), dtype=COUNT_DTYPE)
)


@dataclass(frozen=True)
class CatalogueStats:
    version: str
    counts: PaperCounts = EMPTY_COUNTS
    # Co-save lists, RP3beta and EASE tables, ALS factors: a loaded artifact, or fitted
    # in process by the offline evaluation (`from_saves`).
    models: Collaborative = NO_COLLABORATIVE

    # Catalogue-wide rates per impression: the priors of the smoothed per-paper rates.
    click_rate: float = 0.1
    save_rate: float = 0.05
    # Keys with a positive popularity over 7 days, best first, and that popularity.
    popular_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    popular_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def from_saves(
        cls,
        version: str,
        papers: Mapping[int, PaperStats] | PaperCounts,
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
        papers: Mapping[int, PaperStats] | PaperCounts,
        models: Collaborative = NO_COLLABORATIVE,
    ) -> CatalogueStats:
        counts = papers if isinstance(papers, PaperCounts) else PaperCounts.of_mapping(papers)
        impressions = counts.total("impressions_30d")
        column = counts.values.T
        scores = (
            SAVE_WEIGHT * column[COUNTS.index("saves_7d")]
            + CLICK_WEIGHT * column[COUNTS.index("clicks_7d")]
        )
        positive = np.flatnonzero(scores > 0)
        # Best first; among equals the newer paper (larger key).
        order = positive[np.lexsort((-counts.keys[positive], -scores[positive]))]
        return cls(
            version,
            counts,
            models,
            click_rate=(counts.total("clicks_30d") + 1) / (impressions + 10),
            save_rate=(counts.total("saves_30d") + 1) / (impressions + 20),
            popular_keys=counts.keys[order],
            popular_scores=np.asarray(scores[order], dtype=np.float64),
        )

    def of(self, key: int) -> PaperStats:
        return PaperStats(*map(int, self.counts.lookup([key])[0]))

    def smoothed_rates(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(click rate, save rate) per row of `counts` (PaperCounts.lookup), each moved from
        the catalogue's rate towards the paper's own as it collects impressions."""
        shown = counts[:, COUNTS.index("impressions_30d")] + PRIOR_IMPRESSIONS
        clicks = counts[:, COUNTS.index("clicks_30d")] + PRIOR_IMPRESSIONS * self.click_rate
        saves = counts[:, COUNTS.index("saves_30d")] + PRIOR_IMPRESSIONS * self.save_rate
        return clicks / shown, saves / shown

    def popular(self, limit: int) -> list[tuple[int, float]]:
        """(key, popularity over 7 days), best first."""
        return list(
            zip(
                self.popular_keys[:limit].tolist(),
                self.popular_scores[:limit].tolist(),
                strict=True,
            )
        )

    def cosave_scores(self, history: Iterable[int]) -> SparseScores:
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
