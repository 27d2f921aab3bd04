"""HTTP route handlers, one module per resource."""

from litestar.types import ControllerRouterHandler

from service.routes import events, feeds, papers, system

HANDLERS: list[ControllerRouterHandler] = [
    *papers.HANDLERS,
    *events.HANDLERS,
    *feeds.HANDLERS,
    *system.HANDLERS,
]
