"""Mux Video live streams through the official ``mux-python`` SDK.

Mux records every broadcast as an *asset* that it keeps itself, outside the region's
recording store. Ending a show therefore answers the show's assets as its recording URL,
``mux://assets/<asset-id>[,<asset-id>...]``, and :class:`MuxRecordingStore` deletes them
through the Assets API once the region's retention has passed.

After the show the recording is copied into the region's own store
(apps.live.services.recording_copy_from_mux): :meth:`MuxRecordingStore.master_url` asks
Mux for a temporary MP4 *master* of each asset and :func:`master_download` reads it. Once
the show has ended, its live stream object is no longer needed and is deleted
(:meth:`MuxProvider.stream_delete`); the assets survive that at Mux.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import mux_python
import urllib3
from django.conf import settings
from mux_python.rest import ApiException

from apps.live.providers import LiveStream, StreamProviderError
from apps.live.providers.recordings import RecordingSourceError, RecordingStoreError

logger = logging.getLogger(__name__)

RECORDING_PREFIX = "mux://assets/"

# The SDK waits forever unless told; a hung Mux must not hold a request or the beat worker.
TIMEOUT = (5, 30)  # seconds: connect, read

# What the SDK raises when Mux refuses or cannot be reached: ApiException for an HTTP error
# (and TLS failures, as status 0); urllib3's errors once its own retries are spent
# (connection refused, timeouts), which are not OSErrors.
FAILURES = (ApiException, urllib3.exceptions.HTTPError, OSError)
# Reading an asset also meets the SDK's validation: a value outside its enums (a master
# status Mux added later, say) is a ValueError while deserialising.
READ_FAILURES = (*FAILURES, ValueError)
# Assets a page when listing those of a deleted live stream (Mux allows up to 100).
ASSETS_PAGE = 100

# Mux asset ids are short URL-safe tokens; they must never hold the "," and "/" of our
# reference. Anything else in a reference did not come from Mux and is never sent to the API.
_ASSET_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_DIGITS = re.compile(r"[0-9]{1,20}")


def _api_client(*, token_id: str, token_secret: str, api_base: str | None) -> mux_python.ApiClient:
    config = mux_python.Configuration()
    if api_base:
        config.host = api_base.rstrip("/")
    config.username = token_id
    config.password = token_secret
    return mux_python.ApiClient(config)


def _configured() -> None:
    if not (settings.MUX_TOKEN_ID and settings.MUX_TOKEN_SECRET):
        raise StreamProviderError.not_set_up("Mux is not configured: set MUX_TOKEN_ID and MUX_TOKEN_SECRET.")


class MuxProvider:
    name = "mux"

    def __init__(self, *, token_id: str, token_secret: str, api_base: str | None, rtmp_url: str) -> None:
        client = _api_client(token_id=token_id, token_secret=token_secret, api_base=api_base)
        self.api = mux_python.LiveStreamsApi(client)
        self.assets_api = mux_python.AssetsApi(client)
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
            detail = f"Mux did not create the live stream: {_reason(exc)}"
            raise StreamProviderError.of_failed_call(detail, refused=_refused(exc)) from exc
        playback_ids = stream.playback_ids or []
        if not playback_ids:
            # Unusable without a playback id, and no room will ever know of it: delete it at
            # Mux now, or it stays there for ever (the error below is what the merchant sees).
            if stream.id:
                try:
                    self.stream_delete(stream_id=stream.id)
                except StreamProviderError as exc:
                    logger.error("Left Mux live stream %s of %s at Mux: %s", stream.id, room_slug, exc.detail)
            raise StreamProviderError.refused("Mux created the live stream without a playback id.")
        return LiveStream(
            provider=self.name,
            stream_id=stream.id,
            ingest_url=self.rtmp_url,
            stream_key=stream.stream_key,
            playback_url=f"https://stream.mux.com/{playback_ids[0].id}.m3u8",
        )

    def stream_end(self, *, stream_id: str) -> str | None:
        """Complete the broadcast and answer its recording at Mux ("": nothing was broadcast, nothing recorded).

        Reading the assets is part of ending: a show whose assets we do not know would keep
        its recording at Mux for ever, so if Mux cannot say, the show does not end yet and
        the merchant tries again (completing twice is harmless).
        """
        # "Complete" ends the broadcast at once and finalises the recording asset; "disable"
        # refuses the encoder from now on, since an OBS left running would otherwise start a
        # new asset after the show that no room knows of, and that retention never deletes.
        # A stream Mux no longer has (404) was deleted there while the show ran (from its
        # dashboard, say): nothing is left to stop, and a show that could never end would stay
        # live for its viewers for ever.
        try:
            self.api.signal_live_stream_complete(stream_id, _request_timeout=TIMEOUT)
            self.api.disable_live_stream(stream_id, _request_timeout=TIMEOUT)
        except FAILURES as exc:
            if _gone(exc):
                return self._assets_of_deleted_stream(stream_id)
            detail = f"Mux did not end the live stream: {_reason(exc)}"
            raise StreamProviderError.of_failed_call(detail, refused=_refused(exc), ending=True) from exc
        try:
            stream = self.api.get_live_stream(stream_id, _request_timeout=TIMEOUT).data
        except FAILURES as exc:
            if _gone(exc):
                return self._assets_of_deleted_stream(stream_id)
            detail = f"Mux did not say which assets recorded the live stream: {_reason(exc)}"
            raise StreamProviderError.of_failed_call(detail, refused=_refused(exc), ending=True) from exc
        # An encoder that dropped out for longer than the reconnect window started a new
        # asset when it came back: the show's recording is every asset of its stream.
        asset_ids = [*(stream.recent_asset_ids or []), *([stream.active_asset_id] if stream.active_asset_id else [])]
        return assets_url(asset_ids) if asset_ids else ""

    def _assets_of_deleted_stream(self, stream_id: str) -> str:
        """The recording of a live stream Mux no longer has: its assets outlive it, found by its id."""
        asset_ids: list[str] = []
        page = 1
        try:
            while True:
                found = (
                    self.assets_api.list_assets(
                        live_stream_id=stream_id, limit=ASSETS_PAGE, page=page, _request_timeout=TIMEOUT
                    ).data
                    or []
                )
                asset_ids += [asset.id for asset in found]
                if len(found) < ASSETS_PAGE:
                    break
                page += 1
        except FAILURES as exc:
            detail = f"Mux no longer has the live stream and did not list its assets: {_reason(exc)}"
            raise StreamProviderError.of_failed_call(detail, refused=_refused(exc), ending=True) from exc
        logger.warning(
            "Mux no longer had live stream %s at the show's end; %d asset(s) of it found.", stream_id, len(asset_ids)
        )
        return assets_url(asset_ids) if asset_ids else ""

    def stream_delete(self, *, stream_id: str) -> None:
        """Delete the ended show's live stream at Mux; one Mux no longer has (404) is already deleted.

        Only after :meth:`stream_end` has read the assets: they survive their stream's
        deletion, but the stream is what says which assets recorded the show.
        """
        try:
            self.api.delete_live_stream(stream_id, _request_timeout=TIMEOUT)
        except FAILURES as exc:
            if _gone(exc):
                return
            raise StreamProviderError(f"Mux did not delete live stream {stream_id}: {_reason(exc)}") from exc


def assets_url(asset_ids: list[str]) -> str:
    """The recording reference of these Mux assets (order kept, duplicates dropped)."""
    unique = list(dict.fromkeys(asset_ids))
    for asset_id in unique:
        if not _ASSET_ID.fullmatch(asset_id):
            # Met while the merchant ends the show: told in their words, Mux's answer goes to the log.
            raise StreamProviderError.not_ended(f"Mux answered an asset id we cannot keep: {asset_id!r}.")
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
            raise RecordingStoreError(exc.detail) from exc
        return cls(
            token_id=settings.MUX_TOKEN_ID, token_secret=settings.MUX_TOKEN_SECRET, api_base=settings.MUX_API_BASE
        )

    def delete(self, url: str) -> int:
        deleted = 0
        for asset_id in asset_ids(url):
            try:
                self.api.delete_asset(asset_id, _request_timeout=TIMEOUT)
            except FAILURES as exc:
                if _gone(exc):
                    continue  # already gone: deleted by hand at Mux, or by a run that died before recording it
                raise RecordingStoreError(f"Mux did not delete asset {asset_id} of {url}: {_reason(exc)}") from exc
            deleted += 1
        return deleted

    def master_url(self, asset_id: str) -> str | None:
        """Where to download the asset's MP4 master; asks Mux for one first. None: Mux is still preparing it.

        Mux prepares a master only when asked (``master_access="temporary"``) and keeps it
        for 24 hours; asking again once it expired starts a new one. Raises
        :class:`RecordingSourceError`, ``permanent`` when no master will ever come of this
        asset (gone, errored, or a URL we will not follow).
        """
        if not _ASSET_ID.fullmatch(asset_id):
            raise RecordingSourceError(f"{asset_id!r} is not a Mux asset id", permanent=True)
        try:
            asset = self.api.get_asset(asset_id, _request_timeout=TIMEOUT).data
            if asset.master_access != "temporary":
                request = mux_python.UpdateAssetMasterAccessRequest(master_access="temporary")
                asset = self.api.update_asset_master_access(asset_id, request, _request_timeout=TIMEOUT).data
        except READ_FAILURES as exc:
            gone = _gone(exc)
            raise RecordingSourceError(
                f"Mux did not give the master of asset {asset_id}: {_reason(exc)}", permanent=gone
            ) from exc
        master = asset.master
        if asset.status == "errored" or (master is not None and master.status == "errored"):
            raise RecordingSourceError(f"Mux could not make a master of asset {asset_id}", permanent=True)
        if asset.status != "ready" or master is None or master.status != "ready" or not master.url:
            return None
        _refuse_unless_http(master.url)
        return master.url


def _refuse_unless_http(url: str) -> None:
    """A master URL is where Mux serves a file over HTTP(S); anything else is never followed."""
    try:
        parts = urlsplit(url)
        scheme, ok = parts.scheme, parts.scheme in {"https", "http"} and bool(parts.hostname) and not parts.username
    except ValueError:
        scheme, ok = "?", False
    if not ok:
        # Only the scheme is told: the rest of a URL may carry a token or a password.
        raise RecordingSourceError(
            f"Mux answered a master URL that is not http(s) to a host (scheme {scheme[:20]!r})", permanent=True
        )


class MasterBody(io.RawIOBase):
    """The body of a master download, read once: refuses more than ``max_bytes`` and a body cut short.

    Every failure is a :class:`RecordingSourceError`, so a store writing it can tell a
    broken download from its own failure.
    """

    def __init__(self, response: urllib3.BaseHTTPResponse, *, url: str, expected: int | None, max_bytes: int) -> None:
        self.response = response
        self.url = url
        self.expected = expected
        self.max_bytes = max_bytes
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        # Fills the buffer unless the body ends: boto3 takes each read as a whole multipart
        # part, and S3 refuses parts under 5 MiB but the last.
        filled = 0
        while filled < len(buffer):
            try:
                data = self.response.read(len(buffer) - filled)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise RecordingSourceError(
                    f"the master download from {_host(self.url)} broke off after {self.received} bytes: {_reason(exc)}"
                ) from exc
            if not data:
                if self.expected is not None and self.received != self.expected:
                    raise RecordingSourceError(
                        f"the master download from {_host(self.url)} broke off after {self.received} "
                        f"of {self.expected} bytes"
                    )
                break
            self.received += len(data)
            if self.received > self.max_bytes:
                raise RecordingSourceError(
                    f"the master at {_host(self.url)} is larger than LIVE_MUX_MASTER_MAX_BYTES={self.max_bytes}",
                    permanent=True,
                )
            buffer[filled : filled + len(data)] = data
            filled += len(data)
        return filled


@contextmanager
def master_download(url: str, *, max_bytes: int, timeout: float) -> Iterator[MasterBody]:
    """Stream the master at ``url`` (from :meth:`MuxRecordingStore.master_url`), never holding it in memory.

    ``timeout``: seconds to connect, and between two reads of the body; a stalled download
    fails rather than holding the worker. The Mux credentials are never sent there.
    """
    _refuse_unless_http(url)
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=min(timeout, 10), read=timeout),
        # A master URL may redirect to the file's storage: a few hops, http(s) only (urllib3
        # knows no other scheme); a failure to connect is worth one more try, a cut body is not.
        retries=urllib3.Retry(total=3, connect=1, read=0, redirect=3, raise_on_redirect=True),
    )
    try:
        response = http.request(
            "GET", url, preload_content=False, decode_content=False, headers={"Accept-Encoding": "identity"}
        )
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        http.clear()
        raise RecordingSourceError(f"could not download the master from {_host(url)}: {_reason(exc)}") from exc
    try:
        expected = _expected_length(response, url=url, max_bytes=max_bytes)
        yield MasterBody(response, url=url, expected=expected, max_bytes=max_bytes)
    finally:
        response.release_conn()
        response.close()
        http.clear()


def _expected_length(response: urllib3.BaseHTTPResponse, *, url: str, max_bytes: int) -> int | None:
    """The body's length, checked before a byte is stored; None for a chunked body (urllib3 checks its end)."""
    if response.status != 200:
        raise RecordingSourceError(f"the master download from {_host(url)} answered HTTP {response.status}")
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        # Stored as sent, the file would not be the MP4; we asked for identity.
        raise RecordingSourceError(f"the master download from {_host(url)} came encoded; asked for identity")
    length = response.headers.get("Content-Length")
    if length is None:
        if "chunked" not in response.headers.get("Transfer-Encoding", "").lower():
            # Neither a length nor chunks: a body cut short could not be told from a whole one.
            raise RecordingSourceError(f"the master download from {_host(url)} did not say how long it is")
        return None
    if not _DIGITS.fullmatch(length):
        raise RecordingSourceError(f"the master download from {_host(url)} sent Content-Length {length[:20]!r}")
    if int(length) > max_bytes:
        raise RecordingSourceError(
            f"the master at {_host(url)} has {length} bytes, more than LIVE_MUX_MASTER_MAX_BYTES={max_bytes}",
            permanent=True,
        )
    return int(length)


def _host(url: str) -> str:
    # A master URL carries a signed token: logs name the host only.
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    return f"HTTP {status}" if status else type(exc).__name__


def _gone(exc: Exception) -> bool:
    return isinstance(exc, ApiException) and exc.status == 404


def _refused(exc: Exception) -> bool:
    # Mux answered and said no (4xx: credentials, quota, the request): the same request
    # will not pass by itself. A 5xx, a timeout or no answer at all (status 0) may.
    status = exc.status if isinstance(exc, ApiException) else None
    return status is not None and 400 <= status < 500
