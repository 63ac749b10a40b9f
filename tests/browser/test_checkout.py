"""Checkout in the browser: the test provider in Singapore, Stripe's Payment Element in Germany."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from apps.accounts import services as accounts
from apps.catalog import services as catalog
from apps.money.formatting import format_day
from apps.orders.models import Order
from apps.payments.models import Payment, WebhookEvent
from tests.catalog.factories import make_product
from tests.live.conftest import session_key_for
from tests.payments.fakes import closed_port_url, stripe_signature

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shop_selling(make_user, country: str, *products: tuple[str, int, dict[str, str]], units: int) -> list:
    """A merchant in ``country`` whose one warehouse holds ``units`` of each (slug, price, names): their variants."""
    owner = make_user(email=f"owner@{country.lower()}-shop.test")
    merchant = accounts.merchant_create(name=f"{country} Shop", country=country, owner=owner)
    warehouse = catalog.warehouse_create(merchant=merchant, code=country.lower(), name="Main", country=country)
    variants = []
    for slug, price_minor, names in products:
        variant = make_product(merchant, slug, price_minor=price_minor, names=names).variants.get()
        catalog.stock_set(variant=variant, warehouse=warehouse, quantity=units)
        variants.append(variant)
    return variants


def _to_checkout(page, base_url: str, product_id: int, *, quantity: int | None = None) -> None:
    """From the product page: put it in the cart (``quantity`` typed if given) and go to checkout."""
    page.goto(base_url + f"/products/{product_id}/")
    if quantity is not None:
        page.fill("[data-testid=add-quantity]", str(quantity))
    page.click("[data-testid=add-to-cart] button")
    page.wait_for_selector("[data-testid=cart]")
    page.click("[data-testid=to-checkout]")


def _serve_fake_stripe_js(page, api_url: str) -> None:
    """Stripe.js from tests/browser/fake_stripe.js, talking to the local fake Stripe API."""
    script = FAKE_STRIPE_JS.read_text().replace("__FAKE_STRIPE_API__", api_url)
    page.route("https://js.stripe.com/**", lambda route: route.fulfill(content_type="text/javascript", body=script))


def _fill_delivery(page, **fields: str) -> None:
    """Type the checkout form's fields (``data-testid`` = value) in the order given, as a shopper would."""
    for name, value in fields.items():
        field = page.locator(f"[data-testid={name}]")
        # The state is a select wherever the region lists the country's states (the US's, Malaysia's).
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def _checkout_filled_in(page, base_url: str, product_id: int, *, payment: str, **delivery: str) -> None:
    """From the product page to a checkout ready to place: the ``delivery`` fields typed (as
    ``_fill_delivery``) and the payment method ``payment`` (a selector) ticked."""
    _to_checkout(page, base_url, product_id)
    _fill_delivery(page, **delivery)
    page.check(payment)


# A delivery address in Singapore, where the test provider's shoppers live.
ORCHARD_ROAD = {"line1": "1 Orchard Road", "city": "Singapore", "postal_code": "238823"}


