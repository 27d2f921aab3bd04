"""What `GET /metrics` reports, in Prometheus's text format.

Request counts and latency per route and status come from Litestar's Prometheus plugin
(`paperfeed_request_duration_seconds{method,path,status_code}`, `paperfeed_requests_total`,
`paperfeed_requests_in_progress`); the metrics below are the service's own.
prometheus_client keeps metrics per process, in its default registry (and, when
`PROMETHEUS_MULTIPROC_DIR` is set, in files there that every process of one server shares),
so they live at module level, as Litestar's do. Gauges say how to combine processes:
`livesum` adds the live processes' values, `liveall` keeps one series per process (`pid`),
`mostrecent` keeps the latest write (a catalogue-wide count that any process may read).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import ASGIApp
from prometheus_client import Counter, Gauge, Histogram, multiprocess

from service.settings import prometheus_multiproc_dir

PREFIX = "paperfeed"

FEEDS = Counter(
    f"{PREFIX}_feeds_served",
    "Feeds served, by the model version that ranked them.",
    ["model_version"],
)
EVENTS = Counter(
    f"{PREFIX}_events",
    "Events posted to /v1/events, by outcome: accepted, duplicate or rejected.",
    ["outcome"],
)
EMBEDDING_QUEUE = Gauge(
    f"{PREFIX}_embedding_queue_papers",
    "Papers waiting for an embedding, catalogue-wide (read from PostgreSQL at each scrape).",
    multiprocess_mode="mostrecent",
)
CATALOGUE = Gauge(
    f"{PREFIX}_catalogue_papers",
    "Live (not withdrawn) papers, catalogue-wide (read from PostgreSQL at each scrape).",
    multiprocess_mode="mostrecent",
)
INDEXED = Gauge(
    f"{PREFIX}_index_papers",
    "Papers in this process's vector index.",
    multiprocess_mode="liveall",
)
MODEL = Gauge(
    f"{PREFIX}_model_active",
    "1 for the model version this process ranks feeds with.",
    ["version"],
    multiprocess_mode="liveall",
)
STATS = Gauge(
    f"{PREFIX}_stats_snapshot_timestamp_seconds",
    "When this process's catalogue statistics were computed: their version is "
    "stats-<this time in UTC>; an old value means refreshes are failing.",
    multiprocess_mode="liveall",
)
STATS_REFRESH = Histogram(
    f"{PREFIX}_stats_refresh_seconds",
    "Time to recompute the catalogue statistics (live counts; servers never fit models).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
COLLAB = Gauge(
    f"{PREFIX}_collab_model_active",
    "1 for the collaborative-model artifact (`paperfeed fit`) this process serves; "
    'version "none" when no artifact is active.',
    ["version"],
    multiprocess_mode="liveall",
)
POOL = Gauge(
    f"{PREFIX}_db_pool_connections",
    "Database connections of the servers' pools: open, idle (open, not in use) and max.",
    ["state"],
    multiprocess_mode="livesum",
)

for _outcome in ("accepted", "duplicate", "rejected"):
    EVENTS.labels(_outcome)  # a series from the start, so that rate() sees the first events

_shown: dict[str, set[str]] = {"model": set(), "collab": set()}


class RequestMetrics(PrometheusMiddleware):
    """Litestar's Prometheus middleware, with an error raised by a middleware inside it (a
    401 from authentication) answered before it reads the status: Litestar's middleware
    would count such a request as 200. This is how Litestar itself places its exception
    handler between route middleware and the handler."""

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        from litestar._asgi.utils import wrap_in_exception_handler

        super().__init__(wrap_in_exception_handler(app), config)


def request_metrics() -> Any:
    """The middleware that times every request by route template, method and status."""
    config = PrometheusConfig(
        app_name=PREFIX, prefix=PREFIX, group_path=True, middleware_class=RequestMetrics
    )
    return config.middleware


def _one_version(gauge: Gauge, shown: set[str], version: str) -> None:
    """Set the series of `version` to 1 and remove the others this process set."""
    gauge.labels(version).set(1)
    for old in shown - {version}:
        # Zero first: with PROMETHEUS_MULTIPROC_DIR the removed series' file keeps its value.
        gauge.labels(old).set(0)
        gauge.remove(old)
    shown.intersection_update({version})
    shown.add(version)


def observe_process(
    model_version: str,
    stats_version: str,
    indexed: int,
    pool: Any | None = None,
    *,
    collab_version: str = "none",
) -> None:
    """Set the gauges that describe this process: its ranker, statistics, collaborative
    models, index and pool (an asyncpg pool). Called at each scrape and after each
    statistics refresh or model swap."""
    _one_version(MODEL, _shown["model"], model_version)
    _one_version(COLLAB, _shown["collab"], collab_version)
    INDEXED.set(indexed)
    stamp = stats_timestamp(stats_version)
    if stamp is not None:
        STATS.set(stamp)
    if pool is not None:
        POOL.labels("open").set(pool.get_size())
        POOL.labels("idle").set(pool.get_idle_size())
        POOL.labels("max").set(pool.get_max_size())


def stats_timestamp(version: str) -> float | None:
    """The time in a statistics version (`stats-%Y%m%dT%H%M%S.%f`, UTC, then
    `/<collab version>` when one is loaded) as a Unix time."""
    stamp = version.split("/", 1)[0].removeprefix("stats-")
    try:
        when = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f")
    except ValueError:  # the empty snapshot before the first refresh
        return None
    return when.replace(tzinfo=UTC).timestamp()


def process_stopped() -> None:
    """With `PROMETHEUS_MULTIPROC_DIR`, drop this process's live gauges from the shared
    files, so a scrape stops reporting a process that has gone (its counters stay)."""
    folder = prometheus_multiproc_dir()
    if folder:
        multiprocess.mark_process_dead(os.getpid(), folder)  # type: ignore[no-untyped-call]
