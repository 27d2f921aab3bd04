"""Training data: logged impressions joined with the feedback they led to.

One query group per served feed; the features are the ones the ranker saw when it served
the feed (logged in `impressions`), so training and serving cannot drift apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate, pairwise

import numpy as np

from ranking.features import NAMES
from storage.rows import LabelledImpression
from storage.store import Store


@dataclass(frozen=True, slots=True)
class Gains:
    """Relevance label of an impression, from the best feedback it got."""

    save: int = 3
    click: int = 1
    dismiss: int = 0


DEFAULT_GAINS = Gains()


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray  # (rows, len(NAMES)) float32
    labels: np.ndarray  # (rows,) int
    positions: np.ndarray  # (rows,) slot in the served feed
    explored: np.ndarray  # (rows,) bool: shown in a random exploration slot
    group_sizes: np.ndarray  # (groups,) rows per feed, in time order
    served_at: list[datetime]  # per group
    request_ids: list[uuid.UUID]  # per group
    model_versions: list[str]  # per group: the ranker that served it

    @property
    def n_groups(self) -> int:
        return len(self.group_sizes)

    @property
    def n_rows(self) -> int:
        return len(self.labels)

    def groups(self, which: Sequence[int] | np.ndarray) -> Dataset:
        """The dataset of the groups at positions `which` (kept in their order)."""
        starts = np.concatenate([[0], np.cumsum(self.group_sizes)])
        rows = np.concatenate(
            [np.arange(starts[g], starts[g + 1]) for g in which] or [np.zeros(0, np.int64)]
        ).astype(np.int64)
        return Dataset(
            self.features[rows],
            self.labels[rows],
            self.positions[rows],
            self.explored[rows],
            self.group_sizes[list(which)],
            [self.served_at[g] for g in which],
            [self.request_ids[g] for g in which],
            [self.model_versions[g] for g in which],
        )

    def split_by_time(self, *shares: float) -> tuple[Dataset, ...]:
        """Consecutive windows in time order, never a random split: the earliest groups,
        then one window per share (each at least one group), the last share latest. For
        example `split_by_time(0.2, 0.2)` gives (first 60%, next 20%, latest 20%)."""
        bounds = window_bounds(self.n_groups, shares)
        return tuple(self.groups(range(a, b)) for a, b in pairwise(bounds))


def window_bounds(n_groups: int, shares: Sequence[float]) -> list[int]:
    """Group indices that cut `n_groups` groups in time order into the windows of
    `Dataset.split_by_time` (the first window, then one per share): [0, ..., n_groups].
    ValueError if the first window would be empty."""
    sizes = [max(1, round(n_groups * share)) for share in shares]
    bounds = list(accumulate([n_groups - sum(sizes), *sizes], initial=0))
    if bounds[1] < 1:
        raise ValueError(f"{n_groups} groups cannot fill {len(shares) + 1} windows")
    return bounds


# LightGBM finds each feature's bin boundaries on at most this many rows (its default
# bin_construct_sample_cnt); `bin_feeds` chooses them.
BIN_ROWS = 200_000


def bin_share(rows: int) -> float:
    """The share of a training window's feeds whose rows set the feature bins."""
    return min(1.0, BIN_ROWS / rows) if rows else 1.0


def bin_feeds(data: Dataset, share: float) -> Dataset:
    """The feeds of `data` whose rows set the feature bins: chosen by request id (random
    UUIDs), so that one process and any partitioning of the same feeds choose the same
    ones, and with them the same bins (training/cluster.py)."""
    if share >= 1.0:
        return data
    cut = int(share * 2**128)
    return data.groups([g for g, r in enumerate(data.request_ids) if r.int < cut])


def concat(parts: Sequence[Dataset]) -> Dataset:
    """One dataset of `parts`' groups, in the order given (for example partitions read
    separately)."""
    if not parts:
        return from_rows([])[0]
    return Dataset(
        np.concatenate([p.features for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.positions for p in parts]),
        np.concatenate([p.explored for p in parts]),
        np.concatenate([p.group_sizes for p in parts]),
        [t for p in parts for t in p.served_at],
        [r for p in parts for r in p.request_ids],
        [v for p in parts for v in p.model_versions],
    )


@dataclass(frozen=True)
class LoadReport:
    feeds: int  # feeds served in the window
    unlabelled: int  # feeds without any feedback (they teach a ranker nothing)
    other_features: int  # feeds logged with another feature set


def from_rows(rows: Sequence[LabelledImpression]) -> tuple[Dataset, LoadReport]:
    """Build a dataset from labelled impressions (ordered by time, feed, position)."""
    by_feed: dict[uuid.UUID, list[LabelledImpression]] = {}
    for row in rows:
        by_feed.setdefault(row.request_id, []).append(row)
    feats: list[list[float]] = []
    labels: list[int] = []
    positions: list[int] = []
    explored: list[bool] = []
    sizes: list[int] = []
    served: list[datetime] = []
    ids: list[uuid.UUID] = []
    versions: list[str] = []
    unlabelled = other = 0
    for request_id, feed in by_feed.items():
        first = feed[0]
        if tuple(first.feature_names) != NAMES:
            other += 1
            continue
        feed_labels = [r.label for r in feed]
        if not any(feed_labels):
            unlabelled += 1
            continue
        feats.extend(r.features for r in feed)
        labels.extend(feed_labels)
        positions.extend(r.position for r in feed)
        explored.extend(r.explored for r in feed)
        sizes.append(len(feed))
        served.append(first.served_at)
        ids.append(request_id)
        versions.append(first.model_version)
    dataset = Dataset(
        np.asarray(feats, dtype=np.float32).reshape(-1, len(NAMES)),
        np.asarray(labels, dtype=np.int32),
        np.asarray(positions, dtype=np.int64),
        np.asarray(explored, dtype=bool),
        np.asarray(sizes, dtype=np.int64),
        served,
        ids,
        versions,
    )
    return dataset, LoadReport(len(by_feed), unlabelled, other)


async def load_dataset(
    store: Store,
    since: datetime,
    until: datetime,
    attribution_hours: float = 24.0,
    gains: Gains = DEFAULT_GAINS,
    part: tuple[int, int] = (0, 1),
) -> tuple[Dataset, LoadReport]:
    """Labelled feeds served in [since, until); with `part` (i, n), only those of the
    readers in hash part i of n."""
    rows = await store.training_impressions(
        since, until, attribution_hours, (gains.save, gains.click, gains.dismiss), part
    )
    return from_rows(rows)
