"""Reads about live rooms."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from apps.live.models import (
    ChatRestriction,
    Danmaku,
    FlashCoupon,
    LiveRoom,
    PinnedProduct,
    RoomVisit,
    ViewerSample,
    WatchSession,
)
from apps.live.realtime import events
from apps.live.realtime.ids import EPOCH_MS, id_time_ms, message_id
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
    # Where viewers play the show: set when it goes live (Mux and IVS make it only then).
    playback_url: str = ""


def room_for_socket(*, slug: str | None = None, room_id: int | None = None) -> SocketRoom | None:
    rooms = LiveRoom.objects.all()
    rooms = rooms.filter(slug=slug) if slug is not None else rooms.filter(id=room_id)
    row = rooms.values("id", "slug", "status", "likes_total", "live_state", "playback_url").first()
    if row is None:
        return None
    state = row["live_state"] if isinstance(row["live_state"], dict) else {}
    return SocketRoom(
        id=row["id"],
        slug=row["slug"],
        status=row["status"],
        likes_total=row["likes_total"],
        state={kind: state.get(kind) for kind in events.STATE_EVENTS},
        playback_url=row["playback_url"],
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


def danmaku_for_review(*, user) -> QuerySet[Danmaku]:
    """Everything posted in the rooms ``user`` moderates, masked, rejected and removed included, newest first."""
    return Danmaku.objects.filter(room__in=rooms_for_console(user=user)).select_related("room").order_by("-id")


def chat_restrictions_for_review(*, user) -> QuerySet[ChatRestriction]:
    """The mutes and bans in the rooms ``user`` moderates, newest first."""
    return (
        ChatRestriction.objects.filter(room__in=rooms_for_console(user=user))
        .select_related("room", "user", "created_by")
        .order_by("-created_at", "-id")
    )


# --- The replay beside the recording -----------------------------------------------------

# Messages per page of the replay's chat: a show can hold 100,000 of them.
REPLAY_PAGE_SIZE = 500


def replay_offset_label(seconds: int) -> str:
    """Time into the show as a video player writes it: ``07:05``, past an hour ``1:07:05``."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


@dataclass(frozen=True)
class ReplayMessage:
    id: int
    name: str
    text: str
    # Whole seconds since the show went live: where the message falls in the recording.
    offset: int

    @property
    def offset_label(self) -> str:
        return replay_offset_label(self.offset)


@dataclass(frozen=True)
class ReplayChatPage:
    messages: list[ReplayMessage]
    # The cursor of the page after this one (the last message's id); None on the last page.
    next_after: int | None


def replay_started_at(room: LiveRoom) -> dt.datetime:
    """Where the recording's time 0 is: when the show went live (its planned start if it never recorded one)."""
    return room.started_at or room.scheduled_start


def replay_chat_page(
    *, room: LiveRoom, after_id: int = 0, from_seconds: int | None = None, limit: int = REPLAY_PAGE_SIZE
) -> ReplayChatPage:
    """One page of the chat viewers saw (not rejected, not removed), oldest first.

    From the message after ``after_id``, or from ``from_seconds`` into the show (where the
    viewer jumped to in the recording). Message ids carry their posting time in the high
    bits (``realtime.ids``), so both are a range on the (room, id) index.
    """
    started = replay_started_at(room)
    if from_seconds is not None:
        at_ms = int(started.timestamp() * 1000) + from_seconds * 1000
        after_id = max(after_id, message_id(at_ms=max(at_ms, EPOCH_MS), node=0) - 1)
    rows = list(
        danmaku_for_replay(room=room)
        .filter(id__gt=after_id)
        .values_list("id", "display_name", "text", "posted_at")[: limit + 1]
    )
    messages = [
        ReplayMessage(id=pk, name=name, text=text, offset=max(int((posted - started).total_seconds()), 0))
        for pk, name, text, posted in rows[:limit]
    ]
    return ReplayChatPage(messages=messages, next_after=messages[-1].id if len(rows) > limit else None)


def room_recording_playback_url(*, room: LiveRoom, now: dt.datetime | None = None) -> str:
    """Where a browser can play the show's recording from; "" when it cannot.

    Only an http(s) address plays in a browser. The recordings this platform keeps
    itself are not such addresses: the region's store (``s3://``, ``file://``) and Mux's
    assets (``mux://``) hold them for retention, not for viewers. A recording deleted or
    past its retention is never offered.
    """
    now = now or timezone.now()
    if room.status != LiveRoom.Status.ENDED or room.recording_deleted_at is not None:
        return ""
    if room.recording_retain_until is not None and room.recording_retain_until <= now:
        return ""
    url = (room.recording_url or "").strip()
    return url if urlsplit(url).scheme in {"http", "https"} else ""


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
# The traffic sources' bar chart: one row per source, its name left of the bar, the count right.
BAR_HEIGHT, BAR_GAP, BAR_LABEL_WIDTH, BAR_VALUE_WIDTH = 18, 8, 200, 60


