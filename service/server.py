"""Running the app under uvicorn with a graceful SIGTERM: drain, then stop."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import uvicorn
from litestar import Litestar

from service.logs import logging_config
from service.settings import Settings

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    """On SIGTERM, keep serving for `grace` seconds while /ready answers 503 (so a load
    balancer stops sending traffic and requests already queued are answered), then shut
    down as uvicorn does: stop accepting, finish what is in progress, exit."""

    def __init__(self, config: uvicorn.Config, app: Litestar, grace: float) -> None:
        super().__init__(config)
        self.app = app
        self.grace = grace
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._draining or self.grace <= 0:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        runtime = getattr(self.app.state, "runtime", None)
        if runtime is not None:
            runtime.draining = True
        log.info("SIGTERM: draining for %.1f s before shutting down", self.grace)
        timer = threading.Timer(self.grace, super().handle_exit, (sig, frame))
        timer.daemon = True
        timer.start()


def serve(app: Litestar, settings: Settings) -> None:
    """Serve until SIGTERM (drained, exit code 0) or Ctrl-C."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # uvicorn applies this in every process it starts; the app writes the access log.
        log_config=logging_config(settings),
        access_log=False,
    )
    # uvicorn re-raises the signal it stopped for once it is done; exit 0 then.
    signal.signal(signal.SIGTERM, _exit_zero)
    DrainingServer(config, app, settings.shutdown_grace_seconds).run()


def _exit_zero(signum: int, frame: object) -> None:
    raise SystemExit(0)
