"""Training on a Dask cluster (`paperfeed train --dask-scheduler`), for logs that outgrow
one process.

What runs where:
- One Dask task per partition reads the labelled feeds of one hash part of the readers
  (all of a reader's feeds, over the whole window) from PostgreSQL with the same query and
  the same `training.dataset.from_rows` as single-process training, and keeps them in the
  worker's memory. Only small facts come back: each feed's (served_at, request_id), the
  exploration counts for the position-bias estimate.
- This process orders those keys as one process orders the feeds, cuts them into the
  train, selection and comparison windows by time exactly as single-process training does
  (`training.train.window_plan`), and afterwards compares, gates, writes the artifact and
  registers it (`training.train.train_and_register`).
- LightGBM's Dask interface (`DaskLGBMRanker`) trains data-parallel on each partition's
  share of the training window where it lies, each worker one LightGBM machine.
- The selection and comparison windows (the latest 20% + 20% of feeds by default) are
  gathered here, in time order: the gate's paired bootstrap needs every comparison feed,
  and the number of trees is chosen on the selection window's NDCG@10 curve by the rule
  early stopping applies in one process (`choose_trees`), since LightGBM cannot stop early
  on Dask.

Why readers' hash rather than time ranges: a hash part of the readers is a sample of the
whole window, a time range is not (features drift as the catalogue and the feedback grow),
so the parts are alike in size and content whatever the window.

What makes the model the one a process would train on the same data (measured apart by
less than 0.0001 NDCG@10 in tests/training/test_dask.py):
- Bins. Left to itself, distributed LightGBM lets each worker find the bin boundaries of
  some features on its own rows, and forced bins cannot pin them (lightgbm 4.7 gives a
  worker the forced bins of the wrong features: `forced_bin_bounds[i]` for feature
  `start[rank] + i` in its dataset_loader.cpp, lightgbm-org/LightGBM#7436). So every
  worker bins on the same rows, a reference dataset (`BinnedRanker`), which are the rows
  one process bins on (`training.dataset.bin_feeds`).
- Leaf sizes. Data-parallel LightGBM counts a leaf's rows from its hessians, so
  `min_data_in_leaf` grows other trees than in one process; `for_dask` keeps leaves large
  by their hessian sum instead, which both engines compute alike.
- Positions. LightGBM's Dask interface (lightgbm 4.7's `DaskLGBMRanker`, like
  `LGBMRanker`) takes no `position`, so the model cannot learn the position bias jointly
  as one process does by default (`TrainConfig.position_bias`); the evaluation and the gate
  are debiased all the same. On simulated feeds that costs about 3-4% of debiased NDCG@10.

All `rounds` trees are built before their number is chosen, and bagging (rows sampled per
tree) draws each worker's rows on its own. The manifest's `engine` says how a model was
trained.
"""

from __future__ import annotations

import asyncio
import bisect
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime
from functools import reduce
from typing import TYPE_CHECKING, Any

import lightgbm
import numpy as np
from tqdm import tqdm

from ranking.errors import TrainingError
from ranking.features import NAMES
from storage.store import Store
from training.dataset import (
    Dataset,
    Gains,
    LoadReport,
    bin_feeds,
    bin_share,
    concat,
    load_dataset,
)
from training.metrics import ndcg_at
from training.position import Tally, tally
from training.position import fit as fit_examination
from training.train import Fitted, TrainConfig, bins_reference, choose_trees, window_plan

if TYPE_CHECKING:
    from distributed import Client, Future


def read_partition(
    database_url: str,
    since: datetime,
    until: datetime,
    part: tuple[int, int],
    attribution_hours: float,
    gains: Gains,
) -> tuple[Dataset, LoadReport]:
    """On a worker: the labelled feeds served in [since, until) to the readers in hash
    part `part` (i, n), from PostgreSQL."""

    async def read() -> tuple[Dataset, LoadReport]:
        store = await Store.connect(database_url, max_size=1)
        try:
            return await load_dataset(store, since, until, attribution_hours, gains, part)
        finally:
            await store.close()

    return asyncio.run(read())


