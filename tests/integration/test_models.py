"""The model registry through the API: activation, refusal, rollback, hot swap under load."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ranking.artifacts import write_artifact
from ranking.features import NAMES
from ranking.model import Ranker
from storage import registry
from storage.rows import Activation
from storage.store import Store
from tests.support import AppClient, rows_for
from training.dataset import from_rows
from training.train import TrainConfig, fit


@pytest.fixture
async def store(catalogue: AppClient) -> AsyncIterator[Store]:
    """A second connection pool, as another paperfeed process (the CLI) would have."""
    assert catalogue.database_url
    s = await Store.connect(catalogue.database_url, max_size=2)
    yield s
    await s.close()


def model_text(seed: int) -> str:
    data, _ = from_rows(rows_for(60, seed=seed))
    train, valid = data.split_by_time(0.2)
    return fit(
        train, valid, TrainConfig(rounds=10, min_data_in_leaf=5), progress=False
    ).model_to_string()


async def register(store: Store, root: Path, version: str, names: list[str] | None = None) -> Path:
    names = names or list(NAMES)
    path = write_artifact(root, version, model_text(len(version)), {"feature_names": names})
    await store.register_model(version, str(path), names, {}, {})
    return path


async def version_served(client: AppClient) -> str:
    response = await client.get("/v1/users/anyone/feed?limit=3")
    assert response.status_code == 200, response.text
    version: str = response.json()["model_version"]
    return version


async def test_activate_refuse_and_roll_back(
    catalogue: AppClient, store: Store, tmp_path: Path
) -> None:
    await register(store, tmp_path, "good")
    corrupt = await register(store, tmp_path, "corrupt")
    (corrupt / "model.txt").write_text("tree\nbroken")
    await register(store, tmp_path, "renamed", [*NAMES[:-1], "new_feature"])

    assert await version_served(catalogue) == "heuristic-1"
    body = (await catalogue.post("/v1/admin/models/good/activate")).json()
    assert body["active"] == "good"
    assert [m["version"] for m in body["models"] if m["active"]] == ["good"]
    assert await version_served(catalogue) == "good"

    refused = await catalogue.post("/v1/admin/models/corrupt/activate")
    assert refused.status_code == 422 and "checksum" in refused.json()["detail"]
    renamed = await catalogue.post("/v1/admin/models/renamed/activate")
    assert renamed.status_code == 422 and "other features" in renamed.json()["detail"]
    assert (await catalogue.post("/v1/admin/models/nope/activate")).status_code == 404
    assert await version_served(catalogue) == "good"

    # A model that breaks after activation (another process activated it): refused by the
    # watcher, the current one keeps serving.
    await store.activate_model("corrupt", "test")
    await asyncio.sleep(0.6)
    assert await version_served(catalogue) == "good"

    await store.rollback_model()  # undo "corrupt"
    rolled = (await catalogue.post("/v1/admin/models/rollback")).json()  # undo "good"
    assert rolled["active"] == "heuristic-1"
    assert (await catalogue.post("/v1/admin/models/rollback")).status_code == 409


async def test_hot_swap_under_load_never_fails_a_request(
    catalogue: AppClient, store: Store, tmp_path: Path
) -> None:
    versions = ["alpha", "beta"]
    for v in versions:
        await register(store, tmp_path, v)
    valid = {"heuristic-1", *versions}
    stop = asyncio.Event()

    async def reader(i: int) -> list[tuple[int, str, str]]:
        seen = []
        while not stop.is_set():
            r = await catalogue.get(f"/v1/users/reader{i}/feed?limit=5")
            body = r.json()
            seen.append((r.status_code, body.get("model_version", r.text), body.get("request_id")))
        return seen

    async def switcher() -> None:
        for n in range(12):
            target = ["alpha", "heuristic", "beta"][n % 3]
            if n % 2:  # through the API of this server
                assert (
                    await catalogue.post(f"/v1/admin/models/{target}/activate")
                ).status_code == 200
            else:  # through the registry, as another process would: the watcher picks it up
                await store.activate_model(None if target == "heuristic" else target, "test")
            await asyncio.sleep(0.25)
        stop.set()

    results = await asyncio.gather(switcher(), *(reader(i) for i in range(6)))
    responses = [r for seen in results[1:] for r in seen]  # type: ignore[union-attr]
    assert len(responses) > 50
    assert {status for status, _, _ in responses} == {200}
    assert {version for _, version, _ in responses} <= valid
    assert len({version for _, version, _ in responses}) == 3

    # The impression log names the same version as the response that served it.
    agreeing = await catalogue.fetchval(
        """SELECT count(*) FROM feeds f
           JOIN unnest($1::uuid[], $2::text[]) AS r (request_id, version) USING (request_id)
           WHERE f.model_version = r.version""",
        [request_id for _, _, request_id in responses],
        [version for _, version, _ in responses],
    )
    assert agreeing == len(responses)


async def test_a_slow_load_never_swaps_an_older_model_back_in(
    catalogue: AppClient, store: Store, tmp_path: Path
) -> None:
    # The watcher's poll loads model "slow" (its load blocks until released); meanwhile an
    # activation of the heuristic checks too. The older load must not win.
    await register(store, tmp_path, "slow")
    release = threading.Event()

    def load(active: Activation | None) -> Ranker:
        if active is not None and active.version == "slow":
            release.wait(10)
        return registry.ranker_for(active)

    served: list[str] = []
    watcher = registry.ModelWatcher(store, lambda r: served.append(r.version), 60, load)
    await registry.activate(store, "slow", "test")
    poll = asyncio.create_task(watcher.check())
    await asyncio.sleep(0.2)  # the poll is now inside the slow load
    await registry.activate(store, "heuristic", "test")
    request = asyncio.create_task(watcher.check())
    await asyncio.sleep(0.2)
    release.set()
    await asyncio.gather(poll, request)
    assert served == ["slow", "heuristic-1"]


async def test_a_models_report_comes_with_its_data_window_and_plots(
    catalogue: AppClient, store: Store, tmp_path: Path
) -> None:
    window = {"first_served": "2026-01-01T00:00:00+00:00", "train_groups": 24}
    manifest = {"feature_names": list(NAMES), "data": window}
    files = {"report.md": b"# Model reported", "ndcg.png": b"\x89PNG fake"}
    path = write_artifact(tmp_path, "reported", model_text(3), manifest, files)
    await store.register_model(
        "reported", str(path), NAMES, {"reported": {"ndcg@10": 0.5}}, manifest
    )

    listed = (await catalogue.get("/v1/admin/models")).json()["models"]
    assert listed[0]["data_window"] == window
    report = (await catalogue.get("/v1/admin/models/reported/report")).json()
    assert report["manifest"]["data"] == window and report["report_markdown"] == "# Model reported"
    assert report["plots"] == [{"name": "ndcg.png", "png": "iVBORyBmYWtl"}]  # base64
    assert (await catalogue.get("/v1/admin/models/unknown/report")).status_code == 404
