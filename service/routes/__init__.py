"""HTTP route handlers, one module per resource."""

from litestar.types import ControllerRouterHandler

from service.routes import (
    atom,
    events,
    feeds,
    models,
    papers,
    stats,
    subscriptions,
    system,
    users,
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
    *system.HANDLERS,
]
