"""Reads about live rooms."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.urls import reverse
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
from apps.live.providers.recordings import RecordingStoreError
from apps.live.realtime import events
from apps.live.realtime.ids import EPOCH_MS, id_time_ms, message_id
from apps.orders.selectors import CurrencySales, sales_at_price_locks

logger = logging.getLogger(__name__)


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


# What a browser plays of a stored recording, in this order: an IVS recording's master
# playlist at any depth (HLS; its renditions and segments lie beside it, addressed relative
# to it; an encoder that connected again started another recording: the newest one, the
# show's end, plays), else an MP4 at the top of the show's folder (a Mux asset's master,
# copied home; with several assets, from an encoder that reconnected, the first one stored).
IVS_PLAYLIST = "media/hls/master.m3u8"
# The files the site serves from a file:// store (apps.live.views.recording_file), by type.
RECORDING_FILE_TYPES = {
    ".mp4": "video/mp4",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".aac": "audio/aac",
}
# How long what an S3 listing said about a show's folder is kept: the replay page is public,
# and a listing per page view would cost time and money.
RECORDING_LISTING_SECONDS = 300
# Keys read at most per listing (1,000 a page): an IVS show writes a few thousand segments.
RECORDING_LISTING_PAGES = 20


def room_recording_available(*, room: LiveRoom, now: dt.datetime | None = None) -> bool:
    """Whether viewers may watch the show's recording: ended, kept, not deleted."""
    now = now or timezone.now()
    if room.status != LiveRoom.Status.ENDED or room.recording_deleted_at is not None:
        return False
    if room.recording_retain_until is not None and room.recording_retain_until <= now:
        return False
    return bool((room.recording_url or "").strip())


def room_recording_playback_url(*, room: LiveRoom, now: dt.datetime | None = None) -> str:
    """Where a browser can play the show's recording from; "" when it cannot ("not available").

    The room holds where the recording is kept, not where it is watched: a folder (or file) in
    the region's store, ``LIVE_RECORDING_STORAGE``, or Mux's assets. A store's file plays
    from ``LIVE_RECORDING_PUBLIC_URL`` plus its path under the store; without that address a
    ``file://`` store's file plays from this site (:func:`recording_file_for_viewer`) and an
    ``s3://`` one does not play. A reference outside the store is never followed. ``mux://``
    assets are kept for deleting, not for viewers (they are copied home first); an
    ``http(s)`` address (a show whose merchant's own CDN keeps it) plays as it is. A
    recording deleted or past its retention is never offered.
    """
    if not room_recording_available(room=room, now=now):
        return ""
    reference = room.recording_url.strip()
    scheme = urlsplit(reference).scheme
    if scheme in {"http", "https"}:
        return reference
    if scheme not in {"s3", "file"} or scheme != urlsplit(settings.LIVE_RECORDING_STORAGE).scheme:
        return ""
    if scheme == "s3" and not settings.LIVE_RECORDING_PUBLIC_URL:
        return ""  # a bucket is no web address: nothing to look for in it
    folder = _path_in_store(reference)
    if folder is None:
        return ""
    playable = _playable_in(room=room, reference=reference, path=folder)
    if playable is None:
        return ""
    if settings.LIVE_RECORDING_PUBLIC_URL:
        return settings.LIVE_RECORDING_PUBLIC_URL + quote(playable)
    if scheme == "file":
        # The site serves a file by its path in the show's folder (or beside the one file referenced).
        base = folder if folder.endswith("/") else folder.rpartition("/")[0] + "/"
        name = playable.removeprefix(base.lstrip("/"))
        return reverse("live:recording-file", kwargs={"slug": room.slug, "name": name})
    return ""


def recording_file_for_viewer(*, room: LiveRoom, name: str, now: dt.datetime | None = None) -> Path | None:
    """The file of the show's recording that this site serves as ``name``; None when it serves none.

    Only from a ``file://`` store and only without ``LIVE_RECORDING_PUBLIC_URL`` (the
    embedded default: otherwise that address serves them), only while the recording is
    available, only a playable type inside the room's own recording folder: the path is
    resolved (``..``, symlinks) and must stay inside that folder and the store.
    """
    if settings.LIVE_RECORDING_PUBLIC_URL or urlsplit(settings.LIVE_RECORDING_STORAGE).scheme != "file":
        return None
    if not room_recording_available(room=room, now=now) or urlsplit(room.recording_url).scheme != "file":
        return None
    root = Path(unquote(urlsplit(settings.LIVE_RECORDING_STORAGE).path)).resolve()
    relative = _path_in_store(room.recording_url.strip())
    wanted = PurePosixPath(name)
    # Only a name as written canonically: no "./", "//" or trailing "/", no dot-files or "..".
    if relative is None or name != wanted.as_posix() or wanted.is_absolute():
        return None
    if any(part.startswith(".") for part in wanted.parts):
        return None
    if wanted.suffix.lower() not in RECORDING_FILE_TYPES:
        return None
    folder = (root / relative).resolve()
    # A reference to one file (not a folder) serves that file and the ones beside it.
    if not relative.endswith("/") and relative:
        folder = folder.parent
    try:
        path = (folder / wanted).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # ValueError: a NUL byte (%00) no file name holds
        return None
    if not (path.is_relative_to(folder) and path.is_relative_to(root)) or not path.is_file():
        return None
    return path


