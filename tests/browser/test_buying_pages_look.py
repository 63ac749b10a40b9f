"""The buying pages as a shopper sees them in a real browser, measured rather than pictured: the
totals read as a receipt (labels at the start, amounts lined up at the end), the cart's columns
keep apart on a desktop, a split order's parcels each get a line in My orders, everything a
thumb taps is at least 40 px tall on a phone, and the payment page says what is being paid.

Arabic (right to left, me-south) for the layout, Thai (ap-southeast) for the phone's tap targets.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone, translation

from apps.accounts import services as accounts
from apps.accounts.models import User
from apps.catalog import services as catalog
from apps.money.formatting import format_money
from apps.money.services import fx_rates_update
from apps.orders import services
from apps.orders.models import Order
from apps.orders.selectors import Shopper
from tests.catalog.factories import make_product
from tests.live.conftest import session_key_for
from tests.money.factories import todays_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
FAKE_STRIPE_JS = Path(__file__).with_name("fake_stripe.js")

SHOPPERS = {
    "ar": ("me-south", "AE", "AED", {"name": "عائشة الحمادي", "line1": "Sheikh Zayed Rd 1", "city": "Dubai",
                                     "country": "AE", "phone": "050 123 4567"}),
    "th": ("ap-southeast", "TH", "THB", {"name": "สมชาย ใจดี", "line1": "1 ถนนสุขุมวิท", "city": "กรุงเทพมหานคร",
                                         "state": "TH-10", "postal_code": "10110", "country": "TH"}),
}  # fmt: skip

# A name long enough to wrap on a phone and to push the totals' amounts far from their labels.
LONG_NAME = "Théière en fonte émaillée artisanale avec infuseur amovible et poignée en bois de noyer massif"

# Where the text of each cell of ``table`` starts and ends, row by row, in the table's writing direction
# (``start``/``end`` are x: the right and left edges right to left). The text's own box, not the cell's:
# a cell is as wide as its column whatever its text's alignment.
TEXT_EDGES = """(table) => {
    const rtl = getComputedStyle(table).direction === 'rtl';
    return [...table.rows].map((row) => [...row.cells].map((cell) => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const box = range.getBoundingClientRect();
        return {text: cell.innerText.trim(), start: rtl ? box.right : box.left, end: rtl ? box.left : box.right};
    }));
}"""


def _shop(use_region, settings, code: str, tmp_path: Path, *, with_stripe_order: bool = False):
    """A shop of two warehouses (packed in 1 and 4 days) selling four products, the first with a long name;
    coupon SAVE10; and a shopper of ``code`` with a paid order of all four, packed in two parcels, and all four
    in the cart again. With ``with_stripe_order``, also an order waiting to be paid by card (Stripe keys set).
    Returns the shopper, the split order and the unpaid order (or None)."""
    region_code, country, currency, address = SHOPPERS[code]
    region = use_region(region_code)
    fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    owner = accounts.user_create(region=region, email="owner@shop.test", password=None)
    merchant = accounts.merchant_create(name="Shop", country=country, owner=owner)
    fast = catalog.warehouse_create(merchant=merchant, code="fast", name="Fast", country=country, handling_days=1)
    slow = catalog.warehouse_create(merchant=merchant, code="slow", name="Slow", country=country, handling_days=4)
    variants = []
    for number, name in enumerate([LONG_NAME, "Mug", "Lamp", "Teapot"]):
        names = {region.default_language: name, code: name}
        variant = make_product(merchant, f"look-item-{number}", price_minor=4500 + number * 1000, names=names)
        variant = variant.variants.get()
        catalog.stock_set(variant=variant, warehouse=slow if number % 2 else fast, quantity=50)
        variants.append(variant)
    now = timezone.now()
    services.coupon_create(
        code="SAVE10", percent_off=10, valid_from=now - dt.timedelta(days=1), valid_until=now + dt.timedelta(days=30)
    )
    shopper = accounts.user_create(
        region=region, email="shopper@example.test", password=None, country=country, language=code, currency=currency
    )
    bought_as = Shopper(
        country=country,
        currency=currency,
        language=code,
        time_zone=region.country(country).time_zone,
        state=address.get("state", ""),
    )

    def order_of(variants, key: str, provider: str, method: str, **fields) -> Order:
        cart = services.cart_for(user=shopper)
        for variant in variants:
            services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=1, country=country)
        placed = services.checkout_place(
            cart=cart, idempotency_key=key, shopper=bought_as, email=shopper.email, address=address,
            shipping_option="standard", payment_provider=provider, payment_method=method, user=shopper, **fields,
        )  # fmt: skip
        services.order_pay(order=placed)
        return Order.objects.get(pk=placed.pk)

    # The labelled test provider stands in only while no Stripe key is set.
    stripe_key, settings.STRIPE_SECRET_KEY = settings.STRIPE_SECRET_KEY, None
    # Placed in the shopper's language, as the checkout page places it: the order keeps the names it was shown.
    with translation.override(code):
        split = order_of(variants, "look-split", "test", "test", coupon_code="SAVE10")
    settings.STRIPE_SECRET_KEY = stripe_key
    operator = User.objects.create_superuser(email="operator@livemall.test", password="a-long-test-password")
    assert len(services.order_fulfil(order=split, actor=operator)) == 2
    with translation.override(code):
        unpaid = order_of(variants[1:2], "look-stripe", "stripe", "card") if with_stripe_order else None
    cart = services.cart_for(user=shopper)
    for variant in variants:
        services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=1, country=country)
    return shopper, split, unpaid


def _page(chromium, live_server, shopper, viewport: dict):
    context = chromium.new_context(viewport=viewport)
    context.add_cookies([{"name": "sessionid", "value": session_key_for(shopper), "url": live_server.url}])
    return context.new_page()


def _assert_receipt(rows: list[list[dict]], where: str) -> None:
    """Every label starts where the others do (the total's <th> too) and every amount ends where the others do."""
    labels = [row[0] for row in rows if len(row) == 2]
    amounts = [row[1] for row in rows if len(row) == 2]
    assert len(amounts) >= 5, rows
    assert max(c["start"] for c in labels) - min(c["start"] for c in labels) < 1, (where, labels)
    assert max(c["end"] for c in amounts) - min(c["end"] for c in amounts) < 1, (where, amounts)


def test_totals_read_as_a_receipt_right_to_left(
    chromium, live_server, use_region, settings, tmp_path, payment_settings, artifacts_dir
):
    shopper, split, _ = _shop(use_region, settings, "ar", tmp_path)
    page = _page(chromium, live_server, shopper, PHONE)
    page.goto(live_server.url + "/checkout/?coupon=SAVE10")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.locator("[data-testid=discount]").is_visible()
    _assert_receipt(page.locator("[data-testid=totals]").evaluate(TEXT_EDGES), "checkout")
    page.screenshot(path=str(artifacts_dir / "look-checkout-totals-ar.png"), full_page=True)

    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + f"/orders/{split.reference}/")
    _assert_receipt(page.locator("table.totals").evaluate(TEXT_EDGES), "order")
    page.context.close()


