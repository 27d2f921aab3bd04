"""HTTP route handlers, one module per resource."""

from litestar.types import ControllerRouterHandler

from service.routes import events, feeds, interests, models, papers, stats, system, users

HANDLERS: list[ControllerRouterHandler] = [
    *papers.HANDLERS,
    *events.HANDLERS,
    *feeds.HANDLERS,
    *models.HANDLERS,
    *stats.HANDLERS,
    *users.HANDLERS,
    *interests.HANDLERS,
    *system.HANDLERS,
]
