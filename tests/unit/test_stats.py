"""Catalogue statistics: refreshing the co-saves while keeping the fitted models."""

from __future__ import annotations

import numpy as np

from ranking.collab import CollabParams
from ranking.stats import CatalogueStats
from tests.support import PAPERS, READERS


def test_a_refresh_can_keep_the_fitted_models_and_renew_the_co_saves() -> None:
    first = CatalogueStats.from_saves("a", {}, READERS, PAPERS, CollabParams(factors=2))
    # Reader 3 saves 30 and 20: new co-saves at once, the heavy models stay as they were.
    readers, papers = np.r_[READERS, 3, 3], np.r_[PAPERS, 30, 20]
    kept = CatalogueStats.from_saves("b", {}, readers, papers, keep=first.models)
    assert kept.models.cosaves[30] == {10: 1, 20: 1} and 20 not in first.models.cosaves[30]
    assert kept.models.related is first.models.related and kept.models.ease is first.models.ease
    assert kept.models.factors is first.models.factors
    refitted = CatalogueStats.from_saves("c", {}, readers, papers, CollabParams(factors=2))
    assert refitted.models.related.scores([30]).lookup([20])[0] > 0
    assert first.models.related.scores([30]).lookup([20])[0] == 0
