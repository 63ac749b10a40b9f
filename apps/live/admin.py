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
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from modeltranslation.admin import TranslationAdmin

from apps.accounts.models import Merchant, User
from apps.accounts.selectors import merchants_for_user
from apps.admin_languages import RegionLanguagesMixin
from apps.catalog.models import Product
from apps.errors import ApplicationError
from apps.live import selectors, services
from apps.live.models import ChatRestriction, Danmaku, FlashCoupon, Giveaway, LiveRoom, PinnedProduct
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
class LiveRoomAdmin(RegionLanguagesMixin, TranslationAdmin):
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
            "pinned_prices": selectors.pinned_prices_written(state.get("pinned"), locale=request.shopper.locale),
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
        # The last message id the page holds, as decimal text (ids outgrow a JavaScript
        # Number); a message id is a PostgreSQL bigint.
        after = request.GET.get("after", "0") or "0"
        if not (after.isascii() and after.isdigit() and len(after) <= 19 and int(after) < 1 << 63):
            message = str(_("“after” must be the id of a chat message."))
            body = {"error": {"code": "bad_cursor", "message": message, "fields": {"after": [message]}}}
            return JsonResponse(body, status=400)
        return JsonResponse(selectors.room_console_state(room=room, after_id=int(after)))

    def console_action_view(self, request: HttpRequest, room_id: int, action: str) -> HttpResponse:
        room = self._room(request, room_id)
        handler = CONSOLE_ACTIONS.get(action)
        wants_json = "application/json" in request.headers.get("Accept", "")
        try:
            if handler is None:
                raise ApplicationError(
                    _("Unknown console action “%(action)s”.") % {"action": action}, code="unknown_action", status=404
                )
            message = handler(request, room)
        except ApplicationError as exc:
            if wants_json:
                body = {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}
                return JsonResponse(body, status=exc.status)
            messages.error(request, _console_error_text(exc))
        else:
            if wants_json:
                return JsonResponse({"ok": True, "message": str(message)})
            messages.success(request, message)
        return HttpResponseRedirect(reverse("admin:live_liveroom_console", args=[room.pk]))


# The console's inputs as its page labels them: a refusal names the input the merchant sees,
# not the form's field name ("playback_url"). The JSON answer keeps the field names for scripts.
CONSOLE_FIELD_LABELS = {
    "playback_url": _("Playback URL (manual provider)"),
    "provider": _("Stream provider"),
    "product": _("Product"),
    "discount_percent": capfirst(_("discount (%)")),
    "quantity": _("Quantity"),
    "minutes": _("Minutes"),
    "keyword": _("Keyword"),
    "prize": _("Prize"),
    "status": _("Status"),
    "message": capfirst(_("chat message")),
    "user": capfirst(_("viewer")),
}


def _console_error_text(exc: ApplicationError) -> str:
    """The refusal as one message for the console page: what went wrong, then each input's problems."""
    parts = [str(exc.message)]
    for field, problems in (exc.fields or {}).items():
        said = " ".join(str(problem) for problem in problems)
        label = CONSOLE_FIELD_LABELS.get(field)
        # A problem with no input of its own on the page reads well without a name.
        parts.append(_("%(field)s: %(problems)s") % {"field": label, "problems": said} if label else said)
    return " ".join(part for part in parts if part)


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
    # "remaining" is read from the orders coupon: one join, not one query per row.
    list_select_related = ["room", "order_coupon"]


@admin.register(Giveaway)
class GiveawayAdmin(_ScopedReadOnly):
    list_display = ["keyword", "room", "state", "winner_name", "seed_hash", "drawn_at"]
    # Never the raw seed field: whoever reads it before the draw could steer the winner by
    # removing entrants' chat messages. ``draw_seed`` shows it once drawn.
    fields = [
        "room",
        "keyword",
        "prize",
        "state",
        "opened_at",
        "seed_hash",
        "draw_seed",
        "drawn_at",
        "winner",
        "winner_name",
        "entrants",
        "excluded",
        "audit",
    ]
    readonly_fields = ["draw_seed"]

    @admin.display(description=_("draw seed"))
    def draw_seed(self, giveaway: Giveaway) -> str:
        if giveaway.state == Giveaway.State.DRAWN:
            return giveaway.seed
        return _("Secret until the draw")


