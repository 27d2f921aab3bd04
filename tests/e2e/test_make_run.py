"""What `make run` does, end to end: `paperfeed serve --ingest examples/papers.jsonl` with
an embedded PostgreSQL, then a reader's saves personalise their feed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest

from ranking.embedder import Embedder, paper_text
from tests.e2e.processes import PAPERFEED, free_port
from tests.support import ROOT, server_folder

CATALOGUE = ROOT / "examples" / "papers.jsonl"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    data_dir = server_folder()
    env |= {"PAPERFEED_PORT": str(port), "PAPERFEED_DATA_DIR": str(data_dir)}
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [PAPERFEED, "serve", "--ingest", str(CATALOGUE), "--demo-key"],
            env=env,
            stdout=out,
            stderr=out,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, log.read_text()
            try:
                ready = client.get("/ready").json()
                if ready["papers"] and ready["indexed"] == ready["papers"]:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        # The key `make run` prints, as a reader of the README would copy it.
        demo_key = re.search(r"demo API key.*\n\s+(pf_\S+)", log.read_text())
        assert demo_key, log.read_text()
        assert client.get("/v1/trending").status_code == 401
        client.headers["Authorization"] = f"Bearer {demo_key[1]}"
        yield client
    finally:
        client.close()
        process.terminate()
        assert process.wait(timeout=30) == 0, log.read_text()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_sample_catalogue_is_served_and_saves_personalise_the_feed(
    server: httpx.Client, embedder: Embedder
) -> None:
    catalogue = [json.loads(line) for line in CATALOGUE.read_text().splitlines() if line.strip()]
    assert server.get("/ready").json()["papers"] == len(catalogue)

    # A reader saves the two papers closest to "diffusion models".
    hits = server.get("/v1/search", params={"q": "diffusion models", "limit": 2}).json()["items"]
    saved = [h["paper_id"] for h in hits]
    now = datetime.now(UTC).isoformat()
    events = [
        {
            "event_id": f"demo-{p}",
            "user_id": "reader",
            "paper_id": p,
            "type": "save",
            "occurred_at": now,
        }
        for p in saved
    ]
    assert server.post("/v1/events", json={"events": events}).json()["accepted"] == 2

    reader = server.get("/v1/users/reader/feed", params={"limit": 10}).json()
    newcomer = server.get("/v1/users/newcomer/feed", params={"limit": 10}).json()
    reader_ids = [i["paper_id"] for i in reader["items"]]
    assert reader_ids != [i["paper_id"] for i in newcomer["items"]]
    assert not set(saved) & set(reader_ids)

    # "Similar first": measured with the model itself, the reader's top papers are closer
    # to what they saved than the catalogue's typical paper and the newcomer's top papers.
    by_title = {p["title"]: p for p in catalogue}
    titles = {i["paper_id"]: i["title"] for i in reader["items"] + newcomer["items"] + hits}

    def vector(paper_id: str) -> np.ndarray:
        p = by_title[titles[paper_id]]
        return embedder.embed([paper_text(p["title"], p.get("abstract", ""))])[0]

    centre = np.mean([vector(p) for p in saved], axis=0)
    everyone = embedder.embed([paper_text(p["title"], p.get("abstract", "")) for p in catalogue])
    median = float(np.median(everyone @ centre))
    # Exploration slots (10% by default) hold random papers on purpose: judge the ranking.
    ranked = [i for i in reader["items"] if "explore" not in i["reasons"]]
    reader_top = [float(vector(i["paper_id"]) @ centre) for i in ranked[:3]]
    newcomer_ranked = [i for i in newcomer["items"] if "explore" not in i["reasons"]]
    newcomer_top = [float(vector(i["paper_id"]) @ centre) for i in newcomer_ranked[:3]]
    assert min(reader_top) > median
    assert np.mean(reader_top) > np.mean(newcomer_top)
    assert all(i["similar_to"] in saved for i in ranked[:3])
