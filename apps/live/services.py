"""Writes about live rooms: one function per use case."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import re
import secrets
import tomllib
from collections.abc import Callable, Collection
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from apps.accounts.models import Merchant, User
from apps.catalog.models import Product, Variant
from apps.catalog.selectors import product_hidden_in, required_certifications, variant_options
from apps.errors import ApplicationError
from apps.live.models import (
    ChatRestriction,
    Danmaku,
    FlashCoupon,
    Giveaway,
    LiveRoom,
    PinnedProduct,
    RoomVisit,
    ViewerSample,
)
from apps.live.providers import PROVIDERS_DELETING_STREAMS, LiveStream, StreamProviderError, stream_provider
from apps.live.providers.recordings import (
    RecordingSourceError,
    RecordingStore,
    RecordingStoreError,
    recording_store,
    recording_url,
    region_recording_store,
)
from apps.live.realtime import events
from apps.live.realtime.config import live_config
from apps.live.realtime.store import publish_sync, recent_remove_sync
from apps.money.formatting import format_count, format_money, language_names, reader_locale
from apps.money.selectors import convert, rate_snapshot_current
from apps.money.types import Money, MoneyError
from apps.orders import services as orders
from apps.orders.models import Cart, CartLine
from regions import Region
from regions.languages import language_name

logger = logging.getLogger(__name__)


@transaction.atomic
def live_room_schedule(
    *,
    region: Region,
    merchant: Merchant,
    slug: str,
    titles: dict[str, str],
    language: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    playback_url: str = "",
) -> LiveRoom:
    fields: dict[str, list[str]] = {}
    locale = reader_locale(region.default_language)
    if playback_url and not playback_url.startswith(("https://", "http://")):
        fields["playback_url"] = [_("An http(s) address of the HLS stream (.m3u8).")]
    if not titles.get(region.default_language, "").strip():
        fields["title"] = [
            # Translators: %(language)s is a language's name in yours ("English", "Arabic").
            _("A title in %(language)s (the region's default language) is required.")
            % {"language": language_name(region.default_language, locale)}
        ]
    if language not in region.languages:
        fields["language"] = [
            # Translators: %(values)s lists language codes with their names: "en (English), ar (Arabic)".
            _("Not offered here; valid values: %(values)s") % {"values": language_names(region.languages, locale)}
        ]
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        fields["starts_at"] = [_("Times must carry a time zone.")]
    elif ends_at <= starts_at:
        fields["ends_at"] = [_("The show must end after it starts.")]
    if LiveRoom.objects.filter(slug=slug).exists():
        fields["slug"] = [_("A room with this slug exists.")]
    if fields:
        raise ApplicationError(_("The live room could not be scheduled."), fields=fields)
    room = LiveRoom(
        merchant=merchant,
        slug=slug,
        language=language,
        scheduled_start=starts_at,
        scheduled_end=ends_at,
        playback_url=playback_url,
    )
    for lang, text in titles.items():
        setattr(room, f"title_{lang.replace('-', '_')}", text)
    room.title = titles[region.default_language]
    room.save()
    return room


# --- The real-time room ----------------------------------------------------------------

MAX_EVENT_BYTES = 16_384


def _publish_on_commit(*, room_id: int, event: str) -> None:
    """Publish once the transaction that justified the event has committed (never a ghost event)."""
    config = live_config()
    transaction.on_commit(lambda: publish_sync(config, room_id=room_id, event=event))


@transaction.atomic
def room_publish_event(*, room: LiveRoom, event: dict[str, Any]) -> None:
    """Send ``event`` to every viewer of ``room`` in this region and keep it for the snapshot.

    For the features that drive a show (console, pinned products, flash coupons,
    giveaways). ``event`` is one of:

    - ``{"type": "pinned", "product": {...} | None}``: what is pinned now (None: nothing).
      Viewers see different currencies and languages while the frame is encoded once, so
      the product should carry its names and prices for all of them, e.g.
      ``{"id", "url", "name": {"en": ..., "ar": ...}, "prices": {"USD": "$49.00", ...}}``;
    - ``{"type": "coupon", "coupon": {...} | None}``: the open flash coupon, e.g.
      ``{"code", "label", "remaining", "ends_at" (ISO 8601)}``;
    - ``{"type": "giveaway", "giveaway": {...} | None}``: e.g. ``{"state": "opened",
      "keyword", "closes_at"}`` then ``{"state": "drawn", "winner": "<public name>"}``;
    - ``{"type": "status", "status": "scheduled" | "live" | "ended"}``: also saved on the room;
      viewers get it with the room's ``playback_url`` added, to start the player.

    The payload is stored on the room (``live_state`` / ``status``), so viewers who
    connect later, or after a Redis restart, get it in their snapshot; the event is
    published on commit. Raises :class:`ApplicationError` for anything else.
    """
    fields: dict[str, list[str]] = {}
    kind = event.get("type") if isinstance(event, dict) else None
    if kind not in events.PUBLISHABLE_EVENTS:
        raise ApplicationError(
            _("This event cannot be published to a live room."),
            code="unknown_event",
            # Translators: %(values)s lists the values a program sends, kept as they are: "coupon, giveaway".
            fields={"type": [_("Valid values: %(values)s") % {"values": ", ".join(sorted(events.PUBLISHABLE_EVENTS))}]},
        )
    if kind == "status":
        if event.get("status") not in LiveRoom.Status.values:
            fields["status"] = [_("Valid values: %(values)s") % {"values": ", ".join(LiveRoom.Status.values)}]
    else:
        key = events.STATE_EVENTS[kind]
        if key not in event:
            fields[key] = [
                # Translators: %(type)s and %(key)s are JSON names, kept as they are ("coupon", "coupon").
                _("A “%(type)s” event carries “%(key)s”: an object, or null to clear it.") % {"type": kind, "key": key}
            ]
        elif event[key] is not None and not isinstance(event[key], dict):
            fields[key] = [_("Must be an object or null.")]
    unknown = set(event) - {"type", "status" if kind == "status" else events.STATE_EVENTS.get(kind, "")}
    if unknown:
        fields["event"] = [
            ngettext("Unknown key: %(keys)s", "Unknown keys: %(keys)s", len(unknown))
            % {"keys": ", ".join(sorted(unknown))}
        ]
    if not fields:
        try:
            raw = events.dumps(event)
        except (TypeError, ValueError):
            fields["event"] = [_("Must be plain JSON: objects, lists, strings, numbers, true/false, null.")]
        else:
            if len(raw.encode()) > MAX_EVENT_BYTES:
                fields["event"] = [
                    ngettext("At most %(count)s byte of JSON.", "At most %(count)s bytes of JSON.", MAX_EVENT_BYTES)
                    % {"count": format_count(MAX_EVENT_BYTES, reader_locale())}
                ]
    if fields:
        raise ApplicationError(_("The live event could not be published."), code="invalid_event", fields=fields)

    locked = LiveRoom.objects.select_for_update().get(pk=room.pk)
    if kind == "status":
        locked.status = room.status = event["status"]
        locked.save(update_fields=["status"])
        # Viewers already waiting start the player from this event: Mux and IVS make the
        # stream's URL only at go-live. Taken from the room, never from the caller.
        raw = events.dumps({**event, "playback_url": locked.playback_url})
    else:
        locked.live_state = {**(locked.live_state or {}), kind: event[events.STATE_EVENTS[kind]]}
        locked.save(update_fields=["live_state"])
        room.live_state = locked.live_state
    _publish_on_commit(room_id=room.pk, event=raw)


def live_room_likes_save(*, room_id: int, total: int) -> None:
    """Keep the Redis likes total in the database too (never lowering it)."""
    LiveRoom.objects.filter(pk=room_id).update(likes_total=Greatest(F("likes_total"), Value(total)))


def _restriction_event(*, user_id: int, kind: str | None, until: dt.datetime | None) -> str:
    return events.dumps(
        {"type": events.RESTRICTION, "user": user_id, "kind": kind, "until": until.timestamp() if until else None}
    )


@transaction.atomic
def chat_user_mute(
    *, room: LiveRoom, user: User, minutes: int, by: User | None = None, reason: str = ""
) -> ChatRestriction:
    """Stop ``user`` posting in ``room`` for ``minutes``; they keep watching. Takes effect at once."""
    longest = 7 * 24 * 60
    if not isinstance(minutes, int) or not 1 <= minutes <= longest:
        raise ApplicationError(
            _("The user could not be muted."),
            fields={
                "minutes": [
                    ngettext(
                        "Between 1 minute and 7 days (%(count)s minute).",
                        "Between 1 minute and 7 days (%(count)s minutes).",
                        longest,
                    )
                    % {"count": format_count(longest, reader_locale())}
                ]
            },
        )
    until = timezone.now() + dt.timedelta(minutes=minutes)
    restriction = ChatRestriction.objects.create(
        room=room, user=user, kind=ChatRestriction.Kind.MUTE, until=until, created_by=by, reason=reason[:200]
    )
    _publish_on_commit(room_id=room.pk, event=_restriction_event(user_id=user.pk, kind="mute", until=until))
    return restriction


@transaction.atomic
def chat_user_ban(*, room: LiveRoom, user: User, by: User | None = None, reason: str = "") -> ChatRestriction:
    """Stop ``user`` posting in ``room`` until the ban is lifted."""
    restriction = ChatRestriction.objects.create(
        room=room, user=user, kind=ChatRestriction.Kind.BAN, until=None, created_by=by, reason=reason[:200]
    )
    _publish_on_commit(room_id=room.pk, event=_restriction_event(user_id=user.pk, kind="ban", until=None))
    return restriction


@transaction.atomic
def chat_restriction_lift(*, room: LiveRoom, user: User) -> int:
    """Lift every mute and ban of ``user`` in ``room``; returns how many were active."""
    lifted = ChatRestriction.objects.filter(room=room, user=user, lifted_at__isnull=True).update(
        lifted_at=timezone.now()
    )
    _publish_on_commit(room_id=room.pk, event=_restriction_event(user_id=user.pk, kind=None, until=None))
    return lifted


@transaction.atomic
def danmaku_remove(*, room: LiveRoom, message_id: int) -> None:
    """Take a message down: off every viewer's screen, out of the snapshot and the replay.

    A message still waiting in a process's write buffer is marked there when the
    ``removed`` event reaches that process, so it is stored as removed.
    """
    Danmaku.objects.filter(room=room, pk=message_id, removed_at__isnull=True).update(removed_at=timezone.now())
    config = live_config()
    wanted = str(message_id)

    def same_message(item: str) -> bool:
        try:
            return str(json.loads(item).get("id")) == wanted
        except (ValueError, AttributeError):
            return False

    transaction.on_commit(lambda: recent_remove_sync(config, room_id=room.pk, matches=same_message))
    _publish_on_commit(room_id=room.pk, event=events.dumps({"type": "removed", "id": wanted}))


# --- The show: start, end, recordings --------------------------------------------------


def _room_locked(room: LiveRoom) -> LiveRoom:
    return LiveRoom.objects.select_for_update().get(pk=room.pk)


def _refuse_transition(room: LiveRoom, wanted: str) -> ApplicationError:
    return ApplicationError(
        _("A show that is %(status)s cannot become %(wanted)s.") % {"status": room.status, "wanted": wanted},
        code="invalid_transition",
        fields={"status": [_("The room is %(status)s.") % {"status": room.status}]},
        status=409,
    )


def _log_provider_failure(verb: str, room: LiveRoom, provider: str, exc: StreamProviderError) -> None:
    # The merchant reads what happened in their own words (the error's message); support needs
    # the provider's own reason, which only the log keeps.
    logger.warning("Could not %s live room %s with the %s stream provider: %s", verb, room.slug, provider, exc.detail)


def live_room_start(
    *, room: LiveRoom, provider: str | None = None, playback_url: str = "", now: dt.datetime | None = None
) -> LiveRoom:
    """Go live: create the provider's stream (ingest URL + key for the encoder, HLS for viewers).

    Only a scheduled room starts. The provider is asked first, outside the transaction
    (no row lock held while waiting on the network). If the room is not saved with the new
    stream (it changed meanwhile, the database failed), the stream is deleted at the
    provider again (best effort, see :func:`_stream_discard`) and the original error is
    raised; nothing is written. Once the room is committed, the stream is the room's and
    stays, even if what runs after the commit (the "live" event to viewers) fails. ``now``
    (default: the current time) is when it went live; the demo data replays a past show
    through this path.
    """
    if room.status != LiveRoom.Status.SCHEDULED:
        raise _refuse_transition(room, LiveRoom.Status.LIVE)
    try:
        chosen = stream_provider(provider)
        stream = chosen.stream_create(room_slug=room.slug, playback_url=playback_url or room.playback_url)
    except StreamProviderError as exc:
        _log_provider_failure("start", room, provider or settings.LIVE_STREAM_PROVIDER, exc)
        raise
    committed = False

    def _mark_committed() -> None:
        nonlocal committed
        committed = True

    try:
        with transaction.atomic():
            locked = _room_locked(room)
            if locked.status != LiveRoom.Status.SCHEDULED:
                raise _refuse_transition(locked, LiveRoom.Status.LIVE)
            locked.stream_provider = stream.provider
            locked.stream_id = stream.stream_id
            locked.ingest_url = stream.ingest_url
            locked.stream_key = stream.stream_key
            locked.playback_url = stream.playback_url
            locked.started_at = now or timezone.now()
            locked.save(
                update_fields=["stream_provider", "stream_id", "ingest_url", "stream_key", "playback_url", "started_at"]
            )
            # Registered before the event's own hook: hooks run in order, and one that raises
            # (Redis down) stops the rest, so this must have run before anything can fail
            # after the commit. A raise inside the block or at the commit leaves it unrun.
            transaction.on_commit(_mark_committed)
            room_publish_event(room=locked, event={"type": "status", "status": LiveRoom.Status.LIVE})
    except Exception:
        if not committed:
            _stream_discard(provider=chosen, stream=stream, room_slug=room.slug)
        raise
    return locked


def _stream_discard(*, provider: Any, stream: LiveStream, room_slug: str) -> None:
    """Delete a stream no room was saved with; a failure is logged, never raised.

    The caller is raising the error that stopped the start, which is what the merchant must
    see; a failure here would hide it. The stream id is logged so it can be deleted by hand:
    no room refers to it, so the hourly sweep never will.
    """
    if not stream.stream_id:
        return  # the manual provider: nothing was created anywhere
    try:
        if stream.provider in PROVIDERS_DELETING_STREAMS:
            provider.stream_delete(stream_id=stream.stream_id)
        else:
            provider.stream_end(stream_id=stream.stream_id)
    except Exception:
        logger.exception(
            "Could not delete the %s stream %s created for live room %s, whose start failed; delete it by hand.",
            stream.provider,
            stream.stream_id,
            room_slug,
        )
    else:
        logger.info(
            "Deleted the %s stream %s of live room %s, whose start failed.",
            stream.provider,
            stream.stream_id,
            room_slug,
        )


def live_room_end(*, room: LiveRoom, region: Region, now: dt.datetime | None = None) -> LiveRoom:
    """End the show: stop the stream, close pin/coupon/giveaway, keep the recording for the region's retention.

    ``now`` (default: the current time) is when it ended; retention counts from then.
    """
    if room.status != LiveRoom.Status.LIVE:
        raise _refuse_transition(room, LiveRoom.Status.ENDED)
    # Where the provider recorded the show (Mux's assets, IVS's channel folder in the region's
    # bucket), "" when it recorded nothing; None: the show's own folder in the region's store.
    recorded_at = None
    if room.stream_id:
        try:
            recorded_at = stream_provider(room.stream_provider).stream_end(stream_id=room.stream_id)
        except StreamProviderError as exc:
            # Nothing is written here: the room stays live and the merchant ends it again, though the
            # provider may have cut the encoder off already (IVS revokes its keys first, Mux completes
            # the stream before saying which assets recorded it); ending twice is harmless at both.
            _log_provider_failure("end", room, room.stream_provider, exc)
            raise
    with transaction.atomic():
        locked = _room_locked(room)
        if locked.status != LiveRoom.Status.LIVE:
            raise _refuse_transition(locked, LiveRoom.Status.ENDED)
        now = now or timezone.now()
        locked.ended_at = now
        locked.stream_key = ""  # a stream key is a secret; it has no use after the show
        locked.recording_url = recording_url(locked.slug) if recorded_at is None else recorded_at
        locked.recording_retain_until = now + dt.timedelta(days=region.recording_retention_days)
        locked.save(update_fields=["ended_at", "stream_key", "recording_url", "recording_retain_until"])
        if locked.pins.filter(unpinned_at__isnull=True).exists():
            product_unpin(room=locked, now=now)
        if locked.coupons.filter(closed_at__isnull=True).exists():
            _coupon_close(room=locked, now=now)
        locked.giveaways.filter(state=Giveaway.State.OPEN).update(state=Giveaway.State.CANCELLED)
        room_publish_event(room=locked, event={"type": "status", "status": LiveRoom.Status.ENDED})
        # After the commit, and each on its own: the recording kept at Mux is copied into the
        # region's store, and the stream (its assets are read) is deleted at the provider.
        if urlsplit(locked.recording_url).scheme == "mux":
            kept_at_mux = locked.recording_url
            transaction.on_commit(lambda: _queue("recording_copy_from_mux", locked.pk, kept_at_mux))
        if locked.stream_id and locked.stream_provider in PROVIDERS_DELETING_STREAMS:
            transaction.on_commit(lambda: _queue("provider_stream_delete", locked.pk))
    return locked


def _queue(task_name: str, *args: Any) -> None:
    # Imported here: tasks wrap services, so services reach them only at run time.
    from apps.live import tasks

    try:
        getattr(tasks, task_name).delay(*args)
    except Exception:
        # The broker is down. Nothing is lost: a stream is deleted by the hourly sweep, and a
        # recording not copied stays at Mux, where the retention task deletes it.
        logger.exception("Could not queue %s%r", task_name, args)


class RecordingCopyPending(Exception):
    """The copy cannot finish now (Mux is still preparing, or Mux or the store failed): try again later."""


def recording_copy_from_mux(*, room_id: int, mux_url: str, now: dt.datetime | None = None) -> str:
    """Copy the recording Mux keeps (``mux_url``) into the region's own store, then delete it at Mux.

    Each asset's MP4 master (asked of Mux first, ready some minutes after the show) is
    stored whole as ``<recording_url(slug)><asset-id>.mp4``; only once every asset is stored
    does the room's recording point at that folder (retention unchanged), and only then are
    the assets deleted at Mux. Answers ``"copied"``; ``"kept_at_mux"`` when it gave up (Mux
    had no master ready ``LIVE_MUX_MASTER_WAIT_HOURS`` after the show, or no master will
    come of an asset): the room keeps ``mux_url`` and the retention task deletes the
    recording there in time; ``"nothing"`` when the room holds neither reference any more.
    Raises :class:`RecordingCopyPending` to be tried again later.

    Idempotent, for a retried or duplicated task: files already stored are not fetched
    again, the switch is conditional on the room still holding ``mux_url``, and a run that
    finds the switch done only finishes deleting at Mux (404 counts as deleted).
    """
    from apps.live.providers.mux import MuxRecordingStore, asset_ids, master_download

    now = now or timezone.now()
    room = (
        LiveRoom.objects.filter(pk=room_id, ended_at__isnull=False, recording_deleted_at__isnull=True)
        .only("id", "slug", "ended_at", "recording_url", "recording_retain_until")
        .first()
    )
    if room is None:
        return "nothing"
    try:
        ids = asset_ids(mux_url)
    except RecordingStoreError as exc:
        logger.error("Not copying the recording of live room %s: %s", room.slug, exc)
        return "nothing"
    home = recording_url(room.slug)
    if room.recording_url == home:
        _mux_recording_delete(room=room, mux_url=mux_url)  # switched by an earlier run that died before this
        return "copied"
    if room.recording_url != mux_url:
        return "nothing"
    if now >= room.ended_at + dt.timedelta(hours=settings.LIVE_MUX_MASTER_WAIT_HOURS):
        reason = f"no master ready {settings.LIVE_MUX_MASTER_WAIT_HOURS} hour(s) after the show ended"
        return _recording_kept_at_mux(room=room, reason=reason)
    try:
        mux = MuxRecordingStore.from_settings()
        store = region_recording_store()
        # Every master is asked for before any is downloaded: asking is cheap, and makes Mux
        # prepare them all at once while this task waits (by retrying) for the slowest.
        todo, preparing = [], []
        for asset_id in ids:
            file_url = f"{home}{asset_id}.mp4"
            if store.exists(file_url):
                continue  # stored whole by an earlier run
            master = mux.master_url(asset_id)
            if master is None:
                preparing.append(asset_id)
            else:
                todo.append((file_url, master))
        if preparing:
            raise RecordingCopyPending(f"Mux is still preparing the master of asset(s) {', '.join(preparing)}")
        stored = 0
        for file_url, master in todo:
            with master_download(
                master, max_bytes=settings.LIVE_MUX_MASTER_MAX_BYTES, timeout=settings.LIVE_MUX_DOWNLOAD_TIMEOUT
            ) as body:
                store.save(file_url, body)
                stored += body.received
    except RecordingSourceError as exc:
        if exc.permanent:
            return _recording_kept_at_mux(room=room, reason=str(exc))
        raise RecordingCopyPending(str(exc)) from exc
    except RecordingStoreError as exc:
        raise RecordingCopyPending(str(exc)) from exc
    # Every asset is stored whole: only now may the room point at the copy. Conditional, so
    # that a reference changed meanwhile (a duplicate run switched it) is never overwritten.
    still_at_mux = LiveRoom.objects.filter(pk=room.pk, recording_url=mux_url, recording_deleted_at__isnull=True)
    # The assets to delete at Mux are recorded with the switch, so that if deleting them
    # fails beyond this task's retries the hourly sweep still finds them.
    switched = still_at_mux.update(recording_url=home, mux_recording_to_delete=mux_url)
    if not switched and not LiveRoom.objects.filter(pk=room.pk, recording_url=home).exists():
        return "nothing"
    logger.info(
        "Copied the recording of live room %s from Mux (%d asset(s), %d bytes fetched) into %s.",
        room.slug,
        len(ids),
        stored,
        home,
    )
    _mux_recording_delete(room=room, mux_url=mux_url)
    return "copied"


def _mux_recording_delete(*, room: LiveRoom, mux_url: str) -> None:
    """Delete at Mux a recording the region's store now holds (the room no longer references it)."""
    from apps.live.providers.mux import MuxRecordingStore

    try:
        deleted = MuxRecordingStore.from_settings().delete(mux_url)
    except RecordingStoreError as exc:
        raise RecordingCopyPending(f"copied into the region's store, but {exc}") from exc
    LiveRoom.objects.filter(pk=room.pk, mux_recording_to_delete=mux_url).update(mux_recording_to_delete="")
    logger.info("Deleted the recording of live room %s at Mux (%s, %d asset(s)).", room.slug, mux_url, deleted)


