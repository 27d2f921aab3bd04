"""Candidate gathering: every source merged, hidden papers left out."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.candidates import SOURCES, Limits, gather
from ranking.index import VectorIndex
from tests.support import clustered


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
    found = {k: cands.found(i) for i, k in enumerate(cands.keys.tolist())}
    assert 0 not in found and 2 not in found and 99 not in found
    assert sum("similar" in f for f in found.values()) == 5
    assert found[1]["popular"] == 1 and "similar" in found[1]
    assert found[19] == {"fresh": 0}
    assert found[7]["collaborative"] == 0
    scores = {k: cands.scores[i] for i, k in enumerate(cands.keys.tolist())}
    assert scores[15][SOURCES.index("popular")] == 9.0
    assert scores[7][SOURCES.index("collaborative")] == 2.0


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
    found = {k: cands.found(i) for i, k in enumerate(cands.keys.tolist())}
    assert sorted(found) == [4, 5, 7, 9]
    assert found[9] == {"ease": 0}
    assert found[4] == {"related": 0} and found[5] == {"related": 1, "factors": 0}
    five = cands.scores[cands.keys.tolist().index(5)]
    assert (five[SOURCES.index("related")], five[SOURCES.index("factors")]) == (0.4, 2.0)
    assert found[7] == {"factors": 1}


def test_a_paper_found_by_several_interests_keeps_its_best_rank_in_first_found_order() -> None:
    vectors = clustered()
    index = VectorIndex(16)
    index.upsert(np.arange(20), vectors)
    interests = vectors[[0, 3, 12]]  # two of one cluster, one of the other
    hidden = {3, 12}
    cands = gather(index, interests, [], [], [], hidden, Limits(per_interest=8, popular=0, fresh=0))
    scores, keys = index.search(interests, 20)
    best: dict[int, tuple[int, float]] = {}  # key -> (best rank, score there)
    order: list[int] = []
    for row_scores, row_keys in zip(scores.tolist(), keys.tolist(), strict=True):
        shown = [(k, s) for k, s in zip(row_keys, row_scores, strict=True) if k not in hidden]
        for rank, (key, score) in enumerate(shown[:8]):
            if key not in best:
                order.append(key)
            if rank < best.get(key, (rank + 1, 0.0))[0]:
                best[key] = (rank, score)
    similar = SOURCES.index("similar")
    assert cands.keys.tolist() == order
    assert len(order) < 3 * 8  # the two interests of one cluster share papers
    assert cands.ranks[:, similar].tolist() == [best[k][0] for k in order]
    assert cands.scores[:, similar].tolist() == pytest.approx([best[k][1] for k in order])
