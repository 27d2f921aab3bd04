"""Catalogue statistics over collaborative models loaded from an artifact: the same signals
as over the models just fitted, read from memory-mapped files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ranking import collab
from ranking.artifacts import load_collab, write_collab
from ranking.collab import CollabParams
from ranking.stats import EMPTY_COUNTS, CatalogueStats, PaperCounts, PaperStats
from tests.support import PAPERS, READERS


def test_a_snapshot_over_a_loaded_artifact_gives_the_fitted_signals(tmp_path: Path) -> None:
    readers, papers = np.r_[READERS, 3, 3], np.r_[PAPERS, 30, 20]
    fitted = collab.fit(readers, papers, CollabParams(factors=2))
    write_collab(tmp_path, "collab-1", fitted, {})
    counts = {10: PaperStats(saves_7d=2), 20: PaperStats(saves_7d=3)}
    served = CatalogueStats.build("s", counts, load_collab(tmp_path / "collab" / "collab-1"))
    offline = CatalogueStats.from_saves("s", counts, readers, papers, CollabParams(factors=2))
    assert served.models.version == "collab-1" and offline.models.version == "none"
    assert served.popular(5) == offline.popular(5) == [(20, 9.0), (10, 6.0)]
    for history in ([10], [30, 20], [99]):
        for signal in ("cosave_scores", "related_scores", "ease_scores"):
            got, want = getattr(served, signal)(history), getattr(offline, signal)(history)
            assert got.keys.tolist() == want.keys.tolist()
            assert got.values.tolist() == pytest.approx(want.values.tolist())
        np.testing.assert_allclose(served.taste(history), offline.taste(history), rtol=1e-5)
    assert served.models.cosaves[30] == {10: 1, 20: 1}


def test_counts_add_up_by_key_and_drop_papers_left_with_nothing() -> None:
    counts = PaperCounts.of_columns(
        [7, 3, 7], [[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1], [0, 5, 0]]
    )
    assert counts.keys.tolist() == [3, 7]
    assert counts.as_dict() == {3: PaperStats(impressions_30d=5), 7: PaperStats(2, 1, 2, 1, 0)}
    gone = counts.plus(PaperCounts.of_columns([3], [[0], [0], [0], [0], [5]]), sign=-1)
    assert gone.as_dict() == {7: PaperStats(2, 1, 2, 1, 0)}
    assert counts.lookup([9, 7, 0, 3]).tolist() == [
        [0] * 5,
        [2, 1, 2, 1, 0],
        [0] * 5,
        [0, 0, 0, 0, 5],
    ]
    assert EMPTY_COUNTS.lookup([1]).tolist() == [[0] * 5] and EMPTY_COUNTS.lookup([]).shape == (
        0,
        5,
    )


def test_a_snapshot_ranks_popular_papers_and_smooths_rates_towards_the_catalogues() -> None:
    stats = CatalogueStats.build(
        "s",
        {
            1: PaperStats(clicks_7d=3),
            2: PaperStats(saves_7d=1, clicks_30d=10, impressions_30d=80),
            3: PaperStats(clicks_30d=2, impressions_30d=20),
        },
    )
    # 3 clicks and 1 save (worth 3) tie: the newer paper (larger key) first.
    assert stats.popular(5) == [(2, 3.0), (1, 3.0)] and stats.popular(1) == [(2, 3.0)]
    assert stats.click_rate == (12 + 1) / (100 + 10)
    clicks, saves = stats.smoothed_rates(stats.counts.lookup([2, 5]))
    assert clicks.tolist() == pytest.approx([(10 + 20 * stats.click_rate) / 100, stats.click_rate])
    assert saves.tolist() == pytest.approx([20 * stats.save_rate / 100, stats.save_rate])
    assert (
        stats.of(3) == PaperStats(clicks_30d=2, impressions_30d=20) and stats.of(4) == PaperStats()
    )


def test_adding_and_taking_away_counts_matches_sums_by_key() -> None:
    rng = np.random.default_rng(0)
    totals: dict[int, np.ndarray] = {}
    counts = EMPTY_COUNTS
    for step in range(30):
        keys = rng.choice(60, size=int(rng.integers(0, 25)))  # repeated keys are summed
        values = rng.integers(0, 3, size=(len(keys), 5))
        sign = 1 if step % 3 else -1  # taking away what an earlier step may not have added
        counts = counts.plus(PaperCounts.of_columns(keys.tolist(), values.T.tolist()), sign)
        for k, v in zip(keys.tolist(), values, strict=True):
            totals[k] = totals.get(k, np.zeros(5, dtype=np.int64)) + sign * v
    want = {k: v.tolist() for k, v in sorted(totals.items()) if v.any()}
    assert counts.keys.tolist() == list(want)
    assert counts.values.tolist() == list(want.values())
