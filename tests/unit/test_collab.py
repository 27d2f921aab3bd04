"""The collaborative models on hand-made saves: values computed by hand. The candidates
and features they feed are tested in test_candidates.py and test_features.py."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from ranking import collab
from ranking.collab import CollabParams, NeighbourTable, SparseScores
from tests.support import PAPERS, READERS


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


def test_ease_table_can_keep_only_positive_weights() -> None:
    readers, papers = _library(1)
    keys, saves = collab.save_matrix(readers, papers)
    top = np.arange(len(keys))
    dense = collab.ease(saves, l2=3.0)
    table = collab.ease_table(saves, l2=3.0, k=3, max_items=len(keys), positive_only=True)
    table = table.toarray()
    assert (table >= 0).all() and (dense < 0).any()  # negatives existed and were dropped
    for row, weights in zip(top, dense, strict=True):
        positive = np.flatnonzero(weights > 0)
        strongest = positive[np.argsort(-weights[positive])[:3]]
        assert np.flatnonzero(table[row]).tolist() == np.sort(strongest).tolist()


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


def test_sparse_scores_rank_and_look_up() -> None:
    scores = SparseScores(np.array([1, 5, 9]), np.array([0.5, 2.0, 0.5], np.float32))
    assert scores.top(2) == [(5, 2.0), (1, 0.5)]  # ties: smaller key first
    assert scores.top(0) == [] and SparseScores().top(3) == []
    assert scores.lookup([9, 4, 5]).tolist() == [0.5, 0.0, 2.0]


def test_co_save_scores_sum_the_history_rows() -> None:
    keys, saves = collab.save_matrix(np.r_[READERS, 3, 3], np.r_[PAPERS, 30, 20])
    lists = collab.cosave_lists(keys, saves, k=5)
    naive: dict[int, float] = {}
    for key in [10, 30, 10, 99]:  # repeated and unknown papers, as a history may have
        for neighbour, together in lists.get(key, {}).items():
            naive[neighbour] = naive.get(neighbour, 0.0) + together
    assert as_dict(lists.scores([10, 30, 10, 99])) == naive == {20: 3.0, 30: 2.0, 10: 1.0}
    assert as_dict(lists.scores([99])) == as_dict(lists.scores([])) == {}
    # Few entries among many papers: summed by sorting them instead of over every paper.
    pairs = np.arange(200)
    sparse = collab.cosave_lists(*collab.save_matrix(pairs // 2, pairs), k=5)
    assert as_dict(sparse.scores([0, 3, 0])) == {1: 2.0, 2: 1.0}


def as_dict(scores: SparseScores) -> dict[int, float]:
    assert (np.diff(scores.keys) > 0).all()  # keys ascending, as lookups need
    return dict(zip(scores.keys.tolist(), scores.values.tolist(), strict=True))


@pytest.mark.parametrize("history", [[3], [3, 7, 11], list(range(0, 2000, 10))])
def test_a_history_scores_the_sum_of_its_rows_entry_by_entry_or_densely(
    history: list[int],
) -> None:
    # 2,000 papers, four weights a row: up to 31 rows are summed entry by entry, more densely.
    rng = np.random.default_rng(1)
    weights = sp.random(2000, 2000, density=0.002, format="lil", dtype=np.float32, rng=rng)
    weights[3, 5], weights[7, 5] = 1.5, -0.5  # less 0.5 each: a sum that cancels out
    keys = np.arange(0, 4000, 2)  # row i is paper 2i
    weights = sp.csr_matrix(weights)
    weights.data -= 0.5
    table = NeighbourTable(keys, weights)
    got = table.scores([2 * p for p in history] + [1, 9999])  # unknown papers are skipped
    dense = np.asarray(weights[history].sum(axis=0)).ravel()
    assert got.keys.tolist() == keys[dense != 0].tolist()
    np.testing.assert_allclose(got.values, dense[dense != 0], rtol=1e-5)


def test_a_compact_table_scores_as_the_full_one() -> None:
    # Weights among 50 of 2,000 papers (as EASE keeps the most saved): the compact table
    # is over those 50 only, and every history scores the same.
    rng = np.random.default_rng(2)
    used = np.sort(rng.choice(2000, 50, replace=False))
    full = sp.lil_matrix((2000, 2000), dtype=np.float32)
    for j, row in enumerate(used[:40]):  # the last 10 are only ever neighbours, never rows
        neighbours = np.unique(np.r_[used[40 + j % 10], rng.choice(used, 4, replace=False)])
        full[row, neighbours] = rng.normal(size=len(neighbours))
    keys = np.arange(0, 4000, 2)
    whole, compact = NeighbourTable(keys, sp.csr_matrix(full)), NeighbourTable.compact(keys, full)
    assert compact.keys.tolist() == keys[used].tolist() and compact.weights.shape == (50, 50)
    for history in ([], [keys[used[0]]], keys[used[:30]].tolist(), [1, 2, 4, 6]):
        want, got = whole.scores(history), compact.scores(history)
        assert got.keys.tolist() == want.keys.tolist()
        np.testing.assert_allclose(got.values, want.values, rtol=1e-6)


def test_fold_in_solves_the_least_squares_step_for_short_and_long_histories() -> None:
    """Short histories take the Woodbury update of a once-inverted matrix, long ones the
    direct solve: both give implicit's step, (YᵀY + λI + (α-1) Y_hᵀY_h) x = α Y_hᵀ 1."""
    rng = np.random.default_rng(1)
    items = rng.normal(size=(300, 16)).astype(np.float32)
    keys = np.arange(1000, 1300, dtype=np.int64)
    factors = collab.Factors.build(keys, items, regularization=0.3, alpha=7.0)
    for size in (1, 5, 7, 8, 40):  # below half the factors (8) and from there on
        chosen = rng.choice(300, size, replace=False)
        seen = items[chosen].astype(np.float64)
        a = factors.gram + 0.3 * np.eye(16) + 6.0 * seen.T @ seen
        expected = np.linalg.solve(a, 7.0 * seen.sum(axis=0))
        got = factors.fold_in(keys[chosen].tolist())
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
