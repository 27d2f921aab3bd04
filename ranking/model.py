"""Rankers turn feature rows into scores. The LightGBM ranker implements the same protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from ranking.artifacts import ArtifactError, read_artifact
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
        "cosave": 0.1,
        "saves_7d": 0.05,
        "clicks_7d": 0.03,
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


class LightGBMRanker:
    """A trained LightGBM lambdarank model; `version` names its artifact."""

    def __init__(self, model_text: str, version: str) -> None:
        import lightgbm

        try:
            self.booster = lightgbm.Booster(model_str=model_text)
        except lightgbm.basic.LightGBMError as exc:
            raise ArtifactError(f"model {version} cannot be loaded by LightGBM: {exc}") from exc
        if self.booster.num_feature() != len(NAMES):
            expects = self.booster.num_feature()
            raise ArtifactError(
                f"model {version} expects {expects} features, code has {len(NAMES)}"
            )
        self.version = version

    def score(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0, dtype=np.float32)
        # One thread: a server answers many small requests at once.
        scores = self.booster.predict(features, num_threads=1)
        return np.asarray(scores, dtype=np.float32)


def load_ranker(path: Path) -> LightGBMRanker:
    """The ranker stored in the artifact folder `path` (raises ArtifactError if unusable)."""
    model_text, manifest = read_artifact(path)
    return LightGBMRanker(model_text, str(manifest["version"]))
