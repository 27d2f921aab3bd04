"""Rankers turn feature rows into scores. The LightGBM ranker implements the same protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from ranking.artifacts import read_artifact
from ranking.errors import ArtifactError
from ranking.features import NAMES


class Ranker(Protocol):
    version: str

    def score(self, features: np.ndarray) -> np.ndarray:
        """One score per feature row (higher is better)."""
        ...


class HeuristicRanker:
    """The hand-weighted score (`features.heuristic_score`): content similarity first,
    then co-saves, popularity and freshness.

    Serves whenever no trained model is active (a new install, an empty event log).
    """

    version = "heuristic-1"

    def __init__(self) -> None:
        self._column = NAMES.index("heuristic")

    def score(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features[:, self._column], dtype=np.float32)


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
