"""The console's chat keeps message ids exact past 2^53, where a JavaScript Number rounds them."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.live.models import Danmaku
from tests.browser.test_live_console import _admin_sign_in, _shop_a_and_its_staff
from tests.live.console_factories import schedule_room

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_console_polls_the_message_a_rounded_cursor_would_skip(chromium, live_server, make_user, region):
    merchant, staff = _shop_a_and_its_staff(make_user)
    room = schedule_room(merchant=merchant, region=region)
    first = 2**53 + 3
    assert float(first) == first + 1  # what Number("9007199254740995") gives: the next id
    Danmaku.objects.create(id=first, room=room, display_name="Fan", text="first", posted_at=timezone.now())

    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    _admin_sign_in(page, live_server.url, staff)
    page.goto(live_server.url + f"/admin/live/liveroom/{room.pk}/console/")
    page.wait_for_selector("#live-chat li:has-text('first')")

    Danmaku.objects.create(id=first + 1, room=room, display_name="Fan", text="second", posted_at=timezone.now())
    page.wait_for_selector("#live-chat li:has-text('second')", timeout=8000)  # polled every two seconds
    page.wait_for_timeout(2500)  # one more poll: nothing comes twice
    ids = page.eval_on_selector_all("#live-chat li", "items => items.map((li) => li.dataset.id)")
    assert ids == [str(first), str(first + 1)]
    page.close()