def test_the_cart_s_columns_keep_apart_on_a_desktop(
    chromium, live_server, use_region, settings, tmp_path, payment_settings
):
    shopper, _split, _ = _shop(use_region, settings, "ar", tmp_path)
    page = _page(chromium, live_server, shopper, DESKTOP)
    page.goto(live_server.url + "/cart/")
    header, *lines = page.locator("table.cart-lines").evaluate(TEXT_EDGES)
    assert len(lines) == 4
    for line in lines:
        # Each header starts where its column's text does, not centred over it.
        assert all(abs(h["start"] - c["start"]) < 1 for h, c in zip(header, line, strict=True)), (header, line)
        # The price and the line's total: two amounts, not one run of digits (right to left, the total is left).
        price, total = line[2], line[3]
        assert price["end"] - total["start"] >= 16, line
    page.context.close()


def test_a_split_order_gives_each_parcel_a_line_in_my_orders(
    chromium, live_server, use_region, settings, tmp_path, payment_settings, artifacts_dir
):
    shopper, split, _ = _shop(use_region, settings, "ar", tmp_path)
    page = _page(chromium, live_server, shopper, DESKTOP)
    page.goto(live_server.url + "/orders/")
    row = page.locator("[data-testid=order-row]").filter(has_text=split.reference)
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        first, second = (row.locator("[data-testid=parcel-eta]").nth(n).bounding_box() for n in (0, 1))
        where = viewport["width"]
        assert second["y"] >= first["y"] + first["height"] - 1, (where, first, second)  # a line each
        # Both days end on one edge (a card's values sit at its end): the second never wraps to the start.
        assert abs((first["x"]) - (second["x"])) < 1, (where, first, second)
        # "Parcel 1" set off from its day, or Thai's "พัสดุ 1 2 ธ.ค." reads as one number.
        name_colour = row.locator(".parcel-name").first.evaluate("el => getComputedStyle(el).color")
        day_colour = row.locator("[data-testid=parcel-eta]").first.evaluate("el => getComputedStyle(el).color")
        assert name_colour != day_colour
        page.screenshot(path=str(artifacts_dir / f"look-my-orders-split-ar-{where}.png"), full_page=True)
    page.context.close()


