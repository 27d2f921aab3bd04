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


@dataclass(frozen=True)
class Tally:
    """Papers shown and clicked in exploration slots, per position (index = position).
    Tallies of separate parts of the data add up to the tally of the whole."""

    shown: np.ndarray
    clicks: np.ndarray

    def __add__(self, other: Tally) -> Tally:
        n = max(len(self.shown), len(other.shown))
        return Tally(
            _padded(self.shown, n) + _padded(other.shown, n),
            _padded(self.clicks, n) + _padded(other.clicks, n),
        )


def _padded(counts: np.ndarray, n: int) -> np.ndarray:
    return np.pad(counts, (0, n - len(counts)))


def tally(data: Dataset) -> Tally:
    """The exploration slots' shown and clicked counts by position in `data`."""
    explored = data.explored
    positions = data.positions[explored]
    n = int(positions.max()) + 1 if len(positions) else 0
    clicked = data.labels[explored] > 0
    return Tally(
        np.bincount(positions, minlength=n).astype(np.int64),
        np.bincount(positions[clicked], minlength=n).astype(np.int64),
    )


def estimate(data: Dataset) -> Examination:
    """Fit the exponent to the click rate by position of explored papers."""
    return fit(tally(data))


def fit(counts: Tally) -> Examination:
    """Fit the exponent to the click rate by position in `counts` (log-log, weighted by
    papers shown); no correction below MIN_EXPLORED_CLICKS clicks."""
    n_clicks = int(counts.clicks.sum())
    if n_clicks < MIN_EXPLORED_CLICKS:
        return Examination(0.0, n_clicks)
    xs, ys, ws = [], [], []
    for position, (shown, clicks) in enumerate(zip(counts.shown, counts.clicks, strict=True)):
        if shown >= MIN_PER_POSITION and clicks > 0:
            xs.append(np.log1p(position))
            ys.append(np.log(clicks / shown))
            ws.append(int(shown))
    if len(xs) < 2:
        return Examination(0.0, n_clicks)
    slope = np.polyfit(xs, ys, 1, w=np.sqrt(ws))[0]
    return Examination(float(np.clip(-slope, 0.0, 2.0)), n_clicks)
