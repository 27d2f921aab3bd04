"""Benchmark: `paperfeed fit` on the CiteULike-a saves (../shared/data/citeulike-a), run as
a user runs it, in its own process: time and peak memory of the fit, size of the artifact,
and what loading it costs a server process (time; its own and its shared, file-backed
resident memory: the artifact is memory-mapped).

    .venv/bin/python bench/fit_citeulike.py

Loads the 16,980 papers (titles only; no embedding is needed to fit) and the 158,365
saves into a fresh embedded PostgreSQL in a temporary folder, then runs `paperfeed fit`
with the default settings (PAPERFEED_THREADS 1), as a user would; then loads the artifact
in a fresh process as a server does (`--load PATH` alone does that part). Writes
bench/results/collab_fit.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from paperfeed.wiring import with_store
from ranking.artifacts import load_collab
from service.records import parse_record
from service.settings import load_settings
from storage.rows import EventRow
from storage.store import Store

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "citeulike-a"
OUT = Path(__file__).parent / "results" / "collab_fit.json"
PAPERFEED = str(Path(sys.executable).parent / "paperfeed")


async def load(store: Store) -> int:
    papers = [
        parse_record({"id": f"cul-{r['item_id']}", "title": r["title"]})
        for r in map(json.loads, (DATA / "papers.jsonl").read_text().splitlines())
    ]
    for start in range(0, len(papers), 2000):
        await store.upsert_papers(papers[start : start + 2000])
    now = datetime.now(UTC)
    lines = (DATA / "interactions.tsv").read_text().splitlines()[1:]
    events = [
        EventRow(f"cul-{i}", f"u{user}", f"cul-{item}", "save", now, None)
        for i, (user, item) in enumerate(line.split("\t") for line in lines)
    ]
    for start in range(0, len(events), 5000):
        await store.record_events(events[start : start + 5000])
    return len(events)


def rss_parts() -> tuple[int, int]:
    """(anonymous, file-backed) resident bytes of this process: mapped artifact pages are
    file-backed and shared with every other process that maps the same files."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return tuple(int(status[k].split()[0]) * 1024 for k in ("RssAnon", "RssFile"))  # type: ignore[return-value]


def loading(path: Path) -> dict[str, float]:
    """What loading the artifact costs this process, before and after scoring 500 readers'
    histories (which touches the pages they need)."""
    anon, file = rss_parts()
    began = time.perf_counter()
    models = load_collab(path)
    load_s = time.perf_counter() - began
    anon_1, file_1 = rss_parts()
    rng = np.random.default_rng(0)
    keys = np.asarray(models.related.keys)
    for _ in range(500):
        history = rng.choice(keys, 20, replace=False).tolist()
        models.related.scores(history)
        models.ease.scores(history)
        if models.factors is not None:
            models.factors.top(models.factors.fold_in(history), 100)
    anon_2, file_2 = rss_parts()
    mib = 2**20
    return {
        "load_s": round(load_s, 3),
        "anon_rss_after_load_mib": round((anon_1 - anon) / mib, 1),
        "file_rss_after_load_mib": round((file_1 - file) / mib, 1),
        "anon_rss_after_500_readers_mib": round((anon_2 - anon) / mib, 1),
        "file_rss_after_500_readers_mib": round((file_2 - file) / mib, 1),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--load":  # an artifact written before
        print(json.dumps(loading(Path(sys.argv[2])), indent=2))
        return
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: this benchmark needs the CiteULike-a data")
    folder = Path(tempfile.mkdtemp(prefix="paperfeed-fit-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PAPERFEED_DATA_DIR"] = str(folder)
    settings = load_settings(env)
    saves = asyncio.run(with_store(settings, load))
    started = time.perf_counter()
    run = subprocess.run([PAPERFEED, "fit"], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    print(run.stdout)
    version = re.search(r"^collab\s+(collab-\S+)", run.stdout, re.MULTILINE)
    assert version, run.stdout + run.stderr
    path = settings.resolved_model_dir() / "collab" / version.group(1)
    manifest = json.loads((path / "manifest.json").read_text())
    out = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "saves": saves,
        "counts": manifest["counts"],
        "fit_s": manifest["fit_seconds"],
        "command_wall_s": round(wall, 1),
        "peak_rss_mib": round(manifest["peak_rss_bytes"] / 2**20),
        "artifact_mib": round(sum(f.stat().st_size for f in path.iterdir()) / 2**20, 1),
        "load_in_a_fresh_process": json.loads(
            subprocess.run(
                [sys.executable, __file__, "--load", str(path)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        ),
        "progress": [line.strip() for line in run.stdout.splitlines() if line.startswith("  ")],
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
