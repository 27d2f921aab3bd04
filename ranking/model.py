"""Rankers turn feature rows into scores. The LightGBM ranker implements the same protocol."""

from __future__ import annotations

import importlib.metadata
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ranking.artifacts import read_artifact
from ranking.errors import ArtifactError
from ranking.features import FRESH_DAYS, FRESH_WEIGHT, HEURISTIC_WEIGHTS, NAMES

# The column of `contributions` that holds what no feature explains (LightGBM's expected
# value; 0 for the heuristic).
BIAS = "bias"


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

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """(n, len(NAMES) + 1): the heuristic's terms (`features.heuristic_score`), each
        under the feature it weighs (freshness under `age_days`); the last column, the
        bias, is 0. Rows sum to the score."""
        out = np.zeros((len(features), len(NAMES) + 1), dtype=np.float64)
        for name, weight in HEURISTIC_WEIGHTS.items():
            column = NAMES.index(name)
            out[:, column] = weight * features[:, column].astype(np.float64)
        age = NAMES.index("age_days")
        out[:, age] = FRESH_WEIGHT * np.exp(
            -np.expm1(features[:, age].astype(np.float64)) / FRESH_DAYS
        )
        return out


def compile_booster(model_text: str, model_sha256: str, cache_dir: Path) -> Any | None:
    """The model compiled to machine code by lleaves (LLVM), cached in `cache_dir` by the
    model's SHA-256 and lleaves' version (compiling takes seconds; loading the cached
    object file does not); None where lleaves cannot (not installed, or failing).

    Why: LightGBM's `Booster.predict` costs milliseconds per call for a feed's 500
    candidates whatever the model's size (bench/scoring.py); the compiled model scores
    them in a fraction of a millisecond, to within 1e-12 of the booster."""
    try:
        import lleaves

        version = importlib.metadata.version("lleaves")
        cache_dir.mkdir(parents=True, exist_ok=True)
        final = cache_dir / f"{model_sha256}-lleaves-{version}.o"
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            text = Path(tmp) / "model.txt"
            text.write_text(model_text)
            model = lleaves.Model(model_file=str(text))
            if final.exists():
                model.compile(cache=str(final))
            else:  # compiled aside and renamed: another process never reads half a file
                aside = Path(tmp) / final.name
                model.compile(cache=str(aside))
                os.replace(aside, final)
        return model
    except Exception:  # no compiler here: the booster scores, only slower
        return None


class LightGBMRanker:
    """A trained LightGBM lambdarank model; `version` names its artifact. Scores come from
    the model compiled by lleaves when `compiled` is given (`load_ranker`), else from
    LightGBM's own predict; `contributions` always from LightGBM."""

    def __init__(self, model_text: str, version: str, compiled: Any | None = None) -> None:
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
        self.compiled = compiled

    def score(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0, dtype=np.float32)
        # One thread: a server answers many small requests at once.
        if self.compiled is not None:
            rows = np.ascontiguousarray(features, dtype=np.float64)
            return np.asarray(self.compiled.predict(rows, n_jobs=1), dtype=np.float32)
        scores = self.booster.predict(features, num_threads=1)
        return np.asarray(scores, dtype=np.float32)

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """(n, len(NAMES) + 1): LightGBM's SHAP values per feature (`pred_contrib`), the
        last column the model's expected value. Rows sum to the score."""
        if len(features) == 0:
            return np.zeros((0, len(NAMES) + 1), dtype=np.float64)
        values = self.booster.predict(features, num_threads=1, pred_contrib=True)
        return np.asarray(values, dtype=np.float64)


def contributions(ranker: Ranker, features: np.ndarray) -> list[dict[str, float]] | None:
    """Per row of `features`: how much each feature added to `ranker`'s score (features
    that added nothing left out, `BIAS` for the rest), summing to the score; None for a
    ranker that cannot say."""
    if not isinstance(ranker, HeuristicRanker | LightGBMRanker):
        return None
    names = (*NAMES, BIAS)
    return [
        {name: float(v) for name, v in zip(names, row, strict=True) if v != 0.0}
        for row in ranker.contributions(features)
    ]


def load_ranker(path: Path, compile_model: bool = True) -> LightGBMRanker:
    """The ranker stored in the artifact folder `path` (raises ArtifactError if unusable),
    compiled (`compile_booster`, cached in `.compiled/` beside the artifacts) unless
    `compile_model` is false. Slow the first time for a model: call it off the event loop."""
    model_text, manifest = read_artifact(path)
    ranker = LightGBMRanker(model_text, str(manifest["version"]))
    if compile_model:
        digest = str(manifest["model_sha256"])
        ranker.compiled = compile_booster(model_text, digest, path.parent / ".compiled")
    return ranker
