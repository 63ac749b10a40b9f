"""The header's cart count in a real browser: an Arabic (right-to-left) shopper and an English one."""

from __future__ import annotations

import pytest
from django.utils import translation

from apps.money.formatting import format_count
from tests.browser.test_checkout import _shop_selling

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _label(language: str, units: int) -> str:
    """What the cart link says to a screen reader, in ``language`` (as translated then), the count
    in the digits of the shopper's prices (the UAE's are Latin)."""
    with translation.override(language):
        return translation.ngettext("Cart, %(units_shown)s item", "Cart, %(units_shown)s items", units) % {
            "units_shown": format_count(units, f"{language}_AE")
        }


def _badge_side(page) -> str:
    """Which side of the cart link its count sits on."""
    link = page.locator("[data-testid=cart-link]").bounding_box()
    badge = page.locator("[data-testid=cart-count]").bounding_box()
    return "left" if badge["x"] + badge["width"] / 2 < link["x"] + link["width"] / 2 else "right"


def test_the_cart_count_follows_each_shopper_and_reads_in_their_direction(
    chromium, live_server, use_region, settings, make_user, artifacts_dir
):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    use_region("me-south")
    [dates] = _shop_selling(
        make_user, "AE", ("medjool-dates", 4500, {"ar": "تمر مجدول", "en": "Medjool dates"}), units=9
    )

    gulf = chromium.new_context(locale="ar-AE", extra_http_headers={"CF-IPCountry": "AE"})
    page = gulf.new_page()
    page.goto(live_server.url + "/")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.locator("[data-testid=cart-count]").count() == 0  # nothing in the cart yet

    page.goto(live_server.url + f"/products/{dates.product_id}/")
    page.fill("[data-testid=add-quantity]", "3")
    page.click("[data-testid=add-to-cart] button")
    page.wait_for_selector("[data-testid=cart]")

    link = page.get_by_role("link", name=_label("ar", 3))
    assert link.count() == 1 and link.get_attribute("href") == "/cart/"
    assert page.locator("[data-testid=cart-count]").inner_text() == "3"
    assert _badge_side(page) == "left"  # after the word, read right to left
    page.screenshot(path=str(artifacts_dir / "cart-count-ae-ar.png"))

    # Another shopper in the same country and language is served the same listing through
    # the cache: they see their own (empty) cart, and the first shopper still sees theirs.
    neighbour = chromium.new_context(locale="ar-AE", extra_http_headers={"CF-IPCountry": "AE"})
    other = neighbour.new_page()
    for path in ("/products/", "/"):
        page.goto(live_server.url + path)
        other.goto(live_server.url + path)
        assert other.locator("[data-testid=cart-count]").count() == 0, path
        assert page.get_by_role("link", name=_label("ar", 3)).count() == 1, path
    neighbour.close()

    english = chromium.new_context(locale="en-US", extra_http_headers={"CF-IPCountry": "AE"}).new_page()
    english.goto(live_server.url + f"/products/{dates.product_id}/")
    english.click("[data-testid=add-to-cart] button")
    english.wait_for_selector("[data-testid=cart]")
    assert english.get_attribute("html", "dir") == "ltr"
    assert english.get_by_role("link", name=_label("en", 1)).count() == 1
    assert _badge_side(english) == "right"
    english.context.close()
    gulf.close()
