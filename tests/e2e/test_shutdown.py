"""SIGTERM while requests are in flight: they all finish, and the server exits 0."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from pathlib import Path

import httpx

from tests.e2e.processes import clean_env, create_key, free_port, start, wait_ready
from tests.support import server_folder, topic_papers


async def test_sigterm_finishes_in_flight_requests_and_exits_zero(tmp_path: Path) -> None:
    catalogue = tmp_path / "papers.jsonl"
    catalogue.write_text("\n".join(json.dumps(p) for p in topic_papers()))
    port, data_dir = free_port(), server_folder()
    env = clean_env(port=str(port), data_dir=str(data_dir))
    key = create_key(env, "feed:read")
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    process = start(["serve", "--ingest", str(catalogue)], env, log)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as client:
            await wait_ready(client, process, log_path)

            # 40 feeds at once; SIGTERM lands while they are being served.
            requests = [
                asyncio.create_task(client.get(f"/v1/users/reader{i}/feed?limit=10"))
                for i in range(40)
            ]
            await asyncio.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            results = await asyncio.gather(*requests, return_exceptions=True)
            draining = await client.get("/ready")
            assert draining.status_code == 503 and "shutting down" in draining.json()["problems"]
        statuses = [r.status_code for r in results if isinstance(r, httpx.Response)]
        assert statuses == [200] * len(requests), results
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)
