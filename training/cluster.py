"""Training on a Dask cluster (`paperfeed train --dask-scheduler`), for logs that outgrow
one process.

What runs where:
- This process asks PostgreSQL where to cut the feeds into time ranges of about equal
  size (a range never splits a feed, so lambdarank's groups stay whole), and afterwards
  compares, gates, writes the artifact and registers it exactly as single-process training
  does (`training.train.train_and_register`).
- One Dask task per time range reads its labelled feeds from PostgreSQL with the same
  query and the same `training.dataset.from_rows` as single-process training, and keeps
  them in the worker's memory. Only small facts come back: feeds per range, exploration
  counts for the position-bias estimate.
- LightGBM's Dask interface (`DaskLGBMRanker`) trains data-parallel on the training
  window's pieces where they lie, each worker one LightGBM machine.
- The selection and comparison windows (the latest 20% + 20% of feeds by default) are
  gathered here: the gate's paired bootstrap needs every comparison feed, and the number
  of trees is chosen on the selection window's NDCG@10 curve by the rule early stopping
  applies in one process (`choose_trees`), since LightGBM cannot stop early on Dask.

Differences from one process: LightGBM's Dask interface (lightgbm 4.7's `DaskLGBMRanker`,
like `LGBMRanker`) takes no `position`, so the model cannot learn the position bias jointly
as one process does by default (`TrainConfig.position_bias`); the evaluation and the gate
are debiased all the same. Measured on simulated feeds, that costs about 3-4% of debiased
NDCG@10; with `position_bias=False` in both, the engines match. All `rounds` trees are built
before their number is chosen, and feature bins and bagging are drawn per worker. The
manifest's `engine` says how a model was trained.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from functools import reduce
from itertools import accumulate, pairwise
from typing import TYPE_CHECKING, Any

import lightgbm
import numpy as np
from tqdm import tqdm

from ranking.errors import TrainingError
from ranking.features import NAMES
from storage.store import Store
from training.dataset import Dataset, Gains, LoadReport, concat, load_dataset
from training.metrics import ndcg_at
from training.position import Tally, tally
from training.position import fit as fit_examination
from training.train import Fitted, TrainConfig, choose_trees, window_plan

if TYPE_CHECKING:
    from distributed import Client, Future


Range = tuple[datetime, datetime]


def time_ranges(since: datetime, until: datetime, cuts: Sequence[datetime]) -> list[Range]:
    """Consecutive [start, end) ranges from `since` to `until`, cut at `cuts`."""
    inner = sorted({c for c in cuts if since < c < until})
    return list(pairwise([since, *inner, until]))


def read_partition(
    database_url: str, since: datetime, until: datetime, attribution_hours: float, gains: Gains
) -> tuple[Dataset, LoadReport]:
    """On a worker: the labelled feeds served in [since, until), from PostgreSQL."""

    async def read() -> tuple[Dataset, LoadReport]:
        store = await Store.connect(database_url, max_size=1)
        try:
            return await load_dataset(store, since, until, attribution_hours, gains)
        finally:
            await store.close()

    return asyncio.run(read())


@dataclass(frozen=True)
class PartitionFacts:
    """What the driver needs to know about a partition without fetching it."""

    group_sizes: np.ndarray
    exploration: Tally
    loaded: LoadReport
    first_served: datetime | None


def describe(partition: tuple[Dataset, LoadReport]) -> PartitionFacts:
    data, loaded = partition
    first = data.served_at[0] if data.n_groups else None
    return PartitionFacts(data.group_sizes, tally(data), loaded, first)


def take_groups(partition: tuple[Dataset, LoadReport], start: int, stop: int) -> Dataset:
    return partition[0].groups(range(start, stop))


def features_of(data: Dataset) -> np.ndarray:
    return data.features


def labels_of(data: Dataset) -> np.ndarray:
    return data.labels


def group_sizes_of(data: Dataset) -> np.ndarray:
    return data.group_sizes


@dataclass(frozen=True)
class Piece:
    """One partition's share of a window, in worker memory."""

    future: Future[Dataset]
    rows: int
    groups: int


def selection_curve(booster: lightgbm.Booster, selection: Dataset) -> list[float]:
    """NDCG@10 on `selection` after each tree, as LightGBM's early stopping watches it."""
    scores = np.zeros(selection.n_rows)
    curve = []
    for i in range(booster.current_iteration()):
        scores += booster.predict(
            selection.features, start_iteration=i, num_iteration=1, raw_score=True
        )
        curve.append(ndcg_at(scores, selection.labels, selection.group_sizes, 10))
    return curve


