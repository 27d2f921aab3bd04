"""The collaborative models on hand-made saves: values computed by hand, and the
candidates and features they feed."""

from __future__ import annotations

import numpy as np
import pytest

from ranking import collab, features
from ranking.candidates import Candidate, Limits, gather
from ranking.collab import CollabParams, SparseScores
from ranking.index import VectorIndex
from ranking.stats import CatalogueStats

# Reader 0 saved papers 10 and 20, reader 1 saved 10 and 30, reader 2 saved 20.
READERS = np.array([0, 0, 1, 1, 2])
PAPERS = np.array([10, 20, 10, 30, 20])


def test_rp3beta_table_matches_a_hand_computed_walk() -> None:
    keys, saves = collab.save_matrix(READERS, PAPERS)
    assert keys.tolist() == [10, 20, 30]
    table = collab.NeighbourTable(keys, collab.rp3beta(saves, alpha=1.0, beta=0.5, k=10))
    # 10 → reader 0 (1/2) → 20 (1/2), divided by √(2 savers of 20); 10 → reader 1 → 30 (1 saver).
    got = table.scores([10])
    assert got.keys.tolist() == [20, 30]
    assert got.values.tolist() == pytest.approx([0.25 / np.sqrt(2), 0.25])
    assert [k for k, _ in got.top(5)] == [30, 20]
    assert [v for _, v in got.top(5)] == pytest.approx([0.25, 0.25 / np.sqrt(2)])
    # 30 → reader 1 (1) → 10 (1/2), / √2; a history's score is the sum of its rows.
    both = table.scores([30, 20, 99])  # 99: nobody saved it
    assert both.lookup([10, 20, 30, 99]).tolist() == pytest.approx(
        [0.5 / np.sqrt(2) + 0.25 / np.sqrt(2), 0, 0, 0]
    )
    assert len(table.scores([99])) == 0
    # alpha sharpens: transition probabilities are raised to it.
    sharp = collab.rp3beta(saves, alpha=2.0, beta=0.0, k=10)
    assert sharp[0, 1] == pytest.approx(0.5**2 * 0.5**2)


def test_rp3beta_keeps_the_k_strongest_neighbours() -> None:
    _, saves = collab.save_matrix(READERS, PAPERS)
    table = collab.rp3beta(saves, alpha=1.0, beta=0.5, k=1)
    assert np.diff(table.indptr).tolist() == [1, 1, 1]
    assert table[0].indices.tolist() == [2]  # 30 beats 20 for paper 10


def test_cosave_lists_count_readers_who_saved_both() -> None:
    keys, saves = collab.save_matrix(
        np.r_[READERS, 3, 3], np.r_[PAPERS, 10, 20]
    )  # reader 3 saved 10 and 20 too
    lists = collab.cosave_lists(keys, saves, k=5)
    assert lists == {10: {20: 2, 30: 1}, 20: {10: 2}, 30: {10: 1}}
    assert list(lists[10]) == [20, 30]  # strongest first
    assert collab.cosave_lists(keys, saves, k=1)[10] == {20: 2}


def test_factors_fold_in_a_reader_towards_their_group() -> None:
    rng = np.random.default_rng(0)
    readers, papers = [], []
    for reader in range(40):
        group = reader // 20  # group 0 saves papers 0-19, group 1 papers 100-119
        for paper in rng.choice(20, 6, replace=False):
            readers.append(reader)
            papers.append(100 * group + int(paper))
    fitted = collab.fit(
        np.array(readers), np.array(papers), CollabParams(factors=4, factor_alpha=5.0)
    )
    assert fitted.factors is not None and len(fitted.related) == len(fitted.factors) == 40
    taste = fitted.factors.fold_in([1, 2, 3])
    assert taste.shape == (4,)
    top = [key for key, _ in fitted.factors.top(taste, 5)]
    assert len(top) == 5 and all(key < 100 for key in top)
    scores = fitted.factors.score(taste, [*range(20), *range(100, 120), 555])
    assert scores[:20].mean() > scores[20:40].mean() + 0.1 and scores[40] == 0
    assert fitted.factors.fold_in([555]).shape == (0,)  # nobody saved it: no taste
    assert collab.fit(np.zeros(0), np.zeros(0)).factors is None


def test_collaborative_scores_become_features() -> None:
    stats = CatalogueStats.from_saves(
        "s", {}, READERS, PAPERS, CollabParams(rp3_alpha=1.0, rp3_beta=0.5, factors=2)
    )
    assert stats.cosaves[10] == {20: 1, 30: 1}
    related = stats.related_scores([10])
    context = features.Context(
        np.zeros((0, 4), np.float32),
        np.zeros(0, np.float32),
        np.zeros((0, 4), np.float32),
        0.0,
        stats,
        stats.cosave_scores([10]),
        2,
        related=related,
        taste=stats.taste([10]),
    )
    cands = [Candidate(30, {"related": 0}), Candidate(40, {"similar": 0})]
    facts = {k: features.PaperFacts(0, 0.0) for k in (30, 40)}
    built = features.build(cands, np.zeros((2, 4), np.float32), facts, context)
    row = dict(zip(features.NAMES, built.matrix[0], strict=True))
    other = dict(zip(features.NAMES, built.matrix[1], strict=True))
    assert row["related_score"] == pytest.approx(0.25)
    assert (row["from_related"], row["rank_related"]) == (1, 0)
    assert row["cosave"] == pytest.approx(np.log1p(1))
    assert stats.factors is not None
    assert row["factor_score"] == pytest.approx(float(stats.factors.score(context.taste, [30])[0]))
    assert other["related_score"] == other["factor_score"] == other["cosave"] == 0


def test_sparse_scores_rank_and_look_up() -> None:
    scores = SparseScores(np.array([1, 5, 9]), np.array([0.5, 2.0, 0.5], np.float32))
    assert scores.top(2) == [(5, 2.0), (1, 0.5)]  # ties: smaller key first
    assert scores.top(0) == [] and SparseScores().top(3) == []
    assert scores.lookup([9, 4, 5]).tolist() == [0.5, 0.0, 2.0]


def test_gather_takes_related_and_factor_candidates_skipping_hidden_ones() -> None:
    index = VectorIndex(4)
    index.upsert(np.arange(10), np.eye(10, 4, dtype=np.float32) + 0.1)
    cands = gather(
        index,
        np.zeros((0, 4), np.float32),
        collaborative=[],
        popular=[],
        fresh=[],
        hidden={3},
        limits=Limits(related=2, factors=2),
        related=[(3, 0.9), (4, 0.5), (5, 0.4), (6, 0.3)],  # 3 is hidden: takes no slot
        factors=[(5, 2.0), (7, 1.0), (8, 0.5)],
    )
    by_key = {c.key: c for c in cands}
    assert sorted(by_key) == [4, 5, 7]
    assert by_key[4].ranks == {"related": 0} and by_key[5].ranks == {"related": 1, "factors": 0}
    assert by_key[5].scores == {"related": 0.4, "factors": 2.0}
    assert by_key[7].ranks == {"factors": 1}
