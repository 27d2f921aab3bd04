"""How fast a running server embeds new papers, against the offline rate of the same model
on the same machine with the same threads.

A sample of the CiteULike-a catalogue (`../shared/data/citeulike-a/papers.jsonl`: titles,
some with abstracts) is posted to a real `paperfeed serve` (one worker process, a fresh
database), and the clock runs from the first POST until `/ready` shows no paper waiting and
every paper indexed (after a warm-up: the server first embeds copies of 64 of them, as the
offline run first embeds those 64). Then, in this process with the server stopped, the same
texts are embedded offline in one call: `Embedder.embed`, and sentence-transformers' own
`encode` (which sorts the texts by length within the call). The server's rate is compared with the
faster of the two.

    .venv/bin/python bench/embed_rate.py                 # 2,000 papers, a few minutes
    .venv/bin/python bench/embed_rate.py --papers 16980  # the whole catalogue

writes bench/results/embed_rate.json. Run it on a quiet machine: the load average is
recorded before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from feed_http import fresh_database  # bench/, this script's folder

from ranking.embedder import Embedder, paper_text
from service.settings import load_settings
from storage.database import embedded_url
from training.loaders import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "citeulike-a" / "papers.jsonl"
OUT = ROOT / "bench" / "results" / "embed_rate.json"
PAPERFEED = str(Path(sys.executable).parent / "paperfeed")


def sample(n: int, seed: int) -> list[dict[str, str]]:
    """`n` CiteULike-a papers drawn at random (so the share with abstracts is the
    catalogue's), as API records; abstracts cut where `paper_text` cuts them anyway."""
    catalogue = load_catalogue(DATA)
    rows = random.Random(seed).sample(range(len(catalogue)), min(n, len(catalogue)))
    return [
        {
            "id": f"cul-{catalogue.item_ids[i]}",
            "title": catalogue.titles[i][:1000],
            "abstract": catalogue.abstracts[i][:3000],
        }
        for i in rows
    ]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_rate(
    papers: list[dict[str, str]], database_url: str, threads: int, window: int, log: Path
) -> dict[str, Any]:
    """Post the papers to a running server; seconds until all are embedded and indexed."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")} | {
        "PAPERFEED_DATABASE_URL": database_url,
        "PAPERFEED_PORT": str(port),
        "PAPERFEED_WORKERS": "1",
        "PAPERFEED_EMBED_THREADS": str(threads),
        "PAPERFEED_EMBED_WINDOW": str(window),
        "PAPERFEED_EMBED_POLL_SECONDS": "0.5",
        "PAPERFEED_SHUTDOWN_GRACE_SECONDS": "0",
    }
    made = subprocess.run(
        [PAPERFEED, "keys", "create", "--name", "bench", "--scope", "papers:write"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    with log.open("w") as out:
        server = subprocess.Popen([PAPERFEED, "serve"], env=env, stdout=out, stderr=out)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120
        ) as client:
            while True:
                assert server.poll() is None, log.read_text()
                try:
                    if client.get("/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            # A running server has embedded before: the first batches (torch's start-up
            # work) are not what this measures.
            warm = [{**p, "id": f"warm-{i}"} for i, p in enumerate(papers[:64])]
            assert client.post("/v1/papers", json={"papers": warm}).status_code == 200
            wait_embedded(client, len(warm))
            began = time.perf_counter()
            for start in range(0, len(papers), 1000):
                batch = papers[start : start + 1000]
                response = client.post("/v1/papers", json={"papers": batch})
                assert response.status_code == 200, response.text
                assert response.json()["added"] == len(batch), response.text
            posted = time.perf_counter() - began
            wait_embedded(client, len(warm) + len(papers))
            seconds = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(60)
    return {
        "seconds": round(seconds, 2),
        "posting_seconds": round(posted, 2),
        "papers_per_second": round(len(papers) / seconds, 1),
    }


def wait_embedded(client: httpx.Client, papers: int) -> None:
    # Not too often: each look costs the server's event loop (and the GIL) a little.
    while True:
        ready = client.get("/ready").json()
        if ready["pending_embeddings"] == 0 and ready["indexed"] == papers:
            return
        time.sleep(0.25)


def offline_rates(texts: list[str], model_path: str, threads: int) -> dict[str, Any]:
    embedder = Embedder(model_path, threads=threads, batch_size=32)
    embedder.embed(texts[:64])  # warm up
    began = time.perf_counter()
    embedder.embed(texts)
    ours = time.perf_counter() - began
    began = time.perf_counter()
    embedder.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    theirs = time.perf_counter() - began
    return {
        "embedder_embed_seconds": round(ours, 2),
        "embedder_embed_papers_per_second": round(len(texts) / ours, 1),
        "sentence_transformers_encode_seconds": round(theirs, 2),
        "sentence_transformers_encode_papers_per_second": round(len(texts) / theirs, 1),
    }


def main() -> None:
    settings = load_settings({})
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=2000, help="sample size (2,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=settings.resolved_embed_threads(),
        help="embedding threads, server and offline (default: PAPERFEED_EMBED_THREADS' default)",
    )
    parser.add_argument("--window", type=int, default=settings.embed_window)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server where a database may be created (default: an embedded one)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON report")
    args = parser.parse_args()
    if not DATA.is_file():
        sys.exit(f"{DATA} not found: this benchmark needs the CiteULike-a catalogue")

    load_before = os.getloadavg()
    papers = sample(args.papers, args.seed)
    texts = [paper_text(p["title"], p["abstract"]) for p in papers]
    folder = Path(tempfile.mkdtemp(prefix="paperfeed-bench-"))
    server_url = args.database_url or embedded_url(folder, delete_on_exit=True)
    database_url = fresh_database(server_url, f"paperfeed_bench_{os.getpid()}")
    print(f"{len(papers)} papers ({sum(bool(p['abstract']) for p in papers)} with abstracts)")
    served = server_rate(papers, database_url, args.threads, args.window, folder / "serve.log")
    print(f"server: {served} (log: {folder / 'serve.log'})")
    offline = offline_rates(texts, settings.resolved_model_path(), args.threads)
    print(f"offline: {offline}")
    best = max(
        offline["embedder_embed_papers_per_second"],
        offline["sentence_transformers_encode_papers_per_second"],
    )
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "bench/embed_rate.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "papers": len(papers),
        "with_abstracts": sum(bool(p["abstract"]) for p in papers),
        "threads": args.threads,
        "window": args.window,
        "server": served,
        "offline": offline,
        "server_share_of_offline": round(served["papers_per_second"] / best, 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"server at {result['server_share_of_offline']:.0%} of the offline rate; wrote {args.out}"
    )


if __name__ == "__main__":
    main()
