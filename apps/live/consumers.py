"""``ws://HOST/ws/live/<room-slug>/``: the live room's socket. Thin: it parses, checks and hands on.

Anyone may watch; signed-in users may post danmaku and likes. The protocol is in
``realtime/events.py``; the fan-out in ``realtime/hub.py``. Every bad frame gets an
``error`` event and changes nothing else; a flood is cut off with close code 1008.

Error messages are in the viewer's language, chosen at the handshake by the site's own rules
(profile, session, cookie, Accept-Language); their ``code`` is a stable identifier.

Close codes: 4404 no such room, 4410 the show has ended, 1013 the bus is unavailable
(try again), 1008 flood. A socket from a foreign origin is refused at the handshake by
``AllowedHostsOriginValidator`` (livemall/asgi.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import unicodedata
import uuid
from collections.abc import Mapping
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.sessions import InstanceSessionWrapper
from channels.utils import await_many_dispatch
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from apps.accounts.selectors import shopper_context
from apps.compliance.moderation import LINK, moderate_chat
from apps.live import selectors, services
from apps.live.models import ChatRestriction, Danmaku, LiveRoom
from apps.live.realtime import events
from apps.live.realtime.hub import RoomHub, RoomUnavailable, Runtime, Viewer, get_runtime
from apps.live.realtime.store import StoreUnavailable
from apps.live.realtime.wire import prepared_writer

logger = logging.getLogger(__name__)

# Bidi embeddings, overrides and isolates would let one message flip the text around it;
# each message is already isolated on the page (dir="auto").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
RESTRICTION_RECHECK_SECONDS = 60.0


def _server_send(send: Any) -> Any:
    """The ASGI server's own ``send``, without Channels' session wrapper around it.

    AuthMiddlewareStack resolves the session and the user once, at connect. Its session
    wrapper then sits on every ``send`` to save a changed session on an HTTP response
    start, which a socket never sends; for a room's viewers it would only add a coroutine
    and two attribute checks to every frame (30-65% of a send, measured for the issue).
    """
    owner = getattr(send, "__self__", None)
    if isinstance(owner, InstanceSessionWrapper):
        return owner.real_send
    return send


def viewer_language(scope: Mapping[str, Any]) -> str:
    """The language this socket's viewer reads the site in, by the pages' own rules.

    The handshake is an HTTP request in all but name: its headers, cookies, session and
    user go through :func:`apps.accounts.selectors.shopper_context` as a page's would.
    AuthMiddlewareStack has already read the session and the user, so this queries nothing.
    """
    request = HttpRequest()
    for name, value in scope.get("headers") or ():
        request.META["HTTP_" + name.decode("latin-1").upper().replace("-", "_")] = value.decode("latin-1")
    request.COOKIES = dict(scope.get("cookies") or {})
    request.session = scope.get("session") or {}
    request.user = scope.get("user")
    return shopper_context(request, settings.REGION).language


def socket_visitor_key(scope: Mapping[str, Any], user_id: int | None) -> str:
    """Who is watching, as the room page counted their visit (``RoomVisit.visitor_key``).

    The page gives an anonymous viewer a session before the socket opens; a socket that
    comes without one (no cookies) is a viewer of its own, for this connection only.
    """
    session = scope.get("session")
    session_key = getattr(session, "session_key", None) or ""
    if user_id is None and not session_key:
        return f"socket:{uuid.uuid4().hex}"
    return services.visitor_key(user_id=user_id, session_key=session_key)


def clean_text(text: str) -> str:
    """Control characters out, white space collapsed to single spaces."""
    kept = []
    for char in text:
        if char in _BIDI_CONTROLS:
            continue
        if unicodedata.category(char) == "Cc":
            kept.append(" ")
            continue
        kept.append(char)
    return " ".join("".join(kept).split())


class LiveRoomConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Like AsyncConsumer.__call__, but without a channel-layer channel per viewer (the
        # room bus does that job once per process) and with a second source of messages:
        # the hub telling this socket it has stopped reading and is being dropped.
        self.scope = scope
        self.channel_layer = None
        self.base_send = _server_send(send)
        self.kicked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.runtime: Runtime | None = None
        self.hub: RoomHub | None = None
        self.viewer: Viewer | None = None
        user = scope.get("user")
        self.user_id: int | None = user.pk if user is not None and user.is_authenticated else None
        self.name: str = user.public_name if self.user_id else ""
        # Whether the poster works this room (its merchant's staff, an operator), who may post links.
        self.works_here = False
        self.works_here_checked = float("-inf")
        self.language: str = settings.REGION.default_language
        self.config = None
        self.tokens = 0.0
        self.tokens_at = 0.0
        self.flooded = 0
        self.last_flood_error = 0.0
        try:
            await await_many_dispatch([receive, self._wait_kicked], self.dispatch)
        except StopConsumer:
            pass
        finally:
            if self.hub is not None and self.viewer is not None:
                await asyncio.shield(self.hub.leave(self.viewer))

    async def _wait_kicked(self) -> dict[str, str]:
        await self.kicked
        return {"type": "live.kicked"}

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Frames touch the database only for a poster's mute or ban, at most once a minute
        # (_restriction), so no close_old_connections() hop per frame.
        kind = message["type"]
        if kind == "websocket.receive":
            try:
                await self._on_frame(message)
            except StopConsumer:
                raise
            except Exception:
                # Whatever a frame trips over costs that frame, not the viewer's socket.
                logger.exception("live room socket: a frame failed")
                if self.viewer is not None:
                    self._error("server_error", _("Something went wrong on our side; try again."))
        elif kind == "websocket.connect":
            await self._on_connect()
        elif kind in {"websocket.disconnect", "live.kicked"}:
            raise StopConsumer()

    # --- connect -----------------------------------------------------------------------

    async def _on_connect(self) -> None:
        await self.base_send({"type": "websocket.accept"})
        self.language = viewer_language(self.scope)
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            self.runtime = await get_runtime()
            hub = await self.runtime.hub_for(slug)
        except RoomUnavailable as exc:
            error = events.error_event(exc.code, self._translated(exc.message))
            await self.base_send({"type": "websocket.send", "text": error})
            await self.base_send({"type": "websocket.close", "code": exc.close_code})
            raise StopConsumer() from None
        # No await between hub_for() and join(): a hub is never closed under a joining viewer.
        self.config = self.runtime.config
        self.tokens = float(self.config.client_frames_burst)
        self.tokens_at = time.monotonic()
        self.hub = hub
        self.viewer = Viewer(
            hub=hub,
            send=self.base_send,
            kicked=self.kicked,
            user_id=self.user_id,
            name=self.name,
            write_prepared=prepared_writer(self.scope),
            visitor_key=socket_visitor_key(self.scope, self.user_id),
        )
        hub.join(self.viewer)

    # --- frames ------------------------------------------------------------------------

    def _translated(self, message: str | Promise, params: Mapping[str, Any] | None = None) -> str:
        with translation.override(self.language):
            return str(message % params if params is not None else message)

    def _error(self, code: str, message: str | Promise, params: Mapping[str, Any] | None = None, **extra: Any) -> None:
        """Tell this viewer alone what went wrong: ``code`` for programs, ``message`` in their language."""
        assert self.viewer is not None
        text = events.error_event(code, self._translated(message, params), **extra)
        self.viewer.push({"type": "websocket.send", "text": text})

    def _frame_allowed(self) -> bool:
        """Per-socket token bucket, in memory: a flood costs us nothing beyond this check."""
        assert self.config is not None
        now = time.monotonic()
        self.tokens = min(
            float(self.config.client_frames_burst),
            self.tokens + (now - self.tokens_at) * self.config.client_frames_per_second,
        )
        self.tokens_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.flooded += 1
        if self.flooded >= self.config.client_flood_close_after:
            assert self.viewer is not None
            self.viewer.push({"type": "websocket.close", "code": 1008})
            raise StopConsumer()
        if now - self.last_flood_error >= 1.0:
            self.last_flood_error = now
            self._error("too_fast", _("Too many messages; slow down."))
        return False

    async def _on_frame(self, message: dict[str, Any]) -> None:
        if self.viewer is None or not self._frame_allowed():
            return
        assert self.config is not None
        text = message.get("text")
        if text is None:
            self._error("bad_frame", _("Send JSON in text frames."))
            return
        limit = self.config.client_frame_max_chars
        if len(text) > limit:
            self._error(
                "frame_too_large",
                ngettext_lazy(
                    "A frame may hold at most %(limit)d character.",
                    "A frame may hold at most %(limit)d characters.",
                    "limit",
                ),
                {"limit": limit},
                limit=limit,
            )
            return
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: arrays nested a thousand deep
            self._error("bad_json", _("Frames must be JSON objects."))
            return
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            self._error("bad_message", _('Frames are JSON objects with a "type".'))
            return
        if data["type"] == "danmaku":
            await self._post_danmaku(data)
        elif data["type"] == "like":
            await self._like(data)
        else:
            self._error("unknown_type", _('Known types: "danmaku", "like".'))

    def _may_post(self) -> bool:
        assert self.hub is not None and self.hub.room is not None
        if self.user_id is None:
            self._error("sign_in_required", _("Sign in to chat and send likes."))
            return False
        if self.hub.room.status == LiveRoom.Status.ENDED:
            self._error("room_ended", _("This live show has ended."))
            return False
        return True

    async def _like(self, data: dict[str, Any]) -> None:
        assert self.config is not None and self.hub is not None
        if not self._may_post():
            return
        count = data.get("count")
        limit = self.config.like_max_per_frame
        if type(count) is not int or not 1 <= count <= limit:
            self._error(
                "bad_count", _("count must be a whole number from 1 to %(limit)d."), {"limit": limit}, limit=limit
            )
            return
        if not await self._may_speak():
            return
        self.hub.add_likes(count)

    async def _restriction(self) -> tuple[str, float | None] | None:
        """This user's mute or ban here: loaded at the first post, then kept current by the bus."""
        assert self.viewer is not None and self.hub is not None and self.user_id is not None
        viewer = self.viewer
        if time.monotonic() - viewer.restriction_checked > RESTRICTION_RECHECK_SECONDS:
            found = await database_sync_to_async(selectors.chat_restriction_active)(
                room_id=self.hub.room_id, user_id=self.user_id
            )
            viewer.restriction = (found.kind, found.until.timestamp() if found.until else None) if found else None
            viewer.restriction_checked = time.monotonic()
        if viewer.restriction is not None:
            kind, until = viewer.restriction
            if kind == ChatRestriction.Kind.MUTE and until is not None and until <= time.time():
                viewer.restriction = None
        return viewer.restriction

    async def _works_the_room(self) -> bool:
        """Whether the poster is staff of the room's merchant or an operator, as the console decides.

        Asked only when a message holds a link, so a viewer's chat never waits on it; kept for
        as long as a restriction is, so a staff member pasting links asks once a minute at most.
        """
        assert self.hub is not None
        if time.monotonic() - self.works_here_checked > RESTRICTION_RECHECK_SECONDS:
            user, room_id = self.scope["user"], self.hub.room_id
            self.works_here = await database_sync_to_async(
                lambda: selectors.rooms_for_console(user=user).filter(id=room_id).exists()
            )()
            self.works_here_checked = time.monotonic()
        return self.works_here

    async def _may_speak(self) -> bool:
        """False, with the viewer told why, while they are muted or banned here.

        Closed when the database cannot say: a muted user must not get through on a blip.
        """
        assert self.hub is not None
        try:
            restriction = await self._restriction()
        except DatabaseError as exc:
            logger.warning("live room %s: chat restriction lookup failed (%s)", self.hub.slug, exc)
            self._error("unavailable", _("Chat is unavailable for a moment; try again."))
            return False
        if restriction is None:
            return True
        kind, until = restriction
        if kind == ChatRestriction.Kind.BAN:
            self._error("banned", _("You can no longer chat in this room."))
        else:
            until_iso = dt.datetime.fromtimestamp(until or 0, tz=dt.UTC).isoformat()
            self._error("muted", _("You are muted in this room for now."), until=until_iso)
        return False

    async def _post_danmaku(self, data: dict[str, Any]) -> None:
        assert self.config is not None and self.hub is not None and self.runtime is not None
        if not self._may_post():
            return
        raw_text = data.get("text")
        if not isinstance(raw_text, str):
            self._error("bad_text", _('"text" must be a string.'))
            return
        if not events.encodable(raw_text):
            # JSON's \ud800 escapes decode to lone surrogates: no UTF-8 for Redis, the
            # database or any viewer's frame.
            self._error("invalid_text", _("The message holds characters that are not valid text."))
            return
        text = clean_text(raw_text)
        if not text:
            self._error("empty_text", _("Write something first."))
            return
        limit = self.config.danmaku_max_chars
        if len(text) > limit:
            self._error(
                "too_long",
                ngettext_lazy("At most %(limit)d character.", "At most %(limit)d characters.", "limit"),
                {"limit": limit},
                limit=limit,
            )
            return
        if not await self._may_speak():
            return

        verdict = moderate_chat(list_names=settings.REGION.sensitive_word_lists, text=text)
        if verdict.reason == LINK:
            try:
                if await self._works_the_room():
                    verdict = moderate_chat(
                        list_names=settings.REGION.sensitive_word_lists, text=text, links_allowed=True
                    )
            except DatabaseError as exc:
                logger.warning("live room %s: poster's role lookup failed (%s)", self.hub.slug, exc)
                self._error("unavailable", _("Chat is unavailable for a moment; try again."))
                return
        message_id = self.runtime.ids.next_id()
        now = timezone.now()
        event = None
        if not verdict.rejected:
            event = events.danmaku_event(
                message_id=message_id, name=self.name, text=verdict.text, at_ms=int(now.timestamp() * 1000)
            )
        try:
            accepted = await self.runtime.store.post(room_id=self.hub.room_id, user_id=self.user_id, event=event)
        except StoreUnavailable:
            self._error("unavailable", _("Chat is unavailable for a moment; try again."))
            return
        if not accepted:
            self._error(
                "rate_limited",
                ngettext_lazy(
                    "Slow down: %(burst)d message at once, then about %(rate)s a second.",
                    "Slow down: %(burst)d messages at once, then about %(rate)s a second.",
                    "burst",
                ),
                {"burst": self.config.danmaku_burst, "rate": f"{self.config.danmaku_rate_per_second:g}"},
            )
            return
        self.runtime.writer.add(
            message_id=message_id,
            room_id=self.hub.room_id,
            user_id=self.user_id,
            display_name=self.name,
            text=verdict.text if not verdict.rejected else "",
            original_text=text if verdict.verdict != "clean" else "",
            verdict={"clean": Danmaku.Verdict.SHOWN, "masked": Danmaku.Verdict.MASKED}.get(
                verdict.verdict, Danmaku.Verdict.REJECTED
            ),
            matched_words=list(verdict.matches),
            posted_at=now,
        )
        if verdict.reason == LINK:
            self._error("rejected", _("Links and e-mail addresses cannot be posted in this chat."), reason=LINK)
        elif verdict.rejected:
            self._error("rejected", _("This message cannot be posted here."))
        else:
            # To the poster alone (the danmaku itself goes out once, the same bytes for everyone):
            # their page clears the error an earlier message left on screen.
            self.viewer.push(
                {"type": "websocket.send", "text": events.dumps({"type": "posted", "id": str(message_id)})}
            )
