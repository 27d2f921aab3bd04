"""Training through a Dask cluster (training/cluster.py): simulated readers log feeds
through the real app, a local cluster of two worker processes trains on them, and the
model registers, serves, and ranks about as well as one trained in one process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from msgspec.structs import replace

from ranking.embedder import Embedder
from service.records import catalogue_rows
from service.settings import Settings
from tests.support import ROOT, AppClient, running_app, side_store, wait_indexed
from tests.training.test_simulate import catalogue_papers
from training.cluster import DaskTrainer, for_dask
from training.simulate import World, make_readers, simulate
from training.train import TrainConfig, TrainResult, train_and_register

CATALOGUE = ROOT / "examples" / "papers.jsonl"
PAPERFEED = str(Path(sys.executable).parent / "paperfeed")


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Client]:
    """Two worker processes, one thread each: LightGBM trains on two machines."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


async def served_version(client: AppClient) -> str:
    version: str = (await client.get("/v1/users/probe/feed?limit=3")).json()["model_version"]
    return version


async def test_a_model_trained_on_dask_registers_serves_and_matches_one_process(
    settings: Settings, embedder: Embedder, tmp_path: Path, dask_client: Client
) -> None:
    started = time.monotonic()
    settings = replace(settings, explore_share=0.2, stats_refresh_seconds=1.0)
    async with running_app(settings, embedder) as client:
        response = await client.post("/v1/papers", json={"papers": catalogue_papers(CATALOGUE)})
        assert response.status_code == 200, response.text
        await wait_indexed(client)
        world = World.from_papers(catalogue_rows(CATALOGUE), embedder, seed=0)
        logged = await simulate(client, world, make_readers(world, 250, seed=1), 3, seed=1)
        print(logged.summary())
        until = datetime.now(UTC)

        # What Dask trains like one process (training/cluster.for_dask: no positions, leaves
        # kept large by their hessian sum), the same for both. A fixed number of trees:
        # choosing it on ~100 selection feeds is noisier than the engines' difference. No
        # row or feature sampling either: each Dask worker samples its own partition's
        # rows, so the two would differ by a random draw, not by engine.
        config = for_dask(
            TrainConfig(rounds=60, min_trees=60, early_stopping=60, sample_fraction=1.0)
        )
        assert settings.database_url
        async with side_store(settings.database_url) as store:
            alone = await train_and_register(store, tmp_path, config, until=until, progress=False)
            trainer = DaskTrainer(dask_client, settings.database_url, partitions=4)
            spread = await train_and_register(
                store, tmp_path, config, until=until, progress=False, trainer=trainer
            )
            registered = {m.version for m in await store.list_models()}
        print("\n".join(alone.summary() + spread.summary()))
        assert registered == {alone.version, spread.version}

        # The same data, the same windows and the same gate, whoever trained.
        assert spread.manifest["data"] == alone.manifest["data"]
        assert spread.manifest["engine"]["engine"] == "dask"
        assert spread.manifest["engine"]["workers"] == 2
        assert spread.manifest["engine"]["partitioned_by"] == "reader hash"
        assert spread.verdict.feeds == alone.verdict.feeds > 100
        assert spread.manifest["best_iteration"] == alone.manifest["best_iteration"] == 60

        # NDCG@10 on the held-out feeds (the selection and comparison windows, which neither
        # model trained on; nothing was chosen on them here: the trees are fixed), within
        # the 2% #14 asks for. Both engines bin the features on the same rows
        # (training/cluster.py, BinnedRanker); what remains is the order in which LightGBM
        # sums the workers' histograms.
        def held_out(r: TrainResult) -> tuple[float, float, float]:
            sizes = r.manifest["data"]["selection_groups"], r.manifest["data"]["comparison_groups"]
            ndcgs = (
                r.manifest["selection_metrics"][r.version]["ndcg@10"],
                r.metrics[r.version]["ndcg@10"],
            )
            both = sum(n * s for n, s in zip(ndcgs, sizes, strict=True)) / sum(sizes)
            return both, *ndcgs

        ours, theirs = held_out(spread), held_out(alone)
        print(f"held-out, validation, comparison NDCG@10: Dask {ours}, one process {theirs}")
        for a, b in zip(ours, theirs, strict=True):
            assert abs(a - b) <= 0.02 * b, (ours, theirs)

        # It serves: activated through the API, the running app ranks feeds with it.
        response = await client.post(f"/v1/admin/models/{spread.version}/activate")
        assert response.status_code == 200, response.text
        for _ in range(50):
            if await served_version(client) == spread.version:
                break
            await asyncio.sleep(0.1)
        feed = (await client.get("/v1/users/sim-0/feed?limit=10")).json()
        assert feed["model_version"] == spread.version and len(feed["items"]) == 10

        # The command line: `paperfeed train --dask-scheduler` reads every partition on
        # the workers and says what is missing (here, on purpose, labelled feeds).
        env = {
            **os.environ,
            "PAPERFEED_DATABASE_URL": settings.database_url,
            "PAPERFEED_MODEL_DIR": str(tmp_path),
        }
        address = dask_client.scheduler_info()["address"]
        command = [PAPERFEED, "train", "--dask-scheduler", address, "--min-groups", "100000"]
        run = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 1, run.stdout + run.stderr
        feeds = spread.manifest["data"]
        labelled = feeds["train_groups"] + feeds["selection_groups"] + feeds["comparison_groups"]
        assert f"only {labelled} served feeds have feedback" in run.stderr
        assert "at least 100000 are needed" in run.stderr
    print(f"{time.monotonic() - started:.1f} s")
