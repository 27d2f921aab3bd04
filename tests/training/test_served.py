"""paperfeed's own pipeline as an evaluation method, on tiny hand-made data: the ranker's
labels never leak into its features, and the method finds planted structure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ranking import collab
from ranking.candidates import Limits
from ranking.collab import Collaborative, CollabParams, Factors, NeighbourTable
from tests.support import CONFIG, context, planted
from training.evaluate import available_methods, evaluate
from training.protocol import MethodSpec
from training.served import PAPERFEED, ServedIndex, ServedPipeline, ranker_groups

SMALL: dict[str, Any] = {
    "groups": 60,
    "factor_count": 4,
    "factor_alpha": 1.0,
    "rounds": 30,
    "min_data_in_leaf": 20,
}


def with_unique_papers() -> sp.csr_matrix:
    """The planted groups, each reader also saving a paper nobody else saved (200 + reader)."""
    matrix = planted().matrix.tolil()
    for reader in range(60):
        matrix[reader, 200 + reader] = 1.0
    return sp.csr_matrix(matrix)


def fitted(saves: sp.csr_matrix, params: CollabParams) -> Collaborative:
    readers, papers = saves.nonzero()
    return collab.fit(readers, papers, params)


def same_table(a: NeighbourTable, b: NeighbourTable) -> bool:
    return bool(
        np.array_equal(a.keys, b.keys)
        and a.weights.shape == b.weights.shape
        and np.allclose(a.weights.toarray(), b.weights.toarray(), atol=1e-6)
    )


def same_factors(a: Factors | None, b: Factors | None) -> bool:
    assert a is not None and b is not None
    return np.array_equal(a.keys, b.keys) and np.allclose(a.items, b.items, atol=1e-5)


def test_every_model_behind_the_features_is_fitted_without_the_targets(tmp_path: Path) -> None:
    train = with_unique_papers()
    catalogue = ServedIndex.build(context(tmp_path))
    params = CollabParams(factors=4, factor_alpha=1.0)
    groups = ranker_groups(catalogue, train, 40, 0.2, params, Limits(), seed=0)
    history, targets = groups.split.train, groups.split.test
    assert targets.nnz > 0 and history.multiply(targets).nnz == 0
    assert (history + targets != train).nnz == 0
    models = groups.stats.models

    # Each model equals one fitted on the saves without the held-out (reader, paper)
    # pairs, and differs from one fitted with them: no target influences any of them.
    without, with_targets = fitted(history, params), fitted(train, params)
    assert models.cosaves == without.cosaves != with_targets.cosaves
    assert same_table(models.related, without.related)  # RP3beta
    assert not same_table(models.related, with_targets.related)
    assert same_table(models.ease, without.ease)
    assert not same_table(models.ease, with_targets.ease)
    assert len(models.ease.weights.nonzero()[0]) > 0
    assert same_factors(models.factors, without.factors)  # ALS
    assert not same_factors(models.factors, with_targets.factors)
    # Popularity counts only the remaining saves.
    counts = np.asarray(history.sum(axis=0)).ravel()
    assert [groups.stats.of(p).saves_30d for p in range(train.shape[1])] == counts.tolist()

    # A paper saved only as a target is unknown to every model.
    savers = np.asarray(train.sum(axis=0)).ravel()
    only_targets = np.setdiff1d(targets.indices, history.indices)
    assert len(only_targets) and savers[only_targets].max() <= 1
    assert models.factors is not None
    for keys in (models.related.keys, models.ease.keys, models.factors.keys):
        assert not np.isin(only_targets, keys).any()
    assert not set(only_targets.tolist()) & set(models.cosaves)


def test_labels_mark_exactly_the_held_out_targets_among_the_candidates(tmp_path: Path) -> None:
    train = with_unique_papers()
    catalogue = ServedIndex.build(context(tmp_path))
    params = CollabParams(factors=4, factor_alpha=1.0)
    groups = ranker_groups(catalogue, train, 40, 0.2, params, Limits(), seed=0)
    history, targets = groups.split.train, groups.split.test

    expected_labels, expected_matrices, missed = [], [], 0
    for reader in np.flatnonzero(np.diff(targets.indptr)):
        wanted = set(targets.indices[targets.indptr[reader] : targets.indptr[reader + 1]].tolist())
        saved = history.indices[history.indptr[reader] : history.indptr[reader + 1]]
        keys, matrix = catalogue.candidates(saved, groups.stats, Limits())
        label = np.array([key in wanted for key in keys.tolist()])
        missed += len(wanted) - int(label.sum())
        if label.any():  # a reader none of whose targets is a candidate teaches nothing
            expected_labels.append(label.astype(np.float32))
            expected_matrices.append(matrix)
    assert len(expected_labels) == 40 and missed > 0  # some targets are not candidates
    assert groups.sizes == [len(label) for label in expected_labels]
    for got, label, built, matrix in zip(
        groups.labels, expected_labels, groups.matrices, expected_matrices, strict=True
    ):
        assert np.array_equal(got, label)
        assert np.array_equal(built, matrix)  # each label sits on its candidate's features


def test_paperfeed_finds_the_planted_groups(tmp_path: Path) -> None:
    assert available_methods()["paperfeed"] is PAPERFEED
    spec = MethodSpec(ServedPipeline, (SMALL,))
    results = evaluate(planted(), {"paperfeed": spec}, context(tmp_path), CONFIG)
    assert results["methods"]["paperfeed"]["recall@50"]["mean"] > 0.5


def test_paperfeed_scores_exactly_its_candidates(tmp_path: Path) -> None:
    train = planted().matrix
    method = ServedPipeline(**SMALL)
    method.fit(train, context(tmp_path))
    users = np.arange(0, 60, 6)
    history = train[users]
    scores = method.score(users, history)
    for row, user in enumerate(users):
        saved = train.indices[train.indptr[user] : train.indptr[user + 1]]
        keys, matrix = method.served.candidates(saved, method.stats, method.limits)
        # Papers outside the candidates are never shown: -inf, so they count for no metric.
        assert np.array_equal(np.flatnonzero(np.isfinite(scores[row])), np.sort(keys))
        assert len(keys) < train.shape[1] - len(saved)
        assert np.array_equal(scores[row, keys], method.ranker.score(matrix))
