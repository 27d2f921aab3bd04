"""A worker's own memory through the benchmark's load, on a world `bench/run.py` kept.

    .venv/bin/python bench/memory_load.py --world /tmp/paperfeed-bench-full-XXXX \\
        --database-url postgresql://postgres@127.0.0.1:5432/paperfeed_bench_full \\
        --key <an admin API key> --root trim=. --root notrim=. \\
        --root-env notrim:PAPERFEED_MALLOC_TRIM_SECONDS=0 [--rounds 2]

The checkouts and their settings are named as for bench/feed_ab.py, and rounds interleave
them the same way. Each run starts `paperfeed serve` from a checkout and records each
worker's own memory (private anonymous pages and private copies of file pages: what a
further worker costs; see bench/run.py) at start, after `wrk` at concurrency 16 for
--feeds seconds, after `bench/events_load.py` (4 clients, batches of 500) for --events
seconds, every few seconds for --idle seconds more, and at their end; with the feeds' and
the events' throughput.
Writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import feed_http
from bench.feed_ab import checkouts, python_of, revision, serve_checkout, world_arguments
from bench.run import server_memory

ROOT = Path(__file__).resolve().parent.parent
IDLE_STEP = 3.0  # seconds between readings while idle


def own(pid: int) -> list[float]:
    return [p["own_mb"] for p in server_memory(pid) if p["role"] == "worker"]


def one(args: argparse.Namespace, label: str, root: Path) -> dict[str, Any]:
    proc, base, env = serve_checkout(args, label, root)
    try:
        result: dict[str, Any] = {"label": label, "env": env, "start": own(proc.pid)}
        feeds = feed_http.wrk_feeds(base, args.world / "readers.txt", 16, args.feeds)
        result |= {"feeds_per_s": feeds["feeds_per_s"], "after_feeds": own(proc.pid)}
        report = args.world / f"events-{label}.json"
        subprocess.run(
            [
                *(sys.executable, str(ROOT / "bench" / "events_load.py")),
                *("--database-url", args.database_url, "--url", base, "--key", args.key),
                *("--server-pid", str(proc.pid)),
                *("--clients", "4", "--batch", "500", "--duration", str(args.events)),
                *("--out", str(report)),
            ],
            check=True,
            capture_output=True,
        )
        events = json.loads(report.read_text())
        result |= {
            "events_per_s": events["events_per_s"],
            "exact": events["exact"],
            "cpu_us_per_event": events["cpu_us_per_event"],
        }
        result["after_events"] = own(proc.pid)
        # Every few seconds while idle: the statistics refresh and malloc's trim each run
        # every 30 s, and one reading may fall on either side of them.
        idle: list[tuple[float, list[float]]] = []
        started = time.monotonic()
        while (waited := time.monotonic() - started) < args.idle:
            idle.append((round(waited, 1), own(proc.pid)))
            time.sleep(min(IDLE_STEP, args.idle - waited))
        result["idle_trace"] = idle
        result["after_idle"] = own(proc.pid)
        result["idle_max"] = max(max(mb) for _, mb in [*idle, (0, result["after_idle"])])
        return result
    finally:
        feed_http.stop_server(proc)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    world_arguments(parser)
    parser.add_argument("--key", required=True, help="an API key with the admin scope")
    parser.add_argument("--feeds", type=int, default=60, help="seconds of feeds")
    parser.add_argument("--events", type=int, default=60, help="seconds of events")
    parser.add_argument("--idle", type=int, default=35, help="seconds idle afterwards")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "memory_load.json")
    args = parser.parse_args(argv)
    roots = checkouts(args)
    runs = []
    for n in range(args.rounds):
        for label, root in roots:
            result = one(args, label, root) | {"round": n}
            print(json.dumps(result), flush=True)
            runs.append(result)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "world": str(args.world),
        "roots": {label: f"{root} ({revision(root)})" for label, root in roots},
        "pythons": {label: python_of(args, label) for label, _ in roots},
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
