"""A local stand-in for the Mux Video API that the real mux-python SDK talks to over HTTP."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"{}")


class FakeMux:
    """Creates live streams, completes them; ``fail_next`` answers the next requests with that status."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.streams: dict[str, dict[str, Any]] = {}
        self.fail_next: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                status, body = fake._dispatch(recorded)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _dispatch(self, req: Recorded) -> tuple[int, dict[str, Any]]:
        self.requests.append(req)
        if self.fail_next:
            status = self.fail_next.pop(0)
            return status, {"error": {"type": "server_error", "messages": ["fake failure"]}}
        if req.method == "POST" and req.path == "/video/v1/live-streams":
            stream_id = uuid.uuid4().hex
            stream = {
                "id": stream_id,
                "stream_key": f"sk-{uuid.uuid4().hex}",
                "status": "idle",
                "playback_ids": [{"id": f"pb{stream_id[:10]}", "policy": "public"}],
                "passthrough": req.json.get("passthrough"),
                "created_at": "1700000000",
            }
            self.streams[stream_id] = stream
            return 201, {"data": stream}
        parts = req.path.strip("/").split("/")
        if req.method == "PUT" and len(parts) == 5 and parts[4] == "complete":
            if parts[3] not in self.streams:
                return 404, {"error": {"type": "not_found", "messages": ["no such stream"]}}
            self.streams[parts[3]]["status"] = "completed"
            return 200, {"data": {}}
        return 404, {"error": {"type": "not_found", "messages": [req.path]}}
