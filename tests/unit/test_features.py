"""Feature rows, in the order of `features.NAMES`, on hand-made vectors and saves."""

from __future__ import annotations

import numpy as np
import pytest

from ranking import features
from ranking.candidates import Candidates
from ranking.catalogue import FactColumns
from ranking.collab import CollabParams, SparseScores
from ranking.stats import CatalogueStats, PaperStats
from tests.support import PAPERS, READERS, clustered


def test_feature_rows_follow_the_names() -> None:
    vectors = clustered()
    cands = Candidates.of(
        [(5, {"similar": 0}, {"similar": 0.9}), (15, {"popular": 3}, {"popular": 4.0})]
    )
    facts = {5: features.PaperFacts(100, 0.0), 15: features.PaperFacts(0, 86_400.0 * 9)}
    stats = CatalogueStats.build(
        "s1",
        {15: PaperStats(clicks_7d=2, saves_7d=1, clicks_30d=5, saves_30d=2, impressions_30d=40)},
    )
    context = features.Context(
        vectors[:2],
        np.array([2.0, 1.0], np.float32),
        vectors[:1],
        86_400.0 * 10,
        stats,
        SparseScores(np.array([5]), np.array([3.0], np.float32)),
        7,
    )
    built = features.build(cands, vectors[[5, 15]], FactColumns.of([5, 15], facts), context)
    row = dict(zip(features.NAMES, built.matrix[0], strict=True))
    other = dict(zip(features.NAMES, built.matrix[1], strict=True))
    assert row["sim_max"] == pytest.approx(max(vectors[5] @ vectors[0], vectors[5] @ vectors[1]))
    assert row["sim_profile"] > other["sim_profile"]
    assert (row["from_similar"], row["rank_similar"], row["rank_popular"]) == (
        1,
        0,
        features.MISSING_RANK,
    )
    assert (other["from_popular"], other["rank_popular"]) == (1, 3)
    assert other["saves_30d"] == pytest.approx(np.log1p(2)) and row["saves_30d"] == 0
    assert row["cosave"] == pytest.approx(np.log1p(3.0)) and other["cosave"] == 0
    # Smoothed rates: a paper never shown has the catalogue's rate; 2 saves in 40 views is more.
    assert row["save_rate"] == pytest.approx(stats.save_rate)
    assert other["save_rate"] == pytest.approx((2 + 20 * stats.save_rate) / 60)
    assert row["reader_events"] == pytest.approx(np.log1p(7))
    assert row["age_days"] == pytest.approx(np.log1p(10)) and other["age_days"] == pytest.approx(
        np.log1p(1)
    )
    assert row["history_size"] == pytest.approx(np.log1p(2))
    assert built.nearest_history.tolist()[0] in (0, 1)


def test_collaborative_scores_become_features() -> None:
    stats = CatalogueStats.from_saves(
        "s", {}, READERS, PAPERS, CollabParams(rp3_alpha=1.0, rp3_beta=0.5, factors=2)
    )
    assert stats.models.cosaves[10] == {20: 1, 30: 1}
    related = stats.related_scores([10])
    context = features.Context(
        np.zeros((0, 4), np.float32),
        np.zeros(0, np.float32),
        np.zeros((0, 4), np.float32),
        0.0,
        stats,
        stats.cosave_scores([10]),
        2,
        related=related,
        taste=stats.taste([10]),
        ease=stats.ease_scores([10]),
    )
    cands = Candidates.of([(30, {"related": 0}, {}), (40, {"similar": 0}, {})])
    facts = {k: features.PaperFacts(0, 0.0) for k in (30, 40)}
    columns = FactColumns.of([30, 40], facts)
    built = features.build(cands, np.zeros((2, 4), np.float32), columns, context)
    row = dict(zip(features.NAMES, built.matrix[0], strict=True))
    other = dict(zip(features.NAMES, built.matrix[1], strict=True))
    assert row["related_score"] == pytest.approx(0.25)
    assert (row["from_related"], row["rank_related"]) == (1, 0)
    assert row["cosave"] == pytest.approx(np.log1p(1))
    assert stats.models.factors is not None
    assert row["factor_score"] == pytest.approx(
        float(stats.models.factors.score(context.taste, [30])[0])
    )
    assert row["ease_score"] == pytest.approx(float(stats.models.ease.scores([10]).lookup([30])[0]))
    assert row["ease_score"] != 0
    assert other["related_score"] == other["factor_score"] == other["cosave"] == 0
    assert other["ease_score"] == 0
