"""The WebSocket protocol uvicorn runs LiveMall with: uvicorn's own, plus prepared frames.

Started as ``uvicorn ... --ws livemall.websocket_protocol:WebSocketProtocol`` (Makefile,
deploy/entrypoints/web.sh). It is uvicorn's ``websockets-sansio`` protocol unchanged, and
it offers one ASGI extension, ``apps.live.realtime.wire.PREPARED_FRAMES``: a live room
encodes each frame once and hands every viewer's socket the same bytes, instead of each
``websocket.send`` encoding and framing the same text again (the room's fan-out spends
most of its time in these sends; see README, "Live room fan-out").

The writer only writes while a plain ``websocket.send`` would write at once: handshake
done, no close sent, the peer still there, the transport draining. Otherwise it returns
False and the caller sends the frame the plain way, which waits, raises or drops it as
uvicorn decides. uvicorn never fragments a message, so a whole frame written between two
of its own sends cannot land inside one.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from apps.live.realtime.wire import PREPARED_FRAMES


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The app's task is created above but has not run yet: the scope can still grow.
        scope = getattr(self, "scope", None)
        if scope is not None and not self.close_sent:
            scope["extensions"][PREPARED_FRAMES] = {"write": self.write_prepared}

    def write_prepared(self, frame: bytes) -> bool:
        if (
            not self.handshake_complete
            or self.initial_response is not None
            or self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True