def mux_recordings_delete_leftover(*, limit: int = 100) -> int:
    """Hourly (beat): delete at Mux the recordings already copied home whose delete there failed.

    The copy task retries deleting them, but only so many times; what it could not finish
    stays recorded on the room and is tried here until Mux confirms (a 404 counts as
    deleted). Returns how many rooms' recordings went.
    """
    rooms = (
        LiveRoom.objects.exclude(mux_recording_to_delete="")
        .only("id", "slug", "mux_recording_to_delete")
        .order_by("id")[:limit]
    )
    deleted = 0
    for room in rooms:
        try:
            _mux_recording_delete(room=room, mux_url=room.mux_recording_to_delete)
        except RecordingCopyPending as exc:
            logger.warning("Could not delete the recording of live room %s at Mux: %s", room.slug, exc)
            continue
        deleted += 1
    return deleted


def recordings_at_mux_to_copy(*, now: dt.datetime | None = None, limit: int = 100) -> list[tuple[int, str]]:
    """Shows whose recording Mux still keeps and may yet be copied home: ``(room id, mux reference)``.

    The copy is queued as a show ends and retries itself, but a task lost on the way (a
    worker killed mid-run, a broker restarted) would leave the recording at Mux for its whole
    retention. The hourly sweep queues these again: shows ended over an hour ago (the first
    tries belong to the task queued at the end) and no longer ago than the wait for Mux's
    master plus an hour (a last run then keeps it at Mux, logged). The copy is idempotent, so
    a sweep that meets a task still retrying costs a duplicate try, never a wrong result.
    """
    now = now or timezone.now()
    rooms = (
        LiveRoom.objects.filter(
            recording_url__startswith="mux://",
            recording_deleted_at__isnull=True,
            ended_at__lte=now - dt.timedelta(hours=1),
            ended_at__gt=now - dt.timedelta(hours=settings.LIVE_MUX_MASTER_WAIT_HOURS + 1),
        )
        .order_by("ended_at", "id")
        .values_list("id", "recording_url")[:limit]
    )
    return list(rooms)