# --- Chat review: every message posted, for moderation ------------------------------------


class _ChatModeration:
    """Who may act on a room's chat here: whoever may run its console (the same right as there).

    The rooms come from ``selectors.rooms_for_console`` on every list, page and action; a
    crafted request for another merchant's row finds nothing and changes nothing.
    """

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("live.change_liveroom")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # history is evidence: nothing is written here but through the services

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ChatRoomFilter(admin.SimpleListFilter):
    """The rooms the user may moderate, latest first; ``?room=<id>`` is how the console links here."""

    title = _("live room")
    parameter_name = "room"
    # Operators see every room: the filter offers the latest ones (and the one chosen).
    OFFERED = 30

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        rooms = selectors.rooms_for_console(user=request.user).order_by("-scheduled_start", "-id")
        offered = list(rooms[: self.OFFERED])
        chosen = self.value()
        if chosen and chosen.isdigit() and all(str(room.pk) != chosen for room in offered):
            offered += list(rooms.filter(pk=int(chosen)))
        return [(str(room.pk), str(room)) for room in offered]

    def queryset(self, request: HttpRequest, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not (value.isascii() and value.isdigit() and len(value) <= 18):
            raise IncorrectLookupParameters(value)
        return queryset.filter(room_id=int(value))


class DanmakuStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [
            ("shown", _("Shown")),
            ("masked", _("Shown with words masked")),
            ("rejected", _("Rejected")),
            ("removed", _("Removed")),
        ]

    def queryset(self, request: HttpRequest, queryset):
        value = self.value()
        if value == "removed":
            return queryset.filter(removed_at__isnull=False)
        if value in {Danmaku.Verdict.SHOWN, Danmaku.Verdict.MASKED}:
            return queryset.filter(verdict=value, removed_at__isnull=True)
        if value == Danmaku.Verdict.REJECTED:
            return queryset.filter(verdict=value)
        return queryset


@admin.register(Danmaku)
class DanmakuAdmin(_ChatModeration, admin.ModelAdmin):
    """Every chat message posted (masked, rejected and removed included), newest first."""

    list_display = ["posted_at", "room", "display_name", "shown_text", "typed_text", "status"]
    list_display_links = ["posted_at"]
    list_filter = [
        DanmakuStatusFilter,
        ChatRoomFilter,
        ("posted_at", admin.DateFieldListFilter),
    ]
    search_fields = ["text", "original_text"]
    list_select_related = ["room"]
    list_per_page = 100
    ordering = ["-id"]  # newest first (ids follow the posting time)
    # A busy show holds 100,000 messages: no second count of them all for the paginator.
    show_full_result_count = False
    fields = ["room", "posted_at", "display_name", "shown_text", "typed_text", "status", "matched_words", "removed_at"]
    readonly_fields = fields
    actions = ["remove_from_room", "mute_authors", "ban_authors"]

    def get_queryset(self, request: HttpRequest):
        return selectors.danmaku_for_review(user=request.user)

    @admin.display(description=_("text as shown"))
    def shown_text(self, message: Danmaku) -> str:
        return format_html('<span dir="auto">{}</span>', message.text)

    @admin.display(description=_("text as typed"))
    def typed_text(self, message: Danmaku) -> str:
        return format_html('<span dir="auto">{}</span>', message.original_text) if message.original_text else "—"

    @admin.display(description=_("status"))
    def status(self, message: Danmaku) -> str:
        return _("Removed") if message.removed_at else message.get_verdict_display()

    def _scoped(self, request: HttpRequest, queryset):
        # The action's rows, once more through the user's rooms: never trust the selection.
        return queryset.filter(room__in=selectors.rooms_for_console(user=request.user)).select_related("room", "user")

    @admin.action(description=_("Remove from the room"), permissions=["moderate"])
    def remove_from_room(self, request: HttpRequest, queryset) -> None:
        removed = 0
        for message in self._scoped(request, queryset).filter(removed_at__isnull=True):
            services.danmaku_remove(room=message.room, message_id=message.pk)
            removed += 1
        self.message_user(
            request,
            ngettext("%(count)d message removed from the room.", "%(count)d messages removed from the room.", removed)
            % {"count": removed},
        )

    def _authors(self, request: HttpRequest, queryset) -> list[tuple[LiveRoom, User]]:
        """Each (room, author) of the selected messages once; authors whose account is gone are skipped."""
        seen: dict[tuple[int, int], tuple[LiveRoom, User]] = {}
        for message in self._scoped(request, queryset).exclude(user__isnull=True):
            seen.setdefault((message.room_id, message.user_id), (message.room, message.user))
        return list(seen.values())

    @admin.action(description=_("Mute author for 10 minutes"), permissions=["moderate"])
    def mute_authors(self, request: HttpRequest, queryset) -> None:
        authors = self._authors(request, queryset)
        for room, user in authors:
            services.chat_user_mute(room=room, user=user, minutes=10, by=request.user)
        self.message_user(
            request,
            ngettext("%(count)d author muted for 10 minutes.", "%(count)d authors muted for 10 minutes.", len(authors))
            % {"count": len(authors)},
        )

    @admin.action(description=_("Ban author from the room's chat"), permissions=["moderate"])
    def ban_authors(self, request: HttpRequest, queryset) -> None:
        banned = 0
        for room, user in self._authors(request, queryset):
            active = selectors.chat_restriction_active(room_id=room.pk, user_id=user.pk)
            if active is not None and active.kind == ChatRestriction.Kind.BAN:
                continue  # banned already: one ban to lift, not two
            services.chat_user_ban(room=room, user=user, by=request.user)
            banned += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d author banned from the room's chat.",
                "%(count)d authors banned from the room's chat.",
                banned,
            )
            % {"count": banned},
        )


