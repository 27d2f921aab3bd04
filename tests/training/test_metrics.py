"""NDCG and the paired bootstrap interval (training.metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import bootstrap_interval, ndcg_at


def test_ndcg_matches_a_hand_computed_value() -> None:
    # One group: labels by predicted order are [0, 3, 1]; ideal order [3, 1, 0].
    scores = np.array([0.9, 0.5, 0.1])
    labels = np.array([0, 3, 1])
    dcg = 7 / np.log2(3) + 1 / np.log2(4)
    idcg = 7 / np.log2(2) + 1 / np.log2(3)
    assert ndcg_at(scores, labels, np.array([3]), 10) == pytest.approx(dcg / idcg)
    assert ndcg_at(scores, labels, np.array([3]), 1) == 0.0
    # Two groups average; a group without relevant items scores 0.
    both = ndcg_at(np.r_[scores, [1.0, 0.0]], np.r_[labels, [0, 0]], np.array([3, 2]), 10)
    assert both == pytest.approx(dcg / idcg / 2)


def test_bootstrap_interval_is_reproducible_and_about_the_normal_one() -> None:
    differences = np.random.default_rng(3).normal(0.1, 1.0, size=400)
    low, high = bootstrap_interval(differences, 0.95, 2000, seed=0)
    assert (low, high) == bootstrap_interval(differences, 0.95, 2000, seed=0)
    assert low < differences.mean() < high
    normal_width = 2 * 1.96 * differences.std(ddof=1) / np.sqrt(len(differences))
    assert high - low == pytest.approx(normal_width, rel=0.1)
    assert bootstrap_interval(np.full(50, 0.25)) == pytest.approx((0.25, 0.25))
    assert bootstrap_interval(np.zeros(0)) == (0.0, 0.0)
