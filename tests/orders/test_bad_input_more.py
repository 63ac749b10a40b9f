"""Bad input to the buying API that used to answer 500 is refused in the API's error form, nothing written.

- An order reference with a NUL byte (``%00``) in any order address, API or page: PostgreSQL
  refuses NUL in text, so the lookup failed; such a reference names no order (404).
- An Idempotency-Key with a NUL byte, from a shopper who has orders to look it up among.
- Tracking numbers keyed by characters ``str.isdigit()`` takes but ``int()`` does not ("²", "①").
- A JSON body nested deeper than Python's parser goes (a ``RecursionError``, not a ``ValueError``).
- The checkout page (whose form DRF does not check) with a NUL byte in the e-mail, a free-text
  address field or the coupon: refused by the checkout service in words, as the API's serializer
  does (a state, postal code or phone with one was already refused as not valid); and a second
  address line longer than the API takes, which the page's order kept cut short without a word.

Real PostgreSQL and Redis, through Django's test client.
"""

from __future__ import annotations

import re

import pytest

from apps.orders import services
from apps.orders.models import Order
from apps.orders.selectors import available_units
from tests.orders.conftest import ADDRESSES, API_CHECKOUT, cart_with, checkout

pytestmark = pytest.mark.django_db

NUL_KEY = "checkout-\x00-key-0001"
# Deeper than the JSON parser's recursion limit allows: a few kilobytes anyone can send.
TOO_DEEP = b'{"variant": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def post(client, url, data, **headers):
    return client.post(url, data, content_type="application/json", headers=headers)


def refused(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"} and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
def paid(stocked, on_commit):
    order = checkout(cart_with(stocked("bad-input-lamp", 3, price_minor=4000)))
    on_commit(services.order_pay, order=order)
    return Order.objects.get(pk=order.pk)


@pytest.mark.parametrize("reference", ["%00", "LM-%00", "LM-ABC%00DEF"])
@pytest.mark.parametrize(
    ("method", "address", "staff"),
    [
        ("get", "/api/v1/orders/{}", False),
        ("post", "/api/v1/orders/{}/pay", False),
        ("post", "/api/v1/orders/{}/steps/ship", True),
        ("post", "/api/v1/orders/{}/refund-returned-outside", True),
    ],
)
def test_an_order_reference_with_a_nul_byte_is_not_found(client, operator, paid, method, address, staff, reference):
    if staff:
        client.force_login(operator)

    response = getattr(client, method)(address.format(reference), content_type="application/json")

    refused(response, 404, "not_found")
    paid.refresh_from_db()
    assert paid.status == Order.Status.PAID and paid.refunded_minor == 0


@pytest.mark.parametrize("address", ["/orders/%00/", "/orders/LM-%00/pay"])
def test_an_order_page_with_a_nul_byte_in_its_reference_is_not_found(client, address):
    assert client.get(address).status_code == 404


@pytest.mark.parametrize("who", ["signed in", "anonymous with an order"])
def test_a_checkout_key_with_a_nul_byte_is_refused_and_writes_nothing(client, stocked, make_user, who):
    variant = stocked("bad-input-key-mug", 5, price_minor=1500)
    if who == "signed in":
        client.force_login(make_user())
    else:
        # An earlier order of this session: the checkout looks the key up among the session's orders.
        post(client, "/api/v1/cart/lines", {"variant": variant.pk, "quantity": 1})
        assert (
            post(client, "/api/v1/checkout", API_CHECKOUT, **{"Idempotency-Key": "first-order-0001"}).status_code == 201
        )
    post(client, "/api/v1/cart/lines", {"variant": variant.pk, "quantity": 1})
    orders_before = Order.objects.count()
    units_before = available_units([variant.pk])[variant.pk]

    response = post(client, "/api/v1/checkout", API_CHECKOUT, **{"Idempotency-Key": NUL_KEY})

    refused(response, 400, "invalid_idempotency_key")
    assert Order.objects.count() == orders_before
    assert available_units([variant.pk])[variant.pk] == units_before


@pytest.mark.parametrize("key", ["²", "①", "1²", "1" * 5000])  # 5,000 digits: past what int() converts
def test_tracking_numbers_keyed_by_other_digits_are_refused_and_change_nothing(client, operator, paid, key):
    client.force_login(operator)

    response = post(client, f"/api/v1/orders/{paid.reference}/steps/ship", {"tracking_numbers": {key: "1Z999"}})

    error = refused(response, 400, "invalid_tracking")
    assert list(error["fields"]) == ["tracking_numbers"]
    paid.refresh_from_db()
    assert paid.status == Order.Status.PAID and not paid.shipments.exists()


@pytest.mark.parametrize(
    ("method", "address"),
    [("post", "/api/v1/cart/lines"), ("put", "/api/v1/cart/lines/1"), ("post", "/api/v1/checkout")],
)
def test_json_nested_too_deeply_is_a_parse_error_and_writes_nothing(client, stocked, method, address):
    variant = stocked("bad-input-deep-mug", 5)
    post(client, "/api/v1/cart/lines", {"variant": variant.pk, "quantity": 1})

    response = getattr(client, method)(
        address, TOO_DEEP, content_type="application/json", headers={"Idempotency-Key": "deep-json-0001"}
    )

    refused(response, 400, "parse_error")
    assert Order.objects.count() == 0
    assert [(line["variant_id"], line["quantity"]) for line in client.get("/api/v1/cart").json()["lines"]] == [
        (variant.pk, 1)
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "buyer\x00@example.test"),
        ("name", "Ann\x00Buyer"),
        ("line1", "1 Main\x00 St"),
        ("line2", "\x00"),
        ("city", "Albany\x00"),
        ("coupon", "DEMO\x0010"),
        # Not a NUL, but the same form: an address line the API refuses as too long was cut short quietly.
        ("line2", "Flat 7, " + "x" * 200),
    ],
)
def test_the_checkout_page_refuses_what_it_cannot_keep_and_writes_nothing(client, stocked, field, value):
    variant = stocked("bad-input-page-mug", 5, price_minor=1500)
    client.post("/cart/add", {"variant": variant.pk, "quantity": 1})
    # The total the page shows, which its form sends: without the NUL byte this form places the order.
    (shown_total,) = re.findall(
        r'name="expected_total_minor" value="(\d+)"', client.get("/checkout/", {"state": "NY"}).content.decode()
    )
    form = {
        **{name: text for name, text in ADDRESSES["US"].items() if name != "country"},
        "email": "buyer@example.test",
        "shipping_option": "standard",
        "payment": "test/test",
        "expected_total_minor": shown_total,
        "idempotency_key": "page-nul-0001",
        field: value,
    }

    response = client.post("/checkout/", form)

    assert response.status_code == 400
    assert Order.objects.count() == 0
    assert available_units([variant.pk])[variant.pk] == 5
