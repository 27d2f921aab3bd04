"""The load benchmark: a generated world in a fresh database, the fit job, the real server
driven over HTTP, one JSON report and a markdown table.

    make bench                 # full scale: 1M papers, 100k readers, 10M events
    make bench SCALE=small     # 20k papers, 2k readers, 100k events: a few minutes
    make bench SCALE=medium    # 200k papers, 20k readers, 1M events: about 15 minutes

    .venv/bin/python bench/run.py --scale small [--database-url postgresql://...]

Stages, each timed and recorded even when it fails or cannot run (with the reason):
world (bench/world.py), fit (`paperfeed fit`: wall time, peak RSS), serve (`paperfeed serve`
with PAPERFEED_WORKERS=2: seconds until /ready answers 200 and until every worker has
loaded its index; RSS per process), feed (wrk with bench/feed.lua rotating over reader
tokens at concurrency 1, 16 and 64), events (POST /v1/events, batches of 500, several
clients; then the database must hold exactly the distinct events sent), server memory
(each process's right after the load, and the workers' again SETTLE_S later), and the in-process
benchmarks that exist beside this one (feed_pipeline, embed_rate, ann_recall).

The database is a new one on the PostgreSQL server of --database-url or
PAPERFEED_DATABASE_URL, else on an embedded server in a temporary folder (as `paperfeed
serve` starts one). Writes bench/results/bench-<scale>-<YYYYMMDD>.json and .md. The
folder (printed as the run starts) and the database are kept: `--world FOLDER` reruns the
server's stages on them, without a new world or fit (a change to serving, measured on the
same data in minutes instead of the full scale's half hour).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import feed_http
from bench import world as world_mod
from ranking.embedder import model_identity
from service.settings import load_settings
from storage.database import embedded_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# Seconds between the end of the load and the second memory reading: one malloc_trim
# period of the server (PAPERFEED_MALLOC_TRIM_SECONDS, 30 by default) and a margin.
SETTLE_S = 35
BIN = Path(sys.executable).parent
PAPERFEED = str(BIN / "paperfeed")

# Per scale: seconds per wrk run, readers rotated over, event-load seconds and clients.
PLANS: dict[str, dict[str, Any]] = {
    "tiny": {"wrk_s": 3, "readers": 100, "events_s": 3, "clients": 2, "embed_papers": 0},
    "small": {"wrk_s": 10, "readers": 1000, "events_s": 10, "clients": 4, "embed_papers": 300},
    "medium": {"wrk_s": 30, "readers": 2000, "events_s": 30, "clients": 4, "embed_papers": 300},
    "full": {"wrk_s": 60, "readers": 5000, "events_s": 60, "clients": 4, "embed_papers": 2000},
}
CONCURRENCY = (1, 16, 64)
EVENT_BATCH = 500
WORKERS = 2


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = found[1].strip() if found else model
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


# --- processes ----------------------------------------------------------------------------


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class PeakRSS:
    """Polls a process tree's RSS (summed, and the largest single process) until stopped."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every = pid, every
        self.total = self.single = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = []
            for p in tree(self.pid):
                with contextlib.suppress(psutil.Error):
                    sizes.append(p.memory_info().rss)
            if sizes:
                self.total = max(self.total, sum(sizes))
                self.single = max(self.single, max(sizes))
            self._stop.wait(self.every)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {"peak_rss_mb": mb(self.single), "peak_rss_tree_mb": mb(self.total)}


def mb(n: float) -> float:
    return round(n / 2**20, 1)


