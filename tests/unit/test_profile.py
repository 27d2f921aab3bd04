"""A reader's profile from their interactions, and their interests as centroids."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.profile import Interaction, build_profile, interests
from tests.support import clustered


def test_profile_folds_saves_unsaves_dismissals_and_decay() -> None:
    events = [
        Interaction(1, "save", 10),
        Interaction(2, "save", 5),
        Interaction(2, "unsave", 4),
        Interaction(3, "click", 0),
        Interaction(3, "click", 30),
        Interaction(4, "click", 1),
        Interaction(4, "dismiss", 0.5),
        Interaction(5, "unsave", 9),
        Interaction(5, "save", 8),
    ]
    profile = build_profile(events, half_life_days=30)
    assert profile.weights == pytest.approx(
        {1: 3 * 0.5 ** (10 / 30), 5: 3 * 0.5 ** (8 / 30), 3: 1.0 + 0.5}
    )
    assert profile.excluded == {1, 2, 4, 5}
    assert next(iter(profile.weights)) == 5  # heaviest (most recent save) first
    assert build_profile([]).is_cold


def test_interests_find_both_clusters_deterministically() -> None:
    vectors = clustered(n_per=6)
    weights = np.ones(12, dtype=np.float32)
    centroids = interests(vectors, weights, max_interests=2)
    assert centroids.shape == (2, 16)
    owner = np.argmax(vectors @ centroids.T, axis=1)
    assert len(set(owner[:6])) == 1 and len(set(owner[6:])) == 1 and owner[0] != owner[6]
    np.testing.assert_array_equal(centroids, interests(vectors, weights, max_interests=2))
    assert interests(vectors[:3], weights[:3]).shape == (1, 16)  # few papers: one interest
