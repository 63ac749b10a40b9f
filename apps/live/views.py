"""The viewer's room page. Thin: the socket carries everything that changes during the show."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from typing import BinaryIO
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST, require_safe

from apps.errors import ApplicationError
from apps.live import selectors, services
from apps.live.models import Giveaway, LiveRoom
from apps.live.selectors import room_for_page
from apps.live.templatetags.show_times import show_period_text, viewer_zone
from apps.orders.web import form_int, request_cart, request_shopper
from regions.languages import babel_locale


def _room_or_404(slug: str) -> LiveRoom:
    room = room_for_page(slug=slug)
    if room is None:
        raise Http404(_("No such show."))
    return room


def _record_visit(request: HttpRequest, room: LiveRoom) -> None:
    """Count the visitor once for the show's traffic sources, with the UTM tags or site that brought them.

    Who watched, and for how long, the socket measures under the same visitor key.
    """
    if not request.user.is_authenticated and not request.session.session_key:
        request.session.save()  # the cart needs the session anyway; it also tells viewers apart
    try:
        referrer = urlsplit(request.META.get("HTTP_REFERER", "")).hostname or ""
    except ValueError:  # a malformed Referer header is no source at all
        referrer = ""
    services.room_visit_record(
        room=room,
        visitor=services.visitor_key(
            user_id=request.user.pk if request.user.is_authenticated else None,
            session_key=request.session.session_key or "",
        ),
        user_id=request.user.pk if request.user.is_authenticated else None,
        source=services.traffic_source(
            utm_source=request.GET.get("utm_source", ""),
            utm_medium=request.GET.get("utm_medium", ""),
            utm_campaign=request.GET.get("utm_campaign", ""),
            referrer_host=referrer,
            own_host=request.get_host().partition(":")[0],
        ),
    )


def room_detail(request: HttpRequest, slug: str) -> HttpResponse:
    room = _room_or_404(slug)
    shopper = request.shopper
    if room.status != LiveRoom.Status.ENDED:
        _record_visit(request, room)
    return render(
        request,
        "live/room.html",
        {
            "room": room,
            "socket_path": f"/ws/live/{room.slug}/",
            "viewer": {
                "country": shopper.country,
                "language": shopper.language,
                "locale": shopper.locale,
                "currency": shopper.currency,
                "default_language": settings.REGION.default_language,
                "signed_in": request.user.is_authenticated,
            },
        },
    )


@require_GET
def giveaway_audit(request: HttpRequest, slug: str, giveaway_id: int) -> JsonResponse:
    """The public record of a drawn giveaway, for anyone to recompute the winner; 404 until it is drawn.

    A signed-in entrant also gets their own entrant id, to find themselves in the list.
    """
    giveaway = (
        Giveaway.objects.filter(room__slug=slug, pk=giveaway_id, state=Giveaway.State.DRAWN)
        .only("audit", "entrants")
        .first()
    )
    if giveaway is None or not giveaway.audit:
        error = {"code": "not_found", "message": _("No drawn giveaway here."), "fields": {}}
        return JsonResponse({"error": error}, status=404)
    record = dict(giveaway.audit)
    if request.user.is_authenticated:
        mine = next((e["id"] for e in giveaway.entrants if e.get("user") == request.user.pk), None)
        if mine is not None:
            record["your_entrant_id"] = mine
    return JsonResponse(record, json_dumps_params={"ensure_ascii": False})


@require_POST
def pinned_to_cart(request: HttpRequest, slug: str) -> HttpResponse:
    room = _room_or_404(slug)
    try:
        services.pinned_product_to_cart(
            room=room,
            cart=request_cart(request),
            variant_id=form_int(request.POST.get("variant")),
            quantity=form_int(request.POST.get("quantity", "1")),
            country=request_shopper(request).country,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("live:room", slug=room.slug)
    # "Buy now": the show's price is already locked on the cart line; go straight to paying.
    return redirect("orders:checkout")


# --- The replay beside the recording -----------------------------------------------------

# How far into a show a viewer may jump in the replay's chat (longer than any show).
REPLAY_MAX_SECONDS = 31 * 24 * 3600


class ReplayChatQuery(forms.Form):
    """Where a page of the replay's chat starts: after a message id, or at a time into the show."""

    # A message id is a PostgreSQL bigint, sent as decimal text (it outgrows a JavaScript Number).
    after = forms.IntegerField(required=False, min_value=0, max_value=(1 << 63) - 1)
    at = forms.IntegerField(required=False, min_value=0, max_value=REPLAY_MAX_SECONDS)

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("after") is not None and cleaned.get("at") is not None:
            raise forms.ValidationError(_("Give either “after” or “at”, not both."), code="both")
        return cleaned


def _replay_query(request: HttpRequest) -> tuple[int, int | None]:
    """(after this message id, from this many seconds into the show) of the page asked for."""
    query = ReplayChatQuery(request.GET)
    if not query.is_valid():
        fields = {name: [str(m) for m in errors] for name, errors in query.errors.items()}
        raise ApplicationError(_("This part of the chat cannot be found."), code="bad_cursor", fields=fields)
    return query.cleaned_data["after"] or 0, query.cleaned_data["at"]