def _recording_kept_at_mux(*, room: LiveRoom, reason: str) -> str:
    # Nothing is lost and nothing outlives retention: the room keeps its mux:// reference,
    # deleted at Mux when retention passes, together with whatever whole files a copy left
    # unreferenced in the show's folder of the region's store (recordings_delete_expired).
    logger.warning(
        "Kept the recording of live room %s at Mux, not copied into the region's store: %s. "
        "The retention task deletes it at Mux after %s.",
        room.slug,
        reason,
        room.recording_retain_until.isoformat() if room.recording_retain_until else "?",
    )
    return "kept_at_mux"


def provider_stream_delete(*, room_id: int) -> bool:
    """Delete an ended show's live stream at its provider (Mux keeps one until told); True once gone.

    An ended show's assets were read when it ended, so its stream is of no more use. The
    room forgets the stream's id once the provider has deleted it (or no longer has it);
    a failure is logged and left to :func:`provider_streams_delete`.
    """
    room = _rooms_with_streams_to_delete().filter(pk=room_id).first()
    if room is None:
        return False
    try:
        provider = stream_provider(room.stream_provider)
    except StreamProviderError as exc:
        logger.warning("Could not delete the %s stream of live room %s: %s", room.stream_provider, room.slug, exc)
        return False
    return _stream_delete(provider=provider, room=room)


