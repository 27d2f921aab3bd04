"""The vector index: upserts, replacement, removal, search, and thread safety."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ranking.index import VectorIndex
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
