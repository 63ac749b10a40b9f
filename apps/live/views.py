"""The viewer's room page. Thin: the socket carries everything that changes during the show."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.errors import ApplicationError
from apps.live import selectors, services
from apps.live.models import Giveaway, LiveRoom
from apps.live.selectors import room_for_page
from apps.live.templatetags.show_times import show_period_text, viewer_zone
from apps.money.formatting import babel_locale
from apps.orders.web import form_int, request_cart, request_shopper


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
