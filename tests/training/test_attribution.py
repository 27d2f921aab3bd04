"""Per-feature contributions of a trained ranker (training.attribution)."""

from __future__ import annotations

import numpy as np

from ranking.features import NAMES
from ranking.model import LightGBMRanker
from tests.support import rows_for
from training.attribution import contributions
from training.dataset import from_rows
from training.train import TrainConfig, fit


def test_the_feature_that_decides_contributes_most() -> None:
    data, _ = from_rows(rows_for(200))  # feature 0 decides what is saved
    train, valid = data.split_by_time(0.2)
    booster = fit(train, valid, TrainConfig(rounds=30, min_data_in_leaf=5), progress=False)
    ranker = LightGBMRanker(booster.model_to_string(), "v")
    found = contributions(ranker, valid.features)
    assert next(iter(found)) == NAMES[0]
    assert set(found) == set(NAMES) and all(v >= 0 for v in found.values())
    assert found[NAMES[0]] > 3 * sorted(found.values())[-2]
    # Contributions plus the bias term add up to the scores.
    raw = ranker.booster.predict(valid.features[:7], pred_contrib=True)
    np.testing.assert_allclose(raw.sum(axis=1), ranker.score(valid.features[:7]), atol=1e-4)
    assert contributions(ranker, valid.features[:0]) == dict.fromkeys(NAMES, 0.0)
