"""Bad input to the live room's pages and console that used to answer 500 is refused or ignored in words.

- The room page with a NUL byte in ``?utm_source=``: kept in the visit's source, it failed the
  visit's insert (PostgreSQL refuses NUL in text).
- A replay's recording file named with a NUL byte (``%00``): no file has such a name (404),
  but resolving it raised ``ValueError``, not ``OSError``.
- The console's "start" with a manual playback address the room cannot keep: a NUL byte, or
  longer than the column.

The socket's frames (tests/live/test_bad_frames.py), the replay's ``after``/``at``, the pinned
product's ``variant``/``quantity`` ("²", past a bigint, NUL), a giveaway id past a bigint, the
console's numbers (past a bigint, "²", "٣"), keyword and prize with NUL, and a chat message id
past a bigint were already refused in words. Real PostgreSQL and Redis.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from django.urls import reverse

from apps.live import services
from apps.live.models import LiveRoom, RoomVisit
from tests.live.console_factories import schedule_room

pytestmark = pytest.mark.usefixtures("live_settings")


@pytest.mark.parametrize(("utm_source", "source"), [("\x00", "direct"), ("news\x00letter", "news letter")])
def test_a_room_page_with_a_nul_byte_in_its_utm_source_counts_the_visit(client, live_room, utm_source, source):
    response = client.get(reverse("live:room", args=[live_room.slug]), {"utm_source": utm_source})

    assert response.status_code == 200
    assert RoomVisit.objects.get(room=live_room).source == source


@pytest.fixture
def recorded(db, merchant, region, commit):
    """An ended show whose recording is kept in the embedded default's file store, with one file."""
    started = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    room = schedule_room(merchant=merchant, region=region, slug="bad-input-show")
    room = commit(services.live_room_start, room=room, provider="manual", now=started)
    room = commit(services.live_room_end, room=room, region=region, now=started + dt.timedelta(hours=2))
    folder = Path(unquote(urlsplit(room.recording_url).path))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "show.mp4").write_bytes(b"\x00" * 64)
    return room


@pytest.mark.parametrize("name", ["show%00.mp4", "x%00/show.mp4"])
def test_a_recording_file_named_with_a_nul_byte_is_not_found(client, recorded, name):
    response = client.get(f"/live/{recorded.slug}/replay/recording/{name}")

    assert response.status_code == 404
    # The file itself is served by its name: the 404 is the name's.
    assert client.get(reverse("live:recording-file", args=[recorded.slug, "show.mp4"])).status_code == 200


@pytest.mark.parametrize(
    "playback_url", ["https://cdn.example/live\x00.m3u8", "https://cdn.example/" + "x" * 500 + ".m3u8"]
)
def test_starting_a_show_with_a_playback_address_it_cannot_keep_is_refused(
    operator_client, merchant, region, playback_url
):
    room = schedule_room(merchant=merchant, region=region, playback_url="")

    response = operator_client.post(
        reverse("admin:live_liveroom_console_action", args=[room.pk, "start"]),
        {"provider": "manual", "playback_url": playback_url},
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "playback_url_required" and list(error["fields"]) == ["playback_url"]
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.SCHEDULED and room.playback_url == ""