# How one process orders the feeds (storage/sql/training_impressions.sql).
FeedKey = tuple[datetime, uuid.UUID]


@dataclass(frozen=True)
class PartitionFacts:
    """What the driver needs to know about a partition without fetching it."""

    group_sizes: np.ndarray
    keys: list[FeedKey]  # per feed, in order
    exploration: Tally
    loaded: LoadReport


def describe(partition: tuple[Dataset, LoadReport]) -> PartitionFacts:
    data, loaded = partition
    keys = list(zip(data.served_at, data.request_ids, strict=True))
    return PartitionFacts(data.group_sizes, keys, tally(data), loaded)


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


# Leaves kept large by the sum of lambdarank hessians rather than by rows on Dask. Chosen
# on simulated feeds' selection windows (bench/leaf_regularisation.py): as good as 100 rows
# a leaf within noise (NDCG@10 0.6462 against 0.6485, two seeds), better than 0.3-3.
DASK_MIN_HESSIAN_IN_LEAF = 10.0


def for_dask(config: TrainConfig) -> TrainConfig:
    """`config` as a Dask cluster can train it like one process: without positions
    (LightGBM's Dask interface takes none), and with leaves kept large by their hessian
    sum, since data-parallel LightGBM counts a leaf's rows from its hessians, not exactly:
    `min_data_in_leaf` would give other trees than one process grows."""
    if not config.position_bias and config.min_data_in_leaf <= 1:
        return config
    return replace(
        config,
        position_bias=False,
        min_data_in_leaf=1,
        min_hessian_in_leaf=max(config.min_hessian_in_leaf, DASK_MIN_HESSIAN_IN_LEAF),
    )


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
        if config != for_dask(config):
            raise TrainingError(
                "LightGBM on Dask takes no positions and counts a leaf's rows from its "
                "hessians: train on Dask with training.cluster.for_dask(config) "
                "(position_bias=False, leaves kept large by min_hessian_in_leaf)"
            )
        # The Dask client blocks: keep it off the event loop.
        return await asyncio.to_thread(self.fit, since, until, config, progress)

    def fit(self, since: datetime, until: datetime, config: TrainConfig, progress: bool) -> Fitted:
        """Read the partitions on the workers, train there, gather what the gate needs."""
        from distributed import as_completed

        client = self.client
        parts = [
            client.submit(
                read_partition,
                self.database_url,
                since,
                until,
                (i, self.partitions),
                config.attribution_hours,
                config.gains,
                pure=False,
            )
            for i in range(self.partitions)
        ]
        with tqdm(total=len(parts), desc="read", unit=" partitions", disable=not progress) as bar:
            for _ in as_completed(parts):
                bar.update(1)
        facts: list[PartitionFacts] = client.gather(client.map(describe, parts))
        loaded = LoadReport(
            *(sum(getattr(f.loaded, k.name) for f in facts) for k in fields(LoadReport))
        )
        # Every feed in one process's order; the windows are cut there by time.
        ordered = sorted(key for f in facts for key in f.keys)
        bounds = window_plan(len(ordered), loaded, config)
        cuts = [ordered[i] for i in bounds[:-1]]  # each window's first feed

        def window(lo: int, hi: int) -> list[Piece]:
            """Each partition's feeds from the window's first key to the next window's."""
            pieces = []
            for part, f in zip(parts, facts, strict=True):
                a = bisect.bisect_left(f.keys, cuts[lo])
                b = bisect.bisect_left(f.keys, cuts[hi]) if hi < len(cuts) else len(f.keys)
                if a < b:
                    future = client.submit(take_groups, part, a, b)
                    pieces.append(Piece(future, int(f.group_sizes[a:b].sum()), b - a))
            return pieces

        def gathered(futures: list[Future[Dataset]]) -> Dataset:
            """Partitions' feeds in one process's order."""
            data = concat(client.gather(futures))
            keys = list(zip(data.served_at, data.request_ids, strict=True))
            return data.groups(sorted(range(data.n_groups), key=keys.__getitem__))

        train = window(0, 1)
        selection = gathered([p.future for p in window(1, 2)])
        comparison = gathered([p.future for p in window(2, 3)])
        # The rows every worker bins the features on: those one process bins on.
        share = bin_share(sum(p.rows for p in train))
        bins = gathered([client.submit(bin_feeds, p.future, share) for p in train])
        booster = fit_on_dask(client, train, bins, config, progress)
        booster.best_iteration = choose_trees(selection_curve(booster, selection), config)
        first_served = ordered[0][0]
        info = client.scheduler_info()
        workers = len(info["workers"])
        engine = {
            "engine": "dask",
            "scheduler": info["address"],
            "workers": workers,
            "partitions": self.partitions,
            "partitioned_by": "reader hash",
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
    bins: Dataset,
    config: TrainConfig,
    progress: bool,
) -> lightgbm.Booster:
    """`config.rounds` trees of LightGBM lambdarank over `pieces` (one chunk each, group
    sizes per chunk), data-parallel on the workers that hold them, with the feature bins
    of `bins`."""
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
    ranker = BinnedDaskRanker(client=client, n_estimators=config.rounds)
    with (
        tqdm(total=1, desc=f"train {config.rounds} trees on Dask", disable=not progress) as bar,
        warnings.catch_warnings(),
    ):
        # lightgbm.dask warns on every fit that it ignores the estimator's own default
        # n_jobs=None, which nothing can unset (lightgbm-org/LightGBM#6797, open).
        warnings.filterwarnings(
            "ignore", "Parameter n_jobs will be ignored", UserWarning, "lightgbm.dask"
        )
        ranker.fit(
            features,
            labels,
            group=groups,
            bins=client.scatter(bins.features, broadcast=True),
            lightgbm_params=params,
        )
        bar.update(1)
    booster: lightgbm.Booster = ranker.booster_
    return booster


