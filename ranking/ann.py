"""When vector search turns approximate, and how (kept apart from `ranking.index` so that
settings can name the defaults without loading FAISS)."""

from __future__ import annotations

import sys
from dataclasses import dataclass


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
    ef_search: int = 128  # never below the k asked for
    # Rebuild once this share of the index's rows are replaced or removed papers: the
    # filter hides them from results, but they still cost search time and graph quality.
    max_dead_share: float = 0.2


DEFAULT_ANN = AnnParams()
# For indexes that are never searched (`paperfeed embed`): building a graph is wasted work.
EXACT_ONLY = AnnParams(min_papers=sys.maxsize)