def provider_streams_delete(*, limit: int = 100) -> int:
    """Hourly (beat): delete the streams of ended shows still at their provider; returns how many went.

    Catches a deletion that failed, or was never queued (broker down at the show's end).
    Oldest first, at most ``limit`` a run; one that fails does not hold back the others.
    """
    rooms = list(_rooms_with_streams_to_delete().order_by("ended_at", "pk")[:limit])
    providers: dict[str, Any] = {}
    deleted = 0
    for room in rooms:
        if room.stream_provider not in providers:
            try:
                providers[room.stream_provider] = stream_provider(room.stream_provider)
            except StreamProviderError as exc:
                logger.warning("Could not delete %s streams: %s", room.stream_provider, exc)
                providers[room.stream_provider] = None
        provider = providers[room.stream_provider]
        if provider is not None and _stream_delete(provider=provider, room=room):
            deleted += 1
    return deleted


def _rooms_with_streams_to_delete() -> QuerySet[LiveRoom]:
    return (
        LiveRoom.objects.filter(status=LiveRoom.Status.ENDED, stream_provider__in=PROVIDERS_DELETING_STREAMS)
        .exclude(stream_id="")
        .only("id", "slug", "stream_provider", "stream_id")
    )


def _stream_delete(*, provider: Any, room: LiveRoom) -> bool:
    try:
        provider.stream_delete(stream_id=room.stream_id)
    except StreamProviderError as exc:
        logger.warning("Could not delete the %s stream of live room %s: %s", room.stream_provider, room.slug, exc)
        return False
    LiveRoom.objects.filter(pk=room.pk, stream_id=room.stream_id).update(stream_id="")
    logger.info("Deleted the %s stream %s of ended live room %s.", room.stream_provider, room.stream_id, room.slug)
    return True


def recordings_delete_expired(*, now: dt.datetime | None = None) -> list[int]:
    """Delete recordings whose retention has passed (never one a moment early); returns the room ids.

    The files go first, then the reference: a run that fails or dies in between leaves the
    reference, and the next run deletes again (deleting is idempotent) and records it. Each
    recording is deleted where its URL says (the region's store, or Mux for a Mux show), so
    one store that cannot be reached holds back only its own recordings (a Mux show's also
    needs the region's store, where an unfinished copy of it may lie).
    """
    now = now or timezone.now()
    due = LiveRoom.objects.filter(
        recording_retain_until__isnull=False, recording_retain_until__lte=now, recording_deleted_at__isnull=True
    ).exclude(recording_url="")
    rooms = list(due.only("id", "slug", "recording_url", "recording_retain_until"))
    if not rooms:
        return []
    stores: dict[str, RecordingStore] = {}
    deleted = []
    for room in rooms:
        try:
            scheme = urlsplit(room.recording_url).scheme
            if scheme not in stores:
                stores[scheme] = recording_store(room.recording_url)
            files = stores[scheme].delete(room.recording_url)
            if scheme == "mux":
                # A copy into the region's store that never finished (recording_copy_from_mux
                # gave up, or its task was lost) may have left whole files, unreferenced, in
                # the show's folder there: they go with the recording.
                own = urlsplit(settings.LIVE_RECORDING_STORAGE).scheme
                if own not in stores:
                    stores[own] = recording_store()
                files += stores[own].delete(recording_url(room.slug))
        except RecordingStoreError as exc:
            logger.warning(
                "Could not delete the recording of live room %s (%s): %s", room.slug, room.recording_url, exc
            )
            continue
        changed = LiveRoom.objects.filter(
            pk=room.pk, recording_deleted_at__isnull=True, recording_retain_until__lte=now
        ).update(recording_deleted_at=now, recording_url="")
        if changed:
            deleted.append(room.pk)
            logger.info(
                "Deleted the recording of live room %s (%s, %d file(s)), kept until %s.",
                room.slug,
                room.recording_url,
                files,
                room.recording_retain_until.isoformat(),
            )
    return deleted


