"""Approximate (HNSW) search on real embeddings: recall against exact search, incremental
adds, withdrawn and replaced papers never returned, reconstruction, and the switch from
exact to approximate at the threshold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ranking.ann import AnnParams
from ranking.collab import Factors
from ranking.embedder import Embedder, paper_text
from ranking.index import VectorIndex, matrix_index
from tests.support import ROOT

FORCED = AnnParams(min_papers=0)  # approximate from the first paper


def exact(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the k largest inner products, best first."""
    return np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :k]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


@pytest.fixture(scope="module")
def sample_vectors(embedder: Embedder) -> np.ndarray:
    """The sample catalogue's 80 papers, embedded with the real model."""
    lines = (ROOT / "examples" / "papers.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return embedder.embed([paper_text(r["title"], r.get("abstract") or "") for r in records])


def test_hnsw_finds_the_exact_neighbours_of_held_out_papers(sample_vectors: np.ndarray) -> None:
    base, held = sample_vectors[:60], sample_vectors[60:]
    index = VectorIndex(base.shape[1], FORCED)
    index.upsert(np.arange(1000, 1060), base)
    assert index.approximate and len(index) == 60
    for k in (10, 30):
        _, keys = index.search(held, k)
        assert recall(keys - 1000, exact(base, held, k)) >= 0.95


def test_added_papers_are_found_and_withdrawn_or_replaced_ones_never_returned(
    sample_vectors: np.ndarray,
) -> None:
    v = sample_vectors
    index = VectorIndex(v.shape[1], FORCED)
    index.upsert(np.arange(60), v[:60])
    index.upsert([60], v[60:61])  # a new paper, added to the graph incrementally
    scores, keys = index.search(v[60:61], 5)
    assert keys[0][0] == 60 and scores[0][0] == pytest.approx(1.0, abs=1e-5)

    withdrawn = [0, 5, 17, 33]
    index.remove(withdrawn)
    index.upsert([7], v[70:71])  # replaced: its old vector's row must never come back
    assert len(index) == 57 and index.dead == 5 and index.approximate
    scores, keys = index.search(v[:61], 57)
    assert not np.isin(keys, withdrawn).any()
    assert (keys >= 0).all()  # every slot filled: the filter hides dead rows, not live ones
    by_key = {
        int(k): float(s) for k, s in zip(keys[7], scores[7], strict=True)
    }  # the old vector as query
    assert by_key[7] == pytest.approx(float(v[7] @ v[70]), abs=1e-5)  # scored as the new one
    _, keys = index.search(v[70:71], 1)
    assert keys[0][0] == 7

    present, got = index.vectors([7, 0, 60])
    assert present.tolist() == [True, False, True]
    np.testing.assert_allclose(got[0], v[70], atol=1e-6)
    np.testing.assert_allclose(got[2], v[60], atol=1e-6)
    assert not got[1].any()


def test_the_index_turns_approximate_at_the_threshold_and_compacts_dead_rows(
    sample_vectors: np.ndarray,
) -> None:
    v = sample_vectors
    index = VectorIndex(v.shape[1], AnnParams(min_papers=50, max_dead_share=0.2))
    index.upsert(np.arange(40), v[:40])
    assert not index.approximate
    index.upsert(np.arange(40, 60), v[40:60])  # crosses 50: rebuilt once as a graph
    assert index.approximate and index.dead == 0 and len(index) == 60
    index.remove(range(10))  # 10 of 60 rows dead: below the rebuild share
    assert index.approximate and index.dead == 10
    index.remove(range(10, 15))  # 15 of 60: rebuilt from the 45 live papers, exact again
    assert not index.approximate and index.dead == 0 and len(index) == 45
    _, keys = index.search(v[:60], 45)
    assert set(keys[20].tolist()) == set(range(15, 60))
    present, got = index.vectors([15, 3])
    assert present.tolist() == [True, False]
    np.testing.assert_allclose(got[0], v[15], atol=1e-6)


def test_factor_search_uses_the_graph_and_matches_exact_inner_products(
    sample_vectors: np.ndarray,
) -> None:
    # Non-unit rows: the factors' search is by inner product, not cosine.
    items = sample_vectors * np.linspace(0.5, 2.0, len(sample_vectors))[:, None].astype(np.float32)
    keys = np.arange(500, 500 + len(items))
    factors = Factors.build(keys, items, 0.01, 1.0, AnnParams(min_papers=0))
    assert matrix_index(items, AnnParams(min_papers=0)).ntotal == len(items)
    assert type(factors.search).__name__ == "IndexHNSWFlat"
    taste = sample_vectors[:3].mean(axis=0)
    top = factors.top(taste, 20)
    truth = exact(items, taste[None, :], 20)[0] + 500
    assert recall(np.array([[k for k, _ in top]]), truth[None, :]) >= 0.95
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    exact_factors = Factors.build(keys, items, 0.01, 1.0)
    assert type(exact_factors.search).__name__ == "IndexFlatIP"
    # Papers left out by the search itself (hidden from the reader): still 20 answers,
    # the best of the others, from the graph and from the exact index alike.
    hidden = [k for k, _ in top[::2]] + [99_999]
    for searched in (factors, exact_factors):
        rest = searched.top(taste, 20, exclude=hidden)
        assert len(rest) == 20 and not {k for k, _ in rest} & set(hidden)
        kept = np.setdiff1d(np.arange(len(items)), np.array(hidden[:-1]) - 500)
        truth = kept[exact(items[kept], taste[None, :], 20)[0]] + 500
        assert recall(np.array([[k for k, _ in rest]]), truth[None, :]) >= 0.95


def test_recall_at_100_on_citeulike_papers(shared_data: Path, embedder: Embedder) -> None:
    """1,200 CiteULike-a papers (titles, some abstracts): 1,000 indexed, 200 held out."""
    lines = (shared_data / "citeulike-a" / "papers.jsonl").read_text().splitlines()[:1200]
    records = [json.loads(line) for line in lines]
    texts = [paper_text(r["title"], r.get("abstract") or "") for r in records]
    vectors = embedder.embed(texts)
    order = np.random.default_rng(0).permutation(len(vectors))
    base, held = vectors[order[200:]], vectors[order[:200]]
    index = VectorIndex(vectors.shape[1], FORCED)
    index.upsert(np.arange(len(base)), base)
    _, keys = index.search(held, 100)
    assert recall(keys, exact(base, held, 100)) >= 0.95
    gone = np.arange(0, len(base), 10)  # 10% withdrawn: filtered, below the rebuild share
    index.remove(gone)
    assert index.approximate and index.dead == len(gone)
    kept = np.setdiff1d(np.arange(len(base)), gone)
    _, keys = index.search(held, 100)
    assert not np.isin(keys, gone).any()
    assert recall(keys, kept[exact(base[kept], held, 100)]) >= 0.95
