"""The checkout page quotes each shipping option once: without a coupon, the totals' quote is the
ticked option's in the list; a coupon (which may change what shipping costs) re-quotes the list.

Each quote asks PostgreSQL for the cart's free units once (``available_units``, a SUM over
``catalog_stock``): counting those queries counts the quotes. (The cart's lines are read once per
page with their warehouses' handling days, a MAX over ``catalog_stock``: not a quote.) US shopper
paying USD: no FX.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.orders import rules
from apps.orders.models import Coupon

pytestmark = pytest.mark.django_db


def _quotes(queries: CaptureQueriesContext) -> int:
    return sum('FROM "catalog_stock"' in query["sql"] and "SUM(" in query["sql"] for query in queries.captured_queries)


@pytest.fixture
def checkout_page(client, stocked):
    variant = stocked("quote-count", 5, price_minor=2000)
    assert client.post("/cart/add", {"variant": variant.pk, "quantity": 1}).status_code == 302
    client.get("/checkout/")  # the session and the cart settled; what follows is the page's own work
    return client


@pytest.mark.parametrize("chosen", ["standard", "express"])
def test_without_a_coupon_each_option_is_quoted_once(checkout_page, django_assert_max_num_queries, chosen):
    # Before: 5 queries, the ticked option quoted for the totals and again for the list.
    with django_assert_max_num_queries(4), CaptureQueriesContext(connection) as queries:
        page = checkout_page.get("/checkout/", {"state": "NY", "shipping_option": chosen})
    assert page.status_code == 200
    assert _quotes(queries) == len(rules.shipping_options())
    # The list still shows what ticking each option quotes, the ticked one's as the totals.
    shown = {option.code: (price, day) for option, price, day in page.context["shipping_choices"]}
    assert shown[chosen][0] == page.context["quote"].shipping_minor
    assert shown[chosen][1] == page.context["eta"]
    assert {code: price for code, (price, _day) in shown.items()} == {"standard": 500, "express": 1500}


def test_a_coupon_that_applies_re_quotes_the_list(checkout_page):
    now = timezone.now()
    Coupon.objects.create(
        code="TENOFF", percent_off=10, valid_from=now - dt.timedelta(days=1), valid_until=now + dt.timedelta(days=1)
    )
    with CaptureQueriesContext(connection) as queries:
        page = checkout_page.get("/checkout/", {"state": "NY", "coupon": "TENOFF"})
    assert page.context["quote"].discount_minor == 200
    # The totals with the coupon, then each option plain.
    assert _quotes(queries) == 1 + len(rules.shipping_options())
    assert {option.code: price for option, price, _day in page.context["shipping_choices"]} == {
        "standard": 500,
        "express": 1500,
    }


def test_a_coupon_that_does_not_apply_leaves_the_plain_quote_in_the_list(checkout_page):
    with CaptureQueriesContext(connection) as queries:
        page = checkout_page.get("/checkout/", {"state": "NY", "shipping_option": "express", "coupon": "NOPE2026"})
    assert page.context["quote"].shipping_option == "express" and page.context["errors"]["coupon"]
    # The refused try, then the plain totals, which the list reuses for Express.
    assert _quotes(queries) == 1 + len(rules.shipping_options())
