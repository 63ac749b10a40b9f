"""The live console speaks to the merchant in the page's words: no form field names, nothing off the card."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.live.models import LiveRoom
from tests.live.console_factories import schedule_room

PASSWORD = "a-long-test-password"
PAGE_HINT = "Paste the HLS playback address (.m3u8) of your stream before starting the show."
FIELD_PROBLEM = "An http(s) address of the HLS stream (.m3u8)."


@pytest.fixture
def room(merchant, region, live_settings) -> LiveRoom:
    # No address kept from scheduling: the manual provider needs the one typed in the console.
    return schedule_room(merchant=merchant, region=region, slug="words-show", playback_url="")


def _start(client, room: LiveRoom, **headers):
    url = reverse("admin:live_liveroom_console_action", args=[room.pk, "start"])
    return client.post(url, {"provider": "manual", "playback_url": "ftp://cdn.example/live"}, **headers)


@pytest.mark.django_db
def test_a_refused_playback_url_is_named_by_its_label_on_the_page(client, staff_a, room):
    client.force_login(staff_a)
    response = _start(client, room, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert said == [f"{PAGE_HINT} Playback URL (manual provider): {FIELD_PROBLEM}"]
    assert "playback_url" not in said[0]
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.SCHEDULED


@pytest.mark.django_db
def test_the_json_answer_keeps_the_field_name_for_scripts(client, staff_a, room):
    client.force_login(staff_a)
    response = _start(client, room, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["fields"]) == ("playback_url_required", {"playback_url": [FIELD_PROBLEM]})


@pytest.mark.django_db
def test_a_problem_without_an_input_of_its_own_is_said_without_a_name(client, staff_a, room):
    client.force_login(staff_a)
    url = reverse("admin:live_liveroom_console_action", args=[room.pk, "pin"])
    response = client.post(url, {"product": "not-a-number"}, HTTP_ACCEPT_LANGUAGE="en")
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert said == ["Please correct the form. Product: A whole number is required."]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_playback_url_input_fits_its_card_on_a_narrow_screen(
    chromium, live_server, make_user, merchant, region, live_settings
):
    room = schedule_room(merchant=merchant, region=region, slug="narrow-show", playback_url="")
    operator = make_user(email="ops@livemall.test", password=PASSWORD)
    operator.is_staff = operator.is_superuser = True
    operator.save()

    page = chromium.new_page(locale="en-US", viewport={"width": 400, "height": 800})
    try:
        page.goto(live_server.url + "/admin/login/")
        page.fill("#id_username", operator.email)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(live_server.url + "/admin/")
        page.goto(live_server.url + reverse("admin:live_liveroom_console", args=[room.pk]))
        field = page.locator("#id_playback_url")
        card = page.locator("section", has=field)
        field_box, card_box = field.bounding_box(), card.bounding_box()
        assert field_box is not None and card_box is not None
        assert field_box["x"] >= card_box["x"]
        assert field_box["x"] + field_box["width"] <= card_box["x"] + card_box["width"]
        # Still a field one can type a whole address in, not squeezed to nothing.
        assert field_box["width"] >= card_box["width"] / 2
    finally:
        page.close()
