"""`paperfeed serve` with PAPERFEED_LOG_FORMAT=json: every line on stderr is a JSON object,
and every line written while a request is handled carries that request's id. The same server
runs with PROMETHEUS_MULTIPROC_DIR, as several processes on one port would."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from service.auth import create_key
from storage.database import migrate
from tests.e2e.processes import clean_env, free_port, read, start, wait_ready
from tests.support import side_store


async def test_json_logs_carry_the_request_id(database_url: str, tmp_path: Path) -> None:
    await migrate(database_url)
    async with side_store(database_url) as store:
        key = (await create_key(store, "logs", ["admin"]))[1]
    port = free_port()
    env = clean_env(
        database_url=database_url,
        data_dir=str(tmp_path),
        port=str(port),
        log_format="json",
        shutdown_grace_seconds="0",
    )
    # prometheus_client's multiprocess mode, as for several server processes on one port.
    shared = tmp_path / "metrics"
    shared.mkdir()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    # The log is stderr; stdout has the command's own banner.
    with stdout.open("w") as out, stderr.open("w") as err:
        server = start(["serve"], env, out, errors=err)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        ) as client:
            await wait_ready(client, server, stderr)
            refresh = await client.post(
                "/v1/admin/stats/refresh", headers={"X-Request-ID": "logs-refresh-1"}
            )
            assert refresh.status_code == 200, refresh.text
            feed = await client.get("/v1/users/ada/feed", headers={"X-Request-ID": "logs-feed-1"})
            assert feed.status_code == 200
            missing = await client.get("/nowhere")
            made = missing.headers["x-request-id"]
            scraped = await client.get("/metrics")
            assert scraped.status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    lines = [line for line in read(stderr).splitlines() if line.strip()]
    records: list[dict[str, Any]] = []
    for line in lines:
        record = json.loads(line)  # every line, startup and shutdown included
        assert {"message", "level", "logger", "timestamp"} <= set(record), record
        records.append(record)
    by_request: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_request.setdefault(record.get("request_id", ""), []).append(record)
    # The refresh request logged from inside the handler (the recount, then the route),
    # then its access line.
    refresh_lines = by_request["logs-refresh-1"]
    assert [r["logger"] for r in refresh_lines] == [
        "service.runtime",
        "service.routes.stats",
        "paperfeed.access",
    ]
    assert refresh_lines[0]["message"].startswith("statistics recounted in ")
    assert refresh_lines[1]["message"].startswith("statistics refreshed on request: stats-")
    access = refresh_lines[-1]
    assert (access["method"], access["path"], access["status"]) == (
        "POST",
        "/v1/admin/stats/refresh",
        200,
    )
    assert [r["path"] for r in by_request["logs-feed-1"]] == ["/v1/users/ada/feed"]
    assert [r["status"] for r in by_request[made]] == [404]
    # Lines outside any request (startup, the model watcher, shutdown) carry no id.
    assert any(r["logger"].startswith("uvicorn") for r in by_request[""])

    # The scrape read the metrics from the shared folder: the feed under its model version,
    # this process's gauges under its pid. Once it stopped, its live gauges were dropped.
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    version = feed.json()["model_version"]
    served = ("paperfeed_feeds_served_total", frozenset({("model_version", version)}))
    assert samples[served] == 1
    # Per-process gauges carry the pid of the worker process that answered the scrape (the
    # server runs PAPERFEED_WORKERS of them under one supervisor).
    active = [
        value
        for (name, labels), value in samples.items()
        if name == "paperfeed_model_active" and ("version", version) in labels
    ]
    assert active and all(
        dict(labels).get("pid") for (n, labels) in samples if n == "paperfeed_model_active"
    )
    assert 1 in active
    assert not list(shared.glob("gauge_live*.db"))  # every worker has stopped
    assert list(shared.glob("counter_*.db"))
