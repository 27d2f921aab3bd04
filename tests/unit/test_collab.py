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


def _library(seed: int, readers: int = 30, papers: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(readers, papers) pairs: each reader saves 3 random papers, paper p with a
    probability that falls with p (so popularity differs)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, papers + 1)
    chosen = [
        rng.choice(papers, 3, replace=False, p=weights / weights.sum()) for _ in range(readers)
    ]
    return np.repeat(np.arange(readers), 3), np.concatenate(chosen)


@pytest.mark.parametrize("papers", [8, 2100])  # 2100: more than one block of the mirroring
def test_ease_matches_the_closed_form(papers: int) -> None:
    readers, saved = _library(0, readers=max(30, papers), papers=papers)
    # Every paper saved at least once by someone, so that all of them are columns.
    keys, saves = collab.save_matrix(
        np.r_[readers, -np.arange(papers) - 1], np.r_[saved, np.arange(papers)]
    )
    assert len(keys) == papers
    x = saves.toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 7.0 * np.eye(x.shape[1]))
    expected = -p / np.diag(p)[None, :]  # B = I - P / diag(P), then a zero diagonal
    np.fill_diagonal(expected, 0.0)
    got = collab.ease(saves, l2=7.0)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert (expected < 0).any()  # so keeping weights by magnitude is a real choice


def test_ease_table_keeps_the_most_saved_papers_and_the_largest_weights() -> None:
    readers, papers = _library(1)
    keys, saves = collab.save_matrix(readers, papers)
    popularity = np.asarray(saves.sum(axis=0)).ravel()
    top = np.sort(np.argsort(-popularity, kind="stable")[:5])
    dense = collab.ease(saves[:, top], l2=3.0)
    table = collab.ease_table(saves, l2=3.0, k=2, max_items=5).toarray()
    assert table.shape == (len(keys), len(keys))
    left_out = np.setdiff1d(np.arange(len(keys)), top)
    assert not table[left_out].any() and not table[:, left_out].any()
    for row, weights in zip(top, dense, strict=True):
        kept = np.flatnonzero(table[row])
        assert len(kept) == 2
        strongest = np.sort(top[np.argsort(-np.abs(weights))[:2]])
        assert kept.tolist() == strongest.tolist()
        np.testing.assert_allclose(
            table[row, kept], dense[top.searchsorted(row), top.searchsorted(kept)]
        )
    assert collab.ease_table(saves, 3.0, 2, max_items=0).nnz == 0


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
    assert stats.models.cosaves[10] == {20: 1, 30: 1}
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
        ease=stats.ease_scores([10]),
    )
    cands = [Candidate(30, {"related": 0}), Candidate(40, {"similar": 0})]
    facts = {k: features.PaperFacts(0, 0.0) for k in (30, 40)}
    built = features.build(cands, np.zeros((2, 4), np.float32), facts, context)
    row = dict(zip(features.NAMES, built.matrix[0], strict=True))
    other = dict(zip(features.NAMES, built.matrix[1], strict=True))
    assert row["related_score"] == pytest.approx(0.25)
    assert (row["from_related"], row["rank_related"]) == (1, 0)
    assert row["cosave"] == pytest.approx(np.log1p(1))
    assert stats.models.factors is not None
    assert row["factor_score"] == pytest.approx(
        float(stats.models.factors.score(context.taste, [30])[0])
    )
    assert row["ease_score"] == pytest.approx(float(stats.models.ease.scores([10]).lookup([30])[0]))
    assert row["ease_score"] != 0
    assert other["related_score"] == other["factor_score"] == other["cosave"] == 0
    assert other["ease_score"] == 0


def test_a_refresh_can_keep_the_fitted_models_and_renew_the_co_saves() -> None:
    first = CatalogueStats.from_saves("a", {}, READERS, PAPERS, CollabParams(factors=2))
    # Reader 3 saves 30 and 20: new co-saves at once, the heavy models stay as they were.
    readers, papers = np.r_[READERS, 3, 3], np.r_[PAPERS, 30, 20]
    kept = CatalogueStats.from_saves("b", {}, readers, papers, keep=first.models)
    assert kept.models.cosaves[30] == {10: 1, 20: 1} and 20 not in first.models.cosaves[30]
    assert kept.models.related is first.models.related and kept.models.ease is first.models.ease
    assert kept.models.factors is first.models.factors
    refitted = CatalogueStats.from_saves("c", {}, readers, papers, CollabParams(factors=2))
    assert refitted.models.related.scores([30]).lookup([20])[0] > 0
    assert first.models.related.scores([30]).lookup([20])[0] == 0


def test_sparse_scores_rank_and_look_up() -> None:
    scores = SparseScores(np.array([1, 5, 9]), np.array([0.5, 2.0, 0.5], np.float32))
    assert scores.top(2) == [(5, 2.0), (1, 0.5)]  # ties: smaller key first
    assert scores.top(0) == [] and SparseScores().top(3) == []
    assert scores.lookup([9, 4, 5]).tolist() == [0.5, 0.0, 2.0]


def test_gather_takes_related_factor_and_ease_candidates_skipping_hidden_ones() -> None:
    index = VectorIndex(4)
    index.upsert(np.arange(10), np.eye(10, 4, dtype=np.float32) + 0.1)
    cands = gather(
        index,
        np.zeros((0, 4), np.float32),
        collaborative=[],
        popular=[],
        fresh=[],
        hidden={3},
        limits=Limits(related=2, factors=2, ease=1),
        related=[(3, 0.9), (4, 0.5), (5, 0.4), (6, 0.3)],  # 3 is hidden: takes no slot
        factors=[(5, 2.0), (7, 1.0), (8, 0.5)],
        ease=[(3, 1.5), (9, 0.7), (4, 0.1)],
    )
    by_key = {c.key: c for c in cands}
    assert sorted(by_key) == [4, 5, 7, 9]
    assert by_key[9].ranks == {"ease": 0}
    assert by_key[4].ranks == {"related": 0} and by_key[5].ranks == {"related": 1, "factors": 0}
    assert by_key[5].scores == {"related": 0.4, "factors": 2.0}
    assert by_key[7].ranks == {"factors": 1}
