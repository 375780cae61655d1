"""The socket `ingestd serve` listens on: connections it accepts send without Nagle's delay."""

from __future__ import annotations

import asyncio
import socket

from ingestd.cli.serve_command import bind


def test_accepted_connections_have_tcp_nodelay() -> None:
    """Without TCP_NODELAY a response written in two parts (headers, then body) waits for the
    client's delayed ACK; asyncio sets it on accepted sockets when the listener says TCP."""
    listener = bind("127.0.0.1", 0)
    port = listener.getsockname()[1]
    seen: list[int] = []

    class Note(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            seen.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one() -> None:
        server = await asyncio.get_running_loop().create_server(Note, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            while not seen:
                await asyncio.sleep(0)
            writer.close()

    asyncio.run(accept_one())
    assert seen == [1]
