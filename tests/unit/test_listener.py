"""The workers' shared listening socket (service/server.py): connections accepted on it go
without Nagle's algorithm, as a single-process server's do; otherwise every response
written in two parts waits for the client's delayed ACK (about 40 ms)."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from service.server import tcp


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