def test_sg_shopper_checks_out_with_the_test_provider(
    chromium, live_server, use_region, settings, artifacts_dir, make_user, payment_settings
):
    use_region("ap-southeast")
    variants = _shop_selling(
        make_user, "SG", ("kaya-jar", 1290, {"en": "Kaya Jar"}), ("batik-scarf", 4590, {"en": "Batik Scarf"}), units=5
    )

    page = chromium.new_page(locale="en-SG", viewport={"width": 1280, "height": 900})
    # The product page's own "add to cart" for the first; the cart API, in the same session, for the second.
    page.goto(live_server.url + f"/products/{variants[0].product_id}/")
    page.fill("[data-testid=add-quantity]", "2")
    page.click("[data-testid=add-to-cart] button")
    page.wait_for_selector("[data-testid=cart]")
    status = page.evaluate(
        """async ([variant, quantity]) => (await fetch('/api/v1/cart/lines', {method: 'POST',
             headers: {'Content-Type': 'application/json', 'X-CSRFToken': document.cookie.match(/csrftoken=([^;]+)/)?.[1] || ''},
             body: JSON.stringify({variant, quantity})})).status""",
        [variants[1].pk, 1],
    )
    assert status == 201

    page.click("[data-testid=cart-link]")
    assert page.locator("[data-testid=cart-line]").count() == 2
    page.click("[data-testid=to-checkout]")
    _fill_delivery(page, email="tan@example.test", name="Tan Wei", **ORCHARD_ROAD)
    page.check("[data-testid=pay-test]")
    page.screenshot(path=str(artifacts_dir / "checkout-sg.png"), full_page=True)
    page.click("[data-testid=place-order]")

    page.wait_for_selector("[data-testid=confirmation]")
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    assert order.total_minor == 2 * 1290 + 4590  # GST included, free standard shipping from SGD 60.00
    eta = format_day(order.eta, "en_SG")
    assert page.inner_text("[data-testid=eta]") == eta
    page.screenshot(path=str(artifacts_dir / "order-confirmation-sg.png"), full_page=True)

    page.goto(live_server.url + "/orders/")
    row = page.locator("[data-testid=order-row]")
    assert row.count() == 1
    assert row.locator("[data-testid=eta]").inner_text() == eta
    assert row.locator("[data-testid=status]").inner_text() == "Paid"
    page.close()


FAKE_STRIPE_JS = Path(__file__).with_name("fake_stripe.js")


def test_de_shopper_pays_with_the_stripe_payment_element(
    chromium, live_server, use_region, settings, artifacts_dir, make_user, stripe_fake
):
    """Declined card, failed 3-D Secure, then a 3-D Secure card that passes: paid once, webhook or not."""
    use_region("eu-west")
    stripe_api = stripe_fake
    settings.PAYPAL_CLIENT_ID = None
    settings.PAYMENT_TEST_PROVIDER = False
    (teapot,) = _shop_selling(make_user, "DE", ("teekanne", 3490, {"en": "Teapot", "de": "Teekanne"}), units=3)

    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    page = chromium.new_page(locale="de-DE", viewport={"width": 1280, "height": 900})
    # The edge's country header on our own pages only: on Stripe.js's calls it would need a CORS preflight.
    page.route(
        live_server.url + "/**",
        lambda route: route.continue_(headers={**route.request.headers, "cf-ipcountry": "DE"}),
    )
    _serve_fake_stripe_js(page, stripe_api.url)
    try:
        _checkout_filled_in(
            page,
            live_server.url,
            teapot.product_id,
            payment="[data-testid=pay-stripe]",
            email="anna@example.test",
            name="Anna Käufer",
            line1="Hauptstraße 1",
            city="Berlin",
            postal_code="10115",
        )
        page.click("[data-testid=place-order]")

        page.wait_for_selector("[data-testid=pay] [data-testid=card-number]")
        order = Order.objects.get()
        assert page.url == f"{live_server.url}/orders/{order.reference}/pay"
        assert page.evaluate("window.fakeStripeOptions.locale") == "de"
        message = page.locator("#payment-message")

        page.fill("[data-testid=card-number]", "4000 0000 0000 0002")
        page.click("#pay-submit")
        page.wait_for_function("document.getElementById('payment-message').textContent !== ''")
        assert message.inner_text() == "Your card was declined."

        page.fill("[data-testid=card-number]", "4000 0027 6000 3184")
        page.click("#pay-submit")
        page.click("[data-testid=fake-3ds-fail]")
        page.wait_for_function("document.getElementById('payment-message').textContent.includes('authenticate')")
        order.refresh_from_db()
        assert order.status == Order.Status.CREATED

        page.fill("[data-testid=card-number]", "4000 0027 6000 3184")
        page.click("#pay-submit")
        page.screenshot(path=str(artifacts_dir / "pay-3ds-de.png"), full_page=True)
        page.click("[data-testid=fake-3ds-complete]")

        page.wait_for_selector("[data-testid=confirmation]")
        assert page.url == f"{live_server.url}/orders/{order.reference}/"  # the provider's parameters are gone
        order.refresh_from_db()
        assert order.status == Order.Status.PAID
        assert order.total_minor == 3490 + order.shipping_minor
        page.screenshot(path=str(artifacts_dir / "order-paid-stripe-de.png"), full_page=True)

        # Stripe's webhook arrives after the shopper came back: it changes nothing.
        intent = stripe_api.intents[Payment.objects.get().provider_payment_id]
        body = json.dumps(
            {"id": "evt_browser_1", "type": "payment_intent.succeeded", "data": {"object": intent}}
        ).encode()
        answer = requests.post(
            live_server.url + "/api/v1/payments/webhooks/stripe/",
            data=body,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_signature(body, settings.STRIPE_WEBHOOK_SECRET),
            },
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        order.refresh_from_db()
        assert order.status == Order.Status.PAID
        assert order.events.filter(to_status=Order.Status.PAID).count() == 1
        assert WebhookEvent.objects.get().result == "no change: succeeded stays"
    finally:
        page.close()


