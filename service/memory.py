"""glibc malloc settings for a server process: few arenas, and free memory handed back.

A worker's own memory is what a further worker costs (README: Scaling out), and glibc
keeps memory a process has freed: per thread in arenas of their own, and in the heap,
where a feed's large temporary arrays (scores over every paper, counts of the whole
catalogue) are put once glibc's mmap threshold has risen past them. Neither is a leak, but
both look like one from outside. Not glibc (macOS, musl): nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import sys
import time
from functools import cache

log = logging.getLogger(__name__)

# glibc's mallopt parameter for the most malloc arenas a process makes.
M_ARENA_MAX = -8


@cache
def _libc() -> ctypes.CDLL | None:
    """glibc, loaded once; None elsewhere."""
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def limit_arenas(arenas: int = 2) -> None:
    """At most `arenas` malloc arenas in this process, before it starts threads. glibc's
    default (eight per core) lets each thread that allocates (the event loop, the pool
    ranking feeds, the embedding worker) grow an arena of its own, and memory freed in one
    stays there: measured at 1M papers, a worker's own memory after the load fell by
    about 60 MB with two. MALLOC_ARENA_MAX, where an operator sets it, wins."""
    libc = _libc()
    if libc is not None and "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(M_ARENA_MAX, arenas)


def trim() -> float:
    """Hand the free memory of every arena back to the system (`malloc_trim(0)`, which
    also releases whole free pages inside the heap); seconds it took (0: not glibc)."""
    libc = _libc()
    if libc is None:
        return 0.0
    started = time.perf_counter()
    libc.malloc_trim(0)
    return time.perf_counter() - started


async def trim_forever(seconds: float) -> None:
    """`trim` every `seconds` (0: never). On the event loop: it takes a few milliseconds
    at most (README: the load benchmark), and a thread would contend for the arenas'
    locks with the loop anyway."""
    if seconds <= 0:
        return
    while True:
        await asyncio.sleep(seconds)
        log.debug("free memory handed back in %.1f ms", trim() * 1000)
