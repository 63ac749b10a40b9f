"""An ended show's page: its stored totals, no chat box or like button, and the end said once."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_ended_show_renders_its_stored_likes_and_offers_no_chat_or_likes(client, make_room, make_user):
    room = make_room(status="ended")
    room.likes_total = 2548
    room.save(update_fields=["likes_total"])
    client.force_login(make_user())
    body = client.get(reverse("live:room", args=[room.slug])).content.decode()
    assert '<strong data-testid="likes">2548</strong>' in body
    assert 'data-testid="chat-form"' not in body and 'data-testid="like"' not in body
    assert "Sign in to chat" not in body
    assert '<p class="muted" data-testid="interact-closed">Chat and likes are closed.</p>' in body
    # Said once on the page; the other copy is the label live-room.js uses when a show ends while open.
    assert body.count(">This show has ended.") == 1


def test_a_live_show_starts_from_its_stored_likes_and_offers_the_chat(client, make_room, make_user):
    room = make_room()
    room.likes_total = 12
    room.save(update_fields=["likes_total"])
    client.force_login(make_user())
    body = client.get(reverse("live:room", args=[room.slug])).content.decode()
    assert '<strong data-testid="likes">12</strong>' in body
    assert 'data-testid="chat-form"' in body and 'data-testid="like"' in body
    assert 'data-testid="interact-closed" hidden' in body
    # Refusals are announced politely, not as an alert.
    assert 'class="socket-error" role="status" aria-live="polite"' in body
