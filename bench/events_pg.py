"""PostgreSQL's side of event ingestion, without the HTTP server: `Store.record_events`
(the server's own statement) from several connections, batches of new events by random
load readers on random papers of the database, for a while.

    .venv/bin/python bench/events_pg.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/paperfeed_bench_full \\
        [--connections 4] [--batch 500] [--duration 20] [--label ...] [--out FILE]

Prints and writes events stored per second and the CPU per event of the PostgreSQL
processes on this machine and of this process: to compare schemas and statements (run it,
change the schema, run it again) on a world `bench/run.py` kept. The events it stores stay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.events_load import TYPES, USERS, moments
from bench.feed_http import postgres_cpu_seconds
from storage.rows import EventRow
from storage.store import Store

OUT = Path(__file__).resolve().parent / "results" / "events_pg.json"


async def drive(url: str, connections: int, size: int, duration: float) -> dict[str, Any]:
    store = await Store.connect(url, max_size=connections)
    try:
        papers = [r["id"] for r in await store.pool.fetch("SELECT id FROM papers")]
        if not papers:
            raise SystemExit("the database has no papers to store events about")
        prefix = f"pg-{uuid.uuid4().hex[:8]}"
        stamps = [datetime.fromisoformat(s) for s in moments()]
        stored = 0

        async def connection(c: int, until: float) -> None:
            nonlocal stored
            rng = random.Random(c)
            n = 0
            while time.monotonic() < until:
                rows = [
                    EventRow(f"{prefix}-{c}-{n}-{i}", u, p, t, at, None)
                    for i, (u, p, t, at) in enumerate(
                        zip(
                            rng.choices(USERS, k=size),
                            rng.choices(papers, k=size),
                            rng.choices(TYPES, k=size),
                            rng.choices(stamps, k=size),
                            strict=True,
                        )
                    )
                ]
                written, _ = await store.record_events(rows)
                stored += written
                n += 1

        pg, me, started = postgres_cpu_seconds(), time.process_time(), time.monotonic()
        await asyncio.gather(*(connection(c, started + duration) for c in range(connections)))
        took = time.monotonic() - started
        pg, me = postgres_cpu_seconds() - pg, time.process_time() - me
    finally:
        await store.close()
    return {
        "connections": connections,
        "batch": size,
        "seconds": round(took, 1),
        "stored": stored,
        "events_per_s": round(stored / took, 1),
        "cpu_us_per_event": {
            "postgres": round(pg * 1e6 / max(stored, 1), 1),
            "client": round(me * 1e6 / max(stored, 1), 1),
        },
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = asyncio.run(drive(args.database_url, args.connections, args.batch, args.duration))
    report = {
        "label": args.label,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **result,
    }
    print(json.dumps(report), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
