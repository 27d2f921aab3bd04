"""What readers did with what they were shown: click and save rates of logged impressions,
grouped by any key (position, the model version that served them, exploration slot or
not), with the mean propensity of the papers in each group. For analysis, for example
`notebooks/position_bias.ipynb`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from storage.rows import LabelledImpression
from training.dataset import DEFAULT_GAINS, Gains

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

K = TypeVar("K", bound="SupportsRichComparison")  # sortable (and hashable) keys


@dataclass(frozen=True)
class Rates:
    """Impressions shown, clicked (or saved: a saved paper was looked at), saved, and the
    sum of their logged propensities (the chance the ranker's randomness put them there)."""

    shown: int = 0
    clicks: int = 0
    saves: int = 0
    propensity_sum: float = 0.0

    @property
    def click_rate(self) -> float:
        return self.clicks / self.shown if self.shown else 0.0

    @property
    def save_rate(self) -> float:
        return self.saves / self.shown if self.shown else 0.0

    @property
    def mean_propensity(self) -> float:
        return self.propensity_sum / self.shown if self.shown else 0.0


def rates_by(
    rows: Sequence[LabelledImpression],
    key: Callable[[LabelledImpression], K],
    gains: Gains = DEFAULT_GAINS,
) -> dict[K, Rates]:
    """Rates of `rows` (as `Store.training_impressions` labels them with `gains`) per
    `key(row)`, in key order."""
    counts: dict[K, list[float]] = {}
    for row in rows:
        c = counts.setdefault(key(row), [0, 0, 0, 0.0])
        c[0] += 1
        c[1] += row.label in (gains.click, gains.save)
        c[2] += row.label == gains.save
        c[3] += row.propensity
    return {
        k: Rates(int(c[0]), int(c[1]), int(c[2]), c[3])
        for k, c in sorted(counts.items(), key=lambda kv: kv[0])
    }
