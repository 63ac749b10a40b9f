"""Reads about live rooms."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from apps.live.models import ChatRestriction, Danmaku, LiveRoom, PinnedProduct, RoomVisit, ViewerSample
from apps.live.realtime import events
from apps.live.realtime.ids import id_time_ms
from apps.orders.selectors import CurrencySales, sales_at_price_locks


def rooms_upcoming_and_live(*, limit: int = 12, now: dt.datetime | None = None) -> QuerySet[LiveRoom]:
    """Live shows first (even one running past its planned end), then those still to come, soonest first."""
    now = now or timezone.now()
    return (
        LiveRoom.objects.filter(Q(status=LiveRoom.Status.LIVE) | Q(scheduled_end__gte=now))
        .exclude(status=LiveRoom.Status.ENDED)
        .select_related("merchant")
        .annotate(
            live_first=Case(
                When(status=LiveRoom.Status.LIVE, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("live_first", "scheduled_start", "id")[:limit]
    )


def room_for_page(*, slug: str) -> LiveRoom | None:
    return LiveRoom.objects.select_related("merchant").filter(slug=slug).first()


@dataclass
class SocketRoom:
    """What the socket needs to know about a room, loaded once per room per process."""

    id: int
    slug: str
    status: str
    likes_total: int
    state: dict[str, Any] = field(default_factory=dict)


def room_for_socket(*, slug: str | None = None, room_id: int | None = None) -> SocketRoom | None:
    rooms = LiveRoom.objects.all()
    rooms = rooms.filter(slug=slug) if slug is not None else rooms.filter(id=room_id)
    row = rooms.values("id", "slug", "status", "likes_total", "live_state").first()
    if row is None:
        return None
    state = row["live_state"] if isinstance(row["live_state"], dict) else {}
    return SocketRoom(
        id=row["id"],
        slug=row["slug"],
        status=row["status"],
        likes_total=row["likes_total"],
        state={kind: state.get(kind) for kind in events.STATE_EVENTS},
    )


def chat_restriction_active(*, room_id: int, user_id: int, now: dt.datetime | None = None) -> ChatRestriction | None:
    """The restriction that stops this user posting in this room now: a ban, else the longest mute."""
    now = now or timezone.now()
    active = ChatRestriction.objects.filter(room_id=room_id, user_id=user_id, lifted_at__isnull=True).filter(
        Q(until__isnull=True) | Q(until__gt=now)
    )
    ban = active.filter(kind=ChatRestriction.Kind.BAN).first()
    if ban is not None:
        return ban
    return active.filter(kind=ChatRestriction.Kind.MUTE).order_by(F("until").desc(nulls_first=True)).first()


def _visible_danmaku(room_id: int) -> QuerySet[Danmaku]:
    return Danmaku.objects.filter(room_id=room_id, removed_at__isnull=True).exclude(verdict=Danmaku.Verdict.REJECTED)


def danmaku_recent_events(*, room_id: int, limit: int = 50) -> list[str]:
    """The last messages as socket events, oldest first: the snapshot when Redis lost them."""
    rows = list(_visible_danmaku(room_id).order_by("-id").values("id", "display_name", "text")[:limit])
    return [
        events.danmaku_event(message_id=r["id"], name=r["display_name"], text=r["text"], at_ms=id_time_ms(r["id"]))
        for r in reversed(rows)
    ]


def danmaku_for_replay(*, room: LiveRoom) -> QuerySet[Danmaku]:
    """What viewers saw, in order, for the replay beside the recording."""
    return _visible_danmaku(room.id).order_by("id").only("id", "display_name", "text", "posted_at")


def danmaku_for_review(*, room: LiveRoom) -> QuerySet[Danmaku]:
    """Everything posted, masked and rejected included, newest first, for the moderators."""
    return Danmaku.objects.filter(room=room).select_related("user").order_by("-id")


# --- The merchant console ----------------------------------------------------------------


def rooms_for_console(*, user) -> QuerySet[LiveRoom]:
    """The rooms a console user may see and act on: their merchants' rooms; operators see all."""
    from apps.accounts.selectors import merchants_for_user

    rooms = LiveRoom.objects.select_related("merchant")
    if user.is_superuser:
        return rooms
    return rooms.filter(merchant__in=merchants_for_user(user))


def room_viewers_now(room_id: int) -> int:
    """Concurrent viewers of a room as the socket processes last reported them."""
    return _redis_counts(room_id)[1]


def _redis_counts(room_id: int) -> tuple[int | None, int]:
    """(likes in Redis or None, approximate viewers) as the socket processes last reported them."""
    from apps.live.realtime.config import live_config
    from apps.live.realtime.store import _Keys, _sync_client

    config = live_config()
    if not config.redis_url:
        return None, 0
    client = _sync_client(config.redis_url)
    keys = _Keys(config.prefix)
    try:
        likes = client.get(keys.room(room_id, "likes"))
        per_process = client.hgetall(keys.room(room_id, "viewers"))
    except OSError:
        return None, 0
    now_ms = timezone.now().timestamp() * 1000
    viewers = 0
    for value in per_process.values():
        count, _, expires = value.decode().partition(":")
        if count.isdigit() and expires.isdigit() and int(expires) >= now_ms:
            viewers += int(count)
    return (int(likes) if likes is not None else None), viewers


