"""Training pieces without a server: NDCG, time split, refusal of thin data, artifacts,
and the promotion gate (with PostgreSQL only for its one run through `train_and_register`)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from ranking.artifacts import read_artifact, write_artifact
from ranking.errors import ArtifactError, TrainingError
from ranking.features import NAMES
from ranking.model import LightGBMRanker, load_ranker
from storage.database import migrate
from storage.store import EventRow, Impression, LabelledImpression, PaperRow, Store
from tests.conftest import side_store
from tests.support import rows_for
from training.dataset import Dataset, LoadReport, from_rows
from training.train import (
    TrainConfig,
    _split,
    bootstrap_interval,
    compare_rankers,
    fit,
    judge,
    ndcg_at,
    train_and_register,
)

HEURISTIC = NAMES.index("heuristic")  # the column the heuristic ranker orders by


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
    windows = data.split_by_time(0.2, 0.3)
    assert [w.n_groups for w in windows] == [5, 2, 3]
    assert [r for w in windows for r in w.request_ids] == data.request_ids  # in time order


def test_too_few_labelled_feeds_is_refused_with_a_reason() -> None:
    data, report = from_rows(rows_for(5))
    with pytest.raises(TrainingError, match=r"only 5 served feeds have feedback.*at least 30"):
        _split(data, report, TrainConfig(min_groups=30))
    with pytest.raises(TrainingError, match=r"2 labelled feeds leave no feeds to train on"):
        _split(from_rows(rows_for(2))[0], report, TrainConfig(min_groups=2))
    windows = _split(data, report, TrainConfig(min_groups=5))
    assert [w.n_groups for w in windows] == [3, 1, 1]


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


class Column:
    """A ranker that orders by one feature: the active ranker in the gate's tests."""

    def __init__(self, column: int, scale: float = 1.0) -> None:
        self.column, self.scale, self.version = column, scale, f"column-{column}"

    def score(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features[:, self.column] * self.scale)


def trained(train: Dataset, selection: Dataset) -> LightGBMRanker:
    return LightGBMRanker(
        fit(train, selection, TrainConfig(), progress=False).model_to_string(), "new"
    )


def test_bootstrap_interval_is_reproducible_and_about_the_normal_one() -> None:
    differences = np.random.default_rng(3).normal(0.1, 1.0, size=400)
    low, high = bootstrap_interval(differences, 0.95, 2000, seed=0)
    assert (low, high) == bootstrap_interval(differences, 0.95, 2000, seed=0)
    assert low < differences.mean() < high
    normal_width = 2 * 1.96 * differences.std(ddof=1) / np.sqrt(len(differences))
    assert high - low == pytest.approx(normal_width, rel=0.1)
    assert bootstrap_interval(np.full(50, 0.25)) == pytest.approx((0.25, 0.25))
    assert bootstrap_interval(np.zeros(0)) == (0.0, 0.0)


def test_the_gate_refuses_a_model_that_wins_only_on_the_window_it_was_selected_on() -> None:
    # Readers' taste shifts in the latest feeds: saves followed feature 0, now they follow
    # the feature the active ranker orders by. Trained and selected on the earlier feeds,
    # the new model wins there; on the comparison window it loses.
    shifted = lambda feed: 0 if feed < 240 else HEURISTIC  # noqa: E731
    train, selection, comparison = from_rows(rows_for(300, decided_by=shifted))[0].split_by_time(
        0.2, 0.2
    )
    model, active = trained(train, selection), Column(HEURISTIC)
    on_its_selection_window = judge(model, active, selection)
    assert on_its_selection_window.passes and on_its_selection_window.low > 0.3
    verdict = judge(model, active, comparison)
    assert verdict.high < 0 and not verdict.passes
    assert verdict.feeds == comparison.n_groups == 60


def test_the_gate_promotes_a_clearly_better_model_and_never_a_tie() -> None:
    train, selection, comparison = from_rows(rows_for(300))[0].split_by_time(0.2, 0.2)
    model, active = trained(train, selection), Column(HEURISTIC)
    verdict = judge(model, active, comparison, baseline_name="active: column")
    assert verdict.passes and verdict.low > 0.2 and verdict.new > 0.9
    assert verdict.baseline == "active: column" and "interval [+0." in verdict.describe()
    # ... unless its gain is not surely above the margin asked for.
    assert not judge(model, active, comparison, margin=verdict.low + 0.01).passes

    # A tie (the same order, on other scales) is not promoted, nor is a difference in noise.
    tie = judge(Column(0), Column(0, scale=2.0), comparison)
    assert (tie.difference, tie.low, tie.high) == (0.0, 0.0, 0.0) and not tie.passes
    noise = judge(Column(1), Column(2), comparison)
    assert noise.low < 0 < noise.high and not noise.passes


async def log_feeds(store: Store, rows: list[LabelledImpression]) -> None:
    """Log `rows` as served feeds, with a save naming the feed for each labelled paper,
    as the server and a frontend would."""
    ids = sorted({r.paper_id for r in rows})
    await store.upsert_papers([PaperRow(i, i, "", [], [], None, None, i) for i in ids])
    feeds: dict[uuid.UUID, list[LabelledImpression]] = {}
    for r in rows:
        feeds.setdefault(r.request_id, []).append(r)
    for request_id, feed in feeds.items():
        shown = [Impression(r.position, r.paper_id, 0.0, r.features) for r in feed]
        served = feed[0].served_at
        await store.log_feed(
            request_id, "reader", served, "heuristic-1", "s", NAMES, len(feed), shown
        )
    saves = [
        EventRow(
            f"{r.request_id}-{r.position}",
            "reader",
            r.paper_id,
            "save",
            r.served_at + timedelta(minutes=1),
            r.request_id,
        )
        for r in rows
        if r.label
    ]
    await store.record_events(saves)


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
