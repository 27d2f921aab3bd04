"""Why a LightGBM ranker scores as it does: per-feature contributions (SHAP values, from
LightGBM's `pred_contrib`), averaged over feature rows."""

from __future__ import annotations

import numpy as np

from ranking.features import NAMES
from ranking.model import LightGBMRanker


def contributions(ranker: LightGBMRanker, features: np.ndarray) -> dict[str, float]:
    """Mean absolute contribution of each feature to the scores of `features` (rows x
    len(NAMES)), largest first. Contributions of a row sum, with LightGBM's bias term,
    to its score, so they are in score units and comparable between features."""
    if len(features) == 0:
        return dict.fromkeys(NAMES, 0.0)
    contrib = np.asarray(ranker.booster.predict(features, pred_contrib=True))
    mean = np.abs(contrib[:, : len(NAMES)]).mean(axis=0)
    return dict(sorted(zip(NAMES, mean.tolist(), strict=True), key=lambda kv: -kv[1]))
