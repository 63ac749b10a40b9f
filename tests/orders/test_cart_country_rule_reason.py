"""A cart line the shopper's country forbids says why in the country rule's own words, in the
shopper's language and naming their country, on the cart page and in the cart API alike."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.catalog import services as catalog
from apps.catalog.models import Certification
from apps.compliance.models import CertificationType
from apps.compliance.models import ProductAttribute as A
from apps.orders import services
from apps.orders.selectors import cart_review
from tests.catalog.factories import make_product, today
from tests.orders.conftest import shopper_for

pytestmark = pytest.mark.django_db

PREFERENCES = "/accounts/preferences/"


@pytest.fixture
def gulf(use_region, merchant, shipped_country_rules, tmp_path):
    """me-south with today's rates (a Saudi or Kuwaiti shopper is offered their own currency)
    and a Dubai warehouse; ``stock("slug", **facts)`` makes a product with five units there."""
    from apps.money import services as money
    from tests.money.factories import todays_provider

    use_region("me-south")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))
    warehouse = catalog.warehouse_create(merchant=merchant, code="dxb", name="Dubai", country="AE")

    def stock(slug: str, **facts):
        variant = make_product(merchant, slug, **facts).variants.get()
        catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
        return variant

    return stock


def _in_the_cart_then_moved_to(client: Client, variant, country: str) -> None:
    """Put ``variant`` in the cart where it may be sold (the UAE), then shop from ``country``."""
    assert client.post("/cart/add", {"variant": variant.pk, "quantity": 1}).status_code == 302
    assert client.post(PREFERENCES, {"country": country, "next": "/"}).status_code == 302


def _page_reason(client: Client) -> str:
    found = re.search(r'data-testid="line-reason">([^<]*)<', client.get("/cart/").content.decode())
    assert found
    return found.group(1)


def test_an_arabic_speaking_saudi_shopper_reads_the_rule_in_arabic_with_saudi_arabia_named(gulf):
    wine = gulf("sparkling-wine", attributes=(A.CONTAINS_ALCOHOL,))
    client = Client(headers={"accept-language": "ar"})
    _in_the_cart_then_moved_to(client, wine, "SA")

    expected = (
        "لا يمكن بيع هذا المنتج للمتسوقين في المملكة العربية السعودية."
        " لا يمكن بيع المنتجات التي تحتوي على الكحول في المملكة العربية السعودية."
    )
    assert _page_reason(client) == expected
    [line] = client.get("/api/v1/cart").json()["lines"]
    assert (line["available"], line["reason"]) == (False, expected)


def test_a_gulf_wide_rule_names_the_shoppers_own_country(gulf):
    # Dates with a Halal certificate, put in the cart; the certificate has run out since.
    dates = gulf(
        "dates",
        attributes=(A.IS_FOOD,),
        certifications=((CertificationType.HALAL, today() + dt.timedelta(days=30)),),
    )
    client = Client(headers={"accept-language": "en"})
    _in_the_cart_then_moved_to(client, dates, "KW")
    Certification.objects.filter(product=dates.product).update(valid_until=today() - dt.timedelta(days=1))

    expected = (
        "This product cannot be sold to shoppers in Kuwait. "
        "Food sold in the Gulf states must carry a valid Halal certificate."
    )
    assert _page_reason(client) == expected
    [line] = client.get("/api/v1/cart").json()["lines"]
    assert (line["available"], line["reason"]) == (False, expected)
    # Checkout lists it with the same words, and will not take it.
    assert f"— {expected}" in client.get("/checkout/").content.decode()


def test_every_rule_a_line_breaks_is_said_in_rule_order(gulf):
    chocolates = gulf(
        "liqueur-chocolates",
        attributes=(A.IS_FOOD, A.CONTAINS_ALCOHOL),
        certifications=((CertificationType.HALAL, today() + dt.timedelta(days=30)),),
    )
    client = Client(headers={"accept-language": "en"})
    _in_the_cart_then_moved_to(client, chocolates, "SA")
    Certification.objects.filter(product=chocolates.product).update(valid_until=today() - dt.timedelta(days=1))

    [line] = client.get("/api/v1/cart").json()["lines"]
    assert line["reason"] == (
        "This product cannot be sold to shoppers in Saudi Arabia. "
        "Products containing alcohol cannot be sold in Saudi Arabia. "
        "Food sold in the Gulf states must carry a valid Halal certificate."
    )


def _forbidden_cart(gulf, name: str, count: int):
    cart = services.cart_for()
    for number in range(count):
        variant = gulf(f"{name}-{number}", attributes=(A.CONTAINS_ALCOHOL,))
        services.cart_line_add(cart=cart, variant_id=variant.pk, quantity=1, country="AE")
    return cart


def test_explaining_forbidden_lines_costs_the_same_queries_for_one_or_many(gulf):
    one, three = _forbidden_cart(gulf, "wine", 1), _forbidden_cart(gulf, "arak", 3)
    saudi = dataclasses.replace(shopper_for(country="SA"), language="en")
    cart_review(cart=one, shopper=saudi)  # the country's rules are cached from here on
    seen = []
    for cart in (one, three):
        with CaptureQueriesContext(connection) as queries:
            review = cart_review(cart=cart, shopper=saudi)
        named = [
            line.reason.startswith("This product cannot be sold to shoppers in Saudi Arabia.") for line in review.lines
        ]
        seen.append((named, len(queries)))
    (one_named, one_queries), (three_named, three_queries) = seen
    assert (one_named, three_named) == ([True], [True, True, True])
    assert one_queries == three_queries