# --- Pinned products: compliance gate and price lock ----------------------------------


def room_audience_countries(*, room: LiveRoom, region: Region) -> list[str]:
    """Who watches a room: the countries this region serves (a show is region-wide)."""
    return sorted(region.country_codes)


def product_pin_check(*, room: LiveRoom, product: Product, region: Region) -> dict[str, list[str]]:
    """Per audience country, why ``product`` may not be sold there (rules broken, certificate missing/expired)."""
    language = region.default_language
    countries = room_audience_countries(room=room, region=region)
    problems: dict[str, list[str]] = {
        country: [v.message for v in violations]
        for country, violations in product_hidden_in(product, countries=countries, language=language).items()
    }
    for country in countries:
        for needed in required_certifications(product, country, language=language):
            if needed.certification is None:
                message = needed.message or f"{needed.label} certificate missing or expired."
                if message not in problems.get(country, []):
                    problems.setdefault(country, []).append(message)
    return problems


def _locked_prices(*, product: Product, region: Region) -> tuple[dict[str, dict[str, Any]], int | None]:
    """Each active variant's price in each of the region's currencies, fixed now, with the FX snapshot used."""
    try:
        snapshot = rate_snapshot_current()
    except MoneyError:
        snapshot = None  # no rates loaded: lock the prices in their own currency only
    locale = region.default_language
    prices: dict[str, dict[str, Any]] = {}
    for variant in product.variants.filter(is_active=True).order_by("position", "id"):
        own = Money(variant.price_minor, variant.currency)
        per_currency = {
            variant.currency: {
                "minor": own.amount_minor,
                "display": format_money(own.amount_minor, own.currency, locale),
            }
        }
        if snapshot is not None:
            for currency in region.currencies:
                if currency in per_currency:
                    continue
                try:
                    converted = convert(own, currency, snapshot).money
                except MoneyError:
                    continue
                per_currency[currency] = {
                    "minor": converted.amount_minor,
                    "display": format_money(converted.amount_minor, currency, locale),
                }
        prices[str(variant.pk)] = per_currency
    return prices, snapshot.id if snapshot is not None else None


def _written_by_locale(write: Callable[[str], Any], *, region: Region) -> tuple[list[Any], dict[str, int]]:
    """What ``write(locale)`` gives for every locale the region serves, each distinct answer once.

    One event goes to every viewer of the room, and how a price (or a measure) is written
    depends on both language and country ("€1,234.56" in Ireland, "€ 1.234,56" in the
    Netherlands, Arabic digits in Saudi Arabia but not in the Emirates). So the event carries
    each distinct way once (``formats``) and, for every locale, which one it uses
    (``by_locale``); the page picks the viewer's. ``write`` runs in the locale's language.
    """
    formats: list[Any] = []
    by_locale: dict[str, int] = {}
    for language in region.languages:
        with translation.override(language):
            for country in region.countries:
                locale = f"{translation.to_locale(language)}_{country.code}"
                written = write(locale)
                if written not in formats:
                    formats.append(written)
                by_locale[locale] = formats.index(written)
    return formats, by_locale


