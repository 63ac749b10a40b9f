"""In a real browser: the coupon's error and the totals while re-quoting, and a submit's errors
each under its field, tied to it, the first one focused: German (left to right, desktop) and
Arabic (right to left, a phone's width)."""

from __future__ import annotations

import pytest
from django.utils import translation

from tests.browser.test_checkout import _shop_selling, _to_checkout

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOPPERS = {
    # region, country, browser locale, language, viewport, the fields an empty submit gets wrong
    # (in the page's order; the first is focused): the UAE has no postal codes.
    "eu-west German": (
        "eu-west",
        "IE",
        "de-DE",
        "de",
        {"width": 1280, "height": 900},
        ("email", "name", "line1", "city", "postal_code"),
    ),
    "me-south Arabic mobile": (
        "me-south",
        "AE",
        "ar-AE",
        "ar",
        {"width": 390, "height": 844},
        ("email", "name", "line1", "city"),
    ),
}


# The address fields as the page shows them, one under the other (the UAE's page has no postal code).
PAGE_ORDER = ("email", "name", "line1", "line2", "city", "postal_code", "phone")


def _said(language: str, msgid: str) -> str:
    with translation.override(language):
        return translation.gettext(msgid)


@pytest.fixture(autouse=True)
def _test_provider(payment_settings):
    """No Stripe or PayPal keys: the clearly labelled test provider is how these shoppers pay."""


def _mug_shop_and_browser(chromium, settings, make_user, *, country: str, slug: str, names: dict, **browser) -> tuple:
    """The test provider, the edge's country header trusted, a shop in ``country`` selling a mug
    (``slug``, 18.50) and a browser whose requests come from ``country``: (the context, the mug)."""
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    [mug] = _shop_selling(make_user, country, (slug, 1850, names), units=5)
    return chromium.new_context(extra_http_headers={"CF-IPCountry": country}, **browser), mug


def _box(page, selector: str) -> dict:
    box = page.locator(selector).bounding_box()
    assert box, f"{selector} is not shown"
    return box


@pytest.mark.parametrize("shopper", SHOPPERS, ids=list(SHOPPERS))
def test_coupon_error_and_field_errors_in_the_browser(
    shopper, chromium, live_server, use_region, settings, make_user, artifacts_dir
):
    region_code, country, locale, language, viewport, empty = SHOPPERS[shopper]
    use_region(region_code)
    names = {"en": "Mug", language: {"de": "Tasse", "ar": "كوب"}[language]}
    context, mug = _mug_shop_and_browser(
        chromium, settings, make_user, country=country, slug="form-mug", names=names, locale=locale, viewport=viewport
    )
    page = context.new_page()
    try:
        _to_checkout(page, live_server.url, mug.product_id)
        rtl = page.get_attribute("html", "dir") == "rtl"
        assert rtl == (language == "ar")
        standard_eta = page.inner_text("[data-testid=eta]")

        # 1. Express, then a coupon that does not exist: the totals stay Express's, the coupon says why.
        page.check("input[name=shipping_option][value=express]")
        page.wait_for_function(
            "standard => document.querySelector('[data-testid=eta]').textContent.trim() !== standard",
            arg=standard_eta,
        )
        express_eta = page.inner_text("[data-testid=eta]")
        express_total = page.inner_text("[data-testid=total]")
        assert express_eta in page.inner_text("#option-eta-express")
        page.fill("[data-testid=coupon]", "NOPE2026")
        page.press("[data-testid=coupon]", "Tab")
        no_such_coupon = _said(language, "There is no such coupon.")
        page.wait_for_function(
            "said => document.querySelector('#error-coupon').textContent.trim() === said", arg=no_such_coupon
        )
        assert page.is_checked("input[name=shipping_option][value=express]")
        assert page.inner_text("[data-testid=eta]") == express_eta
        assert page.inner_text("[data-testid=total]") == express_total
        # Marked once htmx has settled the swap, a moment after the error's text is in.
        page.wait_for_function("() => document.querySelector('[data-testid=coupon]').ariaInvalid === 'true'")
        page.screenshot(path=str(artifacts_dir / f"form-coupon-{language}.png"), full_page=True)

        # 2. Submitted empty (the coupon still wrong): every error at once, each under its own field.
        page.check("[data-testid=pay-test]")
        page.click("[data-testid=place-order]")
        page.wait_for_selector("[data-testid=email-error]")
        page.screenshot(path=str(artifacts_dir / f"form-errors-{language}.png"), full_page=True)
        assert page.evaluate("document.activeElement.name") == "email"
        required = _said(language, "This field is required.")
        for name in empty:
            field = page.locator(f"[data-testid={name}]")
            assert field.get_attribute("aria-invalid") == "true", name
            error = page.locator(f"#{field.get_attribute('aria-describedby')}")
            assert error.get_attribute("data-testid") == f"{name}-error"
            if name != "email":
                assert error.inner_text().strip() == required, name
            field_box, error_box = _box(page, f"[data-testid={name}]"), _box(page, f"[data-testid={name}-error]")
            assert error_box["y"] >= field_box["y"] + field_box["height"] - 1, f"{name}'s error is not under it"
            # Starts where its field starts: the right edge when read right to left.
            if rtl:
                start_gap = (field_box["x"] + field_box["width"]) - (error_box["x"] + error_box["width"])
            else:
                start_gap = error_box["x"] - field_box["x"]
            assert abs(start_gap) < 2, f"{name}'s error does not line up with its field ({start_gap}px)"
            # Not running into the next label.
            following = next(
                n for n in PAGE_ORDER[PAGE_ORDER.index(name) + 1 :] if page.locator(f"[data-testid={n}]").count()
            )
            label_box = _box(page, f"label:has([data-testid={following}]) .field-label")
            assert label_box["y"] >= error_box["y"] + error_box["height"] - 1, f"{name}'s error runs into {following}"
            # An error by more than its colour: an icon before the words.
            icon = page.locator(f"[data-testid={name}-error]").evaluate(
                "el => getComputedStyle(el, '::before').content"
            )
            assert icon not in ("none", "normal", ""), name
        assert page.inner_text("#error-coupon").strip() == no_such_coupon
        assert "NOPE2026" not in page.inner_text("#error-coupon")
        # The totals are still Express's, as ticked.
        assert page.is_checked("input[name=shipping_option][value=express]")
        assert page.inner_text("[data-testid=eta]") == express_eta
    finally:
        context.close()


