"""SIGTERM while requests are in flight: they all finish, and the server exits 0."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.e2e.processes import clean_env, create_key, free_port, read, start, wait_ready
from tests.support import server_folder, topic_papers

HELD = 5
HOLD_SECONDS = 8.0  # how long the requests stay unfinished after the server stops


class HeldRequest:
    """A POST /v1/events on a raw connection whose body is withheld: after its headers
    (with `Expect: 100-continue`) the server's `100 Continue` shows that the app is running
    the request and waiting for the body; the request cannot finish before `finish`."""

    def __init__(self, port: int, key: str, body: bytes) -> None:
        self.port, self.key, self.body = port, key, body

    async def start(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            (
                "POST /v1/events HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\n"
                f"Authorization: Bearer {self.key}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(self.body)}\r\n"
                "Expect: 100-continue\r\n\r\n"
            ).encode()
        )
        await self.writer.drain()
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 100 "), head

    async def finish(self) -> tuple[int, bytes]:
        """Send the body; the status and body of the answer."""
        self.writer.write(self.body)
        await self.writer.drain()
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 30)
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        assert length, head
        body = await self.reader.readexactly(int(length[1]))
        self.writer.close()
        return int(head.split()[1]), body


async def refuses_connections(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


async def test_sigterm_finishes_in_flight_requests_and_exits_zero(tmp_path: Path) -> None:
    catalogue = tmp_path / "papers.jsonl"
    catalogue.write_text("\n".join(json.dumps(p) for p in topic_papers()))
    port, data_dir = free_port(), server_folder()
    env = clean_env(port=str(port), data_dir=str(data_dir), shutdown_grace_seconds="1")
    key = create_key(env, "feed:read", "events:write")
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    process = start(["serve", "--ingest", str(catalogue)], env, log)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as client:
            await wait_ready(client, process, log_path)

            paper = topic_papers()[0]["id"]
            now = datetime.now(UTC).isoformat()
            held = [
                HeldRequest(
                    port,
                    key,
                    json.dumps(
                        {
                            "events": [
                                {
                                    "event_id": f"held-{i}",
                                    "user_id": f"reader{i}",
                                    "paper_id": paper,
                                    "type": "click",
                                    "occurred_at": now,
                                }
                            ]
                        }
                    ).encode(),
                )
                for i in range(HELD)
            ]
            # In flight: each request is being served and waits for its body.
            await asyncio.gather(*(request.start() for request in held))
            process.send_signal(signal.SIGTERM)

            # Draining: new requests are still answered and /ready turns away new traffic
            # (at once: well within the grace second, though the signal passes from the
            # supervising process to each worker).
            draining = await client.get("/ready")
            for _ in range(10):
                if draining.status_code == 503:
                    break
                await asyncio.sleep(0.02)
                draining = await client.get("/ready")
            assert draining.status_code == 503 and "shutting down" in draining.json()["problems"]
            assert (await client.get("/v1/users/reader0/feed?limit=3")).status_code == 200
        # Then the server stops taking connections, with the held requests still open.
        deadline = time.monotonic() + 30
        while not await refuses_connections(port):
            assert process.poll() is None, read(log_path)
            assert time.monotonic() < deadline, "the server kept accepting connections"
            await asyncio.sleep(0.05)
        # It keeps running while they are unfinished, however long that takes (a server that
        # stops without waiting for them exits within about 3 s here).
        try:
            code = await asyncio.to_thread(process.wait, HOLD_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        else:
            raise AssertionError(f"the server exited ({code}) with requests in flight")

        answers = await asyncio.gather(*(request.finish() for request in held))
        assert [status for status, _ in answers] == [200] * HELD, answers
        assert all(json.loads(body)["accepted"] == 1 for _, body in answers), answers
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)
