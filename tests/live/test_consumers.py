"""The live-room socket, end to end in one process: protocol, auth, moderation, limits, bad input."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from apps.live import services
from apps.live.models import Danmaku
from tests.live.conftest import (
    Socket,
    danmaku_texts,
    disconnected,
    joined,
    room_path,
    room_sockets,
    run,
    sender_and_viewer,
)

pytestmark = pytest.mark.usefixtures("live_settings")


def test_anyone_may_watch_and_gets_a_snapshot_but_only_signed_in_users_post(room):
    async def scenario():
        viewer = Socket(room_path(room))
        assert await viewer.connect()
        snapshot = await viewer.event("snapshot")
        assert snapshot["status"] == "live"
        assert snapshot["likes"] == 0
        assert snapshot["danmaku"] == []
        assert {"pinned", "coupon", "giveaway", "viewers"} <= snapshot.keys()

        await viewer.send({"type": "danmaku", "text": "hello"})
        assert (await viewer.event("error"))["code"] == "sign_in_required"
        await viewer.send({"type": "like", "count": 3})
        assert (await viewer.event("error"))["code"] == "sign_in_required"
        await viewer.disconnect()

    run(scenario)


def test_a_message_reaches_every_viewer_under_the_public_name_never_the_email(room, shoppers):
    [(_poster, key)] = shoppers(1, display_name="Layla")
    [(quiet_user, quiet_key)] = shoppers(1)

    async def scenario():
        sender = Socket(room_path(room), session_key=key)
        anonymous = Socket(room_path(room))
        nameless = Socket(room_path(room), session_key=quiet_key)
        await joined(sender, anonymous, nameless)

        await sender.send({"type": "danmaku", "text": "  Love   this scarf!  "})
        for socket in (sender, anonymous, nameless):
            event = await socket.event("danmaku")
            assert event["text"] == "Love this scarf!"
            assert event["name"] == "Layla"
            assert event["id"].isdigit()
            assert isinstance(event["at"], int)

        await nameless.send({"type": "danmaku", "text": "مرحبا everyone"})
        event = await anonymous.event("danmaku", text="مرحبا everyone")
        assert event["name"] == quiet_user.public_name
        assert "@" not in json.dumps(anonymous.seen)
        await disconnected(sender, anonymous, nameless)

    run(scenario)


def test_moderation_masks_or_rejects_before_anyone_sees_it(room, shoppers):
    [(_, key)] = shoppers(1)

    async def scenario():
        sender, viewer = await sender_and_viewer(room, key)

        await sender.send({"type": "danmaku", "text": "you idiot"})
        assert (await viewer.event("danmaku"))["text"] == "you *****"

        await sender.send({"type": "danmaku", "text": "pay outside the app and save"})
        assert (await sender.event("error"))["code"] == "rejected"
        await sender.send({"type": "danmaku", "text": "ok then"})
        assert (await viewer.event("danmaku"))["text"] == "ok then"
        assert "pay outside the app and save" not in danmaku_texts(viewer.seen)
        await disconnected(sender, viewer)

    run(scenario)

    stored = {d.verdict: d for d in Danmaku.objects.filter(room=room)}
    assert stored["masked"].text == "you *****"
    assert stored["masked"].original_text == "you idiot"
    assert stored["rejected"].original_text == "pay outside the app and save"
    assert stored["rejected"].matched_words == ["pay outside the app"]
    assert stored["shown"].text == "ok then"


def test_each_user_posts_at_most_a_burst_of_three_then_one_a_second(room, shoppers):
    [(_, key)] = shoppers(1)

    async def scenario():
        sender = Socket(room_path(room), session_key=key)
        assert await sender.connect()
        await sender.event("snapshot")
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(8):
            await sender.send({"type": "danmaku", "text": f"message {i}"})
        await sender.event("error", code="rate_limited")
        elapsed = loop.time() - started
        await sender.send({"type": "danmaku", "text": "last"})
        await sender.quiet(0.5)
        await sender.disconnect()
        return elapsed, sender.seen

    elapsed, seen = run(scenario)
    accepted = [t for t in danmaku_texts(seen) if t.startswith("message")]
    assert 3 <= len(accepted) <= 3 + int(elapsed) + 1
    assert any(e["type"] == "error" and e["code"] == "rate_limited" for e in seen)


def test_bad_frames_get_error_events_and_break_nothing(room, shoppers):
    [(_, key)] = shoppers(1)

    async def scenario():
        sender, viewer = await sender_and_viewer(room, key)

        cases = [
            ("not json {", "bad_json"),
            ("[1, 2]", "bad_message"),
            ('{"text": "no type"}', "bad_message"),
            ('{"type": "shout", "text": "hi"}', "unknown_type"),
            ('{"type": "danmaku"}', "bad_text"),
            ('{"type": "danmaku", "text": 42}', "bad_text"),
            ('{"type": "danmaku", "text": "   "}', "empty_text"),
            (json.dumps({"type": "danmaku", "text": "x" * 201}), "too_long"),
            (json.dumps({"type": "danmaku", "text": "x" * 5000}), "frame_too_large"),
            ('{"type": "like", "count": 0}', "bad_count"),
            ('{"type": "like", "count": 51}', "bad_count"),
            ('{"type": "like", "count": "5"}', "bad_count"),
            ('{"type": "like", "count": true}', "bad_count"),
            ('{"type": "like", "count": 2.5}', "bad_count"),
        ]
        for frame, code in cases:
            await sender.send_text(frame)
            error = await sender.event("error")
            assert error["code"] == code, frame
            assert error["message"]
        await sender.comm.send_to(bytes_data=b"\x00\x01")
        assert (await sender.event("error"))["code"] == "bad_frame"

        await asyncio.sleep(1.2)  # the per-socket frame budget refills; this test is not about floods
        await sender.send({"type": "danmaku", "text": "\u202estill\u0000 here"})
        assert (await viewer.event("danmaku"))["text"] == "still here"
        assert not [e for e in viewer.seen if e["type"] == "error"]
        await disconnected(sender, viewer)

    run(scenario)


def test_a_flood_is_cut_off_with_1008_and_the_room_goes_on(room, shoppers):
    [(_, flood_key), (_, key)] = shoppers(2)

    async def scenario():
        flooder, sender, viewer = room_sockets(room, flood_key, key, None)
        await joined(flooder, sender, viewer)
        for _ in range(400):
            await flooder.send({"type": "like", "count": 1})
        assert await flooder.closed() == 1008
        assert any(e["type"] == "error" and e["code"] == "too_fast" for e in flooder.seen)

        await sender.send({"type": "danmaku", "text": "after the flood"})
        await viewer.event("danmaku", text="after the flood")
        await disconnected(sender, viewer)

    run(scenario)


def test_a_room_that_does_not_exist_or_has_ended_closes_with_a_clear_code(make_room, live_settings):
    ended = make_room(status="ended")

    async def scenario():
        missing = Socket("/ws/live/no-such-show/")
        assert await missing.connect()
        assert (await missing.event("error"))["code"] == "room_not_found"
        assert await missing.closed() == 4404

        finished = Socket(room_path(ended))
        assert await finished.connect()
        assert (await finished.event("error"))["code"] == "room_ended"
        assert await finished.closed() == 4410

    run(scenario)


def test_a_socket_from_a_foreign_origin_is_refused(room):
    async def scenario():
        foreign = Socket(room_path(room), origin=b"https://evil.example")
        assert not await foreign.connect()
        same = Socket(room_path(room))
        assert await same.connect()
        await same.disconnect()

    run(scenario)


def test_reconnecting_viewer_gets_the_last_messages_and_totals(room, shoppers):
    users = shoppers(2)

    async def scenario():
        viewer = Socket(room_path(room))
        assert await viewer.connect()
        await viewer.event("snapshot")
        sockets = [Socket(room_path(room), session_key=key) for _, key in users]
        await joined(*sockets)
        texts = []
        for i in range(6):
            text = f"message {i}"
            texts.append(text)
            await sockets[i % 2].send({"type": "danmaku", "text": text})
            await viewer.event("danmaku", text=text)
        await sockets[0].send({"type": "like", "count": 7})
        await viewer.event("likes", total=7)

        await viewer.disconnect()  # dropped socket; the room goes on without it
        again = Socket(room_path(room))
        assert await again.connect()
        snapshot = await again.event("snapshot")
        assert [m["text"] for m in snapshot["danmaku"]] == texts
        assert snapshot["likes"] == 7
        assert snapshot["viewers"] >= 2
        await disconnected(again, *sockets)

    run(scenario)


def test_snapshot_is_whole_after_redis_lost_everything(room, shoppers, settings):
    [(_, key)] = shoppers(1)

    async def first_show():
        sender = Socket(room_path(room), session_key=key)
        assert await sender.connect()
        await sender.event("snapshot")
        for i in range(3):
            await sender.send({"type": "danmaku", "text": f"before restart {i}"})
            await sender.event("danmaku", text=f"before restart {i}")
        await sender.send({"type": "like", "count": 5})
        await sender.event("likes", total=5)
        await sender.disconnect()  # last viewer: the hub flushes messages and likes to PostgreSQL

    run(first_show)
    room.refresh_from_db()
    assert room.likes_total == 5
    assert Danmaku.objects.filter(room=room).count() == 3

    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*client.scan_iter(f"{settings.LIVE_REDIS_PREFIX}:*"))  # as after a Redis restart
    client.close()

    async def after_restart():
        viewer = Socket(room_path(room))
        assert await viewer.connect()
        snapshot = await viewer.event("snapshot")
        await viewer.disconnect()
        return snapshot

    snapshot = run(after_restart)
    assert [m["text"] for m in snapshot["danmaku"]] == [f"before restart {i}" for i in range(3)]
    assert snapshot["likes"] == 5


def test_muted_and_banned_users_get_an_error_and_others_see_nothing(room, shoppers):
    [(muted, muted_key), (banned, banned_key)] = shoppers(2)
    services.chat_user_mute(room=room, user=muted, minutes=10, reason="spam")

    async def scenario():
        muted_socket, banned_socket, viewer = room_sockets(room, muted_key, banned_key, None)
        await joined(muted_socket, banned_socket, viewer)
        await muted_socket.send({"type": "danmaku", "text": "can I talk?"})
        error = await muted_socket.event("error")
        assert error["code"] == "muted"
        assert error["until"]

        await banned_socket.send({"type": "danmaku", "text": "first"})
        await viewer.event("danmaku", text="first")
        # Banned while connected: the bus tells every process at once.
        await database_sync_to_async(services.chat_user_ban)(room=room, user=banned, reason="abuse")
        await asyncio.sleep(0.3)
        await banned_socket.send({"type": "danmaku", "text": "second"})
        assert (await banned_socket.event("error"))["code"] == "banned"

        await database_sync_to_async(services.chat_restriction_lift)(room=room, user=banned)
        await asyncio.sleep(0.3)
        await banned_socket.send({"type": "danmaku", "text": "third"})
        await viewer.event("danmaku", text="third")
        assert danmaku_texts(viewer.seen) == ["first", "third"]
        await disconnected(muted_socket, banned_socket, viewer)

    run(scenario)


def test_likes_total_is_exact_under_concurrent_taps(room, shoppers, settings):
    users = shoppers(12)
    taps = [[(i + j) % 50 + 1 for j in range(8)] for i in range(len(users))]
    expected = sum(map(sum, taps))

    async def scenario():
        watcher = Socket(room_path(room))
        assert await watcher.connect()
        await watcher.event("snapshot")
        sockets = [Socket(room_path(room), session_key=key) for _, key in users]
        await asyncio.gather(*(s.connect() for s in sockets))

        async def tap(socket, counts):
            for count in counts:
                await socket.send({"type": "like", "count": count})

        await asyncio.gather(*(tap(s, counts) for s, counts in zip(sockets, taps, strict=True)))
        await watcher.event("likes", total=expected)
        await disconnected(watcher, *sockets)

    run(scenario)
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    assert int(client.get(f"{settings.LIVE_REDIS_PREFIX}:room:{room.id}:likes")) == expected
    client.close()
    room.refresh_from_db()
    assert room.likes_total == expected


def test_messages_are_stored_in_batches_not_one_insert_each(room, shoppers, settings):
    settings.LIVE_DANMAKU_BURST = 10
    users = shoppers(4)

    async def scenario():
        inserts = []

        def count_inserts(execute, sql, params, many, context):
            if sql.lstrip().upper().startswith('INSERT INTO "LIVE_DANMAKU"'):
                inserts.append(sql)
            return execute(sql, params, many, context)

        def install():
            from django.db import connection

            connection.execute_wrappers.append(count_inserts)

        def uninstall():
            from django.db import connection

            connection.execute_wrappers.remove(count_inserts)

        # The writer writes from Channels' database thread; watch that thread's connection.
        await database_sync_to_async(install)()
        try:
            viewer = Socket(room_path(room))
            assert await viewer.connect()
            await viewer.event("snapshot")
            sockets = [Socket(room_path(room), session_key=key) for _, key in users]
            for socket in sockets:
                assert await socket.connect()
            for i in range(10):
                for n, socket in enumerate(sockets):
                    await socket.send({"type": "danmaku", "text": f"m{n}-{i}"})
            waiting = {f"m{n}-{i}" for n in range(len(sockets)) for i in range(10)}
            while waiting:
                waiting.discard((await viewer.event("danmaku"))["text"])
            await disconnected(viewer, *sockets)
        finally:
            await database_sync_to_async(uninstall)()
        return inserts

    inserts = run(scenario)
    assert Danmaku.objects.filter(room=room).count() == 40
    assert 1 <= len(inserts) < 40 / 4


def test_removed_message_leaves_screens_snapshot_and_replay(room, shoppers):
    [(_, key)] = shoppers(1)

    async def scenario():
        sender, viewer = await sender_and_viewer(room, key)
        await sender.send({"type": "danmaku", "text": "keep me"})
        await sender.send({"type": "danmaku", "text": "take me down"})
        bad = await viewer.event("danmaku", text="take me down")
        await database_sync_to_async(services.danmaku_remove)(room=room, message_id=int(bad["id"]))
        await viewer.event("removed", id=bad["id"])
        late = Socket(room_path(room))
        assert await late.connect()
        snapshot = await late.event("snapshot")
        await disconnected(sender, viewer, late)
        return snapshot

    snapshot = run(scenario)
    assert [m["text"] for m in snapshot["danmaku"]] == ["keep me"]
    from apps.live.selectors import danmaku_for_replay

    assert [d.text for d in danmaku_for_replay(room=room)] == ["keep me"]


def test_published_events_reach_viewers_and_stay_in_the_snapshot(room):
    product = {"id": 7, "name": {"en": "Silk scarf"}, "prices": {"USD": "$49.00", "CAD": "CA$66.00"}}

    async def scenario():
        viewer = Socket(room_path(room))
        assert await viewer.connect()
        await viewer.event("snapshot")
        publish = database_sync_to_async(services.room_publish_event)
        await publish(room=room, event={"type": "pinned", "product": product})
        assert (await viewer.event("pinned"))["product"] == product
        coupon = {"code": "FLASH10", "remaining": 20, "ends_at": "2030-01-01T20:00:00Z"}
        await publish(room=room, event={"type": "coupon", "coupon": coupon})
        await viewer.event("coupon")
        await publish(room=room, event={"type": "giveaway", "giveaway": {"state": "opened", "keyword": "scarf"}})
        await viewer.event("giveaway")
        later = Socket(room_path(room))
        assert await later.connect()
        snapshot = await later.event("snapshot")
        assert snapshot["pinned"] == product
        assert snapshot["coupon"] == coupon
        assert snapshot["giveaway"]["keyword"] == "scarf"

        await publish(room=room, event={"type": "status", "status": "ended"})
        await viewer.event("status", status="ended")
        await disconnected(viewer, later)
        ended = Socket(room_path(room))
        assert await ended.connect()
        assert (await ended.event("error"))["code"] == "room_ended"

    run(scenario)
    room.refresh_from_db()
    assert room.status == "ended"
    assert room.live_state["pinned"] == product


@pytest.mark.parametrize(
    "event",
    [
        {"type": "danmaku", "text": "forged"},
        {"type": "pinned"},
        {"type": "pinned", "product": "scarf"},
        {"type": "status", "status": "paused"},
        {"type": "coupon", "coupon": None, "extra": 1},
        {"type": "coupon", "coupon": {"ends_at": object()}},
        {"type": "giveaway", "giveaway": {"entrants": ["x" * 100] * 200}},
        "pinned",
    ],
)
def test_publishing_a_malformed_event_is_refused(room, event):
    from apps.errors import ApplicationError

    with pytest.raises(ApplicationError):
        services.room_publish_event(room=room, event=event)


def test_the_embedded_default_runs_the_same_room_in_memory(room, shoppers, settings):
    settings.REDIS_URL = None
    [(_, key)] = shoppers(1, display_name="Omar")

    async def scenario():
        sender, viewer = await sender_and_viewer(room, key)
        await sender.send({"type": "danmaku", "text": "in memory"})
        assert (await viewer.event("danmaku", text="in memory"))["name"] == "Omar"
        await sender.send({"type": "like", "count": 4})
        await viewer.event("likes", total=4)
        await database_sync_to_async(services.room_publish_event)(
            room=room, event={"type": "pinned", "product": {"id": 1}}
        )
        await viewer.event("pinned")
        await viewer.disconnect()
        again = Socket(room_path(room))
        assert await again.connect()
        snapshot = await again.event("snapshot")
        assert [m["text"] for m in snapshot["danmaku"]] == ["in memory"]
        assert snapshot["pinned"] == {"id": 1}
        await disconnected(sender, again)

    run(scenario)


def test_likes_still_held_when_the_server_stops_are_saved(room, shoppers):
    """The server's stop (ASGI lifespan) saves what the live rooms still hold after connections close."""
    from asgiref.testing import ApplicationCommunicator

    from livemall.asgi import application

    # Likes are saved every 15 s while the room runs; the test is over long before.
    ((_user, key),) = shoppers(1)

    async def scenario():
        viewer = Socket(room_path(room), session_key=key)
        assert await viewer.connect()
        await viewer.event("snapshot")
        await viewer.send({"type": "like", "count": 7})
        await viewer.event("likes", total=7)
        server = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
        await server.send_input({"type": "lifespan.shutdown"})
        assert (await server.receive_output(timeout=10))["type"] == "lifespan.shutdown.complete"
        await database_sync_to_async(room.refresh_from_db)()
        assert room.likes_total == 7
        await viewer.disconnect()

    run(scenario)
