"""In a real browser: a German shopper on eu-west (no edge country header) says "Deliver to:
Deutschland" on the preferences page, and checkout then quotes, checks and delivers to Germany."""

from __future__ import annotations

import pytest

from apps.accounts import services as accounts
from apps.catalog import services as catalog
from apps.orders.models import Order
from tests.browser.test_checkout import _fill_delivery
from tests.catalog.factories import make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_german_shopper_chooses_germany_and_checks_out_with_german_vat(
    chromium, live_server, use_region, settings, artifacts_dir, make_user, payment_settings
):
    use_region("eu-west")
    # The embedded run: no GeoIP header from an edge, so only the shopper can say where they are.
    settings.TRUSTED_COUNTRY_HEADER = ""
    owner = make_user(email="owner@de-shop.test")
    merchant = accounts.merchant_create(name="DE Shop", country="DE", owner=owner)
    warehouse = catalog.warehouse_create(merchant=merchant, code="ber", name="Berlin", country="DE")
    grinder = make_product(merchant, "kaffeemuehle", price_minor=10000, names={"en": "Grinder", "de": "Kaffeemühle"})
    catalog.stock_set(variant=grinder.variants.get(), warehouse=warehouse, quantity=3)

    page = chromium.new_page(locale="de-DE", viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + f"/products/{grinder.pk}/")
    product_path = page.url.removeprefix(live_server.url)  # with its slug
    assert page.get_attribute("[data-testid=country]", "data-country") == "IE"
    assert page.inner_text("[data-testid=country]") == "Irland"

    # The header's country leads to the choice, and back to the product.
    with page.expect_navigation():
        page.click("[data-testid=country-link]")
    assert page.url == live_server.url + f"/accounts/preferences/?next={product_path}"
    assert page.input_value("#id_country") == "IE"
    page.select_option("#id_country", label="Deutschland")
    page.screenshot(path=str(artifacts_dir / "country-preferences-country.png"), full_page=True)
    with page.expect_navigation():
        page.click("[data-testid=preferences-form] button[type=submit]")
    assert page.url == live_server.url + product_path
    assert page.get_attribute("[data-testid=country]", "data-country") == "DE"
    assert page.inner_text("[data-testid=country]") == "Deutschland"
    assert page.locator("ul.messages li.success").count() == 1

    page.click("[data-testid=add-to-cart] button")
    page.wait_for_selector("[data-testid=cart]")
    page.click("[data-testid=to-checkout]")
    page.wait_for_selector("[data-testid=checkout]")
    legend = page.inner_text("[data-testid=checkout] fieldset legend >> nth=0")
    assert legend.endswith("(Deutschland)"), legend
    assert page.get_attribute("[data-testid=checkout] form", "data-country") == "DE"
    assert "(19\xa0%)" in page.inner_text("[data-testid=totals]")  # German VAT, not Ireland's 23 %
    _fill_delivery(
        page,
        email="anna@example.test",
        name="Anna Käufer",
        line1="Hauptstr. 1",
        city="Berlin",
        postal_code="10115",  # a Berlin postcode: refused while the shopper counted as Irish
    )
    page.check("[data-testid=pay-test]")
    page.screenshot(path=str(artifacts_dir / "country-checkout-germany.png"), full_page=True)
    page.click("[data-testid=place-order]")
    page.wait_for_selector("[data-testid=confirmation]")
    order = Order.objects.get()
    assert (order.country, order.address["postal_code"], order.tax_minor) == ("DE", "10115", 1597)
    page.close()