def room_console_state(*, room: LiveRoom, after_id: int = 0, limit: int = 100) -> dict[str, Any]:
    """What the console shows live: status, viewers, likes, the latest chat and the pin/coupon/giveaway."""
    likes, viewers = _redis_counts(room.pk)
    rows = list(
        _visible_danmaku(room.pk)
        .filter(id__gt=after_id)
        .order_by("-id")
        .values("id", "user_id", "display_name", "text", "verdict", "posted_at")[:limit]
    )
    state = room.live_state if isinstance(room.live_state, dict) else {}
    return {
        "status": room.status,
        "viewers": viewers,
        "likes": max(likes or 0, room.likes_total),
        "danmaku": [
            {
                "id": str(r["id"]),
                "user": r["user_id"],
                "name": r["display_name"],
                "text": r["text"],
                "verdict": r["verdict"],
                "at": r["posted_at"].isoformat(),
            }
            for r in reversed(rows)
        ],
        "pinned": state.get("pinned"),
        "coupon": state.get("coupon"),
        "giveaway": state.get("giveaway"),
    }


@dataclass(frozen=True)
class PinnedPrice:
    """A pinned product's price fixed for the pin's duration, in one currency."""

    pin_id: int
    variant_id: int
    currency: str
    amount_minor: int
    fx_snapshot_id: int | None
    pinned_at: dt.datetime
    unpinned_at: dt.datetime | None


def pinned_price_lock(
    room: LiveRoom, variant: Any, currency: str, *, at: dt.datetime | None = None
) -> PinnedPrice | None:
    """The price shown for ``variant`` in ``currency`` while it was pinned in ``room`` at ``at`` (default now).

    ``None`` when the variant was not pinned then or its price was not locked in that currency.
    """
    from apps.live.models import PinnedProduct

    at = at or timezone.now()
    variant_id = getattr(variant, "pk", variant)
    pin = (
        PinnedProduct.objects.filter(room=room, pinned_at__lte=at)
        .filter(Q(unpinned_at__isnull=True) | Q(unpinned_at__gt=at))
        .order_by("-pinned_at")
        .first()
    )
    if pin is None:
        return None
    price = (pin.prices or {}).get(str(variant_id), {}).get(currency.upper())
    if price is None:
        return None
    return PinnedPrice(
        pin_id=pin.pk,
        variant_id=int(variant_id),
        currency=currency.upper(),
        amount_minor=int(price["minor"]),
        fx_snapshot_id=pin.fx_snapshot_id,
        pinned_at=pin.pinned_at,
        unpinned_at=pin.unpinned_at,
    )


# --- Show stats ------------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT = 600, 160


@dataclass(frozen=True)
class RoomStats:
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    live_seconds: int
    peak_viewers: int
    average_viewers: float
    unique_viewers: int
    average_watch_seconds: int
    messages: int
    likes: int
    pinned_clicks: int
    orders: int
    conversion_rate: float
    revenue: list[CurrencySales]
    sources: list[tuple[str, str, int]]
    samples: list[tuple[dt.datetime, int]]
    chart_points: str


def room_stats(*, room: LiveRoom, now: dt.datetime | None = None) -> RoomStats:
    """What the merchant sees after (or during) a show: audience, engagement, sales, sources.

    Viewers are sampled once a minute; average watch time follows from them (average
    concurrent viewers x time live / unique viewers), not from per-viewer timers. Sales are
    the paid order lines bought at a price locked by one of this show's pins.
    """
    now = now or timezone.now()
    samples = [(sample.at, sample.viewers) for sample in ViewerSample.objects.filter(room=room).order_by("at")]
    counts = [viewers for _at, viewers in samples]
    peak = max(counts, default=0)
    average = sum(counts) / len(counts) if counts else 0.0
    unique = RoomVisit.objects.filter(room=room).count()
    end = room.ended_at or (now if room.started_at else None)
    live_seconds = int((end - room.started_at).total_seconds()) if room.started_at and end else 0
    watch = int(average * live_seconds / unique) if unique else 0

    sales = sales_at_price_locks(
        [
            PinnedProduct.price_lock_source_for(pk)
            for pk in PinnedProduct.objects.filter(room=room).values_list("pk", flat=True)
        ]
    )
    orders = sales.orders
    sources = [
        (row["source"], row["medium"], row["visits"])
        for row in RoomVisit.objects.filter(room=room)
        .values("source", "medium")
        .annotate(visits=Count("pk"))
        .order_by("-visits", "source")
    ]
    return RoomStats(
        started_at=room.started_at,
        ended_at=room.ended_at,
        live_seconds=live_seconds,
        peak_viewers=peak,
        average_viewers=round(average, 1),
        unique_viewers=unique,
        average_watch_seconds=watch,
        messages=Danmaku.objects.filter(room=room).exclude(verdict=Danmaku.Verdict.REJECTED).count(),
        likes=room.likes_total,
        pinned_clicks=PinnedProduct.objects.filter(room=room).aggregate(total=Sum("buy_clicks"))["total"] or 0,
        orders=orders,
        conversion_rate=orders / unique if unique else 0.0,
        revenue=sales.by_currency,
        sources=sources,
        samples=samples,
        chart_points=_chart_points(samples, peak),
    )


def _chart_points(samples: list[tuple[dt.datetime, int]], peak: int) -> str:
    """The SVG polyline of concurrent viewers over the show (server-drawn: no chart library)."""
    if not samples:
        return ""
    first, last = samples[0][0], samples[-1][0]
    span = max((last - first).total_seconds(), 1.0)
    top = max(peak, 1)
    return " ".join(
        f"{(at - first).total_seconds() / span * CHART_WIDTH:.1f},{CHART_HEIGHT - viewers / top * CHART_HEIGHT:.1f}"
        for at, viewers in samples
    )
