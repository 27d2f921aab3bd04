"""Training pieces without a server: NDCG, time split, refusal of thin data, artifacts."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ranking.artifacts import read_artifact, write_artifact
from ranking.errors import ArtifactError
from ranking.features import NAMES
from ranking.model import LightGBMRanker, load_ranker
from tests.support import rows_for
from training.dataset import LoadReport, from_rows
from training.train import TrainConfig, TrainingError, _check_enough, evaluate, fit, ndcg_at


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


def test_dataset_groups_feeds_and_splits_by_time() -> None:
    rows = rows_for(10)
    rows += [replace(r, request_id=uuid.UUID(int=99), label=0) for r in rows_for(1)]
    rows += [replace(r, request_id=uuid.UUID(int=98), feature_names=["old"]) for r in rows_for(1)]
    data, report = from_rows(rows)
    assert report == LoadReport(feeds=12, unlabelled=1, other_features=1)
    assert (data.n_groups, data.n_rows) == (10, 50)
    train, valid = data.split_by_time(0.2)
    assert (train.n_groups, valid.n_groups) == (8, 2)
    assert max(train.served_at) < min(valid.served_at)
    assert valid.request_ids == [uuid.UUID(int=9), uuid.UUID(int=10)]


def test_too_few_labelled_feeds_is_refused_with_a_reason() -> None:
    data, report = from_rows(rows_for(5))
    with pytest.raises(TrainingError, match=r"only 5 served feeds have feedback.*at least 30"):
        _check_enough(data, report, TrainConfig(min_groups=30))


def test_a_trained_model_learns_and_round_trips_through_an_artifact(tmp_path: Path) -> None:
    data, _ = from_rows(rows_for(300))
    train, valid = data.split_by_time(0.2)
    booster = fit(train, valid, TrainConfig(), progress=False)
    model = LightGBMRanker(booster.model_to_string(), "v1")
    metrics = evaluate({"model": model}, valid)
    assert metrics["model"]["ndcg@10"] > 0.9  # feature 0 decides; random would be ~0.45

    path = write_artifact(tmp_path, "v1", booster.model_to_string(), {"feature_names": list(NAMES)})
    loaded = load_ranker(path)
    np.testing.assert_allclose(loaded.score(valid.features), model.score(valid.features))
    with pytest.raises(ArtifactError, match="immutable"):
        write_artifact(tmp_path, "v1", "x", {"feature_names": list(NAMES)})


def test_corrupt_or_mismatched_artifacts_are_refused(tmp_path: Path) -> None:
    data, _ = from_rows(rows_for(60))
    train, valid = data.split_by_time(0.2)
    text = fit(train, valid, TrainConfig(rounds=5), progress=False).model_to_string()

    corrupt = write_artifact(tmp_path, "corrupt", text, {"feature_names": list(NAMES)})
    (corrupt / "model.txt").write_text(text[: len(text) // 2])
    with pytest.raises(ArtifactError, match="checksum"):
        read_artifact(corrupt)

    renamed = [*NAMES[:-1], "something_new"]
    other = write_artifact(tmp_path, "other", text, {"feature_names": renamed})
    with pytest.raises(ArtifactError, match="other features"):
        load_ranker(other)

    with pytest.raises(ArtifactError, match="cannot read"):
        load_ranker(tmp_path / "missing")
