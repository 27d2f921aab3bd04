"""Benchmark: event ingestion through `POST /v1/events`, batches from several clients.

    .venv/bin/python bench/events_load.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
        [--url http://127.0.0.1:8000 --key pf_...] [--clients 4] [--batch 500]
        [--duration 30] [--retry-every 10] [--out bench/results/events_load.json]

Without `--url` it starts `paperfeed serve` on a fresh database of its own (as
bench/feed_http.py does, dropped after); with `--url` and `--key` (an API key with
`events:write`) it drives a running server whose database is `--database-url`. Each client
posts batches of new events (clicks and saves by many readers on the catalogue's papers)
back to back, and re-posts every `--retry-every`-th batch as a client retrying would. Then
it checks that the database holds exactly the distinct events sent, once each, and that
the server counted every repeat as a duplicate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from feed_http import (
    ROOT,
    admin,
    cpu_seconds,
    fresh_database,
    postgres_cpu_seconds,
    start_server,
    stop_server,
)

OUT = ROOT / "bench" / "results" / "events_load.json"
TYPES = ("click", "click", "click", "save", "dismiss")


USERS = [f"load-{u}" for u in range(10_000)]


def moments(seconds: int = 86_400) -> list[str]:
    """One time stamp a second over the last `seconds`, as RFC 3339 strings: made once,
    so that the load tool spends its CPU sending events, not formatting dates."""
    now = datetime.now(UTC)
    return [(now - timedelta(seconds=s)).isoformat() for s in range(seconds)]


def batch(
    prefix: str, start: int, size: int, papers: list[str], rng: random.Random, stamps: list[str]
) -> bytes:
    """`size` new events (ids `prefix`-`start`...) by random load readers on random
    papers, at random moments of the last day."""
    pick = rng.choices
    events = [
        {
            "event_id": f"{prefix}-{start + i}",
            "user_id": u,
            "paper_id": p,
            "type": t,
            "occurred_at": at,
        }
        for i, (u, p, t, at) in enumerate(
            zip(
                pick(USERS, k=size),
                pick(papers, k=size),
                pick(TYPES, k=size),
                pick(stamps, k=size),
                strict=True,
            )
        )
    ]
    return msgspec.json.encode({"events": events})


async def client(
    base: str,
    key: str,
    prefix: str,
    papers: list[str],
    stamps: list[str],
    size: int,
    retry_every: int,
    until: float,
    seed: int,
) -> dict[str, Any]:
    rng = random.Random(seed)
    sent = accepted = duplicates = posts = errors = 0
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        n = 0
        while time.monotonic() < until:
            body = batch(prefix, n * size, size, papers, rng, stamps)
            repeats = 2 if retry_every and n % retry_every == retry_every - 1 else 1
            for _ in range(repeats):
                started = time.perf_counter()
                answer = await http.post("/v1/events", content=body)
                latencies.append(time.perf_counter() - started)
                posts += 1
                if answer.status_code != 200:
                    errors += 1
                    continue
                result = answer.json()
                accepted += result["accepted"]
                duplicates += result["duplicates"]
                errors += len(result["rejected"])
            sent += size
            n += 1
    return {
        "distinct_sent": sent,
        "accepted": accepted,
        "duplicates": duplicates,
        "posts": posts,
        "errors": errors,
        "latencies": latencies,
    }


def cpu_now(server_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of the server (its process tree), of PostgreSQL, and of this
    client."""
    return {
        "server": cpu_seconds(server_pid) if server_pid else 0.0,
        "postgres": postgres_cpu_seconds(),
        "client": time.process_time(),
    }


async def drive(
    base: str,
    key: str,
    url: str,
    clients: int,
    size: int,
    duration: float,
    retry_every: int,
    server_pid: int | None,
) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        papers = [r["id"] for r in await conn.fetch("SELECT id FROM papers")]
        before = await conn.fetchval("SELECT count(*) FROM events")
    finally:
        await conn.close()
    if not papers:
        raise SystemExit("the database has no papers to post events about")
    prefix = f"load-{uuid.uuid4().hex[:8]}"
    stamps = moments()
    started = time.monotonic()
    cpu_before = cpu_now(server_pid)
    results = await asyncio.gather(
        *(
            client(
                *(base, key, f"{prefix}-{c}", papers, stamps, size, retry_every),
                *(started + duration, c),
            )
            for c in range(clients)
        )
    )
    took = time.monotonic() - started
    cpu_after = cpu_now(server_pid)
    conn = await asyncpg.connect(url)
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM events WHERE event_id LIKE $1", f"{prefix}-%"
        )
        after = await conn.fetchval("SELECT count(*) FROM events")
    finally:
        await conn.close()
    distinct = sum(r["distinct_sent"] for r in results)
    accepted = sum(r["accepted"] for r in results)
    latencies = sorted(x for r in results for x in r["latencies"])
    return {
        "clients": clients,
        "batch": size,
        "seconds": round(took, 1),
        "events_per_s": round(accepted / took, 1),
        "posts": sum(r["posts"] for r in results),
        "post_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "post_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1)
        if latencies
        else None,
        "distinct_sent": distinct,
        "accepted": accepted,
        "duplicates_reported": sum(r["duplicates"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "stored": stored,
        "other_rows_added": after - before - stored,
        "exact": stored == distinct == accepted and after - before == distinct,
        # Where the machine's CPU went, per event stored (the server's only when known).
        "cpu_us_per_event": {
            role: round((cpu_after[role] - cpu_before[role]) * 1e6 / max(accepted, 1), 1)
            for role in cpu_before
            if role != "server" or server_pid
        },
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--url", help="a running server (else one is started)")
    parser.add_argument("--key", help="its API key with events:write")
    parser.add_argument("--server-pid", type=int, help="with --url: its process, for its CPU")
    parser.add_argument("--port", type=int, default=8124)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to serve from")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--retry-every", type=int, default=10)
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    proc = None
    name = None
    url = args.database_url
    try:
        if args.url:
            if not args.key:
                raise SystemExit("--url needs --key")
            base, key = args.url, args.key
        else:
            name = f"pf_events_load_{os.getpid()}"
            url = fresh_database(args.database_url, name)
            env = dict(e.split("=", 1) for e in args.env)
            log = Path(tempfile.mkdtemp(prefix="pf-events-")) / "server.log"
            proc, key = start_server(args.root, url, args.port, env, log)
            base = f"http://127.0.0.1:{args.port}"
        server_pid = proc.pid if proc else args.server_pid
        result = asyncio.run(
            drive(
                *(base, key, url, args.clients, args.batch, args.duration, args.retry_every),
                server_pid,
            )
        )
    finally:
        if proc is not None:
            stop_server(proc)
        if name is not None:
            admin(args.database_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    report = {
        "label": args.label,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
        **result,
    }
    print(json.dumps(report), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if not result["exact"]:
        raise SystemExit("the database does not hold exactly the distinct events sent")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