@dataclass(frozen=True)
class ChartBar:
    """One bar of a server-drawn SVG bar chart: what it stands for and where it goes."""

    label: str
    value: int
    y: int
    width: float
    x: int = BAR_LABEL_WIDTH
    height: int = BAR_HEIGHT

    @property
    def short_label(self) -> str:
        """The label as it fits left of the bar; the whole of it is in the bar's title and the table."""
        return self.label if len(self.label) <= 28 else self.label[:27] + "…"

    @property
    def text_y(self) -> float:
        return self.y + self.height * 0.75

    @property
    def value_x(self) -> float:
        return self.x + self.width + 6


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
    source_bars: list[ChartBar] = field(default_factory=list)
    source_chart_height: int = 0


def room_stats(*, room: LiveRoom, now: dt.datetime | None = None) -> RoomStats:
    """What the merchant sees after (or during) a show: audience, engagement, sales, sources.

    Concurrent viewers are sampled once a minute. Unique viewers and watch time are
    measured from the sockets' stays (``WatchSession``), counting only time while the
    show was live: a viewer is someone who had the show open then (a page visit before
    or without the socket is not), reconnects and second tabs are the same viewer and
    their overlapping time counts once; average watch time is the time watched over those
    viewers. During the show, an open socket counts up to its last checkpoint (a minute
    or so ago). Sales are the paid order lines bought at a price locked by one of this
    show's pins, and the paid orders placed with one of its flash coupons.
    """
    now = now or timezone.now()
    samples = [(sample.at, sample.viewers) for sample in ViewerSample.objects.filter(room=room).order_by("at")]
    counts = [viewers for _at, viewers in samples]
    peak = max(counts, default=0)
    average = sum(counts) / len(counts) if counts else 0.0
    end = room.ended_at or (now if room.started_at else None)
    live_seconds = int((end - room.started_at).total_seconds()) if room.started_at and end else 0
    watched = _watched_seconds(room=room, start=room.started_at, end=end)
    unique = len(watched)
    watch = int(sum(watched.values()) / unique) if unique else 0

    sales = sales_at_price_locks(
        [
            PinnedProduct.price_lock_source_for(pk)
            for pk in PinnedProduct.objects.filter(room=room).values_list("pk", flat=True)
        ],
        coupon_source=FlashCoupon.order_source_for(room.pk),
    )
    orders = sales.orders
    sources = [
        (row["source"], row["medium"], row["visits"])
        for row in RoomVisit.objects.filter(room=room)
        .values("source", "medium")
        .annotate(visits=Count("pk"))
        .order_by("-visits", "source")
    ]
    source_bars = _chart_bars([(f"{source} / {medium}" if medium else source, n) for source, medium, n in sources])
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
        source_bars=source_bars,
        source_chart_height=_bar_chart_height(len(source_bars)),
    )


def _watched_seconds(*, room: LiveRoom, start: dt.datetime | None, end: dt.datetime | None) -> dict[str, float]:
    """Seconds each visitor had the show open while it was live, [start, end): only visitors who did.

    A visitor's stays are cut to the live period and merged where they overlap (a new
    socket opened before the old one was seen gone; two tabs), so no second counts twice.
    """
    if start is None or end is None or end <= start:
        return {}
    stays = (
        WatchSession.objects.filter(room=room, connected_at__lt=end, last_seen_at__gt=start)
        .order_by("visitor_key", "connected_at")
        .values_list("visitor_key", "connected_at", "last_seen_at")
    )
    watched: dict[str, float] = {}
    visitor, run_start, run_end = None, start, start
    for key, connected_at, last_seen_at in stays.iterator(chunk_size=5000):
        connected_at, last_seen_at = max(connected_at, start), min(last_seen_at, end)
        if last_seen_at <= connected_at:
            continue
        if key == visitor and connected_at <= run_end:
            run_end = max(run_end, last_seen_at)
            continue
        if visitor is not None:
            watched[visitor] = watched.get(visitor, 0.0) + (run_end - run_start).total_seconds()
        visitor, run_start, run_end = key, connected_at, last_seen_at
    if visitor is not None:
        watched[visitor] = watched.get(visitor, 0.0) + (run_end - run_start).total_seconds()
    return watched


def _bar_chart_height(bars: int) -> int:
    return bars * (BAR_HEIGHT + BAR_GAP) - BAR_GAP if bars else 0


def _chart_bars(rows: list[tuple[str, int]]) -> list[ChartBar]:
    """Horizontal bars for ``(label, value)`` rows in their order, the largest value filling the plot's width."""
    top = max((value for _label, value in rows), default=0) or 1
    plot = CHART_WIDTH - BAR_LABEL_WIDTH - BAR_VALUE_WIDTH
    return [
        ChartBar(label=label, value=value, y=n * (BAR_HEIGHT + BAR_GAP), width=round(value / top * plot, 1))
        for n, (label, value) in enumerate(rows)
    ]


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