def _path_in_store(reference: str) -> str | None:
    """``reference``'s path relative to ``LIVE_RECORDING_STORAGE`` (a folder ends in "/"); None when outside it."""
    storage, parts = urlsplit(settings.LIVE_RECORDING_STORAGE), urlsplit(reference)
    if (parts.scheme, parts.netloc) != (storage.scheme, storage.netloc) or parts.query or parts.fragment:
        return None
    prefix = unquote(storage.path).rstrip("/") + "/"
    path = unquote(parts.path)
    if not path.startswith(prefix):
        return None
    relative = path[len(prefix) :]
    segments = relative.rstrip("/").split("/")
    if not relative or any(segment in {"", ".", ".."} for segment in segments) or "\\" in relative:
        return None
    return relative


def _playable_in(*, room: LiveRoom, reference: str, path: str) -> str | None:
    """The path (under the store) of what a browser plays of the recording at ``path``; None if nothing is there."""
    if not path.endswith("/"):
        return path if PurePosixPath(path).suffix.lower() in {".mp4", ".m3u8"} else None
    if urlsplit(reference).scheme == "file":
        return _playable_in_folder(path)
    found = cache.get(_listing_key(reference))
    if found is None:
        try:
            found = _playable_in_bucket(folder=path)
        except RecordingStoreError as exc:
            logger.warning("Could not list the recording of live room %s: %s", room.slug, exc)
            return None
        cache.set(_listing_key(reference), found, RECORDING_LISTING_SECONDS)
    return found or None


def _listing_key(reference: str) -> str:
    return "live:recording-playable:" + hashlib.sha256(reference.encode()).hexdigest()


def _playable_in_folder(folder: str) -> str | None:
    root = Path(unquote(urlsplit(settings.LIVE_RECORDING_STORAGE).path))
    directory = root / folder
    if not directory.is_dir():
        return None
    found: list[tuple[bool, float, str]] = []
    for candidate in [*directory.glob(f"**/{IVS_PLAYLIST}"), *directory.glob("*.mp4")]:
        # Hidden files are copies still being written (recordings.FileRecordingStore.save).
        if candidate.name.startswith("."):
            continue
        try:
            when = candidate.stat().st_mtime
        except OSError:
            continue
        found.append((candidate.name != "master.m3u8", when, candidate.relative_to(root).as_posix()))
    return _first_to_play(found)


def _playable_in_bucket(*, folder: str) -> str:
    """What plays of the recording in the region's bucket ("" for nothing), from one listing of its folder.

    An IVS show's folder is its channel's (``ivs/v1/<account>/<channel-id>/``, at the root of
    the bucket, which is then the store's root): each recording lies a date and a
    recording id deeper, ``<yyyy>/<m>/<d>/<h>/<m>/<recording-id>/media/hls/master.m3u8``.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from apps.live.providers.recordings import S3RecordingStore

    storage = urlsplit(settings.LIVE_RECORDING_STORAGE)
    prefix = unquote(storage.path).lstrip("/").rstrip("/")
    prefix = f"{prefix}/" if prefix else ""
    client = S3RecordingStore.from_settings().client
    found: list[tuple[bool, float, str]] = []
    try:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=storage.netloc, Prefix=prefix + folder, PaginationConfig={"MaxItems": 1000 * RECORDING_LISTING_PAGES}
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                below, when = key[len(prefix + folder) :], item["LastModified"].timestamp()
                if key.endswith("/" + IVS_PLAYLIST):
                    found.append((False, when, key[len(prefix) :]))
                elif "/" not in below and below.endswith(".mp4") and not below.startswith("."):
                    found.append((True, when, key[len(prefix) :]))
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code", "error") if isinstance(exc, ClientError) else str(exc)
        raise RecordingStoreError(f"S3 did not list {storage.netloc}: {code}") from exc
    return _first_to_play(found) or ""


def _first_to_play(found: list[tuple[bool, float, str]]) -> str | None:
    """Of (is an MP4, modified at, path): the newest IVS playlist, else the first MP4 stored; None for none."""
    if not found:
        return None
    return min(found, key=lambda item: (item[0], item[1] if item[0] else -item[1], item[2]))[2]


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


def pinned_prices_written(pinned: dict[str, Any] | None, *, locale: str) -> list[str]:
    """The pinned product's price in each currency the room shows, as ``locale`` writes it.

    Picked from the pin event's ``prices`` the way the room page picks a viewer's: each way of
    writing is stored once (``formats``) with the one each locale uses (``by_locale``); a locale
    the region does not serve gets the first way.
    """
    prices = (pinned or {}).get("prices")
    if not isinstance(prices, dict):
        return []
    formats = prices.get("formats")
    if not isinstance(formats, list) or not formats:
        return []
    way = (prices.get("by_locale") or {}).get(locale, 0)
    written = formats[way] if isinstance(way, int) and 0 <= way < len(formats) else formats[0]
    if not isinstance(written, dict):
        return []
    # In the region's order (settlement currency first): the stored event's keys come back from
    # PostgreSQL's jsonb in an order of its own.
    order = {currency: place for place, currency in enumerate(settings.REGION.currencies)}
    return [str(written[currency]) for currency in sorted(written, key=lambda c: (order.get(c, len(order)), c))]


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
