"""My orders in Arabic in a real browser: the table's cells keep room between the columns on the
side the text starts and ends (right to left), and on a 375 px phone the rows are still cards."""

from __future__ import annotations

import pytest

from apps.accounts import services as accounts
from tests.browser.test_order_refund_shown import _paid_order
from tests.live.conftest import session_key_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each cell of the table's header and first row: its display and its padding, physical and logical.
CELLS = """() => [...document.querySelectorAll('.my-orders table tr:is(thead tr, [data-testid=order-row]) > *')]
    .slice(0, 10).map((cell) => {
        const style = getComputedStyle(cell);
        return {tag: cell.tagName, display: style.display, start: parseFloat(style.paddingInlineStart),
                end: parseFloat(style.paddingInlineEnd), right: parseFloat(style.paddingRight),
                left: parseFloat(style.paddingLeft)};
    })"""


def test_arabic_my_orders_columns_have_room_between_them(
    chromium, live_server, use_region, settings, artifacts_dir, payment_settings
):
    region = use_region("me-south")
    shopper = accounts.user_create(
        region=region, email="mariam@example.test", password=None, country="AE", language="ar", currency="AED"
    )
    _paid_order(shopper)

    page = chromium.new_page(locale="ar-AE", viewport={"width": 1280, "height": 900})
    page.context.add_cookies([{"name": "sessionid", "value": session_key_for(shopper), "url": live_server.url}])
    page.goto(live_server.url + "/orders/")
    assert page.get_attribute("html", "dir") == "rtl"
    cells = page.evaluate(CELLS)
    assert len(cells) == 10 and {c["tag"] for c in cells} == {"TH", "TD"}
    for cell in cells:
        assert cell["display"] == "table-cell", cell
        # More than the browser's own 1 px, which lets Arabic words of two columns run together.
        assert cell["start"] >= 8 and cell["end"] >= 8, cell
        # Right to left, the inline start is the right: the logical padding lands on the right side.
        assert (cell["right"], cell["left"]) == (cell["start"], cell["end"]), cell
    page.screenshot(path=str(artifacts_dir / "my-orders-padding-ar.png"), full_page=True)

    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(live_server.url + "/orders/")
    cards = page.evaluate(CELLS)
    # The phone's cards: one cell a line, spaced by the card itself, not by the table's padding.
    assert {c["display"] for c in cards if c["tag"] == "TD"} <= {"block", "flex"}
    wide = max(c["start"] for c in cells)
    assert all(c["start"] < wide and c["end"] < wide for c in cards if c["tag"] == "TD"), cards
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts_dir / "my-orders-cards-ar.png"), full_page=True)
    page.close()
