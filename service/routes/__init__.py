"""HTTP route handlers, one module per resource."""

from litestar.types import ControllerRouterHandler

from service.routes import (
    events,
    feeds,
    metrics,
    models,
    papers,
    stats,
    summary,
    system,
    users,
    web,
)

HANDLERS: list[ControllerRouterHandler] = [
    *papers.HANDLERS,
    *events.HANDLERS,
    *feeds.HANDLERS,
    *models.HANDLERS,
    *stats.HANDLERS,
    *users.HANDLERS,
    *system.HANDLERS,
    *metrics.HANDLERS,
    *summary.HANDLERS,
    *web.HANDLERS,
]
