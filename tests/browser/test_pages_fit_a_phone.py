"""Every shopper page on a 375 px phone in a real browser: nothing makes the page scroll sideways and nothing
sticks out of the screen, in Arabic (right to left), Thai (no spaces between words), Malay and German (long
words), with a signed-in shopper who has an order and a line in the cart."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import gettext

from apps.accounts import services as accounts
from apps.catalog.models import Variant
from apps.live.models import LiveRoom
from apps.money.services import fx_rates_update
from apps.orders import services as orders
from apps.orders.models import Order
from apps.orders.selectors import Shopper
from tests.live.conftest import session_key_for
from tests.money.factories import todays_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 740}

# Where each region's shopper lives: the address the order goes to (Thailand's needs its province).
DELIVERY = {
    "me-south": {"name": "عائشة الحمادي", "line1": "Sheikh Zayed Rd 1", "city": "Dubai", "country": "AE",
                 "phone": "050 123 4567"},
    "ap-southeast": {"name": "สมชาย ใจดี", "line1": "1 ถนนสุขุมวิท", "city": "กรุงเทพมหานคร", "state": "TH-10",
                     "postal_code": "10110", "country": "TH"},
    "eu-west": {"name": "Anna Käufer", "line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115",
                "country": "DE"},
}  # fmt: skip

# Every visible element whose box, once clipped by the ancestors that clip (a scrolling box, the live
# stage), still reaches past either side of the screen. Visually hidden labels (1 px, clipped) never do.
OUTSIDE = """() => {
    const width = window.innerWidth;
    const clips = (el) => getComputedStyle(el).overflowX !== 'visible';
    const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
        + (el.dataset.testid ? '[' + el.dataset.testid + ']' : '');
    const outside = [];
    for (const el of document.body.querySelectorAll('*')) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
        let left = box.left, right = box.right;
        for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
            if (clips(up)) {
                const frame = up.getBoundingClientRect();
                left = Math.max(left, frame.left);
                right = Math.min(right, frame.right);
            }
        }
        if (right - left <= 0) continue;
        if (left < -0.5 || right > width + 0.5) {
            outside.push({element: name(el), left: Math.round(left), right: Math.round(right),
                          text: (el.innerText || '').trim().slice(0, 40)});
        }
    }
    return outside;
}"""

# The header's short labels (Shop, Cart, My orders, Time zone, Sign out), each squeezed to its narrowest as a
# crowded header row would: still one line. Thai has no spaces, so a label that may break at its words would
# stack "คำสั่งซื้อของฉัน" (My orders) one word a line.
BROKEN_LABELS = """() => Array.from(document.querySelectorAll('.shop-nav > a, .preferences a, .account a')).filter((el) => {
    const width = el.style.width;
    el.style.width = 'min-content';
    const lines = el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight);
    el.style.width = width;
    return lines >= 1.8;
}).map((el) => el.innerText.trim())"""


def _shopper_with_an_order_and_a_cart(region, language: str, rates_path):
    """The seeded demo shop, today's rates, and a signed-in shopper with a paid order and a line in the cart."""
    call_command("seed_demo", verbosity=0, stdout=io.StringIO())
    # The shopper's own currency (THB, AED) is offered only while the day's rates are fresh.
    fx_rates_update(provider=todays_provider(rates_path))
    address = DELIVERY[region.code]
    country = region.country(address["country"])
    shopper = accounts.user_create(
        region=region,
        email="shopper@example.test",
        password=None,
        country=address["country"],
        language=language,
        currency=country.currency,
    )
    variant = Variant.objects.filter(is_active=True, product__is_active=True).order_by("pk").first()
    cart = orders.cart_for(user=shopper)
    orders.cart_line_add(cart=cart, variant_id=variant.pk, quantity=2, country=address["country"])
    order = orders.checkout_place(
        cart=cart,
        idempotency_key=f"phone-{region.code}",
        shopper=Shopper(
            country=address["country"],
            currency=country.currency,
            language=language,
            time_zone=country.time_zone,
            state=address.get("state", ""),
        ),
        email=shopper.email,
        address=address,
        shipping_option="standard",
        payment_provider="test",
        payment_method="test",
        user=shopper,
    )
    orders.order_pay(order=order)
    orders.cart_line_add(
        cart=orders.cart_for(user=shopper), variant_id=variant.pk, quantity=1, country=address["country"]
    )
    return shopper, variant.product, Order.objects.get(pk=order.pk)


@pytest.mark.parametrize(
    ("code", "languages"),
    [
        pytest.param("me-south", ["ar"], id="ar"),
        pytest.param("ap-southeast", ["th", "ms"], id="th-ms"),
        pytest.param("eu-west", ["de"], id="de"),
    ],
)
def test_no_page_scrolls_sideways_on_a_phone(
    chromium, live_server, use_region, settings, code, languages, artifacts_dir, tmp_path, payment_settings
):
    region = use_region(code)
    shopper, product, order = _shopper_with_an_order_and_a_cart(region, languages[0], tmp_path / "rates.xml")
    room = LiveRoom.objects.order_by("pk").first()
    pages = {
        "home": "/",
        "products": "/products/",
        "product": product.get_absolute_url(),
        "cart": "/cart/",
        "checkout": "/checkout/",
        "order": f"/orders/{order.reference}/",
        "my-orders": "/orders/",
        "preferences": "/accounts/preferences/",
        "live-room": f"/live/{room.slug}/",
    }

    context = chromium.new_context(viewport=PHONE)
    context.add_cookies([{"name": "sessionid", "value": session_key_for(shopper), "url": live_server.url}])
    page = context.new_page()
    problems = []
    for language in languages:
        # The signed-in shopper's own language wins over the cookie: change it as the preferences page does.
        accounts.shopper_preferences_update(user=shopper, region=region, language=language)
        for name, path in pages.items():
            page.goto(live_server.url + path)
            where = f"{code} {language} {name}"
            assert page.get_attribute("html", "lang") == language, where
            scroll = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            outside = page.evaluate(OUTSIDE)
            broken = page.evaluate(BROKEN_LABELS)
            fits = scroll[0] <= scroll[1] and not outside and not broken
            if not fits:
                problems.append((where, scroll, outside[:6], broken))
            if not fits or name in {"product", "cart", "my-orders"}:
                page.screenshot(path=str(artifacts_dir / f"phone-{code}-{language}-{name}.png"), full_page=True)
            if name == "my-orders":
                # One card an order: the total under the other cells, with its column's name beside it.
                cells = page.locator("[data-testid=order-row] td[data-label]").all()
                placed, total = cells[0], cells[-1]
                assert total.bounding_box()["y"] > placed.bounding_box()["y"] + placed.bounding_box()["height"] - 1
                with translation.override(language):
                    assert total.evaluate("td => getComputedStyle(td, '::before').content").startswith(
                        f'"{gettext("Total")}"'
                    ), where
    context.close()
    assert not problems, "\n".join(map(str, problems))