@require_GET
def room_replay(request: HttpRequest, slug: str) -> HttpResponse:
    """An ended show's recording with the chat viewers saw beside it, following the playback.

    The chat comes a page at a time (``?after=`` for the next one, without JavaScript too);
    live-replay.js fetches the following pages from :func:`replay_chat` as the video plays.
    """
    room = _room_or_404(slug)
    if room.status != LiveRoom.Status.ENDED:
        return redirect("live:room", slug=room.slug)
    status, error = 200, ""
    try:
        after, at = _replay_query(request)
    except ApplicationError as exc:
        # A bad page address: the chat from the start, saying why.
        status, error = exc.status, exc.message
        after, at = 0, None
    page = selectors.replay_chat_page(room=room, after_id=after, from_seconds=at)
    started = selectors.replay_started_at(room)
    aired = show_period_text(
        started,
        max(room.ended_at or started, started),
        zone=viewer_zone(),
        locale=babel_locale(request.shopper.locale),
    )
    context = {
        "room": room,
        "aired": aired,
        "recording_url": selectors.room_recording_playback_url(room=room),
        "page": page,
        "from_start": after == 0 and not at,
        "error": error,
    }
    return render(request, "live/replay.html", context, status=status)


# Bytes of a recording read and sent at a time.
RECORDING_CHUNK = 64 * 1024


class _FileBytes:
    """``length`` bytes of an open file from its current position, read a chunk at a time.

    An async iterator: under the ASGI server Django would read a synchronous one (FileResponse's)
    whole into memory before sending it, a recording of gigabytes included. Each read runs in a
    worker thread; the response closes the file once sent.
    """

    def __init__(self, file: BinaryIO, length: int) -> None:
        self.file = file
        self.length = length

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        read = sync_to_async(self.file.read, thread_sensitive=False)
        left = self.length
        while left > 0:
            chunk = await read(min(RECORDING_CHUNK, left))
            if not chunk:
                return  # the file shrank after it was opened: the client sees a short body
            left -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.file.close()


class UnsatisfiableRange(ValueError):
    """A Range header for bytes this file does not have, or not written as RFC 9110 writes one."""


def requested_range(header: str, size: int) -> tuple[int, int] | None:
    """The one byte range ``header`` asks of a file of ``size`` bytes, first and last inclusive.

    None: the whole file (no Range, a unit other than bytes, or several ranges: a server may
    answer those with the whole file, RFC 9110 §14.2, and players ask for one). Raises
    :class:`UnsatisfiableRange` for a malformed range or one past the end.
    """
    unit, equals, ranges = header.partition("=")
    if not equals or unit.strip().lower() != "bytes" or "," in ranges:
        return None
    match = re.fullmatch(r"\s*(\d{0,18})-(\d{0,18})\s*", ranges)
    if match is None or match.groups() == ("", ""):
        raise UnsatisfiableRange(header)
    first, last = match.groups()
    if not first:  # the last ``last`` bytes
        if int(last) == 0 or size == 0:
            raise UnsatisfiableRange(header)
        return max(size - int(last), 0), size - 1
    start, end = int(first), int(last) if last else size - 1
    if start >= size or end < start:
        raise UnsatisfiableRange(header)
    return start, min(end, size - 1)


@require_safe
def recording_file(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    """A file of an ended show's recording kept in a ``file://`` store: the embedded default's CDN.

    Browsers seek in an MP4 with Range requests, which Django's FileResponse does not answer
    (nor does it stream under ASGI, see :class:`_FileBytes`): one byte range is answered 206,
    a bad one 416; ``If-Range`` is honoured against ``Last-Modified``. What may be served is
    decided by :func:`selectors.recording_file_for_viewer`; anything else is 404.
    """
    room = room_for_page(slug=slug)
    path = selectors.recording_file_for_viewer(room=room, name=name) if room is not None else None
    if path is None:
        raise Http404(_("The recording is not available."))
    content_type = selectors.RECORDING_FILE_TYPES[path.suffix.lower()]
    file = path.open("rb")
    stat = os.fstat(file.fileno())
    size, last_modified = stat.st_size, http_date(stat.st_mtime)
    wanted = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range")
    try:
        part = requested_range(wanted, size) if wanted and if_range in (None, last_modified) else None
    except UnsatisfiableRange:
        file.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    start, end = part if part is not None else (0, size - 1)
    file.seek(start)
    response = StreamingHttpResponse(
        _FileBytes(file, end - start + 1), status=200 if part is None else 206, content_type=content_type
    )
    response["Content-Length"] = str(end - start + 1)
    if part is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Last-Modified"] = last_modified
    return response


@require_GET
def replay_chat(request: HttpRequest, slug: str) -> JsonResponse:
    """A page of an ended show's chat as JSON: ``{"messages": [...], "next": "<id>" | null}``.

    Each message: ``{"id", "name", "text", "offset", "label"}``, ``offset`` in whole seconds
    into the show and ``label`` written as a player writes it; ids are decimal text.
    """
    room = room_for_page(slug=slug)
    try:
        if room is None:
            raise ApplicationError(_("No such show."), code="not_found", status=404)
        if room.status != LiveRoom.Status.ENDED:
            raise ApplicationError(_("The replay opens when the show has ended."), code="not_ended", status=409)
        after, at = _replay_query(request)
    except ApplicationError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status, json_dumps_params={"ensure_ascii": False})
    page = selectors.replay_chat_page(room=room, after_id=after, from_seconds=at)
    body = {
        "messages": [
            {"id": str(m.id), "name": m.name, "text": m.text, "offset": m.offset, "label": m.offset_label}
            for m in page.messages
        ],
        "next": str(page.next_after) if page.next_after is not None else None,
    }
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})