def test_a_buyer_too_late_for_a_flash_sale_is_told_on_the_checkout_page(
    chromium, asgi_url, use_region, settings, artifacts_dir, make_user, payment_settings
):
    """The page places the order through the API; the checkout's door answers "sold out" before Django."""
    from apps.orders import gate, services

    use_region("ap-southeast")
    (variant,) = _shop_selling(make_user, "SG", ("flash-sneaker", 8900, {"en": "Flash sneaker"}), units=1)

    # Signed in: the page's API calls carry the CSRF token, as Django requires of a session.
    shopper = make_user(email="late@example.test")
    page = chromium.new_page(locale="en-SG", viewport={"width": 1280, "height": 900})
    page.context.add_cookies([{"name": "sessionid", "value": session_key_for(shopper), "url": asgi_url}])
    # (the e-mail is already there for a signed-in shopper; typing it again changes nothing)
    _checkout_filled_in(
        page,
        asgi_url,
        variant.product_id,
        payment="[data-testid=pay-test]",
        email="late@example.test",
        name="Lee Late",
        **ORCHARD_ROAD,
    )
    checkout_url = page.url

    # Pinned in a flash sale and gone meanwhile: the gate has nothing left for this buyer.
    services.flash_sale_open(variant_id=variant.pk)
    gate.open_gate(variant.pk, 0)
    with page.expect_response("**/api/v1/checkout") as answered:
        page.click("[data-testid=place-order]")
    response = answered.value
    assert response.status == 409
    assert response.headers.get("cache-control") == "no-store"  # the door's answer, not Django's
    notice = page.locator("[data-testid=checkout-notice]")
    notice.wait_for(state="visible")
    assert notice.inner_text() == "Sorry, this is sold out."
    assert page.url == checkout_url and Order.objects.count() == 0
    page.screenshot(path=str(artifacts_dir / "checkout-flash-sold-out.png"), full_page=True)

    # A unit comes back (a reservation expired): the same page places the order, once.
    services.flash_sale_open(variant_id=variant.pk)
    with page.expect_response("**/api/v1/orders/*/pay") as paid:  # placed and paid through the API
        page.click("[data-testid=place-order]")
    assert paid.value.status == 200
    page.wait_for_selector("[data-testid=confirmation]")
    order = Order.objects.get()
    assert page.url.endswith(f"/orders/{order.reference}/") and order.status == Order.Status.PAID
    assert order.user == shopper
    assert gate.counts(variant.pk) == (0, 0)
    page.close()