@dataclass
class DaskTrainer:
    """A `training.train.Trainer` that reads and trains on a Dask cluster. The workers
    must reach PostgreSQL at `database_url` and import this package."""

    client: Client
    database_url: str
    partitions: int = 8

    async def __call__(
        self, store: Store, since: datetime, until: datetime, config: TrainConfig, progress: bool
    ) -> Fitted:
        if config.position_bias:
            raise TrainingError(
                "LightGBM's Dask interface takes no positions: train on Dask with "
                "TrainConfig(position_bias=False)"
            )
        fractions = np.linspace(0.0, 1.0, self.partitions + 1)[1:-1].tolist()
        cuts = await store.feed_time_quantiles(since, until, fractions)
        ranges = time_ranges(since, until, cuts)
        # The Dask client blocks: keep it off the event loop.
        return await asyncio.to_thread(self.fit, ranges, config, progress)

    def fit(self, ranges: list[Range], config: TrainConfig, progress: bool) -> Fitted:
        """Read `ranges` on the workers, train there, gather what the gate needs."""
        from distributed import as_completed

        client = self.client
        parts = [
            client.submit(
                read_partition,
                self.database_url,
                start,
                end,
                config.attribution_hours,
                config.gains,
                pure=False,
            )
            for start, end in ranges
        ]
        with tqdm(total=len(parts), desc="read", unit=" partitions", disable=not progress) as bar:
            for _ in as_completed(parts):
                bar.update(1)
        facts: list[PartitionFacts] = client.gather(client.map(describe, parts))
        loaded = LoadReport(
            *(sum(getattr(f.loaded, k.name) for f in facts) for k in fields(LoadReport))
        )
        sizes = [f.group_sizes for f in facts]
        start, selection_from, comparison_from, end = window_plan(
            sum(len(s) for s in sizes), loaded, config
        )

        offsets = list(accumulate(map(len, sizes), initial=0))[:-1]

        def window(lo: int, hi: int) -> list[Piece]:
            """Each partition's groups within global group indices [lo, hi)."""
            pieces = []
            for part, groups, offset in zip(parts, sizes, offsets, strict=True):
                a, b = max(lo - offset, 0), min(hi - offset, len(groups))
                if a < b:
                    future = client.submit(take_groups, part, a, b)
                    pieces.append(Piece(future, int(groups[a:b].sum()), b - a))
            return pieces

        train = window(start, selection_from)
        selection, comparison = (
            concat(client.gather([p.future for p in window(lo, hi)]))
            for lo, hi in ((selection_from, comparison_from), (comparison_from, end))
        )
        booster = fit_on_dask(client, train, config, progress)
        booster.best_iteration = choose_trees(selection_curve(booster, selection), config)
        first_served = next(f.first_served for f in facts if f.first_served is not None)
        info = client.scheduler_info()
        workers = len(info["workers"])
        engine = {
            "engine": "dask",
            "scheduler": info["address"],
            "workers": workers,
            "partitions": len(ranges),
            "tree_learner": "data",
            "position_aware": False,
        }
        return Fitted(
            booster,
            selection,
            comparison,
            fit_examination(reduce(Tally.__add__, (f.exploration for f in facts))),
            loaded,
            sum(p.groups for p in train),
            sum(p.rows for p in train),
            first_served,
            engine,
        )


@contextmanager
def connect(address: str) -> Iterator[Client]:
    """A client of the Dask scheduler at `address` (OSError if unreachable in 30 s),
    closed afterwards."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        yield client


def fit_on_dask(
    client: Client,
    pieces: list[Piece],
    config: TrainConfig,
    progress: bool,
) -> lightgbm.Booster:
    """`config.rounds` trees of LightGBM lambdarank over `pieces` (one chunk each, group
    sizes per chunk), data-parallel on the workers that hold them."""
    import dask.array as da
    from dask.delayed import delayed

    def stacked(
        part: Callable[[Dataset], np.ndarray], shape: Callable[[Piece], tuple[int, ...]], dtype: Any
    ) -> Any:
        return da.concatenate(
            [da.from_delayed(delayed(part)(p.future), shape(p), dtype) for p in pieces]
        )

    features = stacked(features_of, lambda p: (p.rows, len(NAMES)), np.float32)
    labels = stacked(labels_of, lambda p: (p.rows,), np.int32)
    groups = stacked(group_sizes_of, lambda p: (p.groups,), np.int64)
    # The single-process parameters; Dask sets each worker's threads itself and the trees
    # are chosen afterwards on the selection window, so no metric is evaluated here.
    params = {
        k: v
        for k, v in config.lightgbm_params().items()
        if k not in ("num_threads", "metric", "eval_at")
    }
    ranker = lightgbm.DaskLGBMRanker(client=client, n_estimators=config.rounds, **params)
    with (
        tqdm(total=1, desc=f"train {config.rounds} trees on Dask", disable=not progress) as bar,
        warnings.catch_warnings(),
    ):
        # lightgbm.dask warns on every fit that it ignores the estimator's own default
        # n_jobs=None, which nothing can unset (lightgbm-org/LightGBM#6797, open).
        warnings.filterwarnings(
            "ignore", "Parameter n_jobs will be ignored", UserWarning, "lightgbm.dask"
        )
        ranker.fit(features, labels, group=groups, feature_name=list(NAMES))
        bar.update(1)
    booster: lightgbm.Booster = ranker.booster_
    return booster
