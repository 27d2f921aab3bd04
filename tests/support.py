"""Helpers that several test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from ranking.features import NAMES
from storage.store import LabelledImpression


def rows_for(
    n_feeds: int,
    size: int = 5,
    seed: int = 0,
    decided_by: Callable[[int], int] = lambda feed: 0,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
) -> list[LabelledImpression]:
    """Synthetic logged feeds, one a minute from `start`, where one feature decides what
    gets saved: feature `decided_by(f)` in the f-th feed (by default always feature 0)."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(n_feeds):
        request_id = uuid.UUID(int=(seed << 32) + f + 1)
        features = rng.normal(size=(size, len(NAMES))).astype(np.float32)
        best = int(np.argmax(features[:, decided_by(f)]))
        for position in range(size):
            rows.append(
                LabelledImpression(
                    request_id=request_id,
                    served_at=start + timedelta(minutes=f),
                    position=position,
                    paper_id=f"paper-{position}",
                    features=features[position].tolist(),
                    propensity=1.0,
                    explored=False,
                    feature_names=list(NAMES),
                    model_version="heuristic-1",
                    label=3 if position == best else 0,
                )
            )
    return rows
