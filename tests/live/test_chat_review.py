"""Chat review in the merchant console: every message posted, scoped per merchant, and the
moderation actions (remove, mute, ban, lift) through the services that tell viewers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from apps.live import services
from apps.live.models import ChatRestriction, Danmaku
from apps.live.realtime import events as live_events
from apps.live.realtime.ids import message_id
from tests.live.console_factories import schedule_room

CHANGELIST = "admin:live_danmaku_changelist"
RESTRICTIONS = "admin:live_chatrestriction_changelist"
POSTED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def rooms(db, merchant, merchant_b, region, live_settings):
    return schedule_room(merchant=merchant, region=region, slug="a-show"), schedule_room(
        merchant=merchant_b, region=region, slug="b-show"
    )


@pytest.fixture
def chatters(make_user):
    return make_user(display_name="Fan"), make_user(display_name="Rude")


def post(room, user, text, *, second: int, verdict=Danmaku.Verdict.SHOWN, original="", removed=False) -> Danmaku:
    at = POSTED + dt.timedelta(seconds=second)
    return Danmaku.objects.create(
        id=message_id(at_ms=int(at.timestamp() * 1000), node=1, sequence=room.pk % 4096),
        room=room,
        user=user,
        display_name=user.public_name if user else "gone",
        text=text,
        original_text=original,
        verdict=verdict,
        posted_at=at,
        removed_at=at if removed else None,
    )


@pytest.fixture
def chat(rooms, chatters):
    own, foreign = rooms
    fan, rude = chatters
    return {
        "shown": post(own, fan, "<script>alert(1)</script> so soft", second=1),
        "masked": post(own, rude, "you are ***", second=2, verdict=Danmaku.Verdict.MASKED, original="you are dumb"),
        "rejected": post(
            own, rude, "", second=3, verdict=Danmaku.Verdict.REJECTED, original="buy pills at spam.example"
        ),
        "removed": post(own, rude, "spam again", second=4, removed=True),
        "arabic": post(own, fan, "جميل جداً", second=5),
        "foreign": post(foreign, rude, "over in shop B", second=6),
    }


def act(client, capture, name: str, rows, url: str = CHANGELIST):
    """Run an admin action on ``rows`` as the changelist's form posts it, events published on commit."""
    with capture(execute=True):
        return client.post(reverse(url), {"action": name, ACTION_CHECKBOX_NAME: [row.pk for row in rows]})


def test_staff_review_every_message_of_their_own_rooms_only(client, staff_a, chat):
    client.force_login(staff_a)
    listing = client.get(reverse(CHANGELIST))
    assert listing.status_code == 200
    listed = list(listing.context["cl"].queryset)
    # Newest first, masked, rejected and removed included; nothing of shop B's room.
    assert listed == [chat[k] for k in ("arabic", "removed", "rejected", "masked", "shown")]
    body = listing.content.decode()
    assert "over in shop B" not in body and "b-show" not in body
    # Chat text is text, never markup, and finds its own direction.
    assert "<script>alert(1)</script>" not in body
    assert '<span dir="auto">&lt;script&gt;alert(1)&lt;/script&gt; so soft</span>' in body
    assert '<span dir="auto">جميل جداً</span>' in body
    # What a rejected message said is kept for the moderators.
    assert '<span dir="auto">buy pills at spam.example</span>' in body
    for label in ("Shown", "Shown with words masked", "Rejected", "Removed"):
        assert f'<td class="field-status">{label}</td>' in body

    # Another merchant's message answers as a missing one, by its page or by a crafted filter.
    page = client.get(reverse("admin:live_danmaku_change", args=[chat["foreign"].pk]))
    assert page.status_code == 302 and page["Location"] == reverse("admin:index")
    filtered = client.get(reverse(CHANGELIST), {"room": chat["foreign"].room_id})
    assert list(filtered.context["cl"].queryset) == []
    # The room filter offers only the user's own rooms.
    room_filter = next(f for f in listing.context["cl"].filter_specs if f.parameter_name == "room")
    assert room_filter.lookup_choices == [(str(chat["shown"].room_id), "Evening show")]


