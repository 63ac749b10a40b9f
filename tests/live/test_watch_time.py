"""Watch time and unique viewers, measured from the sockets: the real consumer, hub, writer and database.

Time is the live runtime's clock (``Runtime.clock``, the wall clock in production), set
by each test, so every stay has known ends; the show's start and end go through the
services with the same times.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.live import selectors, services
from apps.live.models import RoomVisit, WatchSession
from apps.live.realtime.hub import get_runtime
from apps.live.realtime.writer import insert_watch_sessions
from tests.live.conftest import Socket, run
from tests.live.console_factories import report_viewers, schedule_room

pytestmark = pytest.mark.usefixtures("live_settings")

T0 = dt.datetime(2026, 11, 20, 19, 0, tzinfo=dt.UTC)


class Clock:
    """The runtime's clock, standing still until the test moves it."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def to(self, minutes: float) -> dt.datetime:
        self.at = T0 + dt.timedelta(minutes=minutes)
        return self.at


def path(room) -> str:
    return f"/ws/live/{room.slug}/"


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


async def watch(room, clock: Clock, *, session_key: str | None = None) -> Socket:
    runtime = await get_runtime()
    runtime.clock = clock
    socket = Socket(path(room), session_key=session_key)
    assert await socket.connect()
    await socket.event("snapshot")
    return socket


def anonymous_session() -> str:
    session = SessionStore()
    session.create()
    return session.session_key


@pytest.fixture
def start():
    def go(room, minutes: float):
        return services.live_room_start(
            room=room, provider="manual", playback_url="https://cdn.example/live.m3u8", now=at(minutes)
        )

    return go


@pytest.fixture
def end(region):
    def go(room, minutes: float):
        room.refresh_from_db()
        return services.live_room_end(room=room, region=region, now=at(minutes))

    return go


def test_watch_time_is_measured_per_viewer_from_connect_to_leave(make_room, start, end, shoppers):
    room = start(make_room(status="scheduled"), 0)
    [(_user, signed_in)] = shoppers(1)
    anonymous = anonymous_session()
    clock = Clock(at(1))

    async def scenario():
        first = await watch(room, clock, session_key=signed_in)
        clock.to(2)
        second = await watch(room, clock, session_key=anonymous)
        clock.to(6)
        await second.disconnect()
        clock.to(11)
        await first.disconnect()

    run(scenario)
    end(room, 20)

    stays = sorted(WatchSession.objects.filter(room=room).values_list("connected_at", "last_seen_at"))
    assert stays == [(at(1), at(11)), (at(2), at(6))]
    room.refresh_from_db()
    stats = selectors.room_stats(room=room)
    assert stats.unique_viewers == 2
    assert stats.average_watch_seconds == (600 + 240) // 2
    assert stats.live_seconds == 20 * 60


def test_only_time_while_live_counts(make_room, start, end):
    room = make_room(status="scheduled")
    keys = [anonymous_session() for _ in range(3)]
    clock = Clock(at(0))

    async def scenario():
        early = await watch(room, clock, session_key=keys[0])  # waiting for the show
        gone_before = await watch(room, clock, session_key=keys[1])
        clock.to(3)
        await gone_before.disconnect()  # left before it started: never a viewer
        clock.to(5)
        await database_sync_to_async(start)(room, 5)
        clock.to(10)
        late = await watch(room, clock, session_key=keys[2])
        clock.to(12)
        await early.disconnect()
        clock.to(20)
        await database_sync_to_async(end)(room, 20)
        clock.to(25)
        await late.disconnect()  # still connected after the end: counts to the end

    run(scenario)

    room.refresh_from_db()
    stats = selectors.room_stats(room=room)
    assert WatchSession.objects.filter(room=room).count() == 3
    assert stats.unique_viewers == 2
    assert stats.average_watch_seconds == (7 * 60 + 10 * 60) // 2


def test_a_reconnect_or_a_second_tab_is_the_same_viewer_counted_once(make_room, start, end):
    room = start(make_room(status="scheduled"), 0)
    page = Client()
    assert page.get(reverse("live:room", args=[room.slug]), {"utm_source": "instagram"}).status_code == 200
    session_key = page.cookies["sessionid"].value
    clock = Clock(at(0))

    async def scenario():
        socket = await watch(room, clock, session_key=session_key)
        clock.to(3)
        await socket.disconnect()  # the connection dropped
        clock.to(3 + 1 / 6)
        socket = await watch(room, clock, session_key=session_key)
        clock.to(5)
        tab = await watch(room, clock, session_key=session_key)  # and a second tab
        clock.to(8)
        await socket.disconnect()
        clock.to(9)
        await tab.disconnect()

    run(scenario)
    end(room, 30)

    # The same key the room page counted the visit with: sources and viewers are the same people.
    visitor = RoomVisit.objects.get(room=room).visitor_key
    assert set(WatchSession.objects.filter(room=room).values_list("visitor_key", flat=True)) == {visitor}
    room.refresh_from_db()
    stats = selectors.room_stats(room=room)
    assert stats.unique_viewers == 1
    assert stats.average_watch_seconds == 3 * 60 + 350  # 0-3 min and 3:10-9 min; 5-8 twice but once


