"""Catalogue statistics over collaborative models loaded from an artifact: the same signals
as over the models just fitted, read from memory-mapped files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ranking import collab
from ranking.artifacts import load_collab, write_collab
from ranking.collab import CollabParams
from ranking.stats import CatalogueStats, PaperStats
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
        assert served.cosave_scores(history) == offline.cosave_scores(history)
        for signal in ("related_scores", "ease_scores"):
            got, want = getattr(served, signal)(history), getattr(offline, signal)(history)
            assert got.keys.tolist() == want.keys.tolist()
            assert got.values.tolist() == pytest.approx(want.values.tolist())
        np.testing.assert_allclose(served.taste(history), offline.taste(history), rtol=1e-5)
    assert served.models.cosaves[30] == {10: 1, 20: 1}
