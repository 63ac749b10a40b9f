"""A local stand-in for the Mux Video API that the real mux-python SDK talks to over HTTP.

It also serves the MP4 masters Mux hands out (``/masters/<asset-id>.mp4``), as Mux's
storage would, so a recording's copy downloads real bytes over a real socket.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.local_server import LocalServer, QuietHandler


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Master:
    """How the fake serves one asset's MP4 master once Mux has prepared it."""

    body: bytes
    url: str | None = None  # what Mux answers as master.url; None: this server's /masters/<id>.mp4
    cut_after: int | None = None  # the connection drops after this many bytes (Content-Length says all)
    stall_after: int | None = None  # sends this many bytes, then nothing (until the fake stops)
    status: int = 200
    headers: dict[str, str | None] = field(default_factory=dict)  # over the usual ones; None leaves one out


class FakeMux(LocalServer):
    """Creates, reads, completes and deletes live streams, records their assets, serves their masters, deletes assets.

    ``fail_next`` answers the next API requests with that status. ``broadcast`` is what the
    merchant's encoder connecting does at Mux: a new recording asset of the stream.
    ``masters[asset_id] = Master(body)``: Mux has finished preparing that asset's master;
    it shows as ready once master access was asked for (until then, "preparing").
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.streams: dict[str, dict[str, Any]] = {}
        self.deleted_streams: set[str] = set()
        self.assets: dict[str, dict[str, Any]] = {}
        self.masters: dict[str, Master] = {}
        self.downloads: list[str] = []  # asset ids whose master was requested
        self.fail_next: list[int | None] = []  # None: answer that request as usual
        self._stop = threading.Event()
        fake = self

        class Handler(QuietHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                if self.command == "GET" and self.path.startswith("/masters/"):
                    fake._send_master(self, recorded)
                    return
                status, body = fake._dispatch(recorded)
                data = b"" if status == 204 else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        super().__init__(Handler)

    def stop(self) -> None:
        self._stop.set()
        super().stop()

    def master_url(self, asset_id: str) -> str:
        return f"{self.url}/masters/{asset_id}.mp4"

    def _asset_view(self, asset: dict[str, Any]) -> dict[str, Any]:
        """The asset as Mux answers it: its master preparing once asked for, ready once prepared."""
        view = {k: v for k, v in asset.items() if k != "master_access"}
        view["master_access"] = asset.get("master_access", "none")
        if view["master_access"] == "temporary":
            master = self.masters.get(asset["id"])
            if master is None:
                view["master"] = {"status": "preparing"}
            else:
                view["master"] = {"status": "ready", "url": master.url or self.master_url(asset["id"])}
        return view

    def _send_master(self, handler: BaseHTTPRequestHandler, req: Recorded) -> None:
        self.requests.append(req)
        asset_id = req.path.removeprefix("/masters/").removesuffix(".mp4")
        master = self.masters.get(asset_id)
        self.downloads.append(asset_id)
        if master is None or asset_id not in self.assets:
            handler.send_response(404)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(master.status)
        headers = {"Content-Type": "video/mp4", "Content-Length": str(len(master.body)), **master.headers}
        for name, value in headers.items():
            if value is not None:
                handler.send_header(name, value)
        handler.end_headers()
        body = master.body
        if master.cut_after is not None:
            handler.wfile.write(body[: master.cut_after])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if master.stall_after is not None:
            handler.wfile.write(body[: master.stall_after])
            handler.wfile.flush()
            self._stop.wait(30)
            handler.close_connection = True
            return
        handler.wfile.write(body)
        if headers.get("Content-Length") is None:
            handler.close_connection = True  # the body ends where the connection does

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
            if stream is None or parts[3] in self.deleted_streams:
                return not_found
            if req.method == "DELETE" and len(parts) == 4:
                # Kept in ``streams`` for the tests to read; Mux answers 404 for it from now on.
                self.deleted_streams.add(parts[3])
                return 204, {}
            if req.method == "PUT" and parts[4:] == ["complete"]:
                # The broadcast ends: its asset is finished and no longer the active one.
                stream["status"] = "completed"
                stream.pop("active_asset_id", None)
                for asset_id in stream.get("recent_asset_ids", []):
                    if asset_id in self.assets:
                        self.assets[asset_id]["status"] = "ready"
                return 200, {"data": {}}
            if req.method == "PUT" and parts[4:] == ["disable"]:
                stream["status"] = "disabled"
                return 200, {"data": {}}
            if req.method == "GET" and len(parts) == 4:
                return 200, {"data": stream}
        if req.method == "GET" and req.path.startswith("/video/v1/assets?"):
            # Listing, as Mux pages it: ``limit`` a page, ``page`` from 1, optionally one stream's only.
            query = parse_qs(urlsplit(req.path).query)
            stream_id = query.get("live_stream_id", [None])[0]
            limit, page = int(query.get("limit", ["25"])[0]), int(query.get("page", ["1"])[0])
            listed = [a for a in self.assets.values() if stream_id is None or a["live_stream_id"] == stream_id]
            return 200, {"data": [self._asset_view(a) for a in listed[(page - 1) * limit : page * limit]]}
        if req.method == "DELETE" and parts[:3] == ["video", "v1", "assets"] and len(parts) == 4:
            if self.assets.pop(parts[3], None) is None:
                return not_found
            return 204, {}
        if parts[:3] == ["video", "v1", "assets"] and len(parts) >= 4:
            asset = self.assets.get(parts[3])
            if asset is None:
                return not_found
            if req.method == "GET" and len(parts) == 4:
                return 200, {"data": self._asset_view(asset)}
            if req.method == "PUT" and parts[4:] == ["master-access"]:
                asset["master_access"] = req.json["master_access"]
                return 200, {"data": self._asset_view(asset)}
        return not_found


def unreachable_url() -> str:
    """An address where nothing listens: connecting is refused at once (Mux down, or a network cut)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
