"""Stream providers: where the merchant's encoder sends video and where viewers play it.

One small interface (:class:`StreamProvider`): ``stream_create`` returns the RTMP ingest
URL and stream key for the merchant's encoder (OBS) and the HLS playback URL for
viewers; ``stream_end`` stops it and says where the show's recording is when the provider
recorded it (Mux's assets, IVS's channel folder), so retention can delete it there
(apps.live.providers.recordings). ``manual`` (the merchant pastes a playback URL) is the
default; ``mux`` and ``ivs`` use the official SDKs (mux-python, boto3).

A provider named in :data:`PROVIDERS_DELETING_STREAMS` also has ``stream_delete(*,
stream_id)``, called once the show has ended, since its streams otherwise stay at the
provider for ever (a 404 there counts as deleted; a failure raises
:class:`StreamProviderError` and is tried again later). It is also called, once and best
effort, on a stream just created for a show whose start then failed, which no room refers to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.translation import gettext

from apps.errors import ApplicationError


@dataclass(frozen=True)
class LiveStream:
    """What a provider answers for a new live stream."""

    provider: str
    stream_id: str
    ingest_url: str
    stream_key: str
    playback_url: str


class StreamProviderError(ApplicationError):
    """The provider refused or could not be reached; nothing was changed on our side.

    ``message`` is what the merchant reads: translated, short, what happened and what to do.
    ``detail`` is the provider's own reason in English (status, error code, the setting at
    fault), for the logs and support; without it, ``message`` is that reason (an error only
    operators read, such as a background deletion's).
    """

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message, code="stream_provider_error", status=502)
        self.detail = message if detail is None else detail

    # The merchant's wordings, one home each: every provider says the same thing in the same
    # words, and a msgid written once cannot drift apart from its translations.

    @classmethod
    def not_set_up(cls, detail: str) -> StreamProviderError:
        """The region's settings for the provider are missing or wrong: only the operators can help."""
        return cls(gettext("The video service is not set up for this region; ask the operators."), detail=detail)

    @classmethod
    def unanswered(cls, detail: str) -> StreamProviderError:
        """No answer, a timeout or the provider's own failure (5xx): the same request may pass in a while."""
        return cls(gettext("The video service did not answer; try again in a minute."), detail=detail)

    @classmethod
    def refused(cls, detail: str) -> StreamProviderError:
        """The provider said no to starting a stream (4xx), or answered one we cannot use."""
        return cls(
            gettext(
                "The video service refused to start the stream; try again, or ask the operators if it keeps happening."
            ),
            detail=detail,
        )

    @classmethod
    def not_ended(cls, detail: str) -> StreamProviderError:
        """The provider said no to ending a stream (4xx), or answered what ending cannot use; the show stays live."""
        return cls(
            gettext("The video service could not end the show; try again, or ask the operators if it keeps happening."),
            detail=detail,
        )

    @classmethod
    def of_failed_call(cls, detail: str, *, refused: bool, ending: bool = False) -> StreamProviderError:
        """A call to the provider that failed while starting (or ``ending``) a show: ``refused``, it
        answered no (4xx), and the same request will not pass by itself; otherwise it did not answer
        (a timeout, no connection, its own 5xx), and it may in a while."""
        if not refused:
            return cls.unanswered(detail)
        return cls.not_ended(detail) if ending else cls.refused(detail)

    def __str__(self) -> str:
        # What logs and tracebacks print: operators need the provider's reason, not the merchant's words.
        return self.detail


class StreamProvider(Protocol):
    name: str

    def stream_create(self, *, room_slug: str, playback_url: str = "") -> LiveStream: ...

    def stream_end(self, *, stream_id: str) -> str | None:
        """Stop the stream; say where its recording is.

        A URL where the provider recorded it (Mux's assets; IVS's channel folder in the
        region's bucket), "" when nothing was recorded, None when the provider does not know
        (the show's own folder in the region's store).
        """
        ...


PROVIDERS = ("manual", "mux", "ivs")
# Providers whose ended streams are deleted (they have ``stream_delete``). Mux keeps a live
# stream object and IVS a channel with its stream key until deleted; a manual show has none.
PROVIDERS_DELETING_STREAMS = ("mux", "ivs")


def stream_provider(name: str | None = None) -> StreamProvider:
    """The configured provider (``LIVE_STREAM_PROVIDER``), or the one named."""
    name = name or settings.LIVE_STREAM_PROVIDER
    if name == "manual":
        from apps.live.providers.manual import ManualProvider

        return ManualProvider()
    if name == "mux":
        from apps.live.providers.mux import MuxProvider

        return MuxProvider.from_settings()
    if name == "ivs":
        from apps.live.providers.ivs import IvsProvider

        return IvsProvider.from_settings()
    # Codes, not names: they are what the console or a script sends.
    raise ApplicationError(
        gettext("Unknown stream provider “%(name)s”; valid values: %(values)s.")
        % {"name": name, "values": ", ".join(PROVIDERS)},
        code="unknown_stream_provider",
        fields={"provider": [gettext("Valid values: %(values)s") % {"values": ", ".join(PROVIDERS)}]},
    )
