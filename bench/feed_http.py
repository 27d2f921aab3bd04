"""Benchmark: feeds over HTTP from a real `paperfeed serve`, driven by `wrk`.

    .venv/bin/python bench/feed_http.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
        [--readers 200] [--duration 20] [--concurrency 1,16] [--env PAPERFEED_ACCESS_LOG=false]
        [--profile out.svg] [--label NAME] [--out bench/results/feed_http.json]

Starts the server the way a user does (`paperfeed serve --ingest examples/papers.jsonl
--demo-key`, one worker process) on a fresh database made for the run (dropped after),
waits until the sample catalogue is embedded, gives each reader a few saves and clicks
through `POST /v1/events`, mints each a reader token (`POST /v1/tokens`), then runs `wrk`
with a Lua script that rotates over the readers, once per concurrency. With `--profile`,
py-spy samples the server during the last `wrk` run. Needs `wrk` on the PATH (Debian's
package) and py-spy for `--profile` (the dev extras).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "feed_http.json"

# The wrk script that `make bench` uses too: each request a different reader's feed with
# that reader's token, and one "BENCH_JSON {...}" line at the end.
LUA = ROOT / "bench" / "feed.lua"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def admin(url: str, sql: str) -> None:
    import asyncio

    asyncio.run(_admin(url, sql))


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a user's service manager stops it; killed after 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def fresh_database(server_url: str, name: str) -> str:
    """A new, empty database `name` on the PostgreSQL server of `server_url` (dropped first
    if it exists); its URL."""
    admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(server_url, f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


def start_server(
    root: Path, url: str, port: int, env: dict[str, str], log: Path
) -> tuple[Any, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_") or k in env}
    environ.update(
        PAPERFEED_DATABASE_URL=url,
        PAPERFEED_PORT=str(port),
        PAPERFEED_WORKERS="1",
        PAPERFEED_DATA_DIR=str(Path(tempfile.mkdtemp(prefix="pf-bench-"))),
    )
    environ.update(env)  # --env wins, PAPERFEED_WORKERS included
    out = log.open("w")
    proc = subprocess.Popen(
        [
            str(root / ".venv" / "bin" / "paperfeed"),
            "serve",
            "--ingest",
            "examples/papers.jsonl",
            "--demo-key",
        ],
        cwd=root,
        env=environ,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    key = ""
    deadline = time.monotonic() + 600  # a loaded machine starts slowly
    while time.monotonic() < deadline and not key:
        time.sleep(0.5)
        match = re.search(r"(pf_[0-9a-f]{12}_[A-Za-z0-9_-]{43})", log.read_text())
        key = match[1] if match else ""
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"{base}/ready", timeout=2).json()
            if ready.get("papers") and ready["indexed"] == ready["papers"]:
                return proc, key
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("server not ready in time")


def seed_readers(base: str, key: str, url: str, readers: int, rng: random.Random) -> list[str]:
    import asyncio

    async def ids() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            return [r["id"] for r in await conn.fetch("SELECT id FROM papers ORDER BY seq")]
        finally:
            await conn.close()

    papers = asyncio.run(ids())
    headers = {"Authorization": f"Bearer {key}"}
    lines = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        events = []
        for r in range(readers):
            user = f"reader-{r}"
            for kind, paper in [("save", p) for p in rng.sample(papers, 3)] + [
                ("click", p) for p in rng.sample(papers, 3)
            ]:
                events.append(
                    {
                        "event_id": str(uuid.uuid4()),
                        "user_id": user,
                        "paper_id": paper,
                        "type": kind,
                        "occurred_at": datetime.now(UTC).isoformat(),
                    }
                )
        for i in range(0, len(events), 500):
            client.post("/v1/events", json={"events": events[i : i + 500]}).raise_for_status()
        for r in range(readers):
            user = f"reader-{r}"
            answer = client.post("/v1/tokens", json={"user_id": user, "ttl_seconds": 900})
            answer.raise_for_status()
            lines.append(f"{user} {answer.json()['token']}")
    return lines


def _cpu(processes: Iterable[psutil.Process]) -> float:
    """User and system CPU seconds so far of `processes`; one that has exited counts 0."""
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """User and system CPU of the server process and its children so far."""
    proc = psutil.Process(pid)
    return _cpu([proc, *proc.children(recursive=True)])


def postgres_cpu_seconds() -> float:
    """User and system CPU so far of every PostgreSQL process on this machine (the bench's
    database server is local); a backend that has exited no longer counts."""
    return _cpu(
        p for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres", "postmaster")
    )


def wrk_feeds(base: str, readers: Path, concurrency: int, seconds: int) -> dict[str, Any]:
    """Feeds from `wrk` with bench/feed.lua over the "user token" lines of `readers`, at
    `concurrency` for `seconds`: wrk's own latency percentiles, throughput and errors."""
    threads = min(concurrency, os.cpu_count() or 1)
    command = [
        *("wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--latency"),
        *("--timeout", "10s", "-s", str(LUA), f"{base}/", "--", str(readers)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    found = re.search(r"^BENCH_JSON (.+)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    raw = json.loads(found[1])
    seconds_run = raw["duration_us"] / 1e6
    return {
        "concurrency": concurrency,
        "wrk_threads": threads,
        "seconds": round(seconds_run, 1),
        "requests": raw["requests"],
        "feeds_per_s": round(raw["requests"] / seconds_run, 1),
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 2),
        "p95_ms": round(raw["latency_us"]["p95"] / 1000, 2),
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 2),
        "max_ms": round(raw["latency_us"]["max"] / 1000, 2),
        "errors": sum(raw["errors"].values()),
        "errors_by_kind": raw["errors"],
        "non_2xx": sum(n for status, n in raw["statuses"].items() if not status.startswith("2")),
        "statuses": raw["statuses"],
    }


def run_wrk(base: str, readers: Path, concurrency: int, duration: int, pid: int) -> dict[str, Any]:
    cpu_before, pg_before = cpu_seconds(pid), postgres_cpu_seconds()
    result = wrk_feeds(base, readers, concurrency, duration)
    cpu, pg = cpu_seconds(pid) - cpu_before, postgres_cpu_seconds() - pg_before
    feeds = max(result["requests"], 1)
    return {
        **result,
        # The server's own CPU per feed: steadier than latency on a shared machine.
        "server_cpu_ms_per_feed": round(cpu * 1000 / feeds, 2),
        # PostgreSQL's (on this machine): the reads and the impressions' writes of a feed.
        "pg_cpu_ms_per_feed": round(pg * 1000 / feeds, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True, help="a server URL; a database is made")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--profile", type=Path, help="py-spy flame graph of the last run")
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the checkout (with its .venv) to serve from"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    env = dict(e.split("=", 1) for e in args.env)
    name = f"pf_feed_http_{os.getpid()}"
    url = fresh_database(args.database_url, name)
    work = Path(tempfile.mkdtemp(prefix="pf-wrk-"))
    proc = None
    try:
        proc, key = start_server(args.root, url, args.port, env, work / "server.log")
        base = f"http://127.0.0.1:{args.port}"
        lines = seed_readers(base, key, url, args.readers, random.Random(0))
        (work / "readers.txt").write_text("\n".join(lines) + "\n")
        runs = []
        levels = [int(c) for c in args.concurrency.split(",")]
        for n, c in enumerate(levels):
            spy = None
            if args.profile and n == len(levels) - 1:
                spy = subprocess.Popen(
                    [
                        str(ROOT / ".venv" / "bin" / "py-spy"),
                        "record",
                        "-p",
                        str(proc.pid),
                        "-o",
                        str(args.profile),
                        "-d",
                        str(args.duration),
                        "-r",
                        "200",
                        "--subprocesses",
                        "--nonblocking",
                        *(["-f", "raw"] if args.profile.suffix == ".txt" else []),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            result = run_wrk(base, work / "readers.txt", c, args.duration, proc.pid)
            if spy is not None:
                spy.wait(timeout=60)
            print(json.dumps(result), flush=True)
            runs.append(result)
    finally:
        if proc is not None:
            stop_server(proc)
        admin(args.database_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    report = {
        "label": args.label,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
        "server_env": env,
        "root": str(args.root),
        "readers": args.readers,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
