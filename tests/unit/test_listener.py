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


async def test_connections_on_the_shared_socket_are_sent_without_delay() -> None:
    # The supervisor binds the socket as uvicorn does, with protocol 0.
    bound = uvicorn.Config("unused", host="127.0.0.1", port=0).bind_socket()
    assert bound.proto == 0
    assert await accepted_nodelay(tcp(bound)) != 0
    # Without it, asyncio leaves Nagle's algorithm on.
    plain = uvicorn.Config("unused", host="127.0.0.1", port=0).bind_socket()
    assert await accepted_nodelay(plain) == 0
