"""The merchant console in the admin: scoped per merchant, every action through a service, clear errors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.live.models import FlashCoupon, LiveRoom, PinnedProduct
from tests.catalog.factories import make_product
from tests.live.console_factories import schedule_room


@pytest.fixture
def rooms(db, merchant, merchant_b, region, live_settings):
    return schedule_room(merchant=merchant, region=region, slug="a-show"), schedule_room(
        merchant=merchant_b, region=region, slug="b-show"
    )


def action(client, room, name, **data):
    return client.post(
        reverse("admin:live_liveroom_console_action", args=[room.pk, name]), data, HTTP_ACCEPT="application/json"
    )


def test_staff_see_and_act_on_only_their_own_rooms(client, staff_a, rooms, merchant_b):
    own, foreign = rooms
    client.force_login(staff_a)
    listing = client.get(reverse("admin:live_liveroom_changelist"))
    assert listing.status_code == 200
    assert "a-show" in listing.content.decode() or "Evening show" in listing.content.decode()
    assert list(listing.context["cl"].queryset) == [own]
    # The admin answers another merchant's room as a missing one (back to the index).
    change = client.get(reverse("admin:live_liveroom_change", args=[foreign.pk]))
    assert change.status_code == 302 and change["Location"] == reverse("admin:index")
    for name in ("admin:live_liveroom_console", "admin:live_liveroom_console_state"):
        assert client.get(reverse(name, args=[foreign.pk])).status_code == 404
    assert action(client, foreign, "start").status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == LiveRoom.Status.SCHEDULED
    # Nor can a crafted form file a room under another merchant.
    add = client.get(reverse("admin:live_liveroom_add"))
    assert list(add.context["adminform"].form.fields["merchant"].queryset) == [own.merchant]
    assert merchant_b not in add.context["adminform"].form.fields["merchant"].queryset


def test_operators_see_every_room(admin_client, rooms):
    listing = admin_client.get(reverse("admin:live_liveroom_changelist"))
    assert set(listing.context["cl"].queryset) == set(rooms)
    assert admin_client.get(reverse("admin:live_liveroom_console", args=[rooms[1].pk])).status_code == 200


def test_staff_create_a_room_in_the_admin(client, staff_a, merchant, region, live_settings):
    client.force_login(staff_a)
    response = client.post(
        reverse("admin:live_liveroom_add"),
        {
            "merchant": merchant.pk,
            "slug": "friday-show",
            "title_en": "Friday show",
            "description_en": "New scarves",
            "language": "en",
            "scheduled_start_0": "2030-01-10",
            "scheduled_start_1": "20:00:00",
            "scheduled_end_0": "2030-01-10",
            "scheduled_end_1": "21:00:00",
            "playback_url": "https://cdn.example/live.m3u8",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    room = LiveRoom.objects.get(slug="friday-show")
    assert room.merchant == merchant and room.status == LiveRoom.Status.SCHEDULED


def test_console_runs_a_show(client, staff_a, rooms, merchant, live_settings):
    room = rooms[0]
    client.force_login(staff_a)
    page = client.get(reverse("admin:live_liveroom_console", args=[room.pk]))
    assert page.status_code == 200 and b"Start the show" in page.content
    assert action(client, room, "start", provider="manual").json()["ok"]
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.LIVE

    product = make_product(merchant, "silk-scarf", price_minor=4900)
    assert action(client, room, "pin", product=product.pk).status_code == 200
    assert PinnedProduct.objects.filter(room=room, product=product, unpinned_at__isnull=True).exists()
    assert action(client, room, "coupon", discount_percent=15, quantity=50, minutes=10).status_code == 200
    assert FlashCoupon.objects.get(room=room).remaining == 50

    state = client.get(reverse("admin:live_liveroom_console_state", args=[room.pk])).json()
    assert state["status"] == "live" and state["pinned"]["id"] == product.pk and state["coupon"]["remaining"] == 50
    assert {"viewers", "likes", "danmaku"} <= set(state)

    # Without JavaScript the forms post and come back to the console with a message.
    response = client.post(reverse("admin:live_liveroom_console_action", args=[room.pk, "unpin"]))
    assert response.status_code == 302 and response["Location"].endswith("/console/")
    assert action(client, room, "end").status_code == 200
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.ENDED and room.recording_url


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("end", {}, 409, "invalid_transition"),
        ("pin", {"product": "x"}, 400, "invalid"),
        ("coupon", {"discount_percent": "10", "quantity": "0", "minutes": "5"}, 400, "invalid"),
        ("coupon", {"discount_percent": "ten"}, 400, "invalid"),
        ("giveaway-draw", {}, 409, "no_open_giveaway"),
        ("mute", {"user": "999999"}, 400, "invalid"),
        ("launch-rockets", {}, 404, "unknown_action"),
    ],
)
def test_bad_console_input_answers_a_clear_error(client, staff_a, rooms, name, data, status, code):
    client.force_login(staff_a)
    response = action(client, rooms[0], name, **data)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not FlashCoupon.objects.exists()


def test_pinning_another_merchants_product_is_refused(client, staff_a, rooms, merchant_b):
    room = rooms[0]
    client.force_login(staff_a)
    action(client, room, "start", provider="manual")
    foreign = make_product(merchant_b, "their-scarf")
    response = action(client, room, "pin", product=foreign.pk)
    assert response.status_code == 400 and response.json()["error"]["code"] == "foreign_product"
    # The page shows the message instead of a 500.
    page = client.post(
        reverse("admin:live_liveroom_console_action", args=[room.pk, "pin"]), {"product": foreign.pk}, follow=True
    )
    assert page.status_code == 200 and b"another merchant" in page.content


def test_console_actions_need_post_and_a_console_user(client, rooms, make_user):
    room = rooms[0]
    assert client.get(reverse("admin:live_liveroom_console_action", args=[room.pk, "start"])).status_code in (302, 405)
    client.force_login(make_user(email="shopper@example.test"))
    response = client.post(reverse("admin:live_liveroom_console_action", args=[room.pk, "start"]))
    assert response.status_code == 302 and "/login/" in response["Location"]
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.SCHEDULED


def test_console_giveaway_moderation_and_state(client, staff_a, rooms, make_user):
    from django.utils import timezone

    from apps.live.models import ChatRestriction, Danmaku, Giveaway
    from apps.live.realtime.ids import IdGenerator

    room = rooms[0]
    client.force_login(staff_a)
    action(client, room, "start", provider="manual")
    assert action(client, room, "giveaway-open", keyword="scarf", prize="A silk scarf").status_code == 200
    ids = IdGenerator(node=3)
    fan, rude = make_user(display_name="Fan", country="US"), make_user(display_name="Rude")
    Danmaku.objects.create(
        id=ids.next_id(), room=room, user=fan, display_name="Fan", text="scarf!", posted_at=timezone.now()
    )
    bad = Danmaku.objects.create(
        id=ids.next_id(), room=room, user=rude, display_name="Rude", text="scarf <b>spam</b>", posted_at=timezone.now()
    )
    state = client.get(reverse("admin:live_liveroom_console_state", args=[room.pk])).json()
    assert [m["name"] for m in state["danmaku"]] == ["Fan", "Rude"]
    after = client.get(
        reverse("admin:live_liveroom_console_state", args=[room.pk]), {"after": state["danmaku"][0]["id"]}
    )
    assert [m["name"] for m in after.json()["danmaku"]] == ["Rude"]
    assert client.get(reverse("admin:live_liveroom_console_state", args=[room.pk]), {"after": "x"}).status_code == 400

    assert action(client, room, "remove", message=bad.pk).status_code == 200
    assert action(client, room, "mute", user=rude.pk, minutes=10).status_code == 200
    assert ChatRestriction.objects.filter(room=room, user=rude).exists()
    bad.refresh_from_db()
    assert bad.removed_at is not None

    assert action(client, room, "giveaway-draw").status_code == 200
    drawn = Giveaway.objects.get(room=room)
    assert drawn.winner == fan and [e["user"] for e in drawn.entrants] == [fan.pk]
    page = client.get(reverse("admin:live_liveroom_console", args=[room.pk]))
    assert b"Last winner: Fan (among 1 entrants)." in page.content and drawn.seed.encode() in page.content
    # Chat text reaches the page only as JSON data rendered with textContent, never as markup.
    assert b"<b>spam</b>" not in page.content
