"""When vector search turns approximate, and how (kept apart from `ranking.index` so that
settings can name the defaults without loading FAISS)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class AnnParams:
    """When search turns approximate, and the HNSW graph's shape.

    Chosen with `bench/ann_recall.py` on a validation half of held-out CiteULike-a papers
    (the other half is what the README reports): see the README, "Approximate search".
    """

    # Exact below this many papers, HNSW from it on. Below it a flat search is a few
    # milliseconds at most, and building the graph would cost more than it saves.
    min_papers: int = 50_000
    m: int = 32  # graph links per node (memory: 8·m bytes a paper on the base layer)
    ef_construction: int = 80
    ef_search: int = 100  # never below the k asked for
    # Rebuild once this share of the index's rows are replaced or removed papers: the
    # filter hides them from results, but they still cost search time and graph quality.
    max_dead_share: float = 0.2

    def for_factors(self) -> AnnParams:
        """The ALS factors' graph: their search is by inner product over vectors of
        different lengths, which a graph of the content's shape finds far less well
        (validation recall@100 0.87 on CiteULike-a); this shape reaches 0.974."""
        return replace(
            self,
            m=max(self.m, FACTOR_M),
            ef_construction=max(self.ef_construction, FACTOR_EF_CONSTRUCTION),
            ef_search=max(self.ef_search, FACTOR_EF_SEARCH),
        )


# Chosen on CiteULike-a validation readers' folded-in vectors (bench/ann_recall.py): the
# smallest efSearch of the grid at validation recall 0.97 (128: 0.963, 192: 0.974).
FACTOR_M = 48
FACTOR_EF_CONSTRUCTION = 200
FACTOR_EF_SEARCH = 192


DEFAULT_ANN = AnnParams()
# For indexes that are never searched (`paperfeed embed`): building a graph is wasted work.
EXACT_ONLY = AnnParams(min_papers=sys.maxsize)
