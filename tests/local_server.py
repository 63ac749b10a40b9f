"""The HTTP server each fake of an outside service (Stripe, PayPal, Mux, IVS) answers on.

The real SDKs are pointed at it; only 127.0.0.1 is ever reached.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """Keep-alive like the real services, and no line printed per request into the test's output."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass


class LocalServer:
    """Serves ``handler`` on 127.0.0.1 at a free port, from a daemon thread, until :meth:`stop`.

    ``poll_interval``: how often the loop looks for :meth:`stop` (short where tests stop many).
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, poll_interval: float = 0.5) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(poll_interval,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
