"""HTTP route handlers, one module per resource."""

from litestar.types import ControllerRouterHandler

from service.routes import (
    atom,
    events,
    feeds,
    interests,
    metrics,
    models,
    papers,
    stats,
    subscriptions,
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
    *subscriptions.HANDLERS,
    *atom.HANDLERS,
    *interests.HANDLERS,
    *system.HANDLERS,
    *metrics.HANDLERS,
    *summary.HANDLERS,
    *web.HANDLERS,
]
