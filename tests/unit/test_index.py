"""The vector index: upserts, replacement, removal, search, thread safety, and an index
started from the fit's memory-mapped snapshot."""

from __future__ import annotations

import threading
from pathlib import Path

import faiss
import numpy as np
import pytest

from ranking.ann import AnnParams
from ranking.index import Snapshot, VectorIndex, matrix_index
from tests.support import clustered


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


@pytest.mark.parametrize("approximate", [False, True], ids=["flat", "hnsw"])
def test_an_index_over_a_snapshot_answers_as_one_index_of_the_same_papers(
    tmp_path: Path, approximate: bool
) -> None:
    """A snapshot (the fit's content index, here written and memory-mapped as servers map
    it) plus the changes after it search like one index built of the current vectors."""
    rng = np.random.default_rng(0)
    vectors = clustered(n_per=40)  # 80 unit vectors of size 16
    ann = AnnParams(min_papers=1 if approximate else 10_000, ef_search=16)
    keys = np.arange(1000, 1120, 2)  # ascending, with gaps
    vectors[:60] = vectors[rng.permutation(60)]  # the clusters' papers mixed over the keys
    built = matrix_index(vectors[:60], ann)
    faiss.write_index(built, str(tmp_path / "content.faiss"))
    mapped = faiss.read_index(str(tmp_path / "content.faiss"), faiss.IO_FLAG_MMAP_IFC)
    index = VectorIndex(16, AnnParams(ef_search=200), Snapshot(mapped, keys, "m", horizon=7))
    if approximate:  # the server's search breadth applies to the fit's graph
        assert mapped.hnsw.efSearch == 200
    with pytest.raises(ValueError, match="ascending"):
        Snapshot(mapped, keys[::-1].copy(), "m", horizon=7)
    assert len(index) == 60 and index.in_memory == 0 and int(keys[3]) in index

    # After the snapshot: 20 new papers, 5 of its papers replaced, 5 removed.
    index.upsert(np.arange(2000, 2020), vectors[60:])
    replaced, removed = keys[:5], keys[5:10]
    new_vectors = vectors[70:75] * -1.0
    index.upsert(replaced, new_vectors)
    index.remove(removed)
    assert len(index) == 75 and index.in_memory == 25
    assert int(removed[0]) not in index and int(replaced[0]) in index

    current = {int(k): v for k, v in zip(keys, vectors[:60], strict=True)}
    current |= {int(k): v for k, v in zip(range(2000, 2020), vectors[60:], strict=True)}
    current |= {int(k): v for k, v in zip(replaced, new_vectors, strict=True)}
    for k in removed:
        del current[int(k)]
    whole = VectorIndex(16)
    whole.upsert(list(current), np.stack(list(current.values())))

    queries = np.concatenate([vectors[::7], new_vectors[:2]])
    scores, found = index.search(queries, 10)
    expected_scores, expected = whole.search(queries, 10)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    for got, want in zip(found, expected, strict=True):  # ties may come in either order
        assert set(got.tolist()) == set(want.tolist())
    assert not set(found.ravel().tolist()) & {int(k) for k in removed}

    # Papers the search leaves out itself (of the snapshot, replaced, added since, and one
    # it never held): the answer of an index without them, k a query all the same.
    hidden = [int(keys[20]), int(replaced[1]), 2003, 2005, 424_242]
    rest = {k: v for k, v in current.items() if k not in hidden}
    without = VectorIndex(16)
    without.upsert(list(rest), np.stack(list(rest.values())))
    scores, found = index.search(queries, 10, exclude=np.array(hidden))
    expected_scores, expected = without.search(queries, 10)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    for got, want in zip(found, expected, strict=True):
        assert set(got.tolist()) == set(want.tolist())

    present, got_vectors = index.vectors([int(replaced[0]), int(removed[0]), int(keys[20]), 2003])
    assert present.tolist() == [True, False, True, True]
    np.testing.assert_allclose(got_vectors[0], new_vectors[0], atol=1e-6)
    np.testing.assert_allclose(got_vectors[2], vectors[20], atol=1e-6)
    np.testing.assert_allclose(got_vectors[3], vectors[63], atol=1e-6)
