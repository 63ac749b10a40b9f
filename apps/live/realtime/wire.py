"""A room's frame on the wire: encoded once per process, the same bytes written to every viewer.

Through plain ASGI, every ``websocket.send`` makes the server encode the text to UTF-8 and
build a WebSocket frame around it, once per viewer: for a room of thousands of viewers,
thousands of identical encodings per frame. DESIGN.md asks for each frame to be encoded
once. ASGI has no message for "these bytes are already a frame", so the server that runs
LiveMall offers one as an ASGI extension (``livemall/websocket_protocol.py``, the protocol
uvicorn is started with): ``scope["extensions"][PREPARED_FRAMES]["write"]`` takes the
frame's bytes and returns whether it wrote them. It refuses (False) whenever the plain
path must decide instead: the transport is not draining, a close was sent, the socket is
gone. A server without the extension (a test communicator, another ASGI server) gets the
plain ``websocket.send`` for every frame, with the same result on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from websockets.frames import Frame, Opcode

PREPARED_FRAMES = "livemall.websocket.prepared_frames"

WritePrepared = Callable[[bytes], bool]


def text_frame(text: str) -> bytes:
    """The unmasked, uncompressed, final text frame a server sends for ``text`` (RFC 6455)."""
    # An uncompressed message is valid even where permessage-deflate was negotiated (RSV1
    # clear), so these bytes suit every viewer of the room.
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def prepared_writer(scope: Mapping[str, Any]) -> WritePrepared | None:
    """The server's prepared-frame writer for this socket, if the server offers one."""
    extension = (scope.get("extensions") or {}).get(PREPARED_FRAMES)
    if not isinstance(extension, Mapping):
        return None
    write = extension.get("write")
    return write if callable(write) else None
