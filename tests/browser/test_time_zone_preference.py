"""A shopper chooses their own time zone on the preferences page, in a real browser."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_anonymous_shopper_chooses_a_time_zone_and_keeps_it(chromium, live_server, use_region, artifacts_dir):
    use_region("us-east")
    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 800})
    # From any page, the header's link leads to the choice and back.
    page.goto(live_server.url + "/orders/")
    with page.expect_navigation():
        page.click("[data-testid=time-zone-link]")
    assert page.url == live_server.url + "/accounts/preferences/?next=/orders/"
    # No choice yet: the shopper's country's zone (the US's most populous) is the one shown.
    assert page.input_value("#id_time_zone") == "America/New_York"

    page.select_option("#id_time_zone", "America/Los_Angeles")
    with page.expect_navigation():
        page.click("[data-testid=preferences-form] button[type=submit]")
    assert page.url == live_server.url + "/orders/"

    page.goto(live_server.url + "/accounts/preferences/")
    assert page.input_value("#id_time_zone") == "America/Los_Angeles"
    page.screenshot(path=str(artifacts_dir / "preferences-time-zone.png"), full_page=True)
    page.close()
