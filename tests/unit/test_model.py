"""Per-feature contributions of both rankers add up to the score they give."""

from __future__ import annotations

from pathlib import Path

import lightgbm
import numpy as np
import pytest

from ranking import features
from ranking.artifacts import write_artifact
from ranking.index import VectorIndex
from ranking.model import BIAS, HeuristicRanker, LightGBMRanker, contributions, load_ranker
from ranking.pipeline import featurize, plan
from ranking.profile import Interaction
from ranking.stats import CatalogueStats, PaperStats
from tests.support import clustered, rows_for
from training.dataset import from_rows
from training.train import TrainConfig, fit


def feature_rows() -> np.ndarray:
    vectors = clustered()
    index = VectorIndex(16)
    index.upsert(np.arange(20), vectors)
    stats = CatalogueStats.build("s", {3: PaperStats(clicks_7d=4, saves_7d=2)})
    p = plan(index, [Interaction(12, "save", 1.0)], stats, [19], set(), 86_400.0 * 40)
    facts = {k: features.PaperFacts(100 * k, 86_400.0 * k) for k in range(20)}
    return featurize(p, index, facts)[2].matrix


def test_the_heuristics_terms_sum_to_its_score() -> None:
    rows = feature_rows()
    ranker = HeuristicRanker()
    explained = contributions(ranker, rows)
    assert explained is not None and len(explained) == len(rows)
    for terms, score in zip(explained, ranker.score(rows), strict=True):
        assert sum(terms.values()) == pytest.approx(float(score), abs=1e-5)
        assert set(terms) <= {*features.HEURISTIC_WEIGHTS, "age_days"}
    assert any(terms["sim_profile"] > 0.5 for terms in explained)


def test_a_trained_models_contributions_sum_to_its_score() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(features.NAMES))).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 3] > 0.5).astype(int)
    train = lightgbm.Dataset(x, y, group=[20] * 20)
    params = {"objective": "lambdarank", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
    booster = lightgbm.train(params, train, num_boost_round=10)
    ranker = LightGBMRanker(booster.model_to_string(), "trained")

    rows = feature_rows()
    explained = contributions(ranker, rows)
    assert explained is not None
    for terms, score in zip(explained, ranker.score(rows), strict=True):
        assert sum(terms.values()) == pytest.approx(float(score), abs=1e-5)
        assert BIAS in terms
    # The model learnt from feature 0 above all: it explains the most.
    weight = {n: sum(abs(t.get(n, 0.0)) for t in explained) for n in features.NAMES}
    assert max(weight, key=weight.__getitem__) == features.NAMES[0]


def test_the_compiled_model_scores_as_the_booster_does(tmp_path: Path) -> None:
    """A model trained by `paperfeed train`'s own fit, compiled by lleaves at load and
    cached by its SHA-256: the same scores as LightGBM's predict (float64 within 1e-9;
    served as float32), from the cache the second time."""
    data, _ = from_rows(rows_for(300))
    train, valid = data.split_by_time(0.2)
    text = fit(train, valid, TrainConfig(), progress=False).model_to_string()
    path = write_artifact(tmp_path, "v1", text, {"feature_names": list(features.NAMES)})
    ranker = load_ranker(path)
    assert ranker.compiled is not None
    rows = np.random.default_rng(0).normal(size=(500, len(features.NAMES))).astype(np.float32)
    expected = ranker.booster.predict(rows.astype(np.float64), num_threads=1)
    compiled = ranker.compiled.predict(rows.astype(np.float64), n_jobs=1)
    np.testing.assert_allclose(compiled, expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ranker.score(rows), expected.astype(np.float32))
    assert len(list((tmp_path / ".compiled").glob("*.o"))) == 1
    again = load_ranker(path)  # the cached object file, not a second compilation
    np.testing.assert_array_equal(again.score(rows), ranker.score(rows))
    assert load_ranker(path, compile_model=False).compiled is None
