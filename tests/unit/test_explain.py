"""Explanations readers understand, and onboarding interests in the pipeline, on two
clusters of papers: cluster A (keys below `n_per`) and cluster B."""

from __future__ import annotations

import numpy as np

from ranking import features
from ranking.candidates import Limits
from ranking.collab import CollabParams
from ranking.explain import cosaved_index, explanation
from ranking.index import VectorIndex
from ranking.model import HeuristicRanker
from ranking.pipeline import Ranked, plan, rank
from ranking.profile import Interaction, Onboarding, onboarding_weight
from ranking.stats import CatalogueStats, PaperStats
from tests.support import PAPERS, READERS, clustered, unit

TITLES = {k: f"Paper {k}" for k in range(60)}
FACTS = {k: features.PaperFacts(100, 0.0) for k in range(60)}
NO_MODELS = CollabParams(factors=0, ease_items=0)


def indexed(vectors: np.ndarray) -> VectorIndex:
    index = VectorIndex(vectors.shape[1])
    index.upsert(np.arange(len(vectors)), vectors)
    return index


def test_explanations_name_what_the_reader_really_did() -> None:
    index = indexed(clustered(n_per=20))
    # Readers saved 10 with 20 and with 30 (tests.support): the reader's save of 10 makes
    # 20 and 30 collaborative candidates.
    stats = CatalogueStats.from_saves(
        "s", {25: PaperStats(saves_7d=4, clicks_7d=1)}, READERS, PAPERS, NO_MODELS
    )
    history = [Interaction(10, "save", 1.0), Interaction(3, "click", 1.0)]
    p = plan(index, history, stats, [39], set(), 0.0, Limits(per_interest=3))
    ranked = rank(p, index, FACTS, HeuristicRanker(), k=40)
    said = {r.key: explanation(p, r, TITLES, age_days=2.5) for r in ranked}

    similar = [r for r in ranked if "similar" in r.sources]
    assert len(similar) == 3
    for r in similar:
        how = "which you saved" if r.similar_to == 10 else "which you opened"
        assert r.similar_to in (3, 10)
        assert said[r.key] == f"Similar to *Paper {r.similar_to}*, {how}"
    assert said[20] == said[30] == "Readers who saved *Paper 10* also saved this"
    assert said[25] == "Popular this week (4 saves and 1 click)"
    assert said[39] == "New: published 2 days ago"
    wildcard = Ranked(5, 0.0, ["similar"], ranked[0].features, None, 0.1, explored=True)
    assert explanation(p, wildcard, TITLES, 0.0).startswith("A wildcard")


def test_onboarding_topics_and_papers_shape_a_new_readers_feed() -> None:
    vectors = clustered(n_per=30)
    index = indexed(vectors)
    topic = unit(vectors[30:].mean(axis=0, keepdims=True))  # cluster B's direction
    onboarding = Onboarding(keys=(31,), topics=("graphs",), topic_vectors=topic)
    stats = CatalogueStats.build("s", {})
    p = plan(index, [], stats, [], set(), 0.0, onboarding=onboarding)
    assert p.topics == ("graphs",) and p.history_keys == [31, -1]
    ranked = rank(p, index, FACTS, HeuristicRanker(), k=10)
    assert all(r.key >= 30 for r in ranked) and 31 not in [r.key for r in ranked]
    sentences = {explanation(p, r, TITLES, 1.0) for r in ranked}
    assert sentences <= {
        "Matches your interest in graphs",
        "Similar to *Paper 31*, which you picked as an interest",
    }
    assert len(sentences) == 2


def test_onboarding_fades_as_real_saves_accumulate() -> None:
    assert onboarding_weight(0) == 1.0
    assert onboarding_weight(5) == 0.5 and onboarding_weight(10) == 0.25
    assert onboarding_weight(21) > 0 and onboarding_weight(22) == 0.0

    vectors = clustered(n_per=30)
    index = indexed(vectors)
    topic = unit(vectors[30:].mean(axis=0, keepdims=True))
    onboarding = Onboarding(topics=("graphs",), topic_vectors=topic)
    stats = CatalogueStats.build("s", {})

    def cluster_b_share(saves: int) -> float:
        history = [Interaction(k, "save", 1.0) for k in range(saves)]  # all in cluster A
        p = plan(index, history, stats, [], set(), 0.0, onboarding=onboarding)
        ranked = rank(p, index, FACTS, HeuristicRanker(), k=5, relevance=1.0)
        return sum(r.key >= 30 for r in ranked) / 5

    assert cluster_b_share(1) > 0  # one save: the topic still counts
    assert cluster_b_share(25) == 0  # 25 saves: the topic has faded out


def test_the_co_saved_index_lists_the_readers_saves_most_co_saves_first() -> None:
    # Two readers saved 10 and 20, one saved 30 and 20; this reader saved 30, then 10.
    readers, papers = np.array([0, 0, 1, 1, 2, 2]), np.array([10, 20, 10, 20, 30, 20])
    stats = CatalogueStats.from_saves("s", {}, readers, papers, NO_MODELS)
    history = [Interaction(10, "save", 1.0), Interaction(30, "save", 2.0)]
    p = plan(indexed(clustered(n_per=20)), history, stats, [], set(), 0.0)
    assert cosaved_index(p) == {20: [10, 30]}
    assert cosaved_index(p, [20, 5]) == {20: [10, 30]} and cosaved_index(p, [5]) == {}
