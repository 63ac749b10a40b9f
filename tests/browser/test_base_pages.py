"""A shopper opens the home page, switches to Arabic and to another currency, in a real browser."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from apps.money.services import fx_rates_update
from tests.money.factories import todays_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_switches_to_arabic_and_another_currency(chromium, live_server, use_region, artifacts_dir, tmp_path):
    use_region("me-south")
    call_command("seed_demo", verbosity=0, stdout=io.StringIO())
    # SAR is offered only while the rates are fresh; the shipped file's date is long past on most days.
    fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 800})
    page.goto(live_server.url + "/")
    assert page.get_attribute("html", "dir") == "ltr"
    assert page.get_attribute("html", "lang") == "en"

    page.select_option("[data-testid=language]", "ar")
    page.wait_for_selector("html[dir=rtl]")
    assert page.get_attribute("html", "lang") == "ar"

    # The selector submits its form; wait for that navigation to finish, or the
    # next goto would race it and the choice might never reach the server.
    with page.expect_navigation():
        page.select_option("[data-testid=currency]", "SAR")
    assert page.input_value("[data-testid=currency]") == "SAR"
    # Both choices survive a fresh navigation.
    page.goto(live_server.url + "/")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.input_value("[data-testid=currency]") == "SAR"
    assert page.locator(".card h3", has_text="وشاح حريري").count() == 1
    page.screenshot(path=str(artifacts_dir / "home-me-south-ar-sar.png"), full_page=True)

    # The header stays usable on a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts_dir / "home-me-south-ar-mobile.png"), full_page=True)
    page.close()
