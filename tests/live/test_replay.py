"""The replay beside the recording: an ended show's chat as viewers saw it, paged, with each
message's time into the show; the recording's player when there is one to play."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from apps.live import selectors, services
from apps.live.models import Danmaku, LiveRoom
from apps.live.realtime.ids import message_id
from tests.live.console_factories import schedule_room

STARTED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def say(room, seconds: int, text: str, *, name: str = "Fan", verdict=Danmaku.Verdict.SHOWN, removed=False, seq=0):
    at = STARTED + dt.timedelta(seconds=seconds)
    return Danmaku(
        id=message_id(at_ms=int(at.timestamp() * 1000), node=1, sequence=seq),
        room=room,
        display_name=name,
        text=text,
        verdict=verdict,
        posted_at=at,
        removed_at=at if removed else None,
    )


@pytest.fixture
def ended(db, merchant, region, live_settings, commit):
    room = schedule_room(merchant=merchant, region=region, slug="friday-scarves")
    room = commit(services.live_room_start, room=room, provider="manual", now=STARTED)
    return commit(services.live_room_end, room=room, region=region, now=STARTED + dt.timedelta(hours=2))


@pytest.fixture
def chat(ended):
    return Danmaku.objects.bulk_create(
        [
            say(ended, 5, "<script>alert(1)</script> so soft", name="<b>Amira</b>"),
            say(ended, 65, "you are ***", verdict=Danmaku.Verdict.MASKED),
            say(ended, 70, "", verdict=Danmaku.Verdict.REJECTED),
            say(ended, 80, "spam link", removed=True),
            say(ended, 3661, "جميل جداً، كم السعر؟"),
        ]
    )


def replay(client, room, **params):
    return client.get(reverse("live:replay", args=[room.slug]), params)


def chat_json(client, room, **params):
    return client.get(reverse("live:replay-chat", args=[room.slug]), params)


def test_the_replay_shows_the_chat_viewers_saw_with_times_into_the_show(client, ended, chat):
    response = replay(client, ended)
    assert response.status_code == 200
    body = response.content.decode()
    assert [m.id for m in response.context["page"].messages] == [chat[0].id, chat[1].id, chat[4].id]
    assert response.context["page"].next_after is None
    # Each line: its time into the recording, the name and the text, escaped, each finding its direction.
    assert (
        f'<li data-id="{chat[0].id}" data-offset="5"><time datetime="PT5S" dir="ltr">00:05</time>\n'
        '        <strong dir="auto">&lt;b&gt;Amira&lt;/b&gt;</strong> '
        '<span class="text" dir="auto">&lt;script&gt;alert(1)&lt;/script&gt; so soft</span></li>'
    ) in body
    assert '<time datetime="PT65S" dir="ltr">01:05</time>' in body
    assert '<time datetime="PT3661S" dir="ltr">1:01:01</time>' in body
    assert '<span class="text" dir="auto">جميل جداً، كم السعر؟</span>' in body
    assert "<script>alert(1)</script>" not in body and "<b>Amira</b>" not in body
    # Rejected and removed messages never reach the replay.
    assert "spam link" not in body and body.count('data-testid="replay-chat"') == 1
    # The region's store keeps the recording for retention, not for browsers.
    assert ended.recording_url.startswith("file://")
    assert "The recording is not available." in body and "<video" not in body
    assert 'data-testid="replay-more"' not in body and 'data-testid="replay-from-start"' not in body
    assert "js/live-replay.js" in body and "js/live-player.js" not in body


def test_a_show_without_chat_says_so(client, ended):
    body = replay(client, ended).content.decode()
    assert "Nobody chatted during this show." in body


def test_the_recording_plays_beside_the_chat_while_it_is_kept(client, ended, chat):
    LiveRoom.objects.filter(pk=ended.pk).update(recording_url="https://recordings.example.test/friday/index.m3u8")
    body = replay(client, ended).content.decode()
    assert 'data-playback-url="https://recordings.example.test/friday/index.m3u8"' in body
    assert "<video" in body and "js/live-player.js" in body
    assert "The recording is not available." not in body

    # Past its retention, or deleted, it is not offered.
    LiveRoom.objects.filter(pk=ended.pk).update(recording_retain_until=STARTED)
    assert "The recording is not available." in replay(client, ended).content.decode()
    LiveRoom.objects.filter(pk=ended.pk).update(recording_retain_until=None, recording_deleted_at=STARTED)
    assert "The recording is not available." in replay(client, ended).content.decode()
    # Nor anything a browser would run rather than play.
    LiveRoom.objects.filter(pk=ended.pk).update(recording_deleted_at=None, recording_url="javascript:alert(1)")
    body = replay(client, ended).content.decode()
    assert "javascript:" not in body and "The recording is not available." in body


def test_when_the_show_aired_is_in_the_viewer_s_time_zone(client, ended, make_user):
    user = make_user(time_zone="Asia/Tokyo")
    client.force_login(user)
    aired = replay(client, ended).context["aired"]
    # 12:00-14:00 UTC is 21:00-23:00 in Tokyo.
    assert "Japan Standard Time" in aired and "9:00" in aired and "11:00" in aired


def test_a_show_not_ended_sends_to_its_room_and_an_unknown_one_is_missing(client, merchant, region, live_settings):
    room = schedule_room(merchant=merchant, region=region, slug="next-friday")
    response = replay(client, room)
    assert response.status_code == 302 and response["Location"] == reverse("live:room", args=[room.slug])
    answer = chat_json(client, room)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_ended"
    assert client.get(reverse("live:replay", args=["no-such-show"])).status_code == 404
    missing = client.get(reverse("live:replay-chat", args=["no-such-show"]))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_room_page_of_an_ended_show_links_to_its_replay(client, ended, merchant, region, live_settings):
    link = f'href="{reverse("live:replay", args=[ended.slug])}"'
    assert link in client.get(reverse("live:room", args=[ended.slug])).content.decode()
    upcoming = schedule_room(merchant=merchant, region=region, slug="next-friday")
    # Until it ends, only the page's script knows the replay's address (to link it at the end).
    assert 'data-testid="replay-link"' not in client.get(reverse("live:room", args=[upcoming.slug])).content.decode()


@pytest.fixture
def long_chat(ended):
    """1,001 messages, one a second from the start of the show."""
    Danmaku.objects.bulk_create([say(ended, second, f"message {second}") for second in range(1001)])
    return list(Danmaku.objects.filter(room=ended).order_by("id").values_list("id", flat=True))


def test_a_long_chat_comes_a_page_at_a_time(client, ended, long_chat, django_assert_max_num_queries):
    page = replay(client, ended)
    body = page.content.decode()
    assert body.count("<li data-id=") == selectors.REPLAY_PAGE_SIZE == 500
    assert f'href="?after={long_chat[499]}"' in body

    with django_assert_max_num_queries(4):
        second = chat_json(client, ended, after=str(long_chat[499]))
    data = second.json()
    assert [int(m["id"]) for m in data["messages"]] == long_chat[500:1000]
    assert data["messages"][0] == {
        "id": str(long_chat[500]),
        "name": "Fan",
        "text": "message 500",
        "offset": 500,
        "label": "08:20",
    }
    assert data["next"] == str(long_chat[999])
    last = chat_json(client, ended, after=data["next"]).json()
    assert [m["text"] for m in last["messages"]] == ["message 1000"] and last["next"] is None

    # Where the viewer jumps to in the recording.
    jump = chat_json(client, ended, at="900").json()
    assert [m["offset"] for m in jump["messages"]] == list(range(900, 1001)) and jump["next"] is None
    assert chat_json(client, ended, at="0").json()["messages"][0]["offset"] == 0

    # Without JavaScript the page itself goes on from a cursor, with a way back to the start.
    later = replay(client, ended, after=str(long_chat[999])).content.decode()
    assert later.count("<li data-id=") == 1 and 'data-testid="replay-from-start"' in later


@pytest.mark.parametrize(
    "params",
    [
        {"after": "abc"},
        {"after": "-1"},
        {"after": "1.5"},
        {"after": str(1 << 63)},
        {"after": "9" * 400},
        {"at": "-5"},
        {"at": "soon"},
        {"at": str(10**9)},
        {"after": "1", "at": "5"},
    ],
)
def test_a_bad_cursor_is_a_clear_error_never_a_500(client, ended, chat, params):
    answer = chat_json(client, ended, **params)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "bad_cursor" and error["message"] == "This part of the chat cannot be found."
    assert set(error["fields"]) <= {"after", "at", "__all__"} and error["fields"]

    page = replay(client, ended, **params)
    assert page.status_code == 400
    body = page.content.decode()
    assert "This part of the chat cannot be found." in body
    # ... and the chat from the start beneath it.
    assert body.count("<li data-id=") == 3


def test_the_chat_endpoint_answers_json_only_to_get(client, ended):
    assert client.post(reverse("live:replay-chat", args=[ended.slug])).status_code == 405
