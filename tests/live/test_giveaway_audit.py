"""Giveaways anyone can audit: the seed stays secret until the draw, then the public record
(seed, pseudonymous entrants in draw order, winner) is served at the audit URL."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.live import services
from apps.live.models import Danmaku, Giveaway
from apps.live.realtime.ids import IdGenerator

_ids = IdGenerator(node=9)


def _say(room, user, text) -> Danmaku:
    return Danmaku.objects.create(
        id=_ids.next_id(), room=room, user=user, display_name=user.public_name, text=text, posted_at=timezone.now()
    )


def _audit_url(giveaway: Giveaway, slug: str | None = None) -> str:
    return reverse("live:giveaway-audit", kwargs={"slug": slug or giveaway.room.slug, "giveaway_id": giveaway.pk})


@pytest.fixture
def giveaway(live_room, region, commit):
    return commit(services.giveaway_open, room=live_room, keyword="scarf", prize="A silk scarf", region=region)


def test_merchant_staff_cannot_read_the_seed_before_the_draw(client, staff_a, live_room, giveaway, commit, make_user):
    client.force_login(staff_a)
    pages = [
        reverse("admin:live_giveaway_change", args=[giveaway.pk]),
        reverse("admin:live_giveaway_changelist"),
        reverse("admin:live_liveroom_console", args=[live_room.pk]),
        reverse("admin:live_liveroom_console_state", args=[live_room.pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert giveaway.seed not in response.content.decode(), url
    change = client.get(pages[0]).content.decode()
    assert giveaway.seed_hash in change and "Secret until the draw" in change

    _say(live_room, make_user(display_name="Fan", country="US"), "scarf!")
    commit(services.giveaway_draw, giveaway=giveaway)
    # Once drawn, the seed is public anyway, in the admin too.
    change = client.get(pages[0]).content.decode()
    assert giveaway.seed in change and "Secret until the draw" not in change


def test_the_audit_is_404_until_the_draw(client, live_room, giveaway, commit, region, merchant):
    response = client.get(_audit_url(giveaway))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert giveaway.seed not in response.content.decode()
    # Nor under another room's address, for an unknown giveaway, or an id out of any range.
    from tests.live.console_factories import schedule_room

    other = schedule_room(merchant=merchant, region=region, slug="other-show")
    for url in (
        _audit_url(giveaway, slug=other.slug),
        _audit_url(giveaway, slug="no-such-show"),
        reverse("live:giveaway-audit", kwargs={"slug": live_room.slug, "giveaway_id": giveaway.pk + 1000}),
        f"/live/{live_room.slug}/giveaways/99999999999999999999999/audit.json",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/live/{live_room.slug}/giveaways/x/audit.json").status_code == 404
    assert client.post(_audit_url(giveaway)).status_code == 405
    # A giveaway cancelled by the end of the show was never drawn: nothing to audit, seed kept.
    commit(services.live_room_end, room=live_room, region=region)
    giveaway.refresh_from_db()
    assert giveaway.state == Giveaway.State.CANCELLED
    assert client.get(_audit_url(giveaway)).status_code == 404


def test_a_removed_entrant_is_not_in_the_published_list(client, live_room, giveaway, commit, make_user, region):
    fans = [make_user(display_name=f"Fan {i}", country="US") for i in range(3)]
    messages = [_say(live_room, fan, "scarf please") for fan in fans]
    commit(services.danmaku_remove, room=live_room, message_id=messages[1].pk)
    drawn = commit(services.giveaway_draw, giveaway=giveaway)

    record = client.get(_audit_url(drawn)).json()
    removed = services.giveaway_entrant_id(giveaway_id=drawn.pk, user_id=fans[1].pk)
    kept = [services.giveaway_entrant_id(giveaway_id=drawn.pk, user_id=f.pk) for f in (fans[0], fans[2])]
    assert record["entrants"] == kept and removed not in record["entrants"]
    assert record["entrants_count"] == 2 and record["winner"]["name"] != "Fan 1"
    assert "your_entrant_id" not in record

    # A signed-in entrant finds themselves; the one whose message was removed does not.
    client.force_login(fans[2])
    assert client.get(_audit_url(drawn)).json()["your_entrant_id"] == kept[1]
    client.force_login(fans[1])
    assert "your_entrant_id" not in client.get(_audit_url(drawn)).json()

    # The audit outlives the show, and is the same record the draw published.
    commit(services.live_room_end, room=live_room, region=region)
    client.logout()
    after = client.get(_audit_url(drawn)).json()
    assert after == record
    assert hashlib.sha256(after["seed"].encode()).hexdigest() == after["seed_hash"] == giveaway.seed_hash


def test_the_room_page_carries_the_giveaway_notices(client, live_room):
    body = client.get(reverse("live:room", args=[live_room.slug])).content.decode()
    assert 'data-testid="giveaway-no-purchase" hidden' in body and "No purchase necessary." in body
    assert 'data-testid="giveaway-seed-hash"' in body and "How to check the draw" in body
