"""A/B of feeds over HTTP: two or more checkouts served in turn on one generated world.

    .venv/bin/python bench/feed_ab.py --world /tmp/paperfeed-bench-medium-XXXX \\
        --database-url postgresql://postgres@127.0.0.1:5432/paperfeed_bench_medium \\
        --root before=/tmp/pf-before --root after=. [--rounds 2] [--concurrency 1,16]
        [--root off=. --root-env off:PAPERFEED_MALLOC_TRIM_SECONDS=0]
        [--root uv=. --root-python uv=/tmp/other/.venv/bin/python]

The world is one that `bench/run.py` left behind (its folder holds the fit's `data/` and
`readers.txt`, the reader tokens it minted; its database is kept). Each round starts
`paperfeed serve` from each checkout in turn (`python -m paperfeed serve` with that
checkout first on the path, this checkout's virtual environment), warms it up, runs `wrk`
(bench/feed.lua) at each concurrency and stops it; rounds interleave the checkouts, so a
noisy neighbour hits both alike. Besides wrk's throughput and latency it records the CPU
seconds per feed of the server's processes and of PostgreSQL's: steadier than latency on
a shared machine, and they say where a change saved its time; and each worker's private
memory (USS, and own memory: see bench/run.py) after the load. Prints one JSON line per
run and, at the end, the medians per checkout and concurrency; writes them to --out.
Make a checkout of another commit with `git worktree add /tmp/pf-before <commit>`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import feed_http
from bench.run import free_port, server_memory

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "feed_ab.json"
METRICS = ("feeds_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_feed", "pg_cpu_ms_per_feed")


def start(
    root: Path, env: dict[str, str], workers: int, log: Path, python: str = sys.executable
) -> subprocess.Popen[bytes]:
    """`paperfeed serve` from `root` run by `python`, ready and with every worker started."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    environ |= env | {"PYTHONPATH": str(root)}
    out = log.open("w")
    proc = subprocess.Popen(
        [python, "-m", "paperfeed", "serve"],
        cwd=root,
        env=environ,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{env['PAPERFEED_PORT']}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server from {root} exited: {log.read_text()[-2000:]}")
        started = log.read_text().count("Application startup complete")
        try:
            if started >= workers and httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    feed_http.stop_server(proc)
    raise SystemExit(f"the server from {root} was not ready within 300 s")


def revision(root: Path) -> str:
    """The commit a checkout is at, "-dirty" when it has changes (as git describe says)."""
    done = subprocess.run(
        ["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def summary(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Medians of METRICS per checkout label and concurrency."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for label in dict.fromkeys(r["label"] for r in runs):
        mine = [r for r in runs if r["label"] == label]
        out[label] = {
            str(c): {
                m: round(statistics.median(r[m] for r in mine if r["concurrency"] == c), 2)
                for m in METRICS
            }
            for c in dict.fromkeys(r["concurrency"] for r in mine)
        }
    return out


def world_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments naming a kept world and the checkouts to serve it from (shared with
    bench/memory_load.py)."""
    parser.add_argument("--world", type=Path, required=True, help="a bench/run.py folder")
    parser.add_argument("--database-url", required=True, help="the world's database")
    parser.add_argument(
        "--root", action="append", required=True, help="LABEL=PATH of a checkout (2 or more)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument(
        "--root-env",
        action="append",
        default=[],
        help="LABEL:NAME=VALUE for one checkout's server (the same path may have two labels)",
    )
    parser.add_argument(
        "--root-python",
        action="append",
        default=[],
        help="LABEL=PATH of the Python (a virtual environment's) to serve checkout LABEL "
        "with, to compare dependencies; default this checkout's",
    )


def checkouts(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(label, checkout) for each --root, after checking that --world is a kept world."""
    if not (args.world / "readers.txt").exists() or not (args.world / "data").is_dir():
        raise SystemExit(f"{args.world} has no readers.txt and data/: not a bench/run.py world")
    return [(label, Path(path).resolve()) for label, path in (r.split("=", 1) for r in args.root)]


def python_of(args: argparse.Namespace, label: str) -> str:
    """The Python that serves checkout `label` (--root-python, else this one)."""
    chosen = dict(r.split("=", 1) for r in args.root_python)
    return chosen.get(label, sys.executable)


def world_env(world: Path, database_url: str, port: int, workers: int) -> dict[str, str]:
    """The settings that serve kept world `world` (its database at `database_url`) on
    `port` with `workers` processes (shared with bench/feed_profile.py)."""
    return {
        "PAPERFEED_DATABASE_URL": database_url,
        "PAPERFEED_DATA_DIR": str(world / "data"),
        "PAPERFEED_PORT": str(port),
        "PAPERFEED_WORKERS": str(workers),
        "PAPERFEED_SHUTDOWN_GRACE_SECONDS": "0",
    }


def serve_env(args: argparse.Namespace, label: str, port: int) -> dict[str, str]:
    """The settings of checkout `label`'s server on the world: --env, then its --root-env."""
    env = world_env(args.world, args.database_url, port, args.workers) | dict(
        e.split("=", 1) for e in args.env
    )
    for e in args.root_env:
        owner, setting = e.split(":", 1)
        if owner == label:
            name, value = setting.split("=", 1)
            env[name] = value
    return env


def serve_checkout(
    args: argparse.Namespace, label: str, root: Path
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """Checkout `label` (at `root`) served on the world on a free port: (the server, its
    base URL, its settings)."""
    port = free_port()
    env = serve_env(args, label, port)
    log = args.world / f"serve-{label}.log"
    proc = start(root, env, args.workers, log, python_of(args, label))
    return proc, f"http://127.0.0.1:{port}", env


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    world_arguments(parser)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--warm-up", type=int, default=10, help="seconds at c=16, unmeasured")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    roots = checkouts(args)
    readers = args.world / "readers.txt"
    levels = [int(c) for c in args.concurrency.split(",")]
    runs = []
    for n in range(args.rounds):
        for label, root in roots:
            proc, base, _ = serve_checkout(args, label, root)
            try:
                feed_http.wrk_feeds(base, readers, 16, args.warm_up)
                for c in levels:
                    result = feed_http.run_wrk(base, readers, c, args.duration, proc.pid)
                    result |= {"label": label, "round": n}
                    print(json.dumps(result), flush=True)
                    runs.append(result)
                # Each worker's USS and own memory (what a further worker costs) after the load.
                workers = [p for p in server_memory(proc.pid) if p["role"] == "worker"]
                for result in runs[-len(levels) :]:
                    result["worker_uss_mb"] = [p["uss_mb"] for p in workers]
                    result["worker_own_mb"] = [p["own_mb"] for p in workers]
            finally:
                feed_http.stop_server(proc)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "world": str(args.world),
        "roots": {label: f"{root} ({revision(root)})" for label, root in roots},
        "pythons": {label: python_of(args, label) for label, _ in roots},
        "medians": summary(runs),
        "runs": runs,
    }
    print(json.dumps(report["medians"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
