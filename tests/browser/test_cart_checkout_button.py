"""The cart's way to checkout in a real browser: the page's primary button, styled as "Place order" is,
reachable and visibly focused from the keyboard, and on the start side in Arabic (right to left)."""

from __future__ import annotations

import pytest

from tests.browser.test_checkout import _shop_selling

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What makes a button look like one; the same for the cart's link and the checkout's submit button.
BUTTON_LOOK = """(el) => {
    const style = getComputedStyle(el);
    return {background: style.backgroundColor, color: style.color, radius: style.borderRadius,
            padding: style.padding, font: style.fontSize + ' ' + style.fontWeight, underline: style.textDecorationLine,
            display: style.display};
}"""


def test_the_carts_checkout_is_the_primary_button_and_takes_the_keyboard(
    chromium, live_server, use_region, settings, make_user, artifacts_dir, payment_settings
):
    use_region("me-south")  # Arabic first: right to left
    [dates] = _shop_selling(
        make_user, "AE", ("medjool-dates", 4500, {"ar": "تمر مجدول", "en": "Medjool dates"}), units=9
    )

    page = chromium.new_page(locale="ar-AE", viewport={"width": 1280, "height": 800})
    page.goto(live_server.url + f"/products/{dates.product_id}/")
    page.click("[data-testid=add-to-cart] button")
    page.wait_for_selector("[data-testid=cart]")
    assert page.get_attribute("html", "dir") == "rtl"

    checkout = page.locator("[data-testid=to-checkout]")
    cart_look = checkout.evaluate(BUTTON_LOOK)
    assert cart_look["underline"] == "none" and cart_look["display"] == "inline-block"
    # On the start side of the page, which is the right in Arabic.
    title = page.locator("[data-testid=cart] h1").bounding_box()
    box = checkout.bounding_box()
    assert abs((box["x"] + box["width"]) - (title["x"] + title["width"])) < 2

    # Tab to it: the focus ring shows, and Enter follows it.
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.testid") == "to-checkout":
            break
    else:
        pytest.fail("the checkout button is not reachable with Tab")
    ring = checkout.evaluate(
        "(el) => { const s = getComputedStyle(el); return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    assert ring[0] != "none" and ring[1] >= 2, ring
    page.screenshot(path=str(artifacts_dir / "cart-checkout-button-ar.png"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    place_order = page.locator("[data-testid=place-order]")
    assert place_order.evaluate(BUTTON_LOOK) == cart_look
    page.close()
