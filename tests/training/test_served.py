"""paperfeed's own pipeline as an evaluation method, on tiny hand-made data: the ranker's
labels never leak into its features, and the method finds planted structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ranking.candidates import Limits
from ranking.collab import CollabParams
from tests.support import CONFIG, context, planted
from training.evaluate import available_methods, evaluate
from training.protocol import MethodSpec
from training.served import PAPERFEED, ServedIndex, ServedPipeline, ranker_groups

SMALL = {"groups": 60, "factor_count": 4, "factor_alpha": 1.0, "rounds": 30, "min_data_in_leaf": 20}


def with_unique_papers() -> sp.csr_matrix:
    """The planted groups, each reader also saving a paper nobody else saved (200 + reader)."""
    matrix = planted().matrix.tolil()
    for reader in range(60):
        matrix[reader, 200 + reader] = 1.0
    return sp.csr_matrix(matrix)


def test_ranker_features_are_fitted_without_the_targets(tmp_path: Path) -> None:
    train = with_unique_papers()
    catalogue = ServedIndex.build(context(tmp_path))
    params = CollabParams(factors=4, factor_alpha=1.0)
    groups = ranker_groups(catalogue, train, 40, 0.2, params, Limits(), seed=0)
    targets = groups.split.test
    assert targets.nnz > 0 and groups.sizes
    assert (groups.split.train + targets != train).nnz == 0
    # A paper saved only by its target's reader is unknown to every fitted model.
    savers = np.asarray(train.sum(axis=0)).ravel()
    only_targets = np.setdiff1d(targets.indices, groups.split.train.indices)
    assert len(only_targets) and savers[only_targets].max() <= 1
    assert not np.isin(only_targets, groups.stats.models.related.keys).any()
    assert groups.stats.models.factors is not None
    assert not np.isin(only_targets, groups.stats.models.factors.keys).any()
    assert not set(only_targets.tolist()) & set(groups.stats.models.cosaves)
    assert all(groups.stats.of(int(p)).saves_30d == 0 for p in only_targets)
    # Every group has a positive, and labels mark exactly the target papers.
    assert all(label.any() for label in groups.labels)


def test_paperfeed_finds_the_planted_groups(tmp_path: Path) -> None:
    assert available_methods()["paperfeed"] is PAPERFEED
    spec = MethodSpec(ServedPipeline, (SMALL,))
    results = evaluate(planted(), {"paperfeed": spec}, context(tmp_path), CONFIG)
    got = results["methods"]["paperfeed"]
    assert got["recall@50"]["mean"] > 0.5
    # It ranks only its candidates: what the candidate stage reaches bounds its recall@100.
    assert got["recall@100"]["mean"] <= got["candidate_recall"]["mean"] + 1e-9
    assert 0.5 < got["candidate_recall"]["mean"] <= 1.0
