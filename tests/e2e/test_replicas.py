"""Replicas: two `paperfeed serve` processes on different ports share nothing but one
PostgreSQL and one model directory. A model activated through one is served by both; a
paper posted to one is embedded once and served by both; a paper withdrawn through one
disappears from the other; when the embedding replica dies, the other takes over."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from ranking.artifacts import write_artifact
from ranking.features import NAMES
from tests.e2e.processes import clean_env, cli, create_key, free_port, read, start, wait_ready
from tests.support import rows_for, side_store, topic_papers
from training.dataset import from_rows
from training.train import TrainConfig, fit

MODEL_POLL_SECONDS = 1.0
CLAIMED = "took the embedding claim"


class Replica:
    def __init__(self, name: str, env: dict[str, str], key: str, folder: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = folder / f"{name}.log"
        self.log = self.log_path.open("w")
        self.process = start(["serve"], env | {"PAPERFEED_PORT": str(self.port)}, self.log)
        self.client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}",
            timeout=30,
            headers={"Authorization": f"Bearer {key}"},
        )

    def embedded(self) -> int:
        """Papers this replica says it embedded (its log: 'embedded N papers')."""
        return sum(int(n) for n in re.findall(r"embedded (\d+) papers", read(self.log_path)))

    def claimed(self) -> bool:
        return CLAIMED in read(self.log_path)

    async def similar(self, paper_id: str) -> list[str]:
        response = await self.client.get(f"/v1/papers/{paper_id}/similar?limit=20")
        assert response.status_code == 200, response.text
        return [i["paper_id"] for i in response.json()["items"]]

    async def search(self, text: str) -> list[str]:
        response = await self.client.get("/v1/search", params={"q": text, "limit": 20})
        assert response.status_code == 200, response.text
        return [i["paper_id"] for i in response.json()["items"]]

    async def model_version(self) -> str:
        response = await self.client.get("/v1/users/anyone/feed?limit=3")
        assert response.status_code == 200, response.text
        version: str = response.json()["model_version"]
        return version

    async def close(self) -> None:
        await self.client.aclose()
        if self.process.poll() is None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 30)
        self.log.close()


async def until(what: str, check: Callable[[], Awaitable[bool]], within: float = 20) -> float:
    """Wait until `check()` holds; the seconds it took."""
    began = time.monotonic()
    while not await check():
        assert time.monotonic() - began < within, f"not within {within} s: {what}"
        await asyncio.sleep(0.1)
    return time.monotonic() - began


async def register_model(database_url: str, model_dir: Path, version: str) -> None:
    """A small trained LightGBM ranker, written to the shared directory and registered."""
    data, _ = from_rows(rows_for(60, seed=1))
    train, valid = data.split_by_time(0.2)
    booster = fit(train, valid, TrainConfig(rounds=10, min_data_in_leaf=5), progress=False)
    path = write_artifact(
        model_dir, version, booster.model_to_string(), {"feature_names": list(NAMES)}
    )
    async with side_store(database_url) as store:
        await store.register_model(version, str(path), list(NAMES), {}, {})


async def test_two_replicas_agree_on_models_vectors_and_withdrawals(
    database_url: str, tmp_path: Path
) -> None:
    model_dir = tmp_path / "models"
    env = clean_env(
        database_url=database_url,
        data_dir=str(tmp_path),
        model_dir=str(model_dir),
        model_poll_seconds=str(MODEL_POLL_SECONDS),
        embed_poll_seconds="0.5",
        explore_share="0",
        workers="1",  # one process each: the replicas are the point here
    )
    catalogue = tmp_path / "papers.jsonl"
    catalogue.write_text("\n".join(json.dumps(p) for p in topic_papers()))
    cli(["ingest", str(catalogue)], env)
    key = create_key(env, "admin")
    a = Replica("a", env, key, tmp_path)
    b = Replica("b", env, key, tmp_path)
    try:
        await wait_ready(a.client, a.process, a.log_path)
        await wait_ready(b.client, b.process, b.log_path)
        # Exactly one took the claim and embedded the catalogue, once; the other loaded or
        # followed the vectors. Call them e (embeds) and f (follows).
        assert [a.claimed(), b.claimed()].count(True) == 1, (read(a.log_path), read(b.log_path))
        e, f = (a, b) if a.claimed() else (b, a)
        assert (e.embedded(), f.embedded()) == (12, 0), (read(e.log_path), read(f.log_path))
        assert (await f.similar("rl-0"))[:3] == (await e.similar("rl-0"))[:3]

        # A model activated through f is served by both within MODEL_POLL_SECONDS.
        await register_model(database_url, model_dir, "ltr-replicas")
        activated = await f.client.post("/v1/admin/models/ltr-replicas/activate")
        assert activated.status_code in (200, 201, 204), activated.text
        for replica in (e, f):
            took = await until(
                f"{replica.name} serves the model", _serves_model(replica, "ltr-replicas")
            )
            assert took <= MODEL_POLL_SECONDS + 1.0, (replica.name, took)

        # A paper posted to f (which does not embed) is embedded once, by e, and both serve it.
        paper = {
            "id": "proteins-new",
            "title": "Folding proteins with diffusion over residue frames",
            "abstract": "A generative model designs protein backbones residue by residue.",
        }
        posted = await f.client.post("/v1/papers", json={"papers": [paper]})
        assert posted.json()["added"] == 1, posted.text
        for replica in (e, f):
            await until(f"{replica.name} serves the new paper", _knows(replica, "proteins-new"))
            assert (await replica.search(paper["title"]))[0] == "proteins-new"
        assert (e.embedded(), f.embedded()) == (13, 0)

        # Withdrawn through e: f stops serving it at once and drops it from its index.
        assert (await e.client.delete("/v1/papers/proteins-1")).status_code == 204
        assert "proteins-1" not in await f.similar("proteins-0")
        assert "proteins-1" not in await f.search("protein language models")
        await until("f drops the withdrawn paper", lambda: _indexed(f, 12))

        # The embedding replica dies: f takes the claim and embeds what arrives next.
        e.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(e.process.wait, 30)
        later = {"id": "rl-new", "title": "Reinforcement learning for robot grasping"}
        assert (await f.client.post("/v1/papers", json={"papers": [later]})).status_code == 200
        await until("f takes over embedding", _knows(f, "rl-new"))
        assert f.claimed() and f.embedded() == 1
    except AssertionError:
        print(read(a.log_path), read(b.log_path), sep="\n---\n")
        raise
    finally:
        await a.close()
        await b.close()


def _serves_model(replica: Replica, version: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await replica.model_version() == version

    return check


def _knows(replica: Replica, paper_id: str) -> Callable[[], Awaitable[bool]]:
    """Whether the replica's index holds the paper (its similar papers are known)."""

    async def check() -> bool:
        return bool(await replica.similar(paper_id))

    return check


async def _indexed(replica: Replica, count: int) -> bool:
    return bool((await replica.client.get("/ready")).json()["indexed"] == count)
