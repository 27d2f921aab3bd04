"""Maximal marginal relevance spreads a feed over topics."""

from __future__ import annotations

import numpy as np

from ranking.diversify import mmr
from tests.support import clustered


def test_mmr_spreads_a_feed_over_topics() -> None:
    vectors = clustered(n_per=5)
    scores = np.array([1.0, 0.99, 0.98, 0.97, 0.96, 0.8, 0.79, 0.78, 0.77, 0.76])
    assert mmr(scores, vectors, 4, relevance=1.0) == [0, 1, 2, 3]
    mixed = mmr(scores, vectors, 4, relevance=0.3)
    assert mixed[0] == 0 and any(i >= 5 for i in mixed)
    assert mmr(scores[:0], vectors[:0], 3) == []
