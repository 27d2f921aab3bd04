"""The pure ranking pieces, on small hand-made vectors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ranking import features
from ranking.candidates import Candidate, Limits, gather
from ranking.diversify import mmr
from ranking.explore import explore
from ranking.index import VectorIndex
from ranking.model import HeuristicRanker
from ranking.pipeline import plan, rank
from ranking.profile import Interaction, build_profile, interests
from ranking.stats import CatalogueStats, PaperStats


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(n_per: int = 10, dim: int = 16, seed: int = 0) -> np.ndarray:
    """Two well-separated clusters: rows [0, n_per) and [n_per, 2 n_per)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim, dtype=np.float32)[:2] * 5
    return unit(np.vstack([c + rng.normal(size=(n_per, dim)) for c in centres]))


def test_index_upsert_replace_remove_and_search() -> None:
    vectors = clustered()
    index = VectorIndex(16)
    index.upsert(np.arange(100, 120), vectors)
    assert len(index) == 20
    scores, keys = index.search(vectors[:1], 5)
    assert keys[0][0] == 100 and scores[0][0] == pytest.approx(1.0, abs=1e-5)
    assert set(keys[0].tolist()) <= set(range(100, 110))  # same cluster

    index.upsert([100], vectors[15:16])  # replace: now it sits in the other cluster
    assert len(index) == 20
    assert index.search(vectors[15:16], 2)[1][0].tolist()[:2] in ([100, 115], [115, 100])

    index.remove([100, 101, 999])
    assert len(index) == 18 and 100 not in index
    present, got = index.vectors([102, 100])
    assert present.tolist() == [True, False]
    np.testing.assert_allclose(got[0], vectors[2], atol=1e-6)
    with pytest.raises(ValueError, match="duplicate"):
        index.upsert([1, 1], vectors[:2])


def test_index_is_safe_under_concurrent_updates_and_searches() -> None:
    vectors = clustered(n_per=200)
    index = VectorIndex(16)
    index.upsert(np.arange(400), vectors)
    errors: list[Exception] = []

    def search() -> None:
        try:
            for _ in range(300):
                _, keys = index.search(vectors[:4], 10)
                assert (keys >= 0).all()
        except Exception as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(300):
        index.remove([400 + i - 1]) if i else None
        index.upsert([400 + i], vectors[i : i + 1])
    for t in threads:
        t.join()
    assert not errors
    assert len(index) == 401


def test_profile_folds_saves_unsaves_dismissals_and_decay() -> None:
    events = [
        Interaction(1, "save", 10),
        Interaction(2, "save", 5),
        Interaction(2, "unsave", 4),
        Interaction(3, "click", 0),
        Interaction(3, "click", 30),
        Interaction(4, "click", 1),
        Interaction(4, "dismiss", 0.5),
        Interaction(5, "unsave", 9),
        Interaction(5, "save", 8),
    ]
    profile = build_profile(events, half_life_days=30)
    assert profile.weights == pytest.approx(
        {1: 3 * 0.5 ** (10 / 30), 5: 3 * 0.5 ** (8 / 30), 3: 1.0 + 0.5}
    )
    assert profile.excluded == {1, 2, 4, 5}
    assert next(iter(profile.weights)) == 5  # heaviest (most recent save) first
    assert build_profile([]).is_cold


def test_interests_find_both_clusters_deterministically() -> None:
    vectors = clustered(n_per=6)
    weights = np.ones(12, dtype=np.float32)
    centroids = interests(vectors, weights, max_interests=2)
    assert centroids.shape == (2, 16)
    owner = np.argmax(vectors @ centroids.T, axis=1)
    assert len(set(owner[:6])) == 1 and len(set(owner[6:])) == 1 and owner[0] != owner[6]
    np.testing.assert_array_equal(centroids, interests(vectors, weights, max_interests=2))
    assert interests(vectors[:3], weights[:3]).shape == (1, 16)  # few papers: one interest


