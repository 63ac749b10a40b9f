"""uvicorn serving an ASGI application in a thread of the test process, as production serves it.

pytest-django's ``live_server`` speaks only WSGI; this runs uvicorn with LiveMall's WebSocket
protocol in a thread, so it reaches the test database and the test Redis exactly as a deployed
web process would reach its own. Used by the live-room server tests and the browser tests.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# LiveMall's WebSocket protocol class, as production passes it to uvicorn (``--ws``).
PROTOCOL = "livemall.websocket_protocol:WebSocketProtocol"


@contextmanager
def uvicorn_in_thread(app: Any = None) -> Iterator[Any]:
    """uvicorn serving ``app`` (the project's ASGI application by default) on a free port.

    Yields the started ``uvicorn.Server``, its port as ``server.port``. On leaving, the server
    is told to exit and its thread joined; the live runtime and the database connections it
    opened are closed in the server's own loop and threads.
    """
    import uvicorn
    from asgiref.sync import sync_to_async
    from channels.db import database_sync_to_async
    from django.db import connections

    from apps.live.realtime.hub import close_runtime

    if app is None:
        from livemall.asgi import application as app

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, ws=PROTOCOL, lifespan="off", log_level="warning")
    )

    async def serve() -> None:
        try:
            await server.serve()
        finally:
            await close_runtime()
            await database_sync_to_async(connections.close_all)()
            await sync_to_async(connections.close_all, thread_sensitive=True)()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        server.port = server.servers[0].sockets[0].getsockname()[1]
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=20)
