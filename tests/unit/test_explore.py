"""Exploration slots and the propensities logged for them."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.explore import explore


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