# Every control a shopper taps in ``main`` whose box is less than 40 px tall (a radio counts by its label).
SMALL_TARGETS = """(selectors) => [...document.querySelectorAll(selectors)].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height < 40;
}).map((el) => el.tagName + ' ' + (el.name || el.innerText || '').trim().slice(0, 30)
          + ' ' + Math.round(el.getBoundingClientRect().height))"""


def test_what_a_thumb_taps_is_at_least_40_px_tall(
    chromium, live_server, use_region, settings, tmp_path, payment_settings
):
    shopper, split, _ = _shop(use_region, settings, "th", tmp_path)
    page = _page(chromium, live_server, shopper, PHONE)
    checkout = "main .field :is(input, select), main label:has(> input[type=radio]), main button"
    small = {}
    for path, selectors in [
        ("/cart/", "main input[type=number], main button, main a.button"),
        ("/orders/", "main [data-testid=order-reference] a"),
        (f"/orders/{split.reference}/", "main a"),
        ("/checkout/", checkout),
    ]:
        page.goto(live_server.url + path)
        assert page.locator(selectors).count() > 0, path
        small[path] = page.evaluate(SMALL_TARGETS, selectors)
    # A touch screen as wide as a desktop: each radio's label on one line, as short as a label gets.
    page.set_viewport_size(DESKTOP)
    assert page.locator("main label:has(> input[type=radio])").count() >= 3
    small["/checkout/ (1280 px)"] = page.evaluate(SMALL_TARGETS, checkout)
    page.context.close()
    assert not any(small.values()), small


def test_the_payment_page_says_what_is_paid(chromium, live_server, use_region, settings, tmp_path, stripe_fake):
    settings.PAYMENT_TEST_PROVIDER = True
    settings.PAYPAL_CLIENT_ID = None
    shopper, _split, unpaid = _shop(use_region, settings, "ar", tmp_path, with_stripe_order=True)
    page = _page(chromium, live_server, shopper, PHONE)
    script = FAKE_STRIPE_JS.read_text().replace("__FAKE_STRIPE_API__", stripe_fake.url)
    page.route("https://js.stripe.com/**", lambda route: route.fulfill(content_type="text/javascript", body=script))
    page.goto(live_server.url + f"/orders/{unpaid.reference}/pay")
    assert page.url.endswith("/pay")
    pay = page.locator("[data-testid=pay]")
    assert pay.locator("[data-testid=order-reference]").inner_text() == unpaid.reference
    total = " ".join(pay.locator("[data-testid=total]").inner_text().split())
    assert total == " ".join(format_money(unpaid.total_minor, "AED", "ar_AE").split())
    page.context.close()
