"""Position bias estimated from exploration slots."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np

from ranking.features import NAMES
from training.dataset import Dataset, concat
from training.metrics import ndcg_at
from training.position import MIN_EXPLORED_CLICKS, Tally, estimate, fit, tally


def explored_feeds(exponent: float, feeds: int, seed: int = 0) -> Dataset:
    """Feeds of 10 random papers whose clicks follow (1 + position) ** -exponent."""
    rng = np.random.default_rng(seed)
    positions = np.tile(np.arange(10), feeds)
    labels = (rng.random(len(positions)) < 0.3 * (1.0 + positions) ** -exponent).astype(np.int32)
    return Dataset(
        np.zeros((len(positions), len(NAMES)), np.float32),
        labels,
        positions,
        np.ones(len(positions), bool),
        np.full(feeds, 10),
        [datetime(2026, 1, 1, tzinfo=UTC)] * feeds,
        [uuid.UUID(int=i) for i in range(feeds)],
        ["heuristic-1"] * feeds,
    )


def test_the_examination_exponent_is_recovered() -> None:
    for true in (0.0, 0.5, 1.0):
        found = estimate(explored_feeds(true, feeds=3000))
        assert abs(found.exponent - true) < 0.12, (true, found)


def test_too_few_explored_clicks_means_no_correction() -> None:
    data = explored_feeds(1.0, feeds=8)
    assert int(data.labels.sum()) < MIN_EXPLORED_CLICKS
    found = estimate(data)
    assert found.exponent == 0.0 and "not corrected" in found.describe()


def test_weights_lift_clicks_low_in_the_feed() -> None:
    # Same two clicked papers; the ranker that puts the one clicked at position 9 first
    # wins once clicks there count for their low examination probability.
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    positions = np.arange(10)
    top_first = -positions.astype(float)
    bottom_first = positions.astype(float)
    weights = (1.0 + positions) ** 1.0
    groups = np.array([10])
    assert ndcg_at(top_first, labels, groups, 10) == ndcg_at(bottom_first, labels, groups, 10)
    assert ndcg_at(bottom_first, labels, groups, 10, weights) > ndcg_at(
        top_first, labels, groups, 10, weights
    )


def test_tallies_of_parts_add_up_to_the_whole() -> None:
    data = explored_feeds(0.7, feeds=400)
    parts = [data.groups(range(0, 150)), data.groups(range(150, 400))]
    whole = tally(data)
    summed = tally(parts[0]) + tally(parts[1]) + Tally(np.zeros(0, np.int64), np.zeros(0, np.int64))
    np.testing.assert_array_equal(summed.shown, whole.shown)
    np.testing.assert_array_equal(summed.clicks, whole.clicks)
    assert fit(summed) == estimate(data) == estimate(concat(parts))