def test_gather_merges_sources_and_leaves_out_hidden_papers() -> None:
    vectors = clustered()
    index = VectorIndex(16)
    index.upsert(np.arange(20), vectors)
    cands = gather(
        index,
        vectors[:1],
        collaborative=[(7, 2.0), (0, 1.0)],
        popular=[(15, 9.0), (1, 2.0), (99, 1.0)],  # 99 is not in the index
        fresh=[19, 0],
        hidden={0, 2},
        limits=Limits(per_interest=5, popular=10, fresh=10),
    )
    by_key = {c.key: c for c in cands}
    assert 0 not in by_key and 2 not in by_key and 99 not in by_key
    assert sum("similar" in c.ranks for c in cands) == 5
    assert by_key[1].ranks["popular"] == 1 and "similar" in by_key[1].ranks
    assert by_key[15].scores["popular"] == 9.0
    assert by_key[19].ranks == {"fresh": 0}
    assert by_key[7].ranks["collaborative"] == 0 and by_key[7].scores["collaborative"] == 2.0


def test_feature_rows_follow_the_names() -> None:
    vectors = clustered()
    cands = [
        Candidate(5, {"similar": 0}, {"similar": 0.9}),
        Candidate(15, {"popular": 3}, {"popular": 4.0}),
    ]
    facts = {5: features.PaperFacts(100, 0.0), 15: features.PaperFacts(0, 86_400.0 * 9)}
    stats = CatalogueStats.build(
        "s1",
        {15: PaperStats(clicks_7d=2, saves_7d=1, clicks_30d=5, saves_30d=2, impressions_30d=40)},
    )
    context = features.Context(
        vectors[:2],
        np.array([2.0, 1.0], np.float32),
        vectors[:1],
        86_400.0 * 10,
        stats,
        {5: 3.0},
        7,
    )
    built = features.build(cands, vectors[[5, 15]], facts, context)
    row = dict(zip(features.NAMES, built.matrix[0], strict=True))
    other = dict(zip(features.NAMES, built.matrix[1], strict=True))
    assert row["sim_max"] == pytest.approx(max(vectors[5] @ vectors[0], vectors[5] @ vectors[1]))
    assert row["sim_profile"] > other["sim_profile"]
    assert (row["from_similar"], row["rank_similar"], row["rank_popular"]) == (
        1,
        0,
        features.MISSING_RANK,
    )
    assert (other["from_popular"], other["rank_popular"]) == (1, 3)
    assert other["saves_30d"] == pytest.approx(np.log1p(2)) and row["saves_30d"] == 0
    assert row["cosave"] == pytest.approx(np.log1p(3.0)) and other["cosave"] == 0
    # Smoothed rates: a paper never shown has the catalogue's rate; 2 saves in 40 views is more.
    assert row["save_rate"] == pytest.approx(stats.save_rate)
    assert other["save_rate"] == pytest.approx((2 + 20 * stats.save_rate) / 60)
    assert row["reader_events"] == pytest.approx(np.log1p(7))
    assert row["age_days"] == pytest.approx(np.log1p(10)) and other["age_days"] == pytest.approx(
        np.log1p(1)
    )
    assert row["history_size"] == pytest.approx(np.log1p(2))
    assert built.nearest_history.tolist()[0] in (0, 1)


def test_mmr_spreads_a_feed_over_topics() -> None:
    vectors = clustered(n_per=5)
    scores = np.array([1.0, 0.99, 0.98, 0.97, 0.96, 0.8, 0.79, 0.78, 0.77, 0.76])
    assert mmr(scores, vectors, 4, relevance=1.0) == [0, 1, 2, 3]
    mixed = mmr(scores, vectors, 4, relevance=0.3)
    assert mixed[0] == 0 and any(i >= 5 for i in mixed)
    assert mmr(scores[:0], vectors[:0], 3) == []


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


def test_exploration_fills_a_share_of_slots_with_logged_propensities() -> None:
    rng = np.random.default_rng(0)
    order, n = [0, 1, 2, 3, 4], 50
    assert [s.index for s in explore(order, n, 0.0, rng)] == order
    slots = [explore(order, n, 0.2, rng) for _ in range(2000)]
    explored = [s for feed in slots for s in feed if s.explored]
    assert 0.17 < len(explored) / (2000 * 5) < 0.23
    assert all(s.index >= 5 for s in explored)  # never a paper already in the feed
    for feed in slots:
        assert len({s.index for s in feed}) == 5
        for s in feed:
            assert (
                s.propensity == pytest.approx(0.8)
                if not s.explored
                else 0 < s.propensity < 0.2 / 40
            )
    # Nothing to explore with: every slot is the ranker's, with certainty.
    assert all(s.propensity == 1.0 and not s.explored for s in explore(order, 5, 0.5, rng))
