"""A local stand-in for the Mux Video API that the real mux-python SDK talks to over HTTP."""

from __future__ import annotations

import json
import socket
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
    """Creates, reads and completes live streams, records their assets, deletes assets.

    ``fail_next`` answers the next requests with that status. ``broadcast`` is what the
    merchant's encoder connecting does at Mux: a new recording asset of the stream.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.streams: dict[str, dict[str, Any]] = {}
        self.assets: dict[str, dict[str, Any]] = {}
        self.fail_next: list[int | None] = []  # None: answer that request as usual
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                status, body = fake._dispatch(recorded)
                data = b"" if status == 204 else json.dumps(body).encode()
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

    def broadcast(self, stream_id: str) -> str:
        """The encoder connects (again, after the reconnect window): Mux starts recording a new asset."""
        if self.streams[stream_id]["status"] == "disabled":
            raise ConnectionRefusedError("Mux refuses the encoder of a disabled live stream")
        asset_id = uuid.uuid4().hex
        self.assets[asset_id] = {"id": asset_id, "live_stream_id": stream_id, "status": "preparing"}
        stream = self.streams[stream_id]
        stream.update(status="active", active_asset_id=asset_id)
        stream["recent_asset_ids"] = [*stream.get("recent_asset_ids", []), asset_id]
        return asset_id

    def requested(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def _dispatch(self, req: Recorded) -> tuple[int, dict[str, Any]]:
        self.requests.append(req)
        if self.fail_next and (status := self.fail_next.pop(0)) is not None:
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
        not_found = 404, {"error": {"type": "not_found", "messages": [req.path]}}
        if parts[:3] == ["video", "v1", "live-streams"] and len(parts) >= 4:
            stream = self.streams.get(parts[3])
            if stream is None:
                return not_found
            if req.method == "PUT" and parts[4:] == ["complete"]:
                # The broadcast ends: its asset is finished and no longer the active one.
                stream["status"] = "completed"
                stream.pop("active_asset_id", None)
                return 200, {"data": {}}
            if req.method == "PUT" and parts[4:] == ["disable"]:
                stream["status"] = "disabled"
                return 200, {"data": {}}
            if req.method == "GET" and len(parts) == 4:
                return 200, {"data": stream}
        if req.method == "DELETE" and parts[:3] == ["video", "v1", "assets"] and len(parts) == 4:
            if self.assets.pop(parts[3], None) is None:
                return not_found
            return 204, {}
        return not_found


def unreachable_url() -> str:
    """An address where nothing listens: connecting is refused at once (Mux down, or a network cut)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
