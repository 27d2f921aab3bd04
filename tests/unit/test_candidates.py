"""Candidate gathering: every source merged, hidden papers left out."""

from __future__ import annotations

import numpy as np

from ranking.candidates import Limits, gather
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
    by_key = {c.key: c for c in cands}
    assert 0 not in by_key and 2 not in by_key and 99 not in by_key
    assert sum("similar" in c.ranks for c in cands) == 5
    assert by_key[1].ranks["popular"] == 1 and "similar" in by_key[1].ranks
    assert by_key[15].scores["popular"] == 9.0
    assert by_key[19].ranks == {"fresh": 0}
    assert by_key[7].ranks["collaborative"] == 0 and by_key[7].scores["collaborative"] == 2.0


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