def test_a_us_shopper_sees_the_sales_tax_of_their_state_before_placing_the_order(
    chromium, live_server, settings, make_user, payment_settings
):
    """The totals follow the state as it is typed, so the first "Place order" places it."""
    (board,) = _shop_selling(make_user, "US", ("bagel-board", 2500, {"en": "Bagel board"}), units=5)

    page = chromium.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
    _to_checkout(page, live_server.url, board.product_id, quantity=2)
    assert page.inner_text("[data-testid=total]") == "$50.00"
    # the postal code comes after the state: leaving the state field re-quotes the total
    _fill_delivery(
        page,
        email="ann@example.test",
        name="Ann Buyer",
        line1="1 Main St",
        city="Albany",
        state="NY",
        postal_code="12207",
    )
    page.wait_for_function("document.querySelector('[data-testid=total]').textContent === '$54.27'")
    page.check("[data-testid=pay-test]")
    page.click("[data-testid=place-order]")

    page.wait_for_selector("[data-testid=confirmation]")
    order = Order.objects.get()
    assert order.total_minor == 5427 and order.status == Order.Status.PAID  # NY 8.53 % of 50.00
    page.close()


def test_a_shopper_whose_payment_failed_tries_again_without_reloading_the_page(
    chromium, live_server, use_region, settings, artifacts_dir, make_user, stripe_fake
):
    """Stripe is down at the first press: the page says so; the next press (Stripe back) is a new
    checkout attempt, with a new Idempotency-Key, and is paid. The page is never reloaded."""
    use_region("ap-southeast")
    settings.PAYPAL_CLIENT_ID = None
    settings.PAYMENT_TEST_PROVIDER = False
    settings.PAYMENT_PROVIDER_RETRIES = 0
    settings.STRIPE_API_BASE = closed_port_url()  # Stripe is down
    (jar,) = _shop_selling(make_user, "SG", ("pandan-jar", 1290, {"en": "Pandan Jar"}), units=3)

    page = chromium.new_page(locale="en-SG", viewport={"width": 1280, "height": 900})
    _serve_fake_stripe_js(page, stripe_fake.url)
    try:
        _checkout_filled_in(
            page,
            live_server.url,
            jar.product_id,
            payment="input[name=payment][value='stripe/card']",
            email="mei@example.test",
            name="Lim Mei",
            **ORCHARD_ROAD,
        )
        page.evaluate("window.sameCheckoutPage = true")  # gone if the page were loaded again

        with (
            page.expect_request("**/api/v1/checkout") as first_checkout,
            page.expect_response("**/api/v1/orders/*/pay") as first_pay,
        ):
            page.click("[data-testid=place-order]")
        assert first_pay.value.status == 503
        notice = page.locator("[data-testid=checkout-notice]")
        notice.wait_for(state="visible")
        assert notice.inner_text() == "This payment method is not answering right now; please try another method."
        first = Order.objects.get()
        assert first.status == Order.Status.CANCELLED
        page.screenshot(path=str(artifacts_dir / "checkout-provider-down-sg.png"), full_page=True)

        settings.STRIPE_API_BASE = stripe_fake.url  # Stripe is back
        assert page.evaluate("window.sameCheckoutPage") is True
        with (
            page.expect_request("**/api/v1/checkout") as second_checkout,
            page.expect_response("**/api/v1/orders/*/pay") as second_pay,
        ):
            page.click("[data-testid=place-order]")
        assert second_pay.value.status == 200
        first_key = first_checkout.value.headers["idempotency-key"]
        second_key = second_checkout.value.headers["idempotency-key"]
        assert first_key == first.idempotency_key and second_key != first_key

        page.wait_for_selector("[data-testid=pay] [data-testid=card-number]")
        second = Order.objects.exclude(pk=first.pk).get()
        assert page.url == f"{live_server.url}/orders/{second.reference}/pay"
        assert second.idempotency_key == second_key
        page.fill("[data-testid=card-number]", "4242 4242 4242 4242")
        page.click("#pay-submit")
        page.wait_for_selector("[data-testid=confirmation]")
        second.refresh_from_db()
        first.refresh_from_db()
        assert second.status == Order.Status.PAID and first.status == Order.Status.CANCELLED
    finally:
        page.close()
