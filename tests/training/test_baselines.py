"""The baseline methods on planted groups, and EASE against its closed form
(training.baselines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from tests.support import CONFIG, context, planted
from training.baselines import ALS, BASELINES, EASE
from training.evaluate import evaluate
from training.protocol import EvalContext, MethodSpec


class RandomScores:
    def fit(self, train: sp.csr_matrix, context: EvalContext) -> None:
        self.rng = np.random.default_rng(context.seed)
        self.n_items = train.shape[1]

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self.rng.random((len(users), self.n_items))


def test_every_baseline_beats_random_on_planted_groups(tmp_path: Path) -> None:
    data = planted()
    # The registered ALS grid (128+ factors) is sized for real data, not for 60 users.
    small_als = MethodSpec(ALS, ({"factors": 4, "alpha": 1.0},))
    methods = {**BASELINES, "small-als": small_als, "random": MethodSpec(RandomScores)}
    results = evaluate(data, methods, context(tmp_path), CONFIG)["methods"]
    chance = results["random"]["recall@50"]["mean"]
    assert chance < 0.3
    for name in BASELINES:
        assert results[name]["recall@50"]["mean"] > chance + 0.1, name
    # Methods that see the groups put (nearly) only the right group's items first.
    for name in ("itemknn", "small-als", "ease", "rp3beta", "content-mean", "content-max"):
        assert results[name]["recall@50"]["mean"] > 0.5, name


def test_ease_matches_its_closed_form(tmp_path: Path) -> None:
    train = planted().matrix
    ease = EASE(l2=5.0)
    ease.fit(train, context(tmp_path))
    x = train.toarray().astype(np.float64)
    inverse = np.linalg.inv(x.T @ x + 5.0 * np.eye(300))
    weights = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(weights, 0.0)
    # Items nobody saved (200-299 and a few others) have zero weights and are left out.
    saved = np.flatnonzero(x.sum(axis=0))
    assert len(saved) < 200 and np.array_equal(ease.active, saved)
    unsaved = np.setdiff1d(np.arange(300), saved)
    assert np.allclose(weights[unsaved], 0) and np.allclose(weights[:, unsaved], 0)
    assert np.allclose(ease.weights, weights[np.ix_(saved, saved)], atol=1e-5)
    scores = ease.score(np.arange(3), train[:3])
    assert np.allclose(scores, x[:3] @ weights, atol=1e-4)
