"""The events of the live-room socket and how they are written as JSON.

Server → client, every frame is one event or ``{"type": "batch", "events": [...]}``:

=========  ===========================================================================
snapshot   on every (re)connect: ``status``, ``playback_url``, ``likes``, ``viewers``, ``pinned``,
           ``coupon``, ``giveaway`` and ``danmaku`` (the last 50 messages, oldest first)
danmaku    ``id`` (string), ``name`` (public display name, never the e-mail), ``text``, ``at`` (ms)
removed    ``id`` of a message a moderator took down
likes      ``total``: the running total of the room
viewers    ``count``: approximate number watching
pinned     ``product``: what the merchant pinned (``null`` when unpinned)
coupon     ``coupon``: the open flash coupon (``null`` when closed)
giveaway   ``giveaway``: opened / drawn (``null`` when none)
status     ``status``: scheduled, live or ended; ``playback_url``: the stream to play (from live on)
error      ``code`` and ``message``
posted     ``id``: to the poster alone, their danmaku was accepted
=========  ===========================================================================

Client → server: ``{"type": "danmaku", "text": "..."}`` and ``{"type": "like", "count": n}``.

Events travel through the bus as JSON text and are spliced into frames as they are, so a
frame is serialised once per process however many viewers receive it.
"""

from __future__ import annotations

import json
from typing import Any

# Event type -> the key of its payload, for the events a later feature publishes through
# services.room_publish_event; the snapshot carries the latest payload of each.
STATE_EVENTS = {"pinned": "product", "coupon": "coupon", "giveaway": "giveaway"}
PUBLISHABLE_EVENTS = frozenset({*STATE_EVENTS, "status"})

# Internal events on the bus: acted on by each process, never forwarded to viewers.
RESTRICTION = "_restriction"

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    return _encoder.encode(value)


def encodable(text: str) -> bool:
    """Whether ``text`` can go out as UTF-8. A str that cannot holds lone surrogates (JSON's
    ``\\ud800`` escapes decode to them): Redis refuses it and a frame holding it cannot be sent."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def danmaku_event(*, message_id: int, name: str, text: str, at_ms: int) -> str:
    return dumps({"type": "danmaku", "id": str(message_id), "name": name, "text": text, "at": at_ms})


def error_event(code: str, message: str, **extra: Any) -> str:
    return dumps({"type": "error", "code": code, "message": message, **extra})


def likes_event(total: int) -> str:
    return f'{{"type":"likes","total":{int(total)}}}'


def viewers_event(count: int) -> str:
    return f'{{"type":"viewers","count":{int(count)}}}'


def batch_frame(events: list[str]) -> str:
    if len(events) == 1:
        return events[0]
    return '{"type":"batch","events":[' + ",".join(events) + "]}"


def snapshot_event(
    *, status: str, likes: int, viewers: int, state: dict[str, Any], danmaku: list[str], playback_url: str = ""
) -> str:
    head = dumps(
        {
            "type": "snapshot",
            "status": status,
            "playback_url": playback_url,
            "likes": likes,
            "viewers": viewers,
            **{kind: state.get(kind) for kind in STATE_EVENTS},
        }
    )
    return head[:-1] + ',"danmaku":[' + ",".join(danmaku) + "]}"
