"""The workers' listening sockets (service/server.py). Connections accepted on a shared
one go without Nagle's algorithm, as a single-process server's do; otherwise every
response written in two parts waits for the client's delayed ACK (about 40 ms). Where the
kernel spreads connections over sockets bound to one port, each worker listens on its
own, and a burst of connections reaches all of them."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
import uvicorn

from service.server import reuse_port, spreads_connections, tcp


async def accepted_nodelay(listener: socket.socket) -> int:
    """TCP_NODELAY of a connection that asyncio accepts on `listener`."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=listener)
    async with server:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        value = await asyncio.wait_for(accepted, 5)
        writer.close()
    return value


def bound_with_protocol_0() -> socket.socket:
    """A listening socket bound as uvicorn's `bind_socket` binds it up to some release
    (later ones say TCP themselves)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


async def test_connections_on_the_shared_socket_are_sent_without_delay() -> None:
    bound = bound_with_protocol_0()
    assert bound.proto == 0
    assert await accepted_nodelay(tcp(bound)) != 0
    # Without it, asyncio leaves Nagle's algorithm on.
    assert await accepted_nodelay(bound_with_protocol_0()) == 0
    # uvicorn's socket, whichever protocol this version binds it with.
    uvicorns = uvicorn.Config("unused", host="127.0.0.1", port=0).bind_socket()
    assert await accepted_nodelay(tcp(uvicorns)) != 0


@pytest.mark.skipif(not spreads_connections(), reason="the kernel does not spread SO_REUSEPORT")
async def test_a_burst_of_connections_reaches_every_worker_socket() -> None:
    held = reuse_port("127.0.0.1", 0)  # the supervisor's: holds the port, never listens
    port = held.getsockname()[1]
    accepted = [0, 0]

    def counter(n: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], None]:
        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted[n] += 1
            writer.close()

        return on_connect

    servers = [
        await asyncio.start_server(counter(n), sock=reuse_port("127.0.0.1", port)) for n in range(2)
    ]
    # 32 connections at once, as a load tool opens its keep-alive connections: all of
    # them on one socket would happen once in 2^31 bursts.
    opened = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(32)))
    for _, writer in opened:
        writer.close()
    for _ in range(100):
        if sum(accepted) == 32:
            break
        await asyncio.sleep(0.02)
    assert sum(accepted) == 32 and min(accepted) > 0, accepted
    for server in servers:
        server.close()
    held.close()
