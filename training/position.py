"""Position bias: how likely a reader is to look at each slot of a feed.

Papers in exploration slots are random candidates, so their relevance does not depend on
the slot; their click rate by slot therefore traces how often each slot is examined
(Joachims et al., "Unbiased learning-to-rank with biased feedback", 2017). Evaluating with
gains divided by that probability removes the head start the logging ranker has on data it
ordered itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.dataset import Dataset

# Below this many clicks in exploration slots the estimate is noise: assume no bias.
MIN_EXPLORED_CLICKS = 30
MIN_PER_POSITION = 10


@dataclass(frozen=True)
class Examination:
    """P(examined at 0-based position p) = (1 + p) ** -exponent."""

    exponent: float
    explored_clicks: int

    def probability(self, positions: np.ndarray) -> np.ndarray:
        return np.asarray((1.0 + positions) ** -self.exponent, dtype=np.float64)

    def describe(self) -> str:
        if self.exponent == 0.0 and self.explored_clicks < MIN_EXPLORED_CLICKS:
            return (
                f"not corrected (only {self.explored_clicks} clicks in exploration slots; "
                f"{MIN_EXPLORED_CLICKS} needed)"
            )
        return (
            f"examination ∝ (1+position)^-{self.exponent:.2f}, "
            f"from {self.explored_clicks} clicks in exploration slots"
        )


def estimate(data: Dataset) -> Examination:
    """Fit the exponent to the click rate by position of explored papers."""
    explored = data.explored
    clicked = data.labels > 0
    n_clicks = int((explored & clicked).sum())
    if n_clicks < MIN_EXPLORED_CLICKS:
        return Examination(0.0, n_clicks)
    xs, ys, ws = [], [], []
    for position in np.unique(data.positions[explored]):
        here = explored & (data.positions == position)
        shown, clicks = int(here.sum()), int((here & clicked).sum())
        if shown >= MIN_PER_POSITION and clicks > 0:
            xs.append(np.log1p(position))
            ys.append(np.log(clicks / shown))
            ws.append(shown)
    if len(xs) < 2:
        return Examination(0.0, n_clicks)
    slope = np.polyfit(xs, ys, 1, w=np.sqrt(ws))[0]
    return Examination(float(np.clip(-slope, 0.0, 2.0)), n_clicks)
