"""Training: refusal of thin data, the model and its artifact, and the gate through
`train_and_register` (with PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from ranking.artifacts import read_artifact, write_artifact
from ranking.errors import ArtifactError, TrainingError
from ranking.features import NAMES
from ranking.model import LightGBMRanker, load_ranker
from storage.database import migrate
from tests.support import HEURISTIC, log_feeds, rows_for, side_store
from training.dataset import from_rows
from training.gate import compare_rankers
from training.train import TrainConfig, choose_trees, fit, train_and_register, windows


def test_too_few_labelled_feeds_is_refused_with_a_reason() -> None:
    data, report = from_rows(rows_for(5))
    with pytest.raises(TrainingError, match=r"only 5 served feeds have feedback.*at least 30"):
        windows(data, report, TrainConfig(min_groups=30))
    with pytest.raises(TrainingError, match=r"2 labelled feeds leave no feeds to train on"):
        windows(from_rows(rows_for(2))[0], report, TrainConfig(min_groups=2))
    split = windows(data, report, TrainConfig(min_groups=5))
    assert [w.n_groups for w in split] == [3, 1, 1]


def test_a_trained_model_learns_and_round_trips_through_an_artifact(tmp_path: Path) -> None:
    data, _ = from_rows(rows_for(300))
    train, valid = data.split_by_time(0.2)
    booster = fit(train, valid, TrainConfig(), progress=False)
    model = LightGBMRanker(booster.model_to_string(), "v1")
    metrics = compare_rankers({"model": model}, valid)
    assert metrics["model"]["ndcg@10"] > 0.9  # feature 0 decides; random would be ~0.45

    path = write_artifact(tmp_path, "v1", booster.model_to_string(), {"feature_names": list(NAMES)})
    loaded = load_ranker(path)
    np.testing.assert_allclose(loaded.score(valid.features), model.score(valid.features))
    with pytest.raises(ArtifactError, match="immutable"):
        write_artifact(tmp_path, "v1", "x", {"feature_names": list(NAMES)})


def test_trees_are_chosen_as_early_stopping_would() -> None:
    config = TrainConfig(early_stopping=3, min_trees=2)
    # Best after 4 trees; early stopping stops 3 trees later, so the late 0.9 is never seen.
    curve = [0.1, 0.2, 0.3, 0.5, 0.4, 0.4, 0.4, 0.9]
    assert choose_trees(curve, config) == 4
    assert choose_trees(curve[:7], config) == 4  # the curve one process records
    # The best from min_trees on, even if an earlier tree scored higher.
    assert choose_trees([0.9, 0.1, 0.2, 0.3], TrainConfig(early_stopping=3, min_trees=2)) == 4
    assert choose_trees([0.5], config) == 1


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


async def test_train_and_register_gates_on_the_latest_feeds_only(
    database_url: str, tmp_path: Path
) -> None:
    await migrate(database_url)
    january, march = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    shifted = lambda feed: 0 if feed < 120 else HEURISTIC  # noqa: E731
    config = TrainConfig(rounds=100, min_data_in_leaf=5)
    async with side_store(database_url) as store:
        await log_feeds(store, rows_for(150, seed=1, decided_by=shifted, start=january))
        await log_feeds(store, rows_for(150, seed=2, start=march))

        # January: the model wins where it was trained and selected, loses on the latest
        # feeds, where the active heuristic is right: registered, not promoted.
        refused = await train_and_register(
            store, tmp_path, config, until=march, promote=True, progress=False
        )
        data = refused.manifest["data"]
        assert (data["train_groups"], data["selection_groups"], data["comparison_groups"]) == (
            90,
            30,
            30,
        )
        selected = refused.manifest["selection_metrics"]
        assert selected[refused.version]["ndcg@10"] > selected["active: heuristic-1"]["ndcg@10"]
        assert refused.verdict.high < 0 and not refused.promoted
        assert refused.decision.startswith("kept the active ranker")
        assert (await store.active_model()) is None

        # March: the same signal throughout, the new model is clearly better: promoted.
        promoted = await train_and_register(
            store, tmp_path, config, since=march, promote=True, progress=False
        )
        assert promoted.verdict.low > 0 and promoted.promoted
        active = await store.active_model()
        assert active is not None and active.version == promoted.version
        summary = "\n".join(promoted.summary())
        assert "90 train / 30 selection / 30 comparison" in summary
        assert "95% paired bootstrap interval [+0." in summary
        assert "promotion  activated: lower bound +0." in summary

        # No new feeds since: the active model learned from every comparison feed, so there
        # is nothing to compare on, and nothing is promoted.
        again = await train_and_register(
            store, tmp_path, replace(config, seed=1), since=march, promote=True, progress=False
        )
        assert again.verdict.feeds == 0 and not again.promoted
        assert (
            again.decision == "kept the active ranker: no comparison feeds it has not learned from"
        )
        assert "30 comparison feeds are in the active model's data" in "\n".join(again.summary())
        active = await store.active_model()
        assert active is not None and active.version == promoted.version
