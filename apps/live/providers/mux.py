"""Mux Video live streams through the official ``mux-python`` SDK.

Mux records every broadcast as an *asset* that it keeps itself, outside the region's
recording store. Ending a show therefore answers the show's assets as its recording URL,
``mux://assets/<asset-id>[,<asset-id>...]``, and :class:`MuxRecordingStore` deletes them
through the Assets API once the region's retention has passed.
"""

from __future__ import annotations

import re

import mux_python
import urllib3
from django.conf import settings
from mux_python.rest import ApiException

from apps.live.providers import LiveStream, StreamProviderError
from apps.live.providers.recordings import RecordingStoreError

RECORDING_PREFIX = "mux://assets/"

# The SDK waits forever unless told; a hung Mux must not hold a request or the beat worker.
TIMEOUT = (5, 30)  # seconds: connect, read

# What the SDK raises when Mux refuses or cannot be reached: ApiException for an HTTP error
# (and TLS failures, as status 0); urllib3's errors once its own retries are spent
# (connection refused, timeouts), which are not OSErrors.
FAILURES = (ApiException, urllib3.exceptions.HTTPError, OSError)

# Mux asset ids are short URL-safe tokens; they must never hold the "," and "/" of our
# reference. Anything else in a reference did not come from Mux and is never sent to the API.
_ASSET_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _api_client(*, token_id: str, token_secret: str, api_base: str | None) -> mux_python.ApiClient:
    config = mux_python.Configuration()
    if api_base:
        config.host = api_base.rstrip("/")
    config.username = token_id
    config.password = token_secret
    return mux_python.ApiClient(config)


def _configured() -> None:
    if not (settings.MUX_TOKEN_ID and settings.MUX_TOKEN_SECRET):
        raise StreamProviderError("Mux is not configured: set MUX_TOKEN_ID and MUX_TOKEN_SECRET.")


class MuxProvider:
    name = "mux"

    def __init__(self, *, token_id: str, token_secret: str, api_base: str | None, rtmp_url: str) -> None:
        self.api = mux_python.LiveStreamsApi(
            _api_client(token_id=token_id, token_secret=token_secret, api_base=api_base)
        )
        self.rtmp_url = rtmp_url

    @classmethod
    def from_settings(cls) -> MuxProvider:
        _configured()
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
            stream = self.api.create_live_stream(request, _request_timeout=TIMEOUT).data
        except FAILURES as exc:
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

    def stream_end(self, *, stream_id: str) -> str | None:
        """Complete the broadcast and answer its recording at Mux (None: nothing was broadcast).

        Reading the assets is part of ending: a show whose assets we do not know would keep
        its recording at Mux for ever, so if Mux cannot say, the show does not end yet and
        the merchant tries again (completing twice is harmless).
        """
        # "Complete" ends the broadcast at once and finalises the recording asset; "disable"
        # refuses the encoder from now on, since an OBS left running would otherwise start a
        # new asset after the show that no room knows of, and that retention never deletes.
        try:
            self.api.signal_live_stream_complete(stream_id, _request_timeout=TIMEOUT)
            self.api.disable_live_stream(stream_id, _request_timeout=TIMEOUT)
        except FAILURES as exc:
            raise StreamProviderError(f"Mux did not end the live stream: {_reason(exc)}") from exc
        try:
            stream = self.api.get_live_stream(stream_id, _request_timeout=TIMEOUT).data
        except FAILURES as exc:
            raise StreamProviderError(f"Mux did not say which assets recorded the live stream: {_reason(exc)}") from exc
        # An encoder that dropped out for longer than the reconnect window started a new
        # asset when it came back: the show's recording is every asset of its stream.
        asset_ids = [*(stream.recent_asset_ids or []), *([stream.active_asset_id] if stream.active_asset_id else [])]
        return assets_url(asset_ids) if asset_ids else None


def assets_url(asset_ids: list[str]) -> str:
    """The recording reference of these Mux assets (order kept, duplicates dropped)."""
    unique = list(dict.fromkeys(asset_ids))
    for asset_id in unique:
        if not _ASSET_ID.fullmatch(asset_id):
            raise StreamProviderError(f"Mux answered an asset id we cannot keep: {asset_id!r}.")
    return RECORDING_PREFIX + ",".join(unique)


def asset_ids(url: str) -> list[str]:
    """The asset ids of a ``mux://assets/...`` reference; a malformed one is refused, never guessed at."""
    ids = url.removeprefix(RECORDING_PREFIX).split(",") if url.startswith(RECORDING_PREFIX) else []
    if not ids or not all(_ASSET_ID.fullmatch(asset_id) for asset_id in ids):
        raise RecordingStoreError(f"{url!r} is not a recording kept at Mux")
    return ids


class MuxRecordingStore:
    """Deletes recordings Mux keeps (``mux://assets/...``) through the Assets API.

    Idempotent like the other stores: an asset Mux no longer has (404) counts as deleted,
    so a run that died after deleting some assets finishes the job on the next run.
    Anything else (5xx, 401/403, Mux unreachable) raises :class:`RecordingStoreError` and
    the caller keeps the reference for the next run.
    """

    def __init__(self, *, token_id: str, token_secret: str, api_base: str | None) -> None:
        self.api = mux_python.AssetsApi(_api_client(token_id=token_id, token_secret=token_secret, api_base=api_base))

    @classmethod
    def from_settings(cls) -> MuxRecordingStore:
        try:
            _configured()
        except StreamProviderError as exc:
            raise RecordingStoreError(exc.message) from exc
        return cls(
            token_id=settings.MUX_TOKEN_ID, token_secret=settings.MUX_TOKEN_SECRET, api_base=settings.MUX_API_BASE
        )

    def delete(self, url: str) -> int:
        deleted = 0
        for asset_id in asset_ids(url):
            try:
                self.api.delete_asset(asset_id, _request_timeout=TIMEOUT)
            except FAILURES as exc:
                if isinstance(exc, ApiException) and exc.status == 404:
                    continue  # already gone: deleted by hand at Mux, or by a run that died before recording it
                raise RecordingStoreError(f"Mux did not delete asset {asset_id} of {url}: {_reason(exc)}") from exc
            deleted += 1
        return deleted


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    return f"HTTP {status}" if status else type(exc).__name__
