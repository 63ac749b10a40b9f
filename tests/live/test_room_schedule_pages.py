"""Shows as shoppers find them: the list on the home page (in each region), the room page
before and after the show, and the socket telling waiting viewers where to play the stream."""

from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
from babel.dates import get_timezone_name
from channels.db import database_sync_to_async
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from PIL import Image

from apps.accounts import services as accounts
from apps.live import selectors, services
from apps.live.models import LiveRoom
from regions.languages import babel_locale
from tests.live.conftest import Socket, run

REGIONS = ["us-east", "eu-west", "ap-southeast", "me-south"]


def _schedule(region, merchant, slug: str, starts: dt.timedelta, hours: float = 1, status: str = "scheduled"):
    start = timezone.now() + starts
    room = services.live_room_schedule(
        region=region,
        merchant=merchant,
        slug=slug,
        titles={region.default_language: f"Show {slug}"},
        language=region.default_language,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=hours),
    )
    if status != room.status:
        room.status = status
        room.save(update_fields=["status"])
    return room


@pytest.mark.django_db
@pytest.mark.parametrize("code", REGIONS)
def test_the_home_page_lists_live_shows_first_then_the_soonest(client, use_region, make_user, code):
    region = use_region(code)
    merchant = accounts.merchant_create(
        name="Shop", country=region.countries[0].code, owner=make_user(email=f"owner@{code}.test")
    )
    hour = dt.timedelta(hours=1)
    # Created out of order, so the list's order is the selector's, not the ids'.
    _schedule(region, merchant, "far", dt.timedelta(days=20))
    _schedule(region, merchant, "soon", hour)
    _schedule(region, merchant, "over", -hour / 2, status="ended")
    _schedule(region, merchant, "never-started", -3 * hour)  # planned end passed, never went live
    _schedule(region, merchant, "early-live", hour / 2, status="live")  # started before its planned time
    _schedule(region, merchant, "later", dt.timedelta(days=3))
    _schedule(region, merchant, "late", -hour / 6)  # due ten minutes ago, not started yet
    _schedule(region, merchant, "overrun", -2 * hour, status="live")  # past its planned end, still on

    expected = ["overrun", "early-live", "late", "soon", "later", "far"]
    assert [room.slug for room in selectors.rooms_upcoming_and_live()] == expected
    assert [room.slug for room in selectors.rooms_upcoming_and_live(limit=3)] == expected[:3]

    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    listed = re.findall(r'href="/live/([\w-]+)/"', html)
    assert listed == expected[:6]
    shopper = response.wsgi_request.shopper
    with translation.override(shopper.language):
        assert html.count(f">{gettext('Live now')}</time>") == 2
    # The times are the shopper's (the region's zone here), named on hover in their language.
    soon = LiveRoom.objects.get(slug="soon")
    local = soon.scheduled_start.astimezone(ZoneInfo(shopper.time_zone))
    zone_name = get_timezone_name(local, width="long", locale=babel_locale(shopper.locale))
    stamp = soon.scheduled_start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    assert re.search(rf'<time datetime="{re.escape(stamp)}" title="[^"]*{re.escape(zone_name)}">', html)
    assert 'data-testid="show-time"' in html


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 9), (200, 30, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.django_db
def test_a_scheduled_room_shows_its_schedule_description_and_cover(client, merchant, region, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    room = _schedule(region, merchant, "silk-evening", dt.timedelta(days=2))
    room.description = "Scarves from Lyon.\n<b>New</b> colours."
    room.cover_image.save("cover.png", ContentFile(_png()))
    room.save(update_fields=["description"])

    html = client.get(reverse("live:room", args=[room.slug])).content.decode()
    assert 'data-testid="room-cover"' in html and f'src="{room.cover_image.url}"' in html
    assert "Scarves from Lyon.<br>&lt;b&gt;New&lt;/b&gt; colours." in html
    stamp = room.scheduled_start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    assert f'<time datetime="{stamp}"' in html
    show_time = re.search(r'data-testid="show-time"([^>]*)>', html)
    assert show_time and "hidden" not in show_time.group(1)
    assert 'data-status="scheduled"' in html
    assert 'data-label-live="Live now"' in html and 'data-label-ended="Ended"' in html
    assert "The video starts when the show goes live." in html
    assert "<video" not in html
    # hls.js comes only when the show goes live; the player script, ready for it, always.
    assert not re.search(r'<script src="[^"]*hls\.light', html)
    assert "js/live-player" in html


@pytest.mark.django_db
def test_a_room_without_a_cover_or_description_shows_neither(client, merchant, region):
    room = _schedule(region, merchant, "plain", dt.timedelta(hours=2))
    html = client.get(reverse("live:room", args=[room.slug])).content.decode()
    assert 'data-testid="room-cover"' not in html
    assert 'data-testid="room-description"' not in html


@pytest.mark.django_db
def test_a_live_room_plays_and_an_ended_one_says_so(client, merchant, region):
    room = _schedule(region, merchant, "on-air", -dt.timedelta(minutes=5), status="live")
    room.playback_url = "https://stream.example.test/on-air.m3u8"
    room.save(update_fields=["playback_url"])
    html = client.get(reverse("live:room", args=[room.slug])).content.decode()
    assert re.search(r'data-status="live"[^>]*>Live now</span>', html)
    assert (
        '<video class="player" data-testid="player" data-playback-url="https://stream.example.test/on-air.m3u8"' in html
    )
    assert re.search(r'data-testid="show-time" hidden', html)

    room.status = LiveRoom.Status.ENDED
    room.save(update_fields=["status"])
    html = client.get(reverse("live:room", args=[room.slug])).content.decode()
    assert re.search(r'data-status="ended"[^>]*>Ended</span>', html)
    assert "This show has ended." in html
    assert "<video" not in html


def test_waiting_viewers_learn_the_stream_when_the_show_starts(make_room, live_settings):
    room = make_room(status="scheduled")
    assert room.playback_url == ""

    async def scenario():
        waiting = Socket(f"/ws/live/{room.slug}/")
        assert await waiting.connect()
        snapshot = await waiting.event("snapshot")
        assert (snapshot["status"], snapshot["playback_url"]) == ("scheduled", "")

        await database_sync_to_async(services.live_room_start)(
            room=room, provider="manual", playback_url="https://stream.example.test/now.m3u8"
        )
        started = await waiting.event("status", status="live")
        assert started["playback_url"] == "https://stream.example.test/now.m3u8"

        later = Socket(f"/ws/live/{room.slug}/")
        assert await later.connect()
        snapshot = await later.event("snapshot")
        assert (snapshot["status"], snapshot["playback_url"]) == ("live", "https://stream.example.test/now.m3u8")
        for socket in (waiting, later):
            await socket.disconnect()

    run(scenario)


def test_a_published_status_carries_the_room_s_url_not_the_caller_s(make_room, live_settings):
    room = make_room(status="scheduled", playback_url="https://stream.example.test/kept.m3u8")
    with pytest.raises(services.ApplicationError) as raised:
        services.room_publish_event(
            room=room, event={"type": "status", "status": "live", "playback_url": "https://elsewhere.test/x.m3u8"}
        )
    assert raised.value.code == "invalid_event"
    room.refresh_from_db()
    assert room.status == "scheduled"