def test_the_message_page_is_read_only_evidence(client, staff_a, chat):
    client.force_login(staff_a)
    page = client.get(reverse("admin:live_danmaku_change", args=[chat["rejected"].pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "buy pills at spam.example" in body and 'name="_save"' not in body
    assert client.get(reverse("admin:live_danmaku_add")).status_code == 403
    response = client.post(
        reverse("admin:live_danmaku_change", args=[chat["shown"].pk]), {"text": "rewritten", "display_name": "X"}
    )
    assert response.status_code == 403
    assert (
        client.post(reverse("admin:live_danmaku_delete", args=[chat["shown"].pk]), {"post": "yes"}).status_code == 403
    )
    chat["shown"].refresh_from_db()
    assert chat["shown"].text.endswith("so soft") and chat["shown"].removed_at is None


def test_filters_by_status_room_date_and_search(client, staff_a, chat, rooms):
    client.force_login(staff_a)

    def listed(**params):
        response = client.get(reverse(CHANGELIST), params)
        assert response.status_code == 200
        return set(response.context["cl"].queryset)

    assert listed(status="rejected") == {chat["rejected"]}
    assert listed(status="removed") == {chat["removed"]}
    assert listed(status="masked") == {chat["masked"]}
    assert listed(status="shown") == {chat["shown"], chat["arabic"]}
    assert listed(room=rooms[0].pk) == {c for k, c in chat.items() if k != "foreign"}
    assert listed(q="pills") == {chat["rejected"]}
    assert listed(q="جميل") == {chat["arabic"]}
    # As the date filter's own links put it: midnight in the moderator's time zone.
    day = POSTED.replace(hour=0)
    assert len(listed(posted_at__gte=str(day), posted_at__lt=str(day + dt.timedelta(days=1)))) == 5
    assert listed(posted_at__gte=str(day + dt.timedelta(days=1))) == set()
    # A malformed filter is the admin's "bad parameters" answer, never a 500.
    for bad in ("x", "-1", "9" * 40):
        response = client.get(reverse(CHANGELIST), {"room": bad})
        assert response.status_code == 302 and response["Location"].endswith("?e=1")


def test_times_are_in_the_moderator_s_own_time_zone(client, staff_a, chat):
    staff_a.time_zone = "Asia/Tokyo"
    staff_a.save(update_fields=["time_zone"])
    client.force_login(staff_a)
    body = client.get(reverse(CHANGELIST)).content.decode()
    # 12:00 UTC is 21:00 in Tokyo.
    assert "Nov. 20, 2026, 9 p.m." in body and "noon" not in body


def test_operators_review_every_room(admin_client, chat):
    listing = admin_client.get(reverse(CHANGELIST))
    assert set(listing.context["cl"].queryset) == set(chat.values())


def test_shoppers_are_sent_to_the_login(client, make_user, chat):
    client.force_login(make_user(email="shopper@example.test"))
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_remove_takes_the_message_off_every_viewer_s_screen(
    client, staff_a, chat, bus, django_capture_on_commit_callbacks
):
    subscribe, events = bus
    own = chat["shown"].room
    subscribe(own)
    client.force_login(staff_a)
    response = act(client, django_capture_on_commit_callbacks, "remove_from_room", [chat["shown"], chat["arabic"]])
    assert response.status_code == 302
    for key in ("shown", "arabic"):
        chat[key].refresh_from_db()
        assert chat[key].removed_at is not None
    removed = {e["id"] for e in events() if e["type"] == "removed"}
    assert removed == {str(chat["shown"].pk), str(chat["arabic"].pk)}
    messages = [str(m) for m in client.get(reverse(CHANGELIST)).context["messages"]]
    assert "2 messages removed from the room." in messages


def test_mute_and_ban_the_author_tell_the_room(
    client, staff_a, chat, chatters, bus, django_capture_on_commit_callbacks
):
    subscribe, events = bus
    fan, rude = chatters
    own = chat["shown"].room
    subscribe(own)
    client.force_login(staff_a)
    before = timezone.now()
    # Two messages of one author: one mute.
    act(client, django_capture_on_commit_callbacks, "mute_authors", [chat["masked"], chat["rejected"]])
    mute = ChatRestriction.objects.get(room=own, user=rude)
    assert mute.kind == ChatRestriction.Kind.MUTE and mute.created_by == staff_a
    assert before + dt.timedelta(minutes=9) < mute.until <= timezone.now() + dt.timedelta(minutes=10)
    published = [e for e in events() if e["type"] == live_events.RESTRICTION]
    assert [(e["user"], e["kind"]) for e in published] == [(rude.pk, "mute")]

    act(client, django_capture_on_commit_callbacks, "ban_authors", [chat["shown"]])
    act(client, django_capture_on_commit_callbacks, "ban_authors", [chat["arabic"]])  # banned already
    bans = ChatRestriction.objects.filter(room=own, user=fan, kind=ChatRestriction.Kind.BAN)
    assert bans.count() == 1 and bans.get().until is None
    assert [(e["user"], e["kind"]) for e in events() if e["type"] == live_events.RESTRICTION] == [(fan.pk, "ban")]


def test_actions_on_another_merchant_s_rows_change_nothing(
    client, staff_a, chat, chatters, rooms, bus, django_capture_on_commit_callbacks
):
    subscribe, events = bus
    _own, foreign = rooms
    subscribe(foreign)
    restriction = services.chat_user_ban(room=foreign, user=chatters[0])
    client.force_login(staff_a)
    for name in ("remove_from_room", "mute_authors", "ban_authors"):
        assert act(client, django_capture_on_commit_callbacks, name, [chat["foreign"]]).status_code == 302
    act(client, django_capture_on_commit_callbacks, "lift", [restriction], url=RESTRICTIONS)
    chat["foreign"].refresh_from_db()
    restriction.refresh_from_db()
    assert chat["foreign"].removed_at is None and restriction.lifted_at is None
    assert ChatRestriction.objects.filter(room=foreign).count() == 1
    assert events() == []
    assert client.get(reverse(RESTRICTIONS)).context["cl"].result_count == 0


def test_restrictions_are_listed_per_merchant_and_lifted(
    client, staff_a, chat, chatters, rooms, bus, django_capture_on_commit_callbacks
):
    subscribe, events = bus
    own, foreign = rooms
    fan, rude = chatters
    mute = services.chat_user_mute(room=own, user=rude, minutes=30, reason="spam <b>links</b>")
    ban = services.chat_user_ban(room=own, user=rude)
    theirs = services.chat_user_ban(room=foreign, user=fan)
    subscribe(own)
    client.force_login(staff_a)
    listing = client.get(reverse(RESTRICTIONS))
    assert listing.status_code == 200
    assert set(listing.context["cl"].queryset) == {mute, ban}
    body = listing.content.decode()
    assert rude.email not in body  # the viewer's public name only
    assert "spam &lt;b&gt;links&lt;/b&gt;" in body
    assert set(client.get(reverse(RESTRICTIONS), {"in_force": "yes"}).context["cl"].queryset) == {mute, ban}

    response = act(client, django_capture_on_commit_callbacks, "lift", [mute], url=RESTRICTIONS)
    assert response.status_code == 302
    # Lifting lifts every mute and ban of that viewer in the room: they may chat again.
    mute.refresh_from_db()
    ban.refresh_from_db()
    theirs.refresh_from_db()
    assert mute.lifted_at and ban.lifted_at and theirs.lifted_at is None
    assert [(e["user"], e["kind"]) for e in events() if e["type"] == live_events.RESTRICTION] == [(rude.pk, None)]
    assert set(client.get(reverse(RESTRICTIONS), {"in_force": "no"}).context["cl"].queryset) == {mute, ban}
    assert client.get(reverse("admin:live_chatrestriction_add")).status_code == 403
    # The list is the whole story: no page per restriction, which would be titled by e-mail.
    assert client.get(reverse("admin:live_chatrestriction_change", args=[mute.pk])).status_code == 403


def test_the_console_and_the_room_page_link_to_the_review(client, staff_a, rooms):
    own = rooms[0]
    client.force_login(staff_a)
    wanted = f'{reverse(CHANGELIST)}?room={own.pk}"'
    assert wanted in client.get(reverse("admin:live_liveroom_console", args=[own.pk])).content.decode()
    assert wanted in client.get(reverse("admin:live_liveroom_change", args=[own.pk])).content.decode()


def test_staff_find_the_review_in_the_admin_index(client, staff_a, rooms):
    client.force_login(staff_a)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    body = index.content.decode()
    assert reverse(CHANGELIST) in body and reverse(RESTRICTIONS) in body
