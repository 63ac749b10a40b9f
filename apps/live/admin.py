"""The merchant console for live shows (Django admin).

Merchant staff see and act on only their own merchants' rooms; operators (superusers)
see all. Enforced where it matters, not by hiding links: ``get_queryset`` (lists,
change pages and the console answer 404 for another merchant's room), the merchant
choices of the form, ``save_model``, and every console action, which looks the room up
through the same scoped queryset. Each console action calls one service in
``apps.live.services``; the service publishes the event viewers receive.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from modeltranslation.admin import TranslationAdmin

from apps.accounts.models import Merchant, User
from apps.accounts.selectors import merchants_for_user
from apps.catalog.models import Product
from apps.errors import ApplicationError
from apps.live import selectors, services
from apps.live.models import FlashCoupon, Giveaway, LiveRoom, PinnedProduct
from apps.live.providers import PROVIDERS


class LiveRoomForm(forms.ModelForm):
    class Meta:
        model = LiveRoom
        # The admin builds the field list (translations included); these are the editable ones.
        fields = [
            "merchant",
            "slug",
            "title",
            "description",
            "cover_image",
            "language",
            "scheduled_start",
            "scheduled_end",
            "playback_url",
        ]

    def clean_language(self) -> str:
        language = self.cleaned_data["language"]
        offered = settings.REGION.languages
        if language not in offered:
            raise forms.ValidationError(
                _("Not offered in this region; choose one of: %(langs)s") % {"langs": ", ".join(offered)}
            )
        return language

    def clean_playback_url(self) -> str:
        url = self.cleaned_data.get("playback_url", "")
        if url and not url.startswith(("https://", "http://")):
            raise forms.ValidationError(_("An http(s) address of the HLS stream (.m3u8)."))
        return url


@admin.register(LiveRoom)
class LiveRoomAdmin(TranslationAdmin):
    form = LiveRoomForm
    list_display = ["title", "merchant", "scheduled_start", "status", "console_link"]
    list_filter = ["status"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = [
        "status",
        "stream_provider",
        "ingest_url",
        "stream_key",
        "started_at",
        "ended_at",
        "recording_url",
        "recording_retain_until",
        "recording_deleted_at",
        "likes_total",
    ]
    exclude = ["live_state", "stream_id"]

    # --- scoping -----------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest):
        return selectors.rooms_for_console(user=request.user)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        if db_field.related_model is Merchant:
            kwargs["queryset"] = merchants_for_user(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        merchants = list(merchants_for_user(request.user).values_list("pk", flat=True)[:2])
        if len(merchants) == 1:
            initial.setdefault("merchant", merchants[0])  # staff of one shop need not pick it
        initial.setdefault("language", settings.REGION.default_language)
        return initial

    def save_model(self, request: HttpRequest, obj: LiveRoom, form, change: bool) -> None:
        if not merchants_for_user(request.user).filter(pk=obj.merchant_id).exists():
            raise PermissionDenied
        if change and obj.status != LiveRoom.Status.SCHEDULED:
            # The schedule of a show that started is history; only its texts may change.
            original = LiveRoom.objects.get(pk=obj.pk)
            obj.scheduled_start, obj.scheduled_end = original.scheduled_start, original.scheduled_end
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: LiveRoom | None = None) -> bool:
        return request.user.is_superuser and (obj is None or obj.status == LiveRoom.Status.SCHEDULED)

    @admin.display(description=_("console"))
    def console_link(self, room: LiveRoom) -> str:
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:live_liveroom_console", args=[room.pk]),
            _("Open console"),
            reverse("admin:live_liveroom_stats", args=[room.pk]),
            _("Stats"),
        )

    # --- the console ---------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:room_id>/console/", wrap(self.console_view), name="live_liveroom_console"),
            path("<int:room_id>/stats/", wrap(self.stats_view), name="live_liveroom_stats"),
            path("<int:room_id>/console/state/", wrap(self.console_state_view), name="live_liveroom_console_state"),
            path(
                "<int:room_id>/console/<slug:action>/",
                wrap(require_POST(self.console_action_view)),
                name="live_liveroom_console_action",
            ),
            *super().get_urls(),
        ]

    def _room(self, request: HttpRequest, room_id: int) -> LiveRoom:
        room = get_object_or_404(self.get_queryset(request), pk=room_id)
        if not self.has_change_permission(request, room):
            raise PermissionDenied
        return room

    def console_view(self, request: HttpRequest, room_id: int) -> HttpResponse:
        room = self._room(request, room_id)
        state = selectors.room_console_state(room=room)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Live console: %(title)s") % {"title": room.title},
            "room": room,
            "opts": self.model._meta,
            "products": Product.objects.filter(merchant=room.merchant, is_active=True).order_by("name"),
            "providers": PROVIDERS,
            "default_provider": settings.LIVE_STREAM_PROVIDER,
            "state": state,
            "pinned_name": _pinned_name(state.get("pinned"), request.LANGUAGE_CODE),
            "giveaway": room.giveaways.filter(state=Giveaway.State.OPEN).first(),
            "last_draw": room.giveaways.filter(state=Giveaway.State.DRAWN).first(),
            "state_url": reverse("admin:live_liveroom_console_state", args=[room.pk]),
        }
        return TemplateResponse(request, "admin/live/console.html", context)

    def stats_view(self, request: HttpRequest, room_id: int) -> HttpResponse:
        room = self._room(request, room_id)
        stats = selectors.room_stats(room=room)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Show stats: %(title)s") % {"title": room.title},
            "room": room,
            "opts": self.model._meta,
            "stats": stats,
            "conversion_percent": stats.conversion_rate * 100,
            "chart_width": selectors.CHART_WIDTH,
            "chart_height": selectors.CHART_HEIGHT,
        }
        return TemplateResponse(request, "admin/live/stats.html", context)

    def console_state_view(self, request: HttpRequest, room_id: int) -> JsonResponse:
        room = self._room(request, room_id)
        try:
            after = int(request.GET.get("after", "0") or 0)
        except ValueError:
            after = 0
        return JsonResponse(selectors.room_console_state(room=room, after_id=max(after, 0)))

    def console_action_view(self, request: HttpRequest, room_id: int, action: str) -> HttpResponse:
        room = self._room(request, room_id)
        handler = CONSOLE_ACTIONS.get(action)
        wants_json = "application/json" in request.headers.get("Accept", "")
        try:
            if handler is None:
                raise ApplicationError(f"Unknown console action {action!r}.", code="unknown_action", status=404)
            message = handler(request, room)
        except ApplicationError as exc:
            if wants_json:
                body = {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}
                return JsonResponse(body, status=exc.status)
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.fields or {}).items())
            messages.error(request, f"{exc.message} {details}".strip())
        else:
            if wants_json:
                return JsonResponse({"ok": True, "message": str(message)})
            messages.success(request, message)
        return HttpResponseRedirect(reverse("admin:live_liveroom_console", args=[room.pk]))


def _pinned_name(pinned: dict[str, Any] | None, language: str) -> str:
    names = (pinned or {}).get("name") or {}
    return names.get(language) or next(iter(names.values()), "")


def _int(request: HttpRequest, name: str) -> int:
    raw = request.POST.get(name, "").strip()
    try:
        return int(raw)
    except ValueError:
        raise ApplicationError(
            _("Please correct the form."), fields={name: [str(_("A whole number is required."))]}
        ) from None


def _start(request: HttpRequest, room: LiveRoom) -> str:
    provider = request.POST.get("provider") or None
    services.live_room_start(room=room, provider=provider, playback_url=request.POST.get("playback_url", "").strip())
    return _("The show is live.")


def _end(request: HttpRequest, room: LiveRoom) -> str:
    services.live_room_end(room=room, region=settings.REGION)
    return _("The show has ended; its recording is kept.")


def _pin(request: HttpRequest, room: LiveRoom) -> str:
    product = Product.objects.filter(pk=_int(request, "product")).first()
    if product is None:
        raise ApplicationError(_("Please correct the form."), fields={"product": [str(_("No such product."))]})
    pin = services.product_pin(
        room=room,
        product=product,
        region=settings.REGION,
        by=request.user,
        accept_warnings=request.POST.get("accept_warnings") == "1",
    )
    if pin.warnings:
        return _("Pinned; not sold in: %(countries)s") % {"countries": ", ".join(sorted(pin.warnings))}
    return _("Product pinned; its prices are locked while it stays pinned.")


def _unpin(request: HttpRequest, room: LiveRoom) -> str:
    services.product_unpin(room=room)
    return _("Product unpinned.")


def _coupon(request: HttpRequest, room: LiveRoom) -> str:
    coupon = services.flash_coupon_push(
        room=room,
        discount_percent=_int(request, "discount_percent"),
        quantity=_int(request, "quantity"),
        minutes=_int(request, "minutes"),
    )
    return _("Flash coupon %(code)s pushed.") % {"code": coupon.code}


def _giveaway_open(request: HttpRequest, room: LiveRoom) -> str:
    giveaway = services.giveaway_open(
        room=room, keyword=request.POST.get("keyword", ""), prize=request.POST.get("prize", ""), region=settings.REGION
    )
    return _("Giveaway opened; seed hash %(hash)s published.") % {"hash": giveaway.seed_hash}


def _giveaway_draw(request: HttpRequest, room: LiveRoom) -> str:
    giveaway = room.giveaways.filter(state=Giveaway.State.OPEN).first()
    if giveaway is None:
        raise ApplicationError(_("No giveaway is open."), code="no_open_giveaway", status=409)
    drawn = services.giveaway_draw(giveaway=giveaway)
    return _("Winner: %(name)s (seed %(seed)s).") % {"name": drawn.winner_name, "seed": drawn.seed}


def _danmaku_remove(request: HttpRequest, room: LiveRoom) -> str:
    services.danmaku_remove(room=room, message_id=_int(request, "message"))
    return _("Message removed.")


def _mute(request: HttpRequest, room: LiveRoom) -> str:
    user = User.objects.filter(pk=_int(request, "user")).first()
    if user is None:
        raise ApplicationError(_("Please correct the form."), fields={"user": [str(_("No such user."))]})
    minutes = _int(request, "minutes") if request.POST.get("minutes") else 10
    services.chat_user_mute(room=room, user=user, minutes=minutes, by=request.user)
    return _("%(name)s is muted.") % {"name": user.public_name}


CONSOLE_ACTIONS = {
    "start": _start,
    "end": _end,
    "pin": _pin,
    "unpin": _unpin,
    "coupon": _coupon,
    "giveaway-open": _giveaway_open,
    "giveaway-draw": _giveaway_draw,
    "remove": _danmaku_remove,
    "mute": _mute,
}


class _ScopedReadOnly(admin.ModelAdmin):
    """Console history (pins, coupons, giveaways): read-only, scoped to the user's rooms."""

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).filter(room__in=selectors.rooms_for_console(user=request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(PinnedProduct)
class PinnedProductAdmin(_ScopedReadOnly):
    list_display = ["product", "room", "pinned_at", "unpinned_at", "fx_snapshot_id"]


@admin.register(FlashCoupon)
class FlashCouponAdmin(_ScopedReadOnly):
    list_display = ["code", "room", "discount_percent", "quantity", "remaining", "ends_at"]


@admin.register(Giveaway)
class GiveawayAdmin(_ScopedReadOnly):
    list_display = ["keyword", "room", "state", "winner_name", "seed_hash", "drawn_at"]