class ChatRestrictionActiveFilter(admin.SimpleListFilter):
    title = _("in force")
    parameter_name = "in_force"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset):
        in_force = Q(lifted_at__isnull=True) & (Q(until__isnull=True) | Q(until__gt=timezone.now()))
        if self.value() == "yes":
            return queryset.filter(in_force)
        if self.value() == "no":
            return queryset.exclude(in_force)
        return queryset


class _Labelled:
    def __init__(self, pk: int, label: str) -> None:
        self.pk, self.label = pk, label

    def __str__(self) -> str:
        return self.label


@admin.register(ChatRestriction)
class ChatRestrictionAdmin(_ChatModeration, admin.ModelAdmin):
    """Mutes and bans, with the lifting of them; made by the console and the chat review."""

    list_display = ["author", "room", "kind", "until", "reason", "created_at", "lifted_at", "in_force"]
    list_filter = [ChatRestrictionActiveFilter, "kind", ChatRoomFilter]
    # The list says everything; a page per restriction would title it with the viewer's
    # e-mail address (the model's str), which moderators have no need of.
    list_display_links = None
    actions = ["lift"]

    def get_queryset(self, request: HttpRequest):
        return selectors.chat_restrictions_for_review(user=request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None:
            return False
        # Merchant staff hold no permission on this model of its own: whoever moderates a
        # room's chat sees its restrictions.
        return super().has_view_permission(request) or self.has_moderate_permission(request)

    def action_checkbox(self, restriction: ChatRestriction) -> str:
        # Labelled (for screen readers) like the list names the viewer, not by the model's str.
        return super().action_checkbox(
            _Labelled(restriction.pk, f"{restriction.user.public_name} {restriction.get_kind_display()}")
        )

    @admin.display(description=_("viewer"))
    def author(self, restriction: ChatRestriction) -> str:
        return restriction.user.public_name  # never the e-mail address

    @admin.display(description=_("in force"), boolean=True)
    def in_force(self, restriction: ChatRestriction) -> bool:
        return restriction.lifted_at is None and (restriction.until is None or restriction.until > timezone.now())

    @admin.action(description=_("Lift: the viewer may chat again"), permissions=["moderate"])
    def lift(self, request: HttpRequest, queryset) -> None:
        pairs = {
            (r.room_id, r.user_id): r
            for r in queryset.filter(
                room__in=selectors.rooms_for_console(user=request.user), lifted_at__isnull=True
            ).select_related("room", "user")
        }
        for restriction in pairs.values():
            services.chat_restriction_lift(room=restriction.room, user=restriction.user)
        self.message_user(
            request,
            ngettext("%(count)d viewer may chat again.", "%(count)d viewers may chat again.", len(pairs))
            % {"count": len(pairs)},
        )
