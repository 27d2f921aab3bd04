"""Rankers turn feature rows into scores. The LightGBM ranker implements the same protocol."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ranking.features import NAMES


class Ranker(Protocol):
    version: str

    def score(self, features: np.ndarray) -> np.ndarray:
        """One score per feature row (higher is better)."""
        ...


class HeuristicRanker:
    """A hand-weighted score: content similarity first, then popularity and freshness.

    Serves whenever no trained model is active (a new install, an empty event log).
    """

    version = "heuristic-1"
    WEIGHTS: dict[str, float] = {  # noqa: RUF012 - read-only table
        "sim_profile": 1.0,
        "sim_max": 0.6,
        "sim_interest": 0.6,
        "popularity": 0.08,
        "n_sources": 0.02,
    }
    FRESH_WEIGHT = 0.1
    FRESH_DAYS = 30.0

    def __init__(self) -> None:
        self._weights = np.zeros(len(NAMES), dtype=np.float32)
        for name, w in self.WEIGHTS.items():
            self._weights[NAMES.index(name)] = w
        self._age = NAMES.index("age_days")

    def score(self, features: np.ndarray) -> np.ndarray:
        age_days = np.expm1(features[:, self._age])
        freshness = np.exp(-age_days / self.FRESH_DAYS)
        return np.asarray(
            features @ self._weights + self.FRESH_WEIGHT * freshness, dtype=np.float32
        )
