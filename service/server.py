"""Running the app under uvicorn, in one process or several behind one port, with a
graceful SIGTERM: drain, then stop."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from types import FrameType

import msgspec
import uvicorn
from litestar import Litestar
from uvicorn.config import STARTUP_FAILURE

from service.logs import configure as configure_logs
from service.logs import logging_config
from service.memory import limit_arenas
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


def limit_threads(settings: Settings) -> None:
    """One process, `settings.threads` threads for FAISS and BLAS (LightGBM's predict uses
    one; the embedding model's threads are the embedding worker's business). Call it once
    the libraries are loaded: threadpoolctl sets the limits of those it finds."""
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(settings.threads)
    threadpool_limits(settings.threads, user_api="blas")


def serve(settings: Settings, demo_key_id: str | None = None) -> None:
    """Serve until SIGTERM (drained, exit code 0) or Ctrl-C, in `settings.workers`
    processes (one per core by default) sharing one listening socket; `demo_key_id`: the
    demo key whose id the demo routes lend to the reader tokens they mint.

    Worker processes are forked from a fork server that has imported the heavy libraries
    (`PRELOAD`) and done nothing else, so the workers share those pages; they set up their
    logging afresh.
    """
    workers = settings.resolved_workers()
    # uvicorn re-raises the signal it stopped for once it is done; exit 0 then.
    signal.signal(signal.SIGTERM, _exit_zero)
    if workers == 1:
        if not _serve_here(settings, None, demo_key_id):
            sys.exit(STARTUP_FAILURE)
        return
    from storage.database import database_url

    # One embedded PostgreSQL (when no URL is set) for all: started here, once, and kept
    # until this process, the last to use it, exits.
    url = database_url(settings.database_url, settings.data_dir)
    shared = msgspec.structs.replace(settings, database_url=url)
    # uvicorn.Config applies its log config at once: ours, or its own format would win here.
    config = uvicorn.Config(
        "unused", host=settings.host, port=settings.port, log_config=logging_config(settings)
    )
    listener = config.bind_socket()
    code = Supervisor(shared, listener, workers, demo_key_id).run()
    sys.exit(code)


def _serve_here(
    settings: Settings,
    listener: socket.socket | None,
    demo_key_id: str | None,
    supervisor: int | None = None,
) -> bool:
    """Run one uvicorn server in this process; whether it started."""
    limit_arenas()
    from service.app import create_app

    app = create_app(settings, demo_key_id=demo_key_id)
    limit_threads(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # uvicorn applies this in every process it starts; the app writes the access log.
        log_config=logging_config(settings),
        access_log=False,
    )
    server = DrainingServer(config, app, settings.shutdown_grace_seconds)
    if supervisor is not None:
        threading.Thread(target=_watch_parent, args=(supervisor, server), daemon=True).start()
    server.run(sockets=None if listener is None else [listener])
    return server.started


def _worker(
    settings: Settings, listener: socket.socket, demo_key_id: str | None, supervisor: int
) -> None:
    """A worker process: one server on the supervisor's socket."""
    configure_logs(settings)
    signal.signal(signal.SIGTERM, _exit_zero)
    # Ctrl-C reaches every process of the terminal's group: uvicorn stops for it while
    # serving and raises it again when done; by then it needs no traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not _serve_here(settings, tcp(listener), demo_key_id, supervisor):
        sys.exit(STARTUP_FAILURE)


def tcp(listener: socket.socket) -> socket.socket:
    """The listening socket with its protocol said to be TCP. uvicorn's `bind_socket`
    left it 0 up to some release, and asyncio disables Nagle's algorithm (TCP_NODELAY)
    only on accepted sockets whose protocol says TCP: without it a response written in two
    parts waited for the client's delayed ACK, about 40 ms a request (measured: 44 ms
    against 1.3 ms a POST with two workers)."""
    if listener.family not in (socket.AF_INET, socket.AF_INET6) or listener.proto:
        return listener
    return socket.socket(listener.family, listener.type, socket.IPPROTO_TCP, listener.detach())


def _watch_parent(supervisor: int, server: DrainingServer) -> None:
    """Shut down (draining) if the supervisor dies without saying so (SIGKILL)."""
    while True:
        try:
            os.kill(supervisor, 0)
        except ProcessLookupError:
            break
        time.sleep(1.0)
    log.warning("the supervising process is gone; shutting down")
    server.handle_exit(signal.SIGTERM, None)


# What the fork server imports before it forks workers: the libraries whose import-time
# memory every worker would otherwise hold on its own (measured: numpy, scipy, FAISS,
# LightGBM and lleaves 146 MB, torch 122 MB, transformers and sentence-transformers 109 MB).
# Not paperfeed's own modules: importing service.metrics makes Prometheus files under the
# fork server's pid, which no worker would clean up.
PRELOAD = (
    "numpy",
    "scipy.sparse",
    "faiss",
    "lightgbm",
    "lleaves",
    "torch",
    "transformers",
    "sentence_transformers",
    "service.forking",  # last: freezes what the others loaded
)


class Supervisor:
    """Starts `count` worker processes on one listening socket, replaces any that dies,
    and on SIGTERM or Ctrl-C passes SIGTERM on, so that each drains, and waits for them."""

    def __init__(
        self,
        settings: Settings,
        listener: socket.socket,
        count: int,
        demo_key_id: str | None,
    ) -> None:
        self.settings = settings
        self.listener = listener
        self.count = count
        self.demo_key_id = demo_key_id
        # Forked, not spawned: each spawned worker imported torch and the rest on its own,
        # 250 MB of private memory apiece. The fork server imports them once and runs no
        # OpenMP region (which fork would break), so every worker shares those pages.
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(list(PRELOAD))
        self.stop = threading.Event()

    def _start(self) -> multiprocessing.process.BaseProcess:
        process = self.context.Process(
            target=_worker,
            args=(self.settings, self.listener, self.demo_key_id, os.getpid()),
            name="paperfeed-worker",
        )
        process.start()
        return process

    def run(self) -> int:
        """Until told to stop; the exit code: 0 unless a worker failed to start."""
        processes: list[multiprocessing.process.BaseProcess] = []
        signalled = False

        def stop(signum: int, frame: object) -> None:
            # Passed on at once and only once: a second SIGTERM ends a worker's draining.
            nonlocal signalled
            self.stop.set()
            if not signalled:
                signalled = True
                self._signal(processes)

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        processes.extend(self._start() for _ in range(self.count))
        log.info("serving with %d worker processes: %s", self.count, [p.pid for p in processes])
        failed = False
        while not self.stop.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("worker %s failed to start (see above); stopping", process.pid)
                    failed = True
                    self.stop.set()
                    break
                log.warning(
                    "worker %s exited (%s); starting another", process.pid, process.exitcode
                )
                processes[i] = self._start()
        # Once every worker has stopped listening too, new connections are refused.
        self.listener.close()
        if not signalled:  # a worker failed to start: stop the others
            self._signal(processes)
        for process in processes:
            process.join()
        return 1 if failed else 0

    @staticmethod
    def _signal(processes: list[multiprocessing.process.BaseProcess]) -> None:
        for process in processes:
            if process.pid is not None and process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)


def _exit_zero(signum: int, frame: object) -> None:
    raise SystemExit(0)
