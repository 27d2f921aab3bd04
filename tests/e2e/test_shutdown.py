"""SIGTERM while requests are in flight: they all finish, and the server exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

import httpx

from tests.conftest import server_folder, topic_papers
from tests.e2e.test_make_run import PAPERFEED, free_port


def start(command: list[str], env: dict[str, str], log: IO[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


async def test_sigterm_finishes_in_flight_requests_and_exits_zero(tmp_path: Path) -> None:
    catalogue = tmp_path / "papers.jsonl"
    catalogue.write_text("\n".join(json.dumps(p) for p in topic_papers()))
    port, data_dir = free_port(), server_folder()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env |= {"PAPERFEED_PORT": str(port), "PAPERFEED_DATA_DIR": str(data_dir)}
    log = (tmp_path / "serve.log").open("w")
    process = start([PAPERFEED, "serve", "--ingest", str(catalogue)], env, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    ready = (await client.get("/ready")).json()
                    if ready["papers"] and ready["indexed"] == ready["papers"]:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)

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
