"""A shopper in AE and one in the US browse the same catalogue in a real browser."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.compliance.models import CertificationType
from apps.compliance.models import ProductAttribute as A
from tests.catalog.factories import make_product, today

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_shopper_in_ae_sees_arabic_aed_and_halal_but_not_what_the_us_may_buy(
    chromium, live_server, use_region, merchant, settings, artifacts_dir, shipped_country_rules
):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    use_region("me-south")
    make_product(
        merchant,
        "medjool-dates",
        attributes=(A.IS_FOOD,),
        certifications=((CertificationType.HALAL, today() + dt.timedelta(days=365)),),
        names={"ar": "تمر مجدول", "en": "Medjool dates"},
        price_minor=4500,
    )
    make_product(
        merchant,
        "single-malt",
        attributes=(A.IS_FOOD, A.CONTAINS_ALCOHOL),
        names={"ar": "ويسكي", "en": "Single malt whisky"},
        price_minor=9900,
    )

    gulf = chromium.new_context(locale="ar-AE", extra_http_headers={"CF-IPCountry": "AE"})
    page = gulf.new_page()
    page.goto(live_server.url + "/products/")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    card = page.locator("[data-testid=product-card]", has_text="تمر مجدول")
    assert card.count() == 1
    price = card.locator("[data-testid=price]").inner_text()
    assert "د.إ" in price and "45.00" in price
    assert card.locator(f"[data-testid=cert-{CertificationType.HALAL}]").is_visible()
    assert page.locator("[data-testid=product-card]", has_text="ويسكي").count() == 0

    page.fill("[data-testid=search]", "whisky")
    page.press("[data-testid=search]", "Enter")
    page.wait_for_url("**/search/?q=whisky")
    assert page.locator("[data-testid=no-results]").is_visible()

    page.goto(live_server.url + "/products/")
    card.locator("a").first.click()
    page.wait_for_selector("[data-testid=product-page]")
    assert page.locator(f"[data-testid=required-cert-{CertificationType.HALAL}]").is_visible()
    page.screenshot(path=str(artifacts_dir / "storefront-ae-ar-product.png"), full_page=True)
    gulf.close()

    use_region("us-east")
    american = chromium.new_context(locale="en-US", extra_http_headers={"CF-IPCountry": "US"})
    page = american.new_page()
    page.goto(live_server.url + "/")
    page.fill("[data-testid=search]", "whisky")
    page.press("[data-testid=search]", "Enter")
    page.wait_for_url("**/search/?q=whisky")
    found = page.locator("[data-testid=product-card]", has_text="Single malt whisky")
    assert found.count() == 1
    assert page.get_attribute("html", "dir") == "ltr"
    page.screenshot(path=str(artifacts_dir / "storefront-us-en-search.png"), full_page=True)
    american.close()
