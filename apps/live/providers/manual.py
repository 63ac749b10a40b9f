"""The default provider: the merchant streams wherever they like and pastes the HLS playback URL."""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.errors import ApplicationError
from apps.live.models import LiveRoom
from apps.live.providers import LiveStream


class ManualProvider:
    name = "manual"

    def stream_create(self, *, room_slug: str, playback_url: str = "") -> LiveStream:
        # The room keeps the address (LiveRoom.playback_url): one it cannot store, with a NUL byte
        # (PostgreSQL refuses it) or longer than the column, failed the start with a 500.
        if (
            not playback_url.startswith(("https://", "http://"))
            or "\x00" in playback_url
            or len(playback_url) > LiveRoom._meta.get_field("playback_url").max_length
        ):
            raise ApplicationError(
                _("Paste the HLS playback address (.m3u8) of your stream before starting the show."),
                code="playback_url_required",
                fields={"playback_url": [_("An http(s) address of the HLS stream (.m3u8).")]},
            )
        return LiveStream(provider=self.name, stream_id="", ingest_url="", stream_key="", playback_url=playback_url)

    def stream_end(self, *, stream_id: str) -> str | None:
        # Nothing of ours to stop; a recording, if any, is referenced in the region's store as before.
        return None