# What lightgbm.dask sets for each worker's LightGBM machine.
NETWORK_PARAMS = ("machines", "local_listen_port", "time_out", "num_machines", "num_threads")


class BinnedRanker(lightgbm.LGBMRanker):
    """One worker's LightGBM machine with the feature bins of `bins`, the same rows on
    every worker. Left to itself, distributed LightGBM lets each worker bin some of the
    features on its own rows (and forced bins go to the wrong features on lightgbm 4.7,
    lightgbm-org/LightGBM#7436): models trained on another partitioning then differ by
    more than the engines do. `bins` is a reference dataset, as one process trains."""

    def fit(  # type: ignore[override]
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        group: np.ndarray,
        bins: np.ndarray,
        lightgbm_params: dict[str, Any],
        **unused: Any,  # lightgbm.dask passes the evaluation sets, none here
    ) -> BinnedRanker:
        mine = self.get_params()
        params = {**lightgbm_params, "tree_learner": "data"}
        params.update((k, mine[k]) for k in NETWORK_PARAMS)
        reference = bins_reference(bins, params)
        data = lightgbm.Dataset(X, y, group=group, feature_name=list(NAMES), reference=reference)
        self._Booster = lightgbm.train(params, data, num_boost_round=self.n_estimators)
        self.fitted_ = True
        return self


class BinnedDaskRanker(lightgbm.DaskLGBMRanker):
    """`DaskLGBMRanker` training `BinnedRanker`s: lightgbm.dask places the data, starts
    one LightGBM machine per worker and returns rank 0's model."""

    def fit(  # type: ignore[override]
        self,
        X: Any,
        y: Any,
        *,
        group: Any,
        bins: Future[np.ndarray],
        lightgbm_params: dict[str, Any],
    ) -> BinnedDaskRanker:
        self._lgb_dask_fit(
            model_factory=BinnedRanker,
            X=X,
            y=y,
            group=group,
            bins=bins,
            lightgbm_params=lightgbm_params,
        )
        return self
