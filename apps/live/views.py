"""The viewer's room page. Thin: the socket carries everything that changes during the show."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.errors import ApplicationError
from apps.live import services
from apps.live.models import LiveRoom
from apps.live.selectors import room_for_page
from apps.orders.web import form_int, request_cart, request_shopper


def _room_or_404(slug: str) -> LiveRoom:
    room = room_for_page(slug=slug)
    if room is None:
        raise Http404(_("No such show."))
    return room


def _record_visit(request: HttpRequest, room: LiveRoom) -> None:
    """Count the viewer once for the show's stats, with the UTM tags or site that brought them."""
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
                "currency": shopper.currency,
                "default_language": settings.REGION.default_language,
                "signed_in": request.user.is_authenticated,
            },
        },
    )


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
