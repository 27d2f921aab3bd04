"""Helpers that several test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from ranking.features import NAMES
from storage.store import LabelledImpression


def rows_for(n_feeds: int, size: int = 5, seed: int = 0) -> list[LabelledImpression]:
    """Synthetic logged feeds, one a minute, where feature 0 decides what gets saved."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for f in range(n_feeds):
        request_id = uuid.UUID(int=f + 1)
        features = rng.normal(size=(size, len(NAMES))).astype(np.float32)
        best = int(np.argmax(features[:, 0]))
        for position in range(size):
            rows.append(
                LabelledImpression(
                    request_id=request_id,
                    served_at=start + timedelta(minutes=f),
                    position=position,
                    paper_id=f"p{f}-{position}",
                    features=features[position].tolist(),
                    propensity=1.0,
                    explored=False,
                    feature_names=list(NAMES),
                    model_version="heuristic-1",
                    label=3 if position == best else 0,
                )
            )
    return rows