def test_back_after_paying_and_placing_again_shows_the_order(
    chromium, live_server, use_region, settings, make_user, artifacts_dir
):
    """The order placed through the API and paid at once (the test provider); Back to the form and
    "Place order" again: the shopper is shown that order with a notice, not "already paid"."""
    use_region("eu-west")
    context, mug = _mug_shop_and_browser(
        chromium, settings, make_user, country="IE", slug="form-back", names={"en": "Mug"}, locale="en-IE"
    )
    page = context.new_page()
    try:
        _to_checkout(page, live_server.url, mug.product_id)
        fields = {"email": "jonas@example.test", "name": "Jonas", "line1": "1 Main St", "city": "Dublin"}
        for name, value in {**fields, "postal_code": "D02 X285"}.items():
            page.fill(f"[data-testid={name}]", value)
        page.check("[data-testid=pay-test]")
        page.click("[data-testid=place-order]")
        page.wait_for_selector("[data-testid=confirmation]")
        order_url = page.url

        page.go_back()
        page.wait_for_selector("[data-testid=place-order]")
        page.click("[data-testid=place-order]")

        page.wait_for_selector("[data-testid=confirmation]")
        assert page.url == order_url
        assert "You have already placed this order. Here it is." in page.inner_text(".messages")
        assert "already paid" not in page.inner_text("body")
        page.screenshot(path=str(artifacts_dir / "form-placed-again.png"), full_page=True)
    finally:
        context.close()


def test_a_field_s_error_goes_once_the_shopper_fills_it(chromium, live_server, use_region, settings, make_user):
    """Submitted empty, then filled in: each field the shopper edits loses its error (the others keep
    theirs), and the "Check the delivery details" banner goes with the last one."""
    use_region("eu-west")
    context, mug = _mug_shop_and_browser(
        chromium, settings, make_user, country="IE", slug="form-clear", names={"en": "Mug"}, locale="en-IE"
    )
    page = context.new_page()
    banner = page.locator(".messages li.error", has_text="Check the delivery details.")
    try:
        _to_checkout(page, live_server.url, mug.product_id)
        page.check("[data-testid=pay-test]")
        page.click("[data-testid=place-order]")
        page.wait_for_selector("[data-testid=email-error]")
        assert banner.is_visible()
        empty = ("email", "name", "line1", "city", "postal_code")
        for name in empty:
            assert page.get_attribute(f"[data-testid={name}]", "aria-invalid") == "true", name

        page.fill("[data-testid=name]", "Jonas")
        assert page.locator("[data-testid=name-error]").count() == 0
        assert page.locator("#error-name").count() == 0
        assert page.get_attribute("[data-testid=name]", "aria-invalid") is None
        assert page.get_attribute("[data-testid=name]", "aria-describedby") is None
        for name in ("email", "line1", "city", "postal_code"):
            field = page.locator(f"[data-testid={name}]")
            assert field.get_attribute("aria-invalid") == "true", name
            assert field.get_attribute("aria-describedby") == f"error-{name}", name
            assert page.inner_text(f"[data-testid={name}-error]").strip(), name
        assert page.inner_text("[data-testid=city-error]").strip() == "This field is required."
        assert banner.is_visible()

        for name, value in {"email": "jonas@example.test", "line1": "1 Main St", "city": "Dublin"}.items():
            page.fill(f"[data-testid={name}]", value)
        assert banner.is_visible()  # the postal code is still wrong
        page.fill("[data-testid=postal_code]", "D02 X285")
        assert page.locator(".field-error:not(:empty)").count() == 0
        assert page.locator("[aria-invalid=true]").count() == 0
        assert banner.is_hidden()
    finally:
        context.close()
