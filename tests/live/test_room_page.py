"""The viewer's room page: what it renders before the socket takes over."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from modeltranslation.utils import build_localized_fieldname

from apps.money.services import fx_rates_update
from tests.money.factories import todays_provider

pytestmark = pytest.mark.django_db(transaction=True)


def _viewer(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="live-viewer" type="application/json">') + len(
        '<script id="live-viewer" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_anyone_may_watch_but_only_signed_in_shoppers_get_the_chat_box(client, make_room, make_user):
    room = make_room(playback_url="https://stream.example.test/show.m3u8")
    response = client.get(reverse("live:room", args=[room.slug]))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="player"' in body and "show.m3u8" in body
    assert f'data-socket="/ws/live/{room.slug}/"' in body
    assert 'data-testid="chat-form"' not in body
    assert 'data-testid="like"' not in body
    assert "/accounts/login/" in body or "?next=" in body
    assert _viewer(response)["signed_in"] is False

    client.force_login(make_user())
    response = client.get(reverse("live:room", args=[room.slug]))
    assert 'data-testid="chat-form"' in response.content.decode()
    assert _viewer(response)["signed_in"] is True


def test_a_room_without_video_yet_says_when_it_starts(client, make_room):
    room = make_room(status="scheduled")
    body = client.get(reverse("live:room", args=[room.slug])).content.decode()
    assert "The video starts when the show goes live." in body
    assert 'data-status="scheduled"' in body


def test_the_viewer_gets_their_own_country_currency_and_language(client, make_room, make_user, region, tmp_path):
    # Another currency than the settlement one is used only while its rate is fresh: apps.money.middleware.
    fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    room = make_room()
    other_currency = next(c for c in region.currencies if c != region.settlement_currency)
    user = make_user(country=region.countries[-1].code, currency=other_currency)
    client.force_login(user)
    viewer = _viewer(client.get(reverse("live:room", args=[room.slug])))
    assert viewer["country"] == region.countries[-1].code
    assert viewer["currency"] == other_currency
    assert viewer["default_language"] == region.default_language


def test_the_title_is_escaped(client, make_room, region):
    room = make_room()
    field = build_localized_fieldname("title", region.default_language)
    setattr(room, field, "<script>alert(1)</script> Friday")
    room.save(update_fields=[field])
    body = client.get(reverse("live:room", args=[room.slug])).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Friday" in body


def test_an_unknown_show_is_a_404(client, db):
    response = client.get("/live/no-such-show/")
    assert response.status_code == 404
