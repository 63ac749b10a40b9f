"""A giveaway in real browsers: the notice each viewer's country calls for, the seed hash at
the opening, then the winner, the seed and the audit file, from which the test recomputes
the winner with nothing but what the page published."""

from __future__ import annotations

import hashlib

import pytest
from django.utils import timezone

from apps.accounts import services as accounts
from apps.live import services as live
from apps.live.models import Danmaku
from apps.live.realtime.ids import IdGenerator
from tests.browser.conftest import show_started, wait_socket_open
from tests.live.conftest import session_key_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_viewers_see_their_country_s_notice_and_can_check_the_draw(chromium, asgi_url, make_user, region):
    merchant = accounts.merchant_create(name="Shop A", country="US", owner=make_user(email="owner@shop-a.test"))
    room = show_started(region=region, merchant=merchant, slug="giveaway-show", title="Giveaway show")
    # US: "no purchase necessary"; BR: prize draws forbidden; MX: no notice (giveaway_rules.toml).
    viewers = {country: make_user(display_name=f"Fan {country}", country=country) for country in ("US", "BR", "MX")}
    contexts, pages = [], {}
    try:
        for country, user in viewers.items():
            context = chromium.new_context(locale="en-US")
            context.add_cookies([{"name": "sessionid", "value": session_key_for(user), "url": asgi_url}])
            contexts.append(context)
            pages[country] = context.new_page()
            pages[country].goto(f"{asgi_url}/live/{room.slug}/")
            wait_socket_open(pages[country])

        giveaway = live.giveaway_open(room=room, keyword="scarf", prize="A silk scarf", region=region)
        for page in pages.values():
            page.locator("[data-testid=giveaway]").wait_for(state="visible")
            assert page.inner_text("[data-testid=giveaway-seed-hash]") == giveaway.seed_hash
            assert page.locator("[data-testid=giveaway-drawn]").is_hidden()
            assert giveaway.seed not in page.content()
        assert pages["US"].locator("[data-testid=giveaway-no-purchase]").is_visible()
        assert "No purchase necessary." in pages["US"].inner_text("[data-testid=giveaway]")
        assert pages["MX"].locator("[data-testid=giveaway-no-purchase]").is_hidden()
        assert "Type the keyword to enter: scarf" in pages["MX"].inner_text(".giveaway-text")
        assert pages["BR"].inner_text(".giveaway-text") == "Not open in your country"
        assert pages["BR"].locator("[data-testid=giveaway-no-purchase]").is_hidden()

        ids = IdGenerator(node=11)
        for user in viewers.values():
            Danmaku.objects.create(
                id=ids.next_id(),
                room=room,
                user=user,
                display_name=user.public_name,
                text="scarf!",
                posted_at=timezone.now(),
            )
        live.giveaway_draw(giveaway=giveaway)

        us = pages["US"]
        us.locator("[data-testid=giveaway-drawn]").wait_for(state="visible")
        assert us.locator("[data-testid=giveaway-no-purchase]").is_hidden()
        seed = us.inner_text("[data-testid=giveaway-seed]")
        winner = us.inner_text(".giveaway-text").removeprefix("Winner: ")
        # Checked with what the page shows and links to, nothing else.
        assert hashlib.sha256(seed.encode()).hexdigest() == us.inner_text("[data-testid=giveaway-seed-hash]")
        audit = us.request.get(asgi_url + us.get_attribute("[data-testid=giveaway-audit]", "href"))
        assert audit.ok
        record = audit.json()
        entrants = record["entrants"]
        assert len(entrants) == 2 and record["seed"] == seed  # the Brazilian viewer could not enter
        index = int(hashlib.sha256(f"{seed}:{','.join(entrants)}".encode()).hexdigest(), 16) % len(entrants)
        assert record["winner"]["id"] == entrants[index] and record["winner"]["name"] == winner
        assert winner in {"Fan US", "Fan MX"}
        # The signed-in viewer (an entrant) finds their own id in the file.
        assert record["your_entrant_id"] in entrants
    finally:
        for context in contexts:
            context.close()
