"""`GET /metrics` for Prometheus (admin): Litestar's Prometheus controller behind the admin
scope, with the gauges that are read rather than counted brought up to date first."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request
from litestar.plugins.prometheus import PrometheusController

from service import metrics
from service.auth import requires
from service.runtime import Runtime

log = logging.getLogger(__name__)


async def observe(request: Request[Any, Any, Any]) -> None:
    """Before a scrape: this process's gauges, and the catalogue counts from PostgreSQL
    (left as they were when the database does not answer: metrics matter most then)."""
    runtime: Runtime = request.app.state.runtime
    runtime.observe()
    try:
        live, pending = await asyncio.wait_for(
            runtime.store.catalogue_counts(runtime.embedder.name), timeout=3
        )
    except Exception as exc:  # never fail a scrape on the database
        log.warning("metrics: catalogue counts unavailable: %s", exc)
        return
    metrics.CATALOGUE.set(live)
    metrics.EMBEDDING_QUEUE.set(pending)


class MetricsController(PrometheusController):
    """Prometheus's text format; with `PROMETHEUS_MULTIPROC_DIR` set, every process's."""

    guards = (requires("admin"),)
    include_in_schema = False  # for Prometheus, not for API clients
    before_request = staticmethod(observe)


HANDLERS = [MetricsController]
