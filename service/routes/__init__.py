"""HTTP route handlers, one module per resource."""

from litestar.types import ControllerRouterHandler

from service.routes import events, feeds, metrics, models, papers, stats, system, users, web

HANDLERS: list[ControllerRouterHandler] = [
    *papers.HANDLERS,
    *events.HANDLERS,
    *feeds.HANDLERS,
    *models.HANDLERS,
    *stats.HANDLERS,
    *users.HANDLERS,
    *system.HANDLERS,
    *metrics.HANDLERS,
    *web.HANDLERS,
]
