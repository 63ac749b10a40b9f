"""The checkout form's errors, totals and coupon.

The totals are always those of the option ticked; a coupon's own error is shown next to it (while
re-quoting too); every error of a submit is shown at once, each under its field and tied to it;
each shipping option shows its price; the form sent again after its order was paid shows that
order. Django's test client on real PostgreSQL and Redis (US shopper paying USD: no FX).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.utils import timezone, translation

from apps.money.formatting import format_money
from apps.orders import rules
from apps.orders.models import Coupon, Order

pytestmark = pytest.mark.django_db

ADDRESS = {"name": "Ann", "line1": "1 Main St", "city": "Albany", "state": "NY", "postal_code": "12207"}
UNKNOWN_COUPON = "There is no such coupon."


def _cart(client, stocked, slug: str, *, price_minor: int = 2000, quantity: int = 1):
    variant = stocked(slug, 5, price_minor=price_minor)
    client.post("/cart/add", {"variant": variant.pk, "quantity": quantity})
    return variant


def _hidden(page, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page.content.decode())
    assert found, f"no {name} field on the page"
    return found.group(1)


def _tag(html: str, testid: str) -> str:
    """The opening tag of the element with ``data-testid=testid``."""
    found = re.search(rf'<[^<>]*data-testid="{testid}"[^<>]*>', html)
    assert found, f"no {testid} on the page"
    return found.group(0)


def _error_text(html: str, field: str) -> str:
    found = re.search(rf'<p [^>]*id="error-{field}"[^>]*>([^<]*)</p>', html)
    assert found, f"no error element for {field}"
    return found.group(1)


# --- 1. the totals are the option ticked's; the coupon's own error next to it ------------------------


def test_a_re_quote_with_an_unknown_coupon_keeps_express_and_says_why_next_to_the_coupon(client, stocked):
    _cart(client, stocked, "form-express")
    express = client.get("/checkout/", {"state": "NY", "shipping_option": "express"}).context["quote"]

    page = client.get("/checkout/", {"state": "NY", "shipping_option": "express", "coupon": "NOPE2026"})

    assert page.status_code == 200
    quote = page.context["quote"]
    assert quote.shipping_option == "express" and page.context["chosen_option"] == "express"
    assert (quote.shipping_minor, quote.eta, quote.total_minor) == (
        express.shipping_minor,
        express.eta,
        express.total_minor,
    )
    html = page.content.decode()
    assert 'value="express" checked' in html and 'value="standard" checked' not in html
    assert _error_text(html, "coupon") == UNKNOWN_COUPON  # the message, not the code typed
    assert 'aria-describedby="error-coupon"' in _tag(html, "coupon")
    assert not list(page.context["messages"])  # the banner is the submit's


def test_a_submit_with_an_unknown_coupon_shows_its_message_next_to_the_field(client, stocked):
    _cart(client, stocked, "form-submit")
    page = client.get("/checkout/", {"state": "NY"})
    form = {**ADDRESS, "email": "ann@example.test", "shipping_option": "express", "payment": "test/test"}
    form |= {"coupon": "NOPE2026", "idempotency_key": _hidden(page, "idempotency_key")}

    refused = client.post("/checkout/", form)

    assert refused.status_code == 400 and not Order.objects.exists()
    assert [str(m) for m in refused.context["messages"]] == [UNKNOWN_COUPON]
    assert refused.context["errors"] == {"coupon": [UNKNOWN_COUPON]}
    assert refused.context["quote"].shipping_option == "express"
    html = refused.content.decode()
    assert _error_text(html, "coupon") == UNKNOWN_COUPON
    coupon = _tag(html, "coupon")
    assert 'aria-invalid="true"' in coupon and "autofocus" in coupon


def test_a_coupon_that_applies_clears_the_error_and_takes_its_discount(client, stocked):
    _cart(client, stocked, "form-good")
    now = timezone.now()
    Coupon.objects.create(
        code="TENOFF", percent_off=10, valid_from=now - dt.timedelta(days=1), valid_until=now + dt.timedelta(days=1)
    )

    page = client.get("/checkout/", {"state": "NY", "shipping_option": "express", "coupon": "TENOFF"})

    assert page.context["quote"].discount_minor == 200 and page.context["quote"].shipping_option == "express"
    html = page.content.decode()
    assert _error_text(html, "coupon") == ""
    assert "aria-invalid" not in _tag(html, "coupon")


# --- 2 and 3. every error at once, each with its message, under and tied to its field --------------


def test_a_bad_coupon_does_not_hide_the_address_errors(client, stocked):
    _cart(client, stocked, "form-all")
    page = client.get("/checkout/")
    form = {
        "email": "not-an-email",
        "name": "",
        "line1": "1 Main St",
        "city": "Albany",
        "state": "NY",
        "postal_code": "",
        "phone": "12",
        "shipping_option": "express",
        "coupon": "NOPE2026",
        "payment": "test/test",
        "idempotency_key": _hidden(page, "idempotency_key"),
    }

    refused = client.post("/checkout/", form)

    assert refused.status_code == 400 and not Order.objects.exists()
    errors = refused.context["errors"]
    assert set(errors) == {"email", "name", "postal_code", "phone", "coupon"}
    assert errors["postal_code"] == ["This field is required."]
    assert errors["name"] == ["This field is required."]
    assert errors["coupon"] == [UNKNOWN_COUPON]
    assert [str(m) for m in refused.context["messages"]] == ["Check the delivery details.", UNKNOWN_COUPON]
    html = refused.content.decode()
    for field in errors:
        tag = _tag(html, field)
        assert 'aria-invalid="true"' in tag, field
        assert f'aria-describedby="error-{field}"' in tag, field
        assert _error_text(html, field) == " ".join(errors[field]), field
    # The first field to correct, in the page's order, is focused; only that one.
    assert "autofocus" in _tag(html, "email") and html.count("autofocus") == 1
    assert "aria-invalid" not in _tag(html, "line1")


def test_an_empty_postal_code_is_required_and_a_wrong_one_invalid():
    region = settings.REGION
    address = {**ADDRESS, "country": "US"}
    assert rules.address_errors({**address, "postal_code": ""}, region=region) == {
        "postal_code": ["This field is required."]
    }
    assert rules.address_errors({**address, "postal_code": "  "}, region=region) == {
        "postal_code": ["This field is required."]
    }
    assert rules.address_errors({**address, "postal_code": "zzzzz"}, region=region) == {
        "postal_code": ["This is not a valid postal code for the country."]
    }


def test_the_postal_code_field_is_marked_required_where_the_country_has_postal_codes(client, stocked):
    _cart(client, stocked, "form-postal")
    assert "required" in _tag(client.get("/checkout/").content.decode(), "postal_code")


def test_cash_on_delivery_without_a_phone_is_told_with_the_other_errors(client, stocked, use_region):
    use_region("me-south")
    _cart(client, stocked, "form-cod")
    page = client.get("/checkout/")
    cod = next(m for m in page.context["methods"] if m.provider == "cash_on_delivery")
    form = {"email": "layla@example.test", "name": "Layla", "line1": "", "city": "Dubai", "phone": ""}
    form |= {"shipping_option": "standard", "payment": f"{cod.provider}/{cod.method}"}
    form |= {"idempotency_key": _hidden(page, "idempotency_key")}

    refused = client.post("/checkout/", form)

    assert refused.status_code == 400 and not Order.objects.exists()
    assert set(refused.context["errors"]) == {"line1", "phone"}
    with translation.override(refused.wsgi_request.LANGUAGE_CODE):
        assert refused.context["errors"]["phone"] == [
            translation.gettext("Give a phone number: the courier calls before delivering an order paid in cash.")
        ]


# --- 4. each shipping option with its price ----------------------------------------------------


def test_each_shipping_option_shows_its_price_in_the_shoppers_money(client, stocked):
    _cart(client, stocked, "form-prices", price_minor=2000)

    page = client.get("/checkout/")

    prices = {option.code: price for option, price, _day in page.context["shipping_choices"]}
    assert prices == {"standard": 500, "express": 1500}
    html = page.content.decode()
    locale = page.wsgi_request.shopper.locale
    for code, price in prices.items():
        shown = re.search(rf'id="option-price-{code}"[^>]*><bdi>([^<]*)</bdi>', html)
        assert shown and shown.group(1) == format_money(price, "USD", locale)
    # The option ticked is what the totals charge.
    assert page.context["quote"].shipping_minor == prices["standard"]


def test_a_shipping_option_that_costs_nothing_says_free(client, stocked):
    _cart(client, stocked, "form-free", price_minor=6000)  # over standard's free-from 50.00

    page = client.get("/checkout/")

    prices = {option.code: price for option, price, _day in page.context["shipping_choices"]}
    assert prices == {"standard": 0, "express": 1500}
    assert re.search(r'id="option-price-standard"[^>]*><bdi>Free</bdi>', page.content.decode())


# --- 5. the form sent again after its order was paid -------------------------------------------


@pytest.fixture(params=["anonymous", "signed in"])
def shopper_client(request, client, make_user):
    if request.param == "signed in":
        client.force_login(make_user(email="ann@example.test"))
    return client


def test_the_form_sent_again_after_paying_shows_the_order_with_a_notice(shopper_client, stocked, on_commit):
    client = shopper_client
    _cart(client, stocked, "form-again")
    page = client.get("/checkout/", {"state": "NY"})
    form = {**ADDRESS, "email": "ann@example.test", "shipping_option": "standard", "payment": "test/test"}
    form |= {"idempotency_key": _hidden(page, "idempotency_key")}
    form |= {"expected_total_minor": _hidden(page, "expected_total_minor")}
    placed = on_commit(client.post, "/checkout/", form)
    order = Order.objects.get()
    assert placed.status_code == 302 and order.status == Order.Status.PAID
    # Back, something new in the cart, and the old page's "Place order" pressed again.
    _cart(client, stocked, "form-again-new")

    again = client.post("/checkout/", form, follow=True)

    assert again.redirect_chain == [(f"/orders/{order.reference}/", 302)]
    shown = [(m.level_tag, str(m)) for m in again.context["messages"]]
    assert ("info", "You have already placed this order. Here it is.") in shown
    assert not [text for level, text in shown if level == "error"]
    assert Order.objects.count() == 1
    assert client.get("/cart/").context["review"].lines, "the new cart is left as it is"


def test_someone_elses_key_places_nothing_and_shows_no_order(client, stocked, on_commit, make_user):
    other = make_user(email="other@example.test")
    client.force_login(other)
    _cart(client, stocked, "form-theirs")
    page = client.get("/checkout/", {"state": "NY"})
    form = {**ADDRESS, "email": "other@example.test", "shipping_option": "standard", "payment": "test/test"}
    form |= {"idempotency_key": _hidden(page, "idempotency_key")}
    form |= {"expected_total_minor": _hidden(page, "expected_total_minor")}
    on_commit(client.post, "/checkout/", form)
    theirs = Order.objects.get()
    client.logout()
    _cart(client, stocked, "form-mine")

    response = client.post("/checkout/", {**form, "email": "ann@example.test"})

    assert response.status_code == 409
    assert theirs.reference not in response.content.decode()
    assert Order.objects.count() == 1
