from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings


class PingConsumer(AsyncJsonWebsocketConsumer):
    """``ws://HOST/ws/ping/``: answers ``{"type": "ping"}`` with ``pong``; proves the socket stack end to end."""

    async def connect(self) -> None:
        await self.accept()
        await self.send_json({"type": "hello", "region": settings.REGION.code})

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "code": "unknown_type", "message": 'Send {"type": "ping"}.'})

    @classmethod
    async def decode_json(cls, text_data: str):
        try:
            return await super().decode_json(text_data)
        except (ValueError, RecursionError):  # RecursionError: JSON nested a few thousand deep
            return None


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Any socket address no route serves: an ``error`` event and close code 4404.

    Without it Channels' router raises, and the server answers the handshake with a 500.
    4404 is what a live room that does not exist closes with, so clients handle one code.
    """

    async def connect(self) -> None:
        await self.accept()
        await self.send_json({"type": "error", "code": "not_found", "message": "There is no socket at this address."})
        await self.close(code=4404)
