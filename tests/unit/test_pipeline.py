"""The whole ranking pipeline (plan, then rank) on two clusters of papers."""

from __future__ import annotations

import numpy as np

from ranking import features
from ranking.collab import SparseScores
from ranking.index import VectorIndex
from ranking.model import HeuristicRanker
from ranking.pipeline import plan, rank
from ranking.profile import Interaction
from ranking.stats import CatalogueStats, PaperStats
from tests.support import clustered


def test_pipeline_ranks_the_liked_cluster_first_for_a_reader() -> None:
    vectors = clustered()
    index = VectorIndex(16)
    index.upsert(np.arange(20), vectors)
    history = [Interaction(12, "save", 1.0), Interaction(13, "save", 2.0)]
    stats = CatalogueStats.build("s", {0: PaperStats(saves_7d=20)})
    p = plan(index, history, stats, fresh=[], hidden=set(), now_epoch=0.0)
    facts = {k: features.PaperFacts(100, 0.0) for k in range(20)}
    ranked = rank(p, index, facts, HeuristicRanker(), k=5, relevance=1.0)
    assert [r.key for r in ranked][:4] != [0, 1, 2, 3]
    assert all(10 <= r.key < 20 for r in ranked[:4])
    assert 12 not in [r.key for r in ranked] and 13 not in [r.key for r in ranked]
    assert all(r.similar_to in (12, 13) for r in ranked[:4])
    assert ranked[0].features.shape == (len(features.NAMES),)


def test_top_scores_are_the_head_of_a_full_sort_by_score_then_key() -> None:
    rng = np.random.default_rng(0)
    keys, values = np.arange(500), rng.integers(0, 9, 500).astype(np.float32)
    scores = SparseScores(keys, values)
    full = sorted(zip(keys.tolist(), values.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
    assert scores.top(40) == full[:40]
    assert scores.top(1000) == full
    assert SparseScores().top(5) == []
