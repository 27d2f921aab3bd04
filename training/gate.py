"""The promotion gate: does a new ranker beat the active one on feeds neither was trained
or selected on? Per-feed NDCG@10, paired by feed, with a bootstrap interval."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ranking.model import Ranker
from training.dataset import Dataset
from training.metrics import bootstrap_interval, ndcg_at, ndcg_by_group
from training.position import Examination


def debiasing_weights(data: Dataset, examination: Examination | None) -> np.ndarray | None:
    return None if examination is None else 1.0 / examination.probability(data.positions)


def compare_rankers(
    rankers: Mapping[str, Ranker], data: Dataset, examination: Examination | None = None
) -> dict[str, dict[str, float]]:
    """NDCG@5/@10 of each ranker on the same groups, position-debiased if `examination`
    is given (a click low in a feed counts more than one at the top)."""
    weights = debiasing_weights(data, examination)
    out = {}
    for name, ranker in rankers.items():
        scores = ranker.score(data.features)
        out[name] = {
            f"ndcg@{k}": round(ndcg_at(scores, data.labels, data.group_sizes, k, weights), 4)
            for k in (5, 10)
        }
    return out


@dataclass(frozen=True)
class Verdict:
    """The promotion gate on the comparison window: per-feed NDCG@10 of the new model
    minus the baseline's (the active ranker), their mean and its paired bootstrap interval."""

    baseline: str
    feeds: int
    new: float  # mean NDCG@10 of the new model
    old: float  # mean NDCG@10 of the baseline
    difference: float  # mean of per-feed new - old
    low: float
    high: float
    confidence: float
    resamples: int
    margin: float

    @property
    def passes(self) -> bool:
        """The rule: promote only if the interval's lower bound is above the margin (>= 0),
        so a tie, or a gain within the noise, is never promoted."""
        return self.low > self.margin

    def describe(self) -> str:
        return (
            f"NDCG@10 {self.new:.4f} vs {self.old:.4f} ({self.baseline}) on {self.feeds} "
            f"comparison feeds: difference {self.difference:+.4f}, {self.confidence:.0%} "
            f"paired bootstrap interval [{self.low:+.4f}, {self.high:+.4f}]"
        )


RULE = (
    "Promoted only if the lower bound of the paired bootstrap interval of the per-feed "
    "NDCG@10 difference (new - active) on the comparison window is above the margin, so a "
    "tie is never promoted; --force activates regardless."
)


def judge(
    new: Ranker,
    baseline: Ranker,
    comparison: Dataset,
    examination: Examination | None = None,
    *,
    margin: float = 0.0,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    baseline_name: str | None = None,
) -> Verdict:
    """The gate's verdict on `comparison` feeds, which neither ranker may have been trained
    or selected on: per-feed (position-debiased) NDCG@10 of `new` minus `baseline`, paired
    by feed, with a bootstrap interval at `confidence` (`resamples` resamplings, `seed`)."""
    weights = debiasing_weights(comparison, examination)
    ours, theirs = (
        ndcg_by_group(
            r.score(comparison.features), comparison.labels, comparison.group_sizes, 10, weights
        )
        for r in (new, baseline)
    )
    low, high = bootstrap_interval(ours - theirs, confidence, resamples, seed)
    n = comparison.n_groups
    return Verdict(
        baseline_name or baseline.version,
        n,
        float(ours.mean()) if n else 0.0,
        float(theirs.mean()) if n else 0.0,
        float((ours - theirs).mean()) if n else 0.0,
        low,
        high,
        confidence,
        resamples,
        margin,
    )