def kids(p: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return list(p.children())
    return []


def own_memory(pid: int) -> int:
    """Bytes of memory that exist only because of process `pid`: its private anonymous
    pages (heap, arrays) and its private copies of file pages (written ones). USS counts
    besides these the clean pages of mapped files that no other process has touched yet,
    which are page cache, shared by whoever reads them next: with memory-mapped artifacts
    that can be hundreds of MB more on one worker than on another."""
    total = 0
    anonymous = True
    try:
        with open(f"/proc/{pid}/smaps") as smaps:
            for line in smaps:
                field, _, rest = line.partition(" ")
                if not field.endswith(":"):  # a mapping's header: range perms offset dev inode path
                    parts = line.split(maxsplit=5)
                    path = parts[5].strip() if len(parts) > 5 else ""
                    anonymous = not path or path.startswith("[")
                elif field == "Private_Dirty:" or (anonymous and field == "Private_Clean:"):
                    total += int(rest.split()[0]) * 1024
    except OSError:  # not Linux, or the process is gone
        return 0
    return total


def server_memory(pid: int) -> list[dict[str, Any]]:
    """RSS, USS, PSS and own memory (`own_memory`) of the supervisor and each worker
    (oldest first): what a second worker adds is its own memory."""
    out = []
    processes = sorted(tree(pid), key=lambda p: p.create_time())
    for i, p in enumerate(processes):
        try:
            full = p.memory_full_info()
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        # Workers are multiprocessing's children that have none of their own (the fork
        # server's children, or spawned); the fork server and resource tracker are helpers.
        launched = "spawn" in cmd or "forkserver" in cmd
        role = "supervisor" if i == 0 else ("worker" if launched and not kids(p) else "helper")
        out.append(
            {
                "pid": p.pid,
                "role": role,
                "rss_mb": mb(full.rss),
                "uss_mb": mb(getattr(full, "uss", 0)),
                "own_mb": mb(own_memory(p.pid)),
                "pss_mb": mb(getattr(full, "pss", 0)),
            }
        )
    return out


# --- the database -------------------------------------------------------------------------


async def fetch_value(url: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


# --- stages -------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scale = world_mod.SCALES[args.scale]
        self.plan = PLANS[args.scale]
        # A world kept from an earlier run (--world), or a new folder for a new one.
        self.folder = (
            args.world.resolve()
            if args.world
            else Path(tempfile.mkdtemp(prefix=f"paperfeed-bench-{args.scale}-"))
        )
        self.stages: dict[str, dict[str, Any]] = {}
        self.database_url = ""
        self.port = free_port()
        self.server: subprocess.Popen[bytes] | None = None
        self.admin_key = ""
        self.readers_file = self.folder / "readers.txt"
        self.load_before = [round(x, 2) for x in os.getloadavg()]

    def env(self) -> dict[str, str]:
        """What a user would set: the database, a data folder, two workers."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
        return base | {
            "PAPERFEED_DATABASE_URL": self.database_url,
            "PAPERFEED_DATA_DIR": str(self.folder / "data"),
            "PAPERFEED_PORT": str(self.port),
            "PAPERFEED_WORKERS": str(WORKERS),
            # Reader tokens minted before the load must outlive it.
            "PAPERFEED_READER_TOKEN_TTL_SECONDS": "86400",
            "PAPERFEED_SHUTDOWN_GRACE_SECONDS": "0",
        }

    def stage(self, name: str, job: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        log(f"stage {name} ...")
        began = time.perf_counter()
        try:
            result = job()
        except Skipped as exc:
            result = {"status": "skipped", "reason": str(exc)}
        except Exception as exc:
            traceback.print_exc()
            result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
        result.setdefault("status", "ok")
        result["stage_s"] = round(time.perf_counter() - began, 1)
        self.stages[name] = result
        log(f"stage {name}: {json.dumps(result)[:600]}")
        return result

    # -- database and world

    def make_database(self) -> dict[str, Any]:
        configured = self.args.database_url or os.environ.get("PAPERFEED_DATABASE_URL")
        if configured:
            server, kind = configured, "configured PostgreSQL"
        else:
            server, kind = embedded_url(self.folder / "pg", delete_on_exit=True), "embedded"
        name = f"paperfeed_bench_{self.args.scale}"
        self.database_url = feed_http.fresh_database(server, name)
        version = asyncio.run(fetch_value(self.database_url, "SHOW server_version"))
        return {"kind": kind, "database": name, "postgres": version}

    def reuse_database(self) -> dict[str, Any]:
        """The database of the world kept in --world, as an earlier run left it."""
        server = self.args.database_url or os.environ.get("PAPERFEED_DATABASE_URL")
        if not server:
            raise RuntimeError("--world needs --database-url: an embedded server is not kept")
        if not (self.folder / "data").is_dir():
            raise RuntimeError(f"{self.folder} has no data/: not a folder bench/run.py kept")
        name = f"paperfeed_bench_{self.args.scale}"
        self.database_url = feed_http.with_database(server, name)
        papers = asyncio.run(fetch_value(self.database_url, "SELECT count(*) FROM papers"))
        if not papers:
            raise RuntimeError(f"database {name} holds no papers: not a kept world")
        version = asyncio.run(fetch_value(self.database_url, "SHOW server_version"))
        return {"kind": "configured PostgreSQL", "database": name, "postgres": version}

    def make_world(self) -> dict[str, Any]:
        model_path = load_settings({}).resolved_model_path()
        name, dim = model_identity(model_path)
        built = asyncio.run(
            world_mod.generate(
                self.database_url, self.scale, model=name, dim=dim, seed=self.args.seed
            )
        )
        return asdict(built)

    # -- fit

    def fit(self) -> dict[str, Any]:
        probe = subprocess.run([PAPERFEED, "fit", "--help"], capture_output=True, text=True)
        if probe.returncode != 0:
            raise Skipped("`paperfeed fit` is not in this build: " + probe.stderr.strip()[-200:])
        logfile = self.folder / "fit.log"
        began = time.perf_counter()
        with logfile.open("w") as out:
            job = subprocess.Popen([PAPERFEED, "fit"], env=self.env(), stdout=out, stderr=out)
            peak = PeakRSS(job.pid)
            code = job.wait()
        seconds = time.perf_counter() - began
        result: dict[str, Any] = {"seconds": round(seconds, 1), **peak.stop(), "exit_code": code}
        if code != 0:
            result |= {"status": "failed", "reason": logfile.read_text()[-1000:]}
        return result

    # -- the server

    def start_server(self) -> dict[str, Any]:
        logfile = self.folder / "serve.log"
        began = time.perf_counter()
        out = logfile.open("w")
        self.server = subprocess.Popen([PAPERFEED, "serve"], env=self.env(), stdout=out, stderr=out)
        ready_s = None
        with httpx.Client(base_url=self.base(), timeout=10) as client:
            while True:
                if self.server.poll() is not None:
                    raise RuntimeError("the server exited: " + logfile.read_text()[-2000:])
                if time.perf_counter() - began > self.args.start_timeout:
                    raise RuntimeError(
                        f"the server did not start within {self.args.start_timeout} s"
                    )
                if ready_s is None:
                    try:
                        if client.get("/ready").status_code == 200:
                            ready_s = time.perf_counter() - began
                    except httpx.TransportError:
                        pass
                started = logfile.read_text().count("Application startup complete")
                if ready_s is not None and started >= WORKERS:
                    break
                time.sleep(0.1)
            all_s = time.perf_counter() - began
            readiness = client.get("/ready").json()
        assert self.server is not None
        return {
            "workers": WORKERS,
            "ready_s": round(ready_s, 2),
            "all_workers_started_s": round(all_s, 2),
            "indexed": readiness.get("indexed"),
            "model_version": readiness.get("model_version"),
            "memory_at_start": server_memory(self.server.pid),
        }

    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def credentials(self) -> dict[str, Any]:
        made = subprocess.run(
            [PAPERFEED, "keys", "create", "--name", "bench", "--scope", "admin"],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        self.admin_key = made.stdout.strip().splitlines()[-1]
        # Readers with history, drawn evenly: the rotation's mix of light and heavy readers.
        readers = asyncio.run(self._readers())
        picked = random.Random(self.args.seed).sample(
            readers, min(self.plan["readers"], len(readers))
        )
        began = time.perf_counter()
        lines = []
        with httpx.Client(base_url=self.base(), headers=self.auth(), timeout=30) as client:
            for user in picked:
                answer = client.post("/v1/tokens", json={"user_id": user})
                answer.raise_for_status()
                lines.append(f"{user} {answer.json()['token']}\n")
        self.readers_file.write_text("".join(lines))
        return {"readers": len(lines), "mint_s": round(time.perf_counter() - began, 1)}

    async def _readers(self) -> list[str]:
        conn = await asyncpg.connect(self.database_url)
        try:
            rows = await conn.fetch("SELECT DISTINCT user_id FROM events ORDER BY user_id")
        finally:
            await conn.close()
        return [r["user_id"] for r in rows]

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    # -- feeds over HTTP

    def wrk(self, concurrency: int, seconds: int) -> dict[str, Any]:
        assert self.server is not None
        return feed_http.run_wrk(
            self.base(), self.readers_file, concurrency, seconds, self.server.pid
        )

    def feeds(self) -> dict[str, Any]:
        if shutil.which("wrk") is None:
            raise Skipped("wrk is not installed (make bench installs Debian's wrk as root)")
        # Each process's first requests pay one-off costs (imports, caches); not measured.
        warm = self.wrk(16, max(3, self.plan["wrk_s"] // 4))
        runs = [self.wrk(c, self.plan["wrk_s"]) for c in CONCURRENCY]
        return {"warm_up": {"seconds": warm["seconds"], "requests": warm["requests"]}, "runs": runs}

    # -- events over HTTP

    def events(self) -> dict[str, Any]:
        """bench/events_load.py's driver against this server (it re-posts every tenth batch,
        as a retrying client would, and checks the server counted those as duplicates)."""
        assert self.server is not None
        out = self.folder / "events_load.json"
        argv = [
            *("--database-url", self.database_url, "--url", self.base(), "--key", self.admin_key),
            *("--server-pid", str(self.server.pid)),
            *("--clients", str(self.plan["clients"]), "--batch", str(EVENT_BATCH)),
            *("--duration", str(self.plan["events_s"]), "--out", str(out)),
        ]
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "events_load.py"), *argv],
            capture_output=True,
            text=True,
            timeout=self.plan["events_s"] + 600,
            cwd=ROOT,
        )
        if not out.is_file():
            raise RuntimeError(f"exit {done.returncode}: {(done.stdout + done.stderr)[-1500:]}")
        theirs: dict[str, Any] = json.loads(out.read_text())
        result = {
            "driver": "bench/events_load.py",
            "clients": theirs["clients"],
            "batch": theirs["batch"],
            "seconds": theirs["seconds"],
            "events_sent": theirs["distinct_sent"],
            "events_per_s": theirs["events_per_s"],
            "exact": theirs["exact"],
            "cpu_us_per_event": theirs["cpu_us_per_event"],
            "report": theirs,
        }
        if done.returncode != 0 or not theirs["exact"]:
            result["status"] = "failed"
            result["reason"] = (done.stdout + done.stderr)[-500:]
        return result

    def memory_after_load(self) -> dict[str, Any]:
        assert self.server is not None
        processes = server_memory(self.server.pid)
        workers = [p for p in processes if p["role"] == "worker"]
        out: dict[str, Any] = {"processes": processes}
        if len(workers) >= 2:
            out["first_worker_rss_mb"] = workers[0]["rss_mb"]
            out["second_worker_rss_mb"] = workers[1]["rss_mb"]
            out["second_worker_uss_mb"] = workers[1]["uss_mb"]
            out["second_worker_own_mb"] = workers[1]["own_mb"]
        # Again once the load has been over for one malloc_trim period (the server's
        # PAPERFEED_MALLOC_TRIM_SECONDS, 30 s by default) and a margin: what a worker keeps
        # between loads, beside what it holds at the end of one.
        time.sleep(SETTLE_S)
        settled = [p for p in server_memory(self.server.pid) if p["role"] == "worker"]
        out["settled"] = {"after_s": SETTLE_S, "processes": settled}
        if len(settled) >= 2:
            out["settled"]["second_worker_own_mb"] = settled[1]["own_mb"]
        return out

    def stop_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(60)
            except subprocess.TimeoutExpired:
                self.server.kill()

    # -- the benchmarks beside this one, as subprocesses

    def script(self, name: str, argv: list[str], out: Path, timeout: int) -> dict[str, Any]:
        path = ROOT / "bench" / name
        if not path.is_file():
            raise Skipped(f"bench/{name} is not in this build")
        done = subprocess.run(
            [sys.executable, str(path), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise RuntimeError(f"exit {done.returncode}: {(done.stdout + done.stderr)[-1500:]}")
        if out.is_file():
            loaded: dict[str, Any] = json.loads(out.read_text())
            return {"command": " ".join(["python", f"bench/{name}", *argv]), "result": loaded}
        return {"command": f"bench/{name}", "output_tail": done.stdout[-1500:]}

    def feed_pipeline(self) -> dict[str, Any]:
        out = self.folder / "feed_pipeline.json"
        size = min(self.scale.papers, 100_000)
        argv = ["--sizes", str(size), "--readers", str(min(self.scale.readers, 20_000))]
        return self.script(
            "feed_pipeline.py", [*argv, "--requests", "100", "--out", str(out)], out, 1800
        )

    def embed_rate(self) -> dict[str, Any]:
        if not self.plan["embed_papers"]:
            raise Skipped("not at this scale")
        out = self.folder / "embed_rate.json"
        argv = ["--papers", str(self.plan["embed_papers"]), "--out", str(out)]
        server = urlunsplit(urlsplit(self.database_url)._replace(path="/postgres"))
        return self.script("embed_rate.py", [*argv, "--database-url", server], out, 1800)

    def ann_recall(self) -> dict[str, Any]:
        out = self.folder / "ann_recall.json"
        size = "full" if self.args.scale == "full" else "small"
        return self.script("ann_recall.py", ["--scale", size, "--out", str(out)], out, 3600)

    # -- everything

    def run(self) -> dict[str, Any]:
        began = time.perf_counter()
        log(f"world folder (kept): {self.folder}")
        try:
            if self.args.world:
                if self.stage("database", self.reuse_database)["status"] != "ok":
                    return self.report(began)
                for name in ("world", "fit"):
                    reason = f"the world and fit artifact kept in {self.folder}"
                    self.stages[name] = {"status": "skipped", "reason": reason}
            else:
                if self.stage("database", self.make_database)["status"] != "ok":
                    return self.report(began)
                if self.stage("world", self.make_world)["status"] != "ok":
                    return self.report(began)
                self.stage("fit", self.fit)
            if self.stage("serve", self.start_server)["status"] == "ok":
                if self.stage("credentials", self.credentials)["status"] == "ok":
                    self.stage("feeds", self.feeds)
                    self.stage("events", self.events)
                self.stage("server_memory", self.memory_after_load)
        finally:
            self.stop_server()
        if not self.args.http_only:
            self.stage("feed_pipeline", self.feed_pipeline)
            self.stage("embed_rate", self.embed_rate)
            self.stage("ann_recall", self.ann_recall)
        return self.report(began)

    def report(self, began: float) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "benchmark": "paperfeed load benchmark (bench/run.py)",
            "date": now.isoformat(timespec="seconds"),
            "scale": self.args.scale,
            "world": asdict(self.scale),
            "command": self.args.command,
            "machine": machine(),
            "total_s": round(time.perf_counter() - began, 1),
            # The machine may be shared: its load before and after says how quiet it was.
            "load_average_before": self.load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "stages": self.stages,
        }


class Skipped(Exception):
    """A stage that cannot run in this build or at this scale; the message says why."""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- the table ----------------------------------------------------------------------------


def table(report: dict[str, Any]) -> str:
    s = report["stages"]
    rows: list[tuple[str, str]] = []

    def ok(name: str) -> dict[str, Any] | None:
        stage: dict[str, Any] | None = s.get(name)
        if stage is None:
            return None
        if stage["status"] != "ok":
            reason = " ".join(str(stage.get("reason", "")).split()).replace("|", "/")
            rows.append((name, f"{stage['status']}: {reason[:200]}"))
            return None
        return stage

    if w := ok("world"):
        rows.append(
            (
                "world generated (COPY)",
                f"{w['papers']:,} papers, {w['readers']:,} readers, {w['events']:,} events "
                f"in {w['total_s']} s (papers {w['papers_s']} s, events {w['events_s']} s, "
                f"indexes {w['indexes_s']} s)",
            )
        )
    if f := ok("fit"):
        rows.append(
            ("fit job (`paperfeed fit`)", f"{f['seconds']} s, peak RSS {f['peak_rss_mb']} MB")
        )
    if v := ok("serve"):
        rows.append(
            (
                f"server start ({v['workers']} workers)",
                f"/ready 200 after {v['ready_s']} s; every worker started after "
                f"{v['all_workers_started_s']} s",
            )
        )
    if fd := ok("feeds"):
        for r in fd["runs"]:
            rows.append(
                (
                    f"feed over HTTP, concurrency {r['concurrency']}",
                    f"p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, p99 {r['p99_ms']} ms, "
                    f"{r['feeds_per_s']} feeds/s, {r['errors'] + r['non_2xx']} errors "
                    f"({r['requests']:,} in {r['seconds']} s); CPU per feed: server "
                    f"{r.get('server_cpu_ms_per_feed')} ms, "
                    f"PostgreSQL {r.get('pg_cpu_ms_per_feed')} ms",
                )
            )
    if e := ok("events"):
        rows.append(
            (
                f"events over HTTP ({e['clients']} clients, batches of {e['batch']})",
                f"{e['events_per_s']:,} events/s ({e['events_sent']:,} in {e['seconds']} s); "
                f"database holds exactly the events sent: {'yes' if e['exact'] else 'NO'}; "
                "CPU per event: "
                + ", ".join(f"{r} {us} µs" for r, us in e.get("cpu_us_per_event", {}).items()),
            )
        )
    if m := ok("server_memory"):
        workers = [p for p in m["processes"] if p["role"] == "worker"]
        text = "; ".join(
            f"worker {i + 1}: RSS {p['rss_mb']} MB (USS {p['uss_mb']} MB, own {p['own_mb']} MB)"
            for i, p in enumerate(workers)
        )
        sup = next((p for p in m["processes"] if p["role"] == "supervisor"), None)
        if sup:
            text += f"; supervisor RSS {sup['rss_mb']} MB"
        rows.append(("server memory after the load", text))
        if settled := m.get("settled"):
            text = "; ".join(
                f"worker {i + 1}: own {p['own_mb']} MB (USS {p['uss_mb']} MB)"
                for i, p in enumerate(settled["processes"])
            )
            rows.append((f"server memory {settled['after_s']} s after the load", text))
    if p := ok("feed_pipeline"):
        for r in p["result"].get("results", []):
            for ranker in ("heuristic", "lightgbm"):
                if ranker in r:
                    rows.append(
                        (
                            f"in-process feed work, {r['papers']:,} papers, {ranker}",
                            f"median {r[ranker]['median_ms']} ms, p95 {r[ranker]['p95_ms']} ms",
                        )
                    )
    if er := ok("embed_rate"):
        res = er["result"]
        rows.append(
            (
                f"embedding in the server ({res['papers']} CiteULike-a papers)",
                f"{res['server']['papers_per_second']} papers/s, "
                f"{res['server_share_of_offline']:.0%} of the offline rate",
            )
        )
    if a := ok("ann_recall"):
        found = recalls(a.get("result", {}))
        rows.append(("ANN recall (bench/ann_recall.py)", "; ".join(found[:6]) or "see the JSON"))
    lines = ["| measure | result |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def recalls(value: Any, path: str = "") -> list[str]:
    """`path = value` of every number whose key speaks of recall or build time, in order."""
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in recalls(v, f"{path}.{k}" if path else k)]
    wanted = ("recall" in path or "build" in path) and isinstance(value, int | float)
    return [f"{path} = {value}"] if wanted else []


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    head = (
        f"Measured {report['date'][:10]} on {m['cores']} cores ({m['cpu']}), "
        f"{m['ram_gb']} GB RAM, load tool on the same machine (load average "
        f"{report['load_average_before'][0]} before, {report['load_average_after'][0]} after); "
        f"`{report['command']}` ({report['total_s']} s in all).\n\n"
    )
    return head + table(report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(world_mod.SCALES), default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--database-url", help="a PostgreSQL server where a database may be created"
    )
    parser.add_argument(
        "--http-only", action="store_true", help="skip the in-process benchmarks after the server"
    )
    parser.add_argument(
        "--world",
        type=Path,
        help="rerun the server's stages on a world an earlier run kept (its folder, and its "
        "database paperfeed_bench_<scale> on --database-url's server): no new world, no fit",
    )
    parser.add_argument("--out", type=Path, help="the JSON report (default: bench/results/...)")
    parser.add_argument(
        "--start-timeout", type=float, default=1200, help="seconds the server may take to start"
    )
    args = parser.parse_args(argv)
    args.command = os.environ.get("BENCH_COMMAND") or " ".join(
        ["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]
    )
    report = Bench(args).run()
    out = args.out or RESULTS / f"bench-{args.scale}-{datetime.now(UTC):%Y%m%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    out.with_suffix(".md").write_text(text)
    print(text)
    log(f"wrote {out} and {out.with_suffix('.md')}")
    failed = [k for k, v in report["stages"].items() if v["status"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
