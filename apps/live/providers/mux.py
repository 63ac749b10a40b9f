"""Mux Video live streams through the official ``mux-python`` SDK."""

from __future__ import annotations

import mux_python
from django.conf import settings
from mux_python.rest import ApiException

from apps.live.providers import LiveStream, StreamProviderError


class MuxProvider:
    name = "mux"

    def __init__(self, *, token_id: str, token_secret: str, api_base: str | None, rtmp_url: str) -> None:
        config = mux_python.Configuration()
        if api_base:
            config.host = api_base.rstrip("/")
        config.username = token_id
        config.password = token_secret
        self.api = mux_python.LiveStreamsApi(mux_python.ApiClient(config))
        self.rtmp_url = rtmp_url

    @classmethod
    def from_settings(cls) -> MuxProvider:
        if not (settings.MUX_TOKEN_ID and settings.MUX_TOKEN_SECRET):
            raise StreamProviderError("Mux is not configured: set MUX_TOKEN_ID and MUX_TOKEN_SECRET.")
        return cls(
            token_id=settings.MUX_TOKEN_ID,
            token_secret=settings.MUX_TOKEN_SECRET,
            api_base=settings.MUX_API_BASE,
            rtmp_url=settings.MUX_RTMP_URL,
        )

    def stream_create(self, *, room_slug: str, playback_url: str = "") -> LiveStream:
        public = [mux_python.PlaybackPolicy.PUBLIC]
        request = mux_python.CreateLiveStreamRequest(
            playback_policy=public,
            new_asset_settings=mux_python.CreateAssetRequest(playback_policy=public),
            passthrough=room_slug,
            latency_mode="low",
        )
        try:
            stream = self.api.create_live_stream(request).data
        except (ApiException, OSError) as exc:
            raise StreamProviderError(f"Mux did not create the live stream: {_reason(exc)}") from exc
        playback_ids = stream.playback_ids or []
        if not playback_ids:
            raise StreamProviderError("Mux created the live stream without a playback id.")
        return LiveStream(
            provider=self.name,
            stream_id=stream.id,
            ingest_url=self.rtmp_url,
            stream_key=stream.stream_key,
            playback_url=f"https://stream.mux.com/{playback_ids[0].id}.m3u8",
        )

    def stream_end(self, *, stream_id: str) -> None:
        # "Complete" ends the broadcast at once and finalises the recording asset.
        try:
            self.api.signal_live_stream_complete(stream_id)
        except (ApiException, OSError) as exc:
            raise StreamProviderError(f"Mux did not end the live stream: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    return f"HTTP {status}" if status else type(exc).__name__
