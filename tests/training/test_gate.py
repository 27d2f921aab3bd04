"""The promotion gate on hand-made feeds (training.gate)."""

from __future__ import annotations

import numpy as np

from ranking.model import LightGBMRanker
from tests.support import HEURISTIC, rows_for
from training.dataset import Dataset, from_rows
from training.gate import judge
from training.train import TrainConfig, fit


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