def _pinned_variants(
    *, prices: dict[str, dict[str, Any]], options: dict[str, Any], region: Region
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first variant's prices (``{"formats": [...], "by_locale": {...}}``) and every pinned variant with its
    options and prices, all indexed by one shared ``by_locale``: a show may pin a product with
    many sizes, and the event must stay one small frame for every viewer.

    A variant's options are its values only ("M / navy"): the room's choice is already labelled,
    and variant pickers write them so in every language.
    """
    variant_ids = list(prices)

    def values(attributes: Any, locale: str) -> str:
        return " / ".join(option.value for option in variant_options(attributes, locale=locale))

    formats, by_locale = _written_by_locale(
        lambda locale: [
            {
                "options": values(options.get(variant_id), locale),
                "prices": {
                    currency: format_money(price["minor"], currency, locale)
                    for currency, price in prices[variant_id].items()
                },
            }
            for variant_id in variant_ids
        ],
        region=region,
    )
    first = {"formats": [way[0]["prices"] for way in formats], "by_locale": by_locale}
    variants = [
        {
            "id": int(variant_id),
            "options": [way[index]["options"] for way in formats],
            "prices": [way[index]["prices"] for way in formats],
        }
        for index, variant_id in enumerate(variant_ids)
    ]
    return first, variants


def _translations(obj: Any, field: str, languages: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for lang in languages:
        value = getattr(obj, f"{field}_{lang.replace('-', '_')}", None)
        if value:
            out[lang] = value
    return out or {"": getattr(obj, field)}


def product_pin(
    *,
    room: LiveRoom,
    product: Product,
    region: Region,
    by: User | None = None,
    accept_warnings: bool = False,
    now: dt.datetime | None = None,
) -> PinnedProduct:
    """Pin ``product`` in a live room, compliance-gated, with its prices locked per currency.

    Refused when the product is another merchant's, off sale, or not sellable in any
    audience country; when it is forbidden (or lacks a valid certificate) in only some,
    refused unless ``accept_warnings`` — then pinned with those countries recorded, and
    viewers there see "not sold in your country".
    """
    if room.status != LiveRoom.Status.LIVE:
        raise ApplicationError(
            _("Products can be pinned only while the show is live."), code="room_not_live", status=409
        )
    if product.merchant_id != room.merchant_id:
        raise ApplicationError(
            _("This product belongs to another merchant."),
            code="foreign_product",
            fields={"product": [_("This product belongs to another merchant.")]},
        )
    if not product.is_active or not product.variants.filter(is_active=True).exists():
        raise ApplicationError(
            _("This product is not on sale."),
            code="product_not_on_sale",
            fields={"product": [_("This product is not on sale.")]},
        )
    problems = product_pin_check(room=room, product=product, region=region)
    audience = room_audience_countries(room=room, region=region)
    if problems and (len(problems) >= len(audience) or not accept_warnings):
        refused_everywhere = len(problems) >= len(audience)
        raise ApplicationError(
            _("This product may not be sold to this room's audience.")
            if refused_everywhere
            else _("This product may not be sold in some of this room's audience countries; confirm to pin it anyway."),
            code="pin_forbidden" if refused_everywhere else "pin_needs_confirmation",
            fields=dict(problems),
            status=409,
        )
    prices, snapshot_id = _locked_prices(product=product, region=region)
    # Written for every locale before the room is locked: Babel's work holds up no one.
    options = dict(product.variants.filter(pk__in=[int(v) for v in prices]).values_list("pk", "attributes"))
    first_prices, variants = _pinned_variants(
        prices=prices, options={str(pk): attributes for pk, attributes in options.items()}, region=region
    )
    now = now or timezone.now()
    with transaction.atomic():
        locked = _room_locked(room)
        if locked.status != LiveRoom.Status.LIVE:
            raise ApplicationError(_("The show is no longer live."), code="room_not_live", status=409)
        replaced = list(
            PinnedProduct.objects.filter(room=locked, unpinned_at__isnull=True).values_list("product_id", flat=True)
        )
        PinnedProduct.objects.filter(room=locked, unpinned_at__isnull=True).update(unpinned_at=now)
        transaction.on_commit(lambda: flash_sale_gates_follow_pins(product_ids={product.pk, *replaced}))
        pin = PinnedProduct.objects.create(
            room=locked,
            product=product,
            prices=prices,
            fx_snapshot_id=snapshot_id,
            warnings=problems,
            pinned_by=by,
            pinned_at=now,
        )
        first_variant = next(iter(prices))
        room_publish_event(
            room=locked,
            event={
                "type": "pinned",
                "product": {
                    "pin": pin.pk,
                    "id": product.pk,
                    "variant": int(first_variant),
                    "url": product.get_absolute_url(),
                    "name": _translations(product, "name", region.languages),
                    "prices": first_prices,
                    # More than one: the viewer chooses which before "Buy now".
                    "variants": variants,
                    "not_sold_in": sorted(problems),
                    "price_locked": True,
                    "fx_snapshot": snapshot_id,
                },
            },
        )
    return pin


def pinned_product_to_cart(
    *, room: LiveRoom, cart: Cart, variant_id: int | None, quantity: int | None, country: str
) -> CartLine:
    """Put the product pinned now in the shopper's cart at the price the show locked.

    Checkout then charges that price (in the shopper's currency, fixed with the pin's FX
    snapshot) for ``ORDERS_PRICE_LOCK_MINUTES``, unless the current price is lower. The
    country rules still apply: orders refuses what the shopper's country forbids.
    """
    pin = (
        PinnedProduct.objects.filter(room=room, unpinned_at__isnull=True, room__status=LiveRoom.Status.LIVE)
        .order_by("-pinned_at")
        .first()
    )
    pinned = (pin.prices or {}) if pin is not None else {}
    if variant_id is None and len(pinned) > 1:
        # The room offers a choice; buying one the shopper did not pick would be a guess.
        raise ApplicationError(
            _("Choose which one you want first."),
            code="variant_required",
            fields={"variant": [_("Choose which one you want first.")]},
        )
    prices = pinned.get(str(variant_id))
    if not prices:
        message = (
            _("This is not one of the pinned product's options.")
            if pinned and variant_id is not None
            else _("This product is not pinned in the show any more.")
        )
        raise ApplicationError(message, code="not_pinned", fields={"variant": [message]}, status=409)
    PinnedProduct.objects.filter(pk=pin.pk).update(buy_clicks=F("buy_clicks") + 1)
    lock = orders.PriceLock(
        source=pin.price_lock_source,
        prices_minor={currency: int(price["minor"]) for currency, price in prices.items()},
        fx_snapshot_id=pin.fx_snapshot_id,
    )
    return orders.cart_line_add(cart=cart, variant_id=variant_id, quantity=quantity, country=country, price_lock=lock)


def product_unpin(*, room: LiveRoom, now: dt.datetime | None = None) -> int:
    """Take the pinned product down (its price lock ends now); returns how many pins were open."""
    with transaction.atomic():
        pins = PinnedProduct.objects.filter(room=room, unpinned_at__isnull=True)
        product_ids = set(pins.values_list("product_id", flat=True))
        closed = pins.update(unpinned_at=now or timezone.now())
        room_publish_event(room=room, event={"type": "pinned", "product": None})
        if product_ids:
            transaction.on_commit(lambda: flash_sale_gates_follow_pins(product_ids=product_ids))
    return closed


def flash_sale_gates_follow_pins(*, product_ids: Collection[int]) -> None:
    """Each product's flash-sale gate is open while a live show pins it, and closed once none does.

    A pinned product is what a show's crowd presses "Buy now" on in the same second: its
    pinned variants are admitted by the Redis gate before PostgreSQL is touched (see
    ``apps.orders.gate``). Decided from the pins as they are once committed, not from the one
    change that asked, so two rooms pinning and unpinning one product at once leave its gate as
    their pins are. Redis out of reach never undoes a pin: checkout then counts the units in
    PostgreSQL alone (it never oversells), and the next pin or unpin of the product tries again.
    """
    pinned: set[int] = set()
    for prices in PinnedProduct.objects.filter(
        product_id__in=product_ids, unpinned_at__isnull=True, room__status=LiveRoom.Status.LIVE
    ).values_list("prices", flat=True):
        pinned.update(int(variant_id) for variant_id in prices or {})
    variants = set(Variant.objects.filter(product_id__in=product_ids).values_list("pk", flat=True))
    try:
        orders.flash_sales_open(variant_ids=variants & pinned)
        orders.flash_sales_close(variant_ids=variants - pinned)
    except Exception:
        logger.exception("Flash-sale gates of products %s could not follow their pins", sorted(product_ids))


def flash_sale_gates_follow_all_pins() -> set[int]:
    """Every minute (beat): the gates of all products pinned in a live show, or gated, follow their pins.

    A pin or unpin whose gate change failed (Redis out of reach at that moment) would otherwise
    wait for the next pin of that product: a pinned product sold without its gate (PostgreSQL
    alone: never oversold, but the crowd's checkouts all queue at its stock row), or a gate left
    open for one no show pins. Returns the products looked at.
    """
    gated = orders.flash_sale_variants_gated()
    product_ids = set(
        PinnedProduct.objects.filter(unpinned_at__isnull=True, room__status=LiveRoom.Status.LIVE).values_list(
            "product_id", flat=True
        )
    )
    if gated:
        product_ids |= set(Variant.objects.filter(pk__in=gated).values_list("product_id", flat=True))
    if product_ids:
        flash_sale_gates_follow_pins(product_ids=product_ids)
    return product_ids


# --- Flash coupons ---------------------------------------------------------------------
#
# A flash coupon is a limited orders coupon (``FlashCoupon.order_coupon``): checkout takes
# one use per order with a conditional update and gives it back when the order is cancelled
# before payment, so that row is the one count of what is left. Orders announces each
# change (``coupon_redemptions_changed``, see receivers), and the room shows the new count.


def _coupon_event(coupon: FlashCoupon, remaining: int) -> dict[str, Any]:
    return {
        "type": "coupon",
        "coupon": {
            "id": coupon.pk,
            "code": coupon.code,
            "discount_percent": coupon.discount_percent,
            "label": f"-{coupon.discount_percent}%",
            "quantity": coupon.quantity,
            "remaining": remaining,
            "ends_at": coupon.ends_at.isoformat(),
        },
    }


def _flash_coupons_close(*, room: LiveRoom, now: dt.datetime) -> None:
    """Close the room's open flash coupons; checkout stops taking their codes at once."""
    closing = list(room.coupons.filter(closed_at__isnull=True).values_list("pk", "order_coupon_id"))
    FlashCoupon.objects.filter(pk__in=[pk for pk, _order_coupon in closing]).update(closed_at=now)
    for _pk, order_coupon_id in closing:
        if order_coupon_id is not None:
            orders.coupon_deactivate(coupon_id=order_coupon_id)


def _coupon_close(*, room: LiveRoom, now: dt.datetime) -> None:
    _flash_coupons_close(room=room, now=now)
    room_publish_event(room=room, event={"type": "coupon", "coupon": None})


def flash_coupon_push(
    *, room: LiveRoom, discount_percent: int, quantity: int, minutes: int, region: Region | None = None
) -> FlashCoupon:
    """Open a flash coupon in a live show (closing any open one); viewers see it count down.

    Its code works at checkout at once, for ``quantity`` orders, until it ends or is
    closed, in the countries the show is watched in.
    """
    fields: dict[str, list[str]] = {}
    if isinstance(discount_percent, bool) or not isinstance(discount_percent, int) or not 1 <= discount_percent <= 90:
        fields["discount_percent"] = [_("A whole number from 1 to 90.")]
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 100_000:
        fields["quantity"] = [_("A whole number from 1 to 100000.")]
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 240:
        fields["minutes"] = [_("A whole number of minutes from 1 to 240.")]
    if fields:
        raise ApplicationError(_("The flash coupon could not be pushed."), fields=fields)
    if room.status != LiveRoom.Status.LIVE:
        raise ApplicationError(
            _("Coupons can be pushed only while the show is live."), code="room_not_live", status=409
        )
    region = region or settings.REGION
    now = timezone.now()
    with transaction.atomic():
        locked = _room_locked(room)
        if locked.status != LiveRoom.Status.LIVE:
            raise ApplicationError(_("The show is no longer live."), code="room_not_live", status=409)
        _flash_coupons_close(room=locked, now=now)
        code = f"LIVE-{secrets.token_hex(4).upper()}"
        ends_at = now + dt.timedelta(minutes=minutes)
        order_coupon = orders.coupon_create(
            code=code,
            percent_off=discount_percent,
            valid_from=now,
            valid_until=ends_at,
            max_redemptions=quantity,
            countries=room_audience_countries(room=locked, region=region),
            source=FlashCoupon.order_source_for(locked.pk),
        )
        coupon = FlashCoupon.objects.create(
            room=locked,
            code=code,
            discount_percent=discount_percent,
            quantity=quantity,
            order_coupon=order_coupon,
            starts_at=now,
            ends_at=ends_at,
        )
        room_publish_event(room=locked, event=_coupon_event(coupon, quantity))
    return coupon


def flash_coupon_remaining_publish(*, order_coupon_id: int) -> bool:
    """Checkout took or gave back a use of a flash coupon: the room shows what is left now.

    Under the room lock, so a coupon closed meanwhile is not shown again, and the count is
    read then: whichever announcement publishes last publishes the latest count. Returns
    False when the coupon is not open any more (nothing published).
    """
    coupon = FlashCoupon.objects.filter(order_coupon_id=order_coupon_id).only("pk", "room_id").first()
    if coupon is None:
        return False
    with transaction.atomic():
        room = LiveRoom.objects.select_for_update().get(pk=coupon.room_id)
        coupon = (
            FlashCoupon.objects.select_related("order_coupon")
            .filter(pk=coupon.pk, closed_at__isnull=True, ends_at__gt=timezone.now())
            .first()
        )
        if coupon is None or room.status != LiveRoom.Status.LIVE:
            return False
        room_publish_event(room=room, event=_coupon_event(coupon, coupon.remaining))
    return True


# --- Giveaways -------------------------------------------------------------------------


@lru_cache(maxsize=1)
def giveaway_country_rules() -> dict[str, str]:
    """Country -> "forbidden" | "no_purchase_necessary", from apps/live/data/giveaway_rules.toml."""
    with (Path(__file__).parent / "data" / "giveaway_rules.toml").open("rb") as fh:
        data = tomllib.load(fh)
    return {code.upper(): row["rule"] for code, row in data.get("countries", {}).items()}


# Published with every draw (the audit JSON), so checking a draw needs nothing from us.
GIVEAWAY_ALGORITHM = (
    "1. sha256(seed) must equal seed_hash, which was published when the giveaway opened. "
    "2. entrants lists the entrant ids in draw order (order of entry); "
    "entrants_digest = sha256(','.join(entrants)). "
    "3. winner index = int(sha256(seed + ':' + ','.join(entrants)), 16) % len(entrants), "
    "counting from 0; the winner is entrants[index]. "
    "SHA-256 over UTF-8 text, digests as lower-case hex."
)


def giveaway_seed_hash(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def giveaway_entrant_id(*, giveaway_id: int, user_id: int) -> str:
    """A viewer's pseudonym in one giveaway's public entrant list.

    Stable for the giveaway, different in every giveaway, and keyed with the site's
    secret: a hash of the ids alone could be reversed by trying every user id.
    """
    return salted_hmac("apps.live.giveaway.entrant", f"{giveaway_id}:{user_id}", algorithm="sha256").hexdigest()[:16]


def giveaway_entrants_digest(entrant_ids: list[str]) -> str:
    """SHA-256 of the entrant list as drawn, so the event can vouch for the list published at the audit URL."""
    return hashlib.sha256(",".join(entrant_ids).encode()).hexdigest()


def giveaway_winner_index(*, seed: str, entrant_ids: list[str]) -> int:
    """Which entrant wins: SHA-256 of the seed and the entrant ids in draw order, modulo their number.

    Public and deterministic (see ``GIVEAWAY_ALGORITHM``), so anyone with the published
    seed and entrant list gets the same winner. Nobody can aim at a winner: the seed was
    committed to (its hash published) before entries closed, and stays secret until the draw.
    """
    if not entrant_ids:
        raise ApplicationError(_("Nobody has entered this giveaway."), code="no_entrants", status=409)
    message = f"{seed}:{','.join(entrant_ids)}"
    return int(hashlib.sha256(message.encode()).hexdigest(), 16) % len(entrant_ids)


@sensitive_variables("seed")  # error reports must not reveal it before the draw
def giveaway_open(*, room: LiveRoom, keyword: str, prize: str, region: Region) -> Giveaway:
    """Open a giveaway: viewers enter by typing ``keyword`` in the chat; the seed's hash is published now."""
    keyword = (keyword or "").strip()
    prize = (prize or "").strip()
    fields: dict[str, list[str]] = {}
    if not 2 <= len(keyword) <= 40 or any(ch.isspace() for ch in keyword):
        fields["keyword"] = [_("One word of 2 to 40 characters.")]
    if not 1 <= len(prize) <= 200:
        fields["prize"] = [_("Describe the prize (at most 200 characters).")]
    if fields:
        raise ApplicationError(_("The giveaway could not be opened."), fields=fields)
    if room.status != LiveRoom.Status.LIVE:
        raise ApplicationError(_("Giveaways run only while the show is live."), code="room_not_live", status=409)
    seed = secrets.token_hex(32)
    rules = giveaway_country_rules()
    served = room_audience_countries(room=room, region=region)
    try:
        with transaction.atomic():
            locked = _room_locked(room)
            giveaway = Giveaway.objects.create(
                room=locked,
                keyword=keyword,
                prize=prize,
                seed=seed,
                seed_hash=giveaway_seed_hash(seed),
                opened_at=timezone.now(),
            )
            room_publish_event(
                room=locked,
                event={
                    "type": "giveaway",
                    "giveaway": {
                        "id": giveaway.pk,
                        "state": "opened",
                        "keyword": keyword,
                        "prize": prize,
                        "seed_hash": giveaway.seed_hash,
                        "not_open_in": sorted(c for c in served if rules.get(c) == "forbidden"),
                        "no_purchase_necessary_in": sorted(
                            c for c in served if rules.get(c) == "no_purchase_necessary"
                        ),
                    },
                },
            )
    except IntegrityError as exc:
        raise ApplicationError(
            _("A giveaway is already open in this room; draw it first."), code="giveaway_open", status=409
        ) from exc
    return giveaway


def giveaway_draw(*, giveaway: Giveaway) -> Giveaway:
    """Close entries, draw the winner fairly, record everything, publish the seed, tell the winner.

    Entrants: signed-in viewers whose (not removed, not rejected) chat message since the
    giveaway opened contains the keyword, once each, excluding the merchant's own staff
    and viewers from countries where prize draws are forbidden (``giveaway_rules.toml``);
    in draw order, which is the order of entry (each viewer's first such message).
    The public audit (pseudonymous entrant ids, seed, algorithm, winner) is stored on the
    giveaway and served at its audit URL; the event carries the count and a digest of it.
    """
    with transaction.atomic():
        locked = Giveaway.objects.select_for_update().select_related("room").get(pk=giveaway.pk)
        if locked.state != Giveaway.State.OPEN:
            raise ApplicationError(_("This giveaway has already been drawn."), code="giveaway_closed", status=409)
        keyword = locked.keyword.casefold()
        rules = giveaway_country_rules()
        staff = set(locked.room.merchant.memberships.values_list("user_id", flat=True))
        entrants: dict[int, dict[str, Any]] = {}
        excluded: dict[int, dict[str, Any]] = {}
        messages = (
            Danmaku.objects.filter(room=locked.room, posted_at__gte=locked.opened_at, removed_at__isnull=True)
            .exclude(verdict=Danmaku.Verdict.REJECTED)
            .exclude(user__isnull=True)
            .select_related("user")
            .order_by("id")
        )
        for message in messages:
            user = message.user
            if user.pk in entrants or user.pk in staff or keyword not in message.text.casefold():
                continue
            country = (user.country or "").upper()
            if rules.get(country) == "forbidden":
                excluded.setdefault(user.pk, {"user": user.pk, "country": country, "reason": "prize draws not allowed"})
                continue
            entrants[user.pk] = {
                "entry": len(entrants) + 1,
                "id": giveaway_entrant_id(giveaway_id=locked.pk, user_id=user.pk),
                "user": user.pk,
                "name": user.public_name,
                "country": country,
            }
        ordered = list(entrants.values())
        entrant_ids = [e["id"] for e in ordered]
        index = giveaway_winner_index(seed=locked.seed, entrant_ids=entrant_ids)
        winner = ordered[index]
        locked.state = Giveaway.State.DRAWN
        locked.drawn_at = timezone.now()
        locked.entrants = ordered
        locked.excluded = list(excluded.values())
        locked.winner_id = winner["user"]
        locked.winner_name = winner["name"]
        digest = giveaway_entrants_digest(entrant_ids)
        # Only pseudonyms and the winner's public name: no e-mails, user ids or countries.
        locked.audit = {
            "giveaway": locked.pk,
            "room": locked.room.slug,
            "keyword": locked.keyword,
            "prize": locked.prize,
            "opened_at": locked.opened_at.isoformat(),
            "drawn_at": locked.drawn_at.isoformat(),
            "seed_hash": locked.seed_hash,
            "seed": locked.seed,
            "algorithm": GIVEAWAY_ALGORITHM,
            "entrants": entrant_ids,
            "entrants_count": len(entrant_ids),
            "entrants_digest": digest,
            "not_eligible": len(excluded),
            "winner": {"index": index, "id": winner["id"], "name": winner["name"]},
        }
        locked.save(update_fields=["state", "drawn_at", "entrants", "excluded", "winner", "winner_name", "audit"])
        room_publish_event(
            room=locked.room,
            event={
                "type": "giveaway",
                "giveaway": {
                    "id": locked.pk,
                    "state": "drawn",
                    "keyword": locked.keyword,
                    "prize": locked.prize,
                    "winner": winner["name"],
                    "winner_id": winner["id"],
                    "seed": locked.seed,
                    "seed_hash": locked.seed_hash,
                    # The list itself can outgrow a socket frame: it is at the audit URL,
                    # and the digest ties what is served there to this event.
                    "entrants": len(ordered),
                    "entrants_digest": digest,
                    "audit_url": reverse(
                        "live:giveaway-audit", kwargs={"slug": locked.room.slug, "giveaway_id": locked.pk}
                    ),
                },
            },
        )
        winner_user = User.objects.filter(pk=winner["user"]).only("email", "language").first()
        if winner_user is not None and winner_user.email:
            transaction.on_commit(
                functools.partial(
                    _giveaway_winner_notify,
                    email=winner_user.email,
                    language=winner_user.language or settings.LANGUAGE_CODE,
                    prize=locked.prize,
                    title=str(locked.room.title),
                )
            )
    return locked


def _giveaway_winner_notify(*, email: str, language: str, prize: str, title: str) -> None:
    """Tell the winner by e-mail, in their language (after the draw committed)."""
    with translation.override(language):
        send_mail(
            subject=_("You won: %(prize)s") % {"prize": prize},
            message=_(
                "Congratulations! You won the giveaway in the live show “%(title)s”: %(prize)s. "
                "The shop will contact you about delivery."
            )
            % {"title": title, "prize": prize},
            from_email=None,
            recipient_list=[email],
            fail_silently=True,
        )


# --- Show stats ------------------------------------------------------------------------

TRAFFIC_FIELD_LENGTH = 100
# A referring site is a DNS name (browsers send international names in their ASCII form).
_HOSTNAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")


def visitor_key(*, user_id: int | None, session_key: str) -> str:
    """Who a visit is, without storing a credential: the user, else a hash of the session key."""
    if user_id is not None:
        return f"user:{user_id}"
    return "session:" + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def traffic_source(
    *, utm_source: str, utm_medium: str, utm_campaign: str, referrer_host: str, own_host: str
) -> tuple[str, str, str]:
    """(source, medium, campaign) of a visit: the UTM tags when present, else the referring site, else "direct"."""

    def clean(value: str) -> str:
        # A NUL byte (``?utm_source=%00``) is no white space to split() but PostgreSQL stores none:
        # kept, it failed the visit's insert and so the room page with a 500.
        return " ".join(value.replace("\x00", " ").split())[:TRAFFIC_FIELD_LENGTH].lower()

    source = clean(utm_source)
    if source:
        return source, clean(utm_medium), clean(utm_campaign)
    host = clean(referrer_host)
    if host and _HOSTNAME.fullmatch(host) and host != clean(own_host):
        return host, "referral", ""
    return "direct", "", ""


def room_visit_record(*, room: LiveRoom, visitor: str, user_id: int | None, source: tuple[str, str, str]) -> bool:
    """Count a viewer once per room (the first visit's source wins); True when this visit was the first."""
    _visit, created = RoomVisit.objects.get_or_create(
        room=room,
        visitor_key=visitor,
        defaults={"user_id": user_id, "source": source[0], "medium": source[1], "campaign": source[2]},
    )
    return created


def viewer_counts_sample(*, now: dt.datetime | None = None) -> int:
    """Store each live room's concurrent viewers for this minute (beat, every minute); returns rooms sampled.

    A second run within the minute overwrites that minute's sample, so a retried task never
    counts twice.
    """
    from apps.live.selectors import room_viewers_now

    minute = (now or timezone.now()).replace(second=0, microsecond=0)
    samples = [
        ViewerSample(room_id=room_id, at=minute, viewers=room_viewers_now(room_id))
        for room_id in LiveRoom.objects.filter(status=LiveRoom.Status.LIVE).values_list("pk", flat=True)
    ]
    ViewerSample.objects.bulk_create(
        samples, update_conflicts=True, unique_fields=["room", "at"], update_fields=["viewers"]
    )
    return len(samples)
