"""The gateway's uvicorn server: on shutdown, every client is told to reconnect elsewhere first.

uvicorn's own shutdown stops accepting, then waits (up to its graceful timeout) for connections to
end; an SSE response never ends by itself. This subclass runs `on_shutdown` (the Broadcaster's
drain: each client gets a jittered `retry:` and its response is finished) just before that, in
the server's own event loop: no flag to poll, no patched signal handler.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Synchronous: the listeners are closed by the base class before any client task runs its
        # goodbye, so "stop accepting, tell clients, close" happens in that order.
        self._on_shutdown()
        await super().shutdown(sockets)