def test_a_page_visit_without_the_socket_is_no_viewer(client, make_room, start, end):
    room = start(make_room(status="scheduled"), 0)
    assert client.get(reverse("live:room", args=[room.slug]), {"utm_source": "newsletter"}).status_code == 200
    end(room, 10)

    room.refresh_from_db()
    stats = selectors.room_stats(room=room)
    assert stats.sources == [("newsletter", "", 1)]  # a visitor of the page, from the newsletter
    assert (stats.unique_viewers, stats.average_watch_seconds, stats.conversion_rate) == (0, 0, 0.0)


def test_sockets_without_cookies_are_viewers_of_their_own(make_room, start, end):
    room = start(make_room(status="scheduled"), 0)
    clock = Clock(at(1))

    async def scenario():
        sockets = [await watch(room, clock), await watch(room, clock)]
        clock.to(2)
        for socket in sockets:
            await socket.disconnect()

    run(scenario)
    end(room, 5)

    room.refresh_from_db()
    stats = selectors.room_stats(room=room)
    assert (stats.unique_viewers, stats.average_watch_seconds) == (2, 60)


def test_open_sockets_are_saved_while_live_so_a_running_show_counts_them(make_room, start, settings):
    settings.LIVE_WATCH_CHECKPOINT_INTERVAL = 0.1
    room = start(make_room(status="scheduled"), 0)
    key = anonymous_session()
    clock = Clock(at(0))

    async def scenario():
        socket = await watch(room, clock, session_key=key)
        clock.to(4)
        for _ in range(100):  # the checkpoint comes with the tick; no leave needed
            seen = await database_sync_to_async(
                lambda: list(WatchSession.objects.filter(room=room).values_list("last_seen_at", flat=True))
            )()
            if seen == [at(4)]:
                break
            await asyncio.sleep(0.05)
        assert seen == [at(4)]
        stats = await database_sync_to_async(selectors.room_stats)(room=room, now=at(4))
        assert (stats.unique_viewers, stats.average_watch_seconds) == (1, 240)
        clock.to(6)
        await socket.disconnect()

    run(scenario)

    assert list(WatchSession.objects.filter(room=room).values_list("last_seen_at", flat=True)) == [at(6)]


def test_the_charts_draw_the_numbers_and_the_page_keeps_to_the_merchant(
    client, staff_a, merchant, merchant_b, region, start, end
):
    room = start(schedule_room(merchant=merchant, region=region), 0)
    report_viewers(room.pk, 12)
    services.viewer_counts_sample(now=at(1))
    for n in range(4):  # three visitors from an Instagram story, one straight to the show
        utm = {"utm_source": "instagram", "utm_medium": "story"} if n else {}
        assert Client().get(reverse("live:room", args=[room.slug]), utm).status_code == 200
    # One of them watched for two minutes, stored as the socket processes store it.
    visitor = RoomVisit.objects.filter(source="direct").get().visitor_key
    insert_watch_sessions(
        [{"id": 1, "room_id": room.pk, "visitor_key": visitor, "connected_at": at(1), "last_seen_at": at(3)}]
    )
    end(room, 10)

    room.refresh_from_db()
    stats = selectors.room_stats(room=room)
    assert [(bar.label, bar.value, bar.y, bar.width) for bar in stats.source_bars] == [
        ("instagram / story", 3, 0, 340.0),
        ("direct", 1, 26, round(340 / 3, 1)),
    ]
    client.force_login(staff_a)
    page = client.get(reverse("admin:live_liveroom_stats", args=[room.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="unique-viewers">1<' in html and 'data-testid="watch-time">120 s<' in html
    assert "<title>instagram / story: 3 visitors</title>" in html and "<title>direct: 1 visitor</title>" in html
    assert 'width="340.0"' in html and f'width="{round(340 / 3, 1)}"' in html
    assert html.count('data-testid="source-bar"') == 2
    assert "Concurrent viewers over the show (peak 12)" in html
    assert "<td>3</td>" in html  # the numbers are in the table too

    foreign = schedule_room(merchant=merchant_b, region=region, slug="b-show")
    assert client.get(reverse("admin:live_liveroom_stats", args=[foreign.pk])).status_code == 404


def test_no_viewers_no_sources_no_charts_and_no_errors(client, staff_a, merchant, region):
    room = schedule_room(merchant=merchant, region=region)
    stats = selectors.room_stats(room=room, now=timezone.now())
    assert (stats.unique_viewers, stats.average_watch_seconds, stats.source_bars, stats.source_chart_height) == (
        0,
        0,
        [],
        0,
    )
    client.force_login(staff_a)
    html = client.get(reverse("admin:live_liveroom_stats", args=[room.pk])).content.decode()
    assert 'data-testid="sources-chart"' not in html and "No visitors yet." in html
