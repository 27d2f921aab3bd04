"""GET /metrics: what a Prometheus scrape of the real app sees after real requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.settings import Settings
from tests.support import AppClient, event, fit_collab, runtime_of

FEED_PATH = "/v1/users/{user_id}/feed"


async def scrape(client: AppClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels, parsed by prometheus_client."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """A sample's value; 0 when it has not appeared yet (metrics are process-wide, so tests
    compare a scrape with the one before)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def feed_requests(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    labels = {"app_name": "paperfeed", "method": "GET", "path": FEED_PATH, "status_code": "200"}
    return value(samples, "paperfeed_request_duration_seconds_count", **labels)


async def test_a_scrape_counts_requests_feeds_and_events(
    catalogue: AppClient, settings: Settings
) -> None:
    before = await scrape(catalogue)
    versions = set()
    for reader in ("ada", "bob", "cy"):
        response = await catalogue.get(f"/v1/users/{reader}/feed", params={"limit": 3})
        assert response.status_code == 200
        versions.add(response.json()["model_version"])
    (version,) = versions
    batch = [event("m-1", "ada", "rl-0"), event("m-1", "ada", "rl-0"), event("m-2", "ada", "nope")]
    assert (await catalogue.post("/v1/events", json={"events": batch})).status_code == 200
    after = await scrape(catalogue)

    # The latency histogram counts the three feeds under their route template and status,
    # in its buckets too (the +Inf bucket is every observation).
    assert feed_requests(after) - feed_requests(before) == 3
    inf = {
        "app_name": "paperfeed",
        "method": "GET",
        "path": FEED_PATH,
        "status_code": "200",
        "le": "+Inf",
    }
    assert value(after, "paperfeed_request_duration_seconds_bucket", **inf) == feed_requests(after)
    # The feed counter names the model version that ranked them, as the responses did.
    served = "paperfeed_feeds_served_total"
    assert (
        value(after, served, model_version=version) - value(before, served, model_version=version)
        == 3
    )
    # One event accepted, one repeated in the batch, one for an unknown paper.
    for outcome in ("accepted", "duplicate", "rejected"):
        delta = value(after, "paperfeed_events_total", outcome=outcome) - value(
            before, "paperfeed_events_total", outcome=outcome
        )
        assert delta == 1, outcome

    # Gauges read at the scrape: the catalogue is embedded, this process ranks with `version`.
    assert value(after, "paperfeed_catalogue_papers") == 12
    assert value(after, "paperfeed_embedding_queue_papers") == 0
    assert value(after, "paperfeed_index_papers") == 12
    assert value(after, "paperfeed_model_active", version=version) == 1
    assert value(after, "paperfeed_db_pool_connections", state="max") == settings.db_pool_size
    assert 1 <= value(after, "paperfeed_db_pool_connections", state="open") <= settings.db_pool_size
    # The statistics version in use, as a time (refreshes are 30 s apart; the test takes 1 s).
    stats_version = runtime_of(catalogue).stats.version
    stamp = (
        datetime.strptime(stats_version, "stats-%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC).timestamp()
    )
    assert value(after, "paperfeed_stats_snapshot_timestamp_seconds") == pytest.approx(stamp)
    # The statistics refresh at start was timed; no collaborative artifact is active.
    assert value(after, "paperfeed_stats_refresh_seconds_count") >= 1
    assert value(after, "paperfeed_collab_model_active", version="none") == 1


async def test_the_collaborative_version_served_is_a_gauge(catalogue: AppClient) -> None:
    saves = [event(f"g{i}", f"reader{i % 3}", f"rl-{i % 4}") for i in range(8)]
    assert (await catalogue.post("/v1/events", json={"events": saves})).status_code == 200
    snapshot = await fit_collab(catalogue)  # `paperfeed fit`, then loaded
    version = runtime_of(catalogue).collab.version
    assert version.startswith("collab-") and snapshot["version"].endswith(f"/{version}")
    samples = await scrape(catalogue)
    assert value(samples, "paperfeed_collab_model_active", version=version) == 1
    assert ("paperfeed_collab_model_active", frozenset({("version", "none")})) not in samples


async def test_a_refused_request_is_counted_with_its_status(client: AppClient) -> None:
    """Authentication runs inside the metrics middleware: a 401 must not count as 200."""
    labels = {"app_name": "paperfeed", "method": "GET", "path": "/v1/trending"}
    before = await scrape(client)
    response = await client.get("/v1/trending", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    after = await scrape(client)
    name = "paperfeed_requests_total"
    assert (
        value(after, name, **labels, status_code="401")
        - value(before, name, **labels, status_code="401")
        == 1
    )
    assert value(after, name, **labels, status_code="200") == value(
        before, name, **labels, status_code="200"
    )


async def test_metrics_need_an_admin_key(client: AppClient) -> None:
    anonymous = await client.get("/metrics", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    reader_key = await client.create_key("feed:read")
    refused = await client.get("/metrics", headers={"Authorization": f"Bearer {reader_key}"})
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]
    # Not part of the API that clients read about.
    schema = (await client.get("/docs/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


async def test_every_response_carries_a_request_id(client: AppClient) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "lb-7f3a:42"})
    assert given.headers["x-request-id"] == "lb-7f3a:42"
    made = [(await client.get("/health")).headers["x-request-id"] for _ in range(2)]
    assert len(set(made)) == 2 and all(len(m) == 32 for m in made)
    # An id that would garble a log line is replaced, not echoed.
    for bad in ("two words", "x" * 200, '"quoted"'):
        response = await client.get("/health", headers={"X-Request-ID": bad})
        assert response.headers["x-request-id"] != bad
    # Also on answers no route handles.
    missing = await client.get("/nowhere", headers={"X-Request-ID": "r-404"})
    assert missing.status_code == 404 and missing.headers["x-request-id"] == "r-404"
