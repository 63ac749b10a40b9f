"""The catalog API's ``?currency=`` is a choice like any other: one the day's rates cannot price
is answered in the settlement currency with ``X-Currency-Unavailable``, never with stale rates."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.money.middleware import UNAVAILABLE_HEADER
from apps.money.services import fx_rates_update
from tests.catalog.factories import make_product
from tests.money.factories import shipped_provider, todays_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def mug(use_region, merchant):
    """me-south and a mug at AED 25.00."""
    use_region("me-south")
    return make_product(merchant, "mug", price_minor=2500)


@pytest.fixture
def load_rates(django_capture_on_commit_callbacks, tmp_path):
    """``load_rates("fresh" | "stale")``: today's rates, or the shipped file's (stale by now)."""

    def load(kind: str) -> None:
        provider = todays_provider(tmp_path / "today.xml") if kind == "fresh" else shipped_provider()
        with django_capture_on_commit_callbacks(execute=True):
            fx_rates_update(provider=provider)

    return load


def _price(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()["results"][0]["price_from"]


@pytest.mark.parametrize("rates", ["none", "stale"])
def test_a_currency_that_cannot_be_priced_is_answered_in_the_settlement_currency(mug, load_rates, rates):
    if rates == "stale":
        load_rates("stale")
    client = Client()
    url = reverse("catalog-api:products")
    for _ in range(2):  # the second answer comes from the listing cache, header and all
        response = client.get(url, {"currency": "SAR"})
        price = _price(response)
        assert (price["currency"], price["amount_minor"]) == ("AED", 2500)
        assert (price["fx_snapshot"], price["stale_rate"]) == (None, False)
        assert response[UNAVAILABLE_HEADER] == "SAR"

    detail = client.get(reverse("catalog-api:product", kwargs={"pk": mug.pk}), {"currency": "SAR"})
    assert detail.status_code == 200
    [variant] = detail.json()["variants"]
    assert (variant["price"]["currency"], variant["price"]["amount_minor"]) == ("AED", 2500)
    assert detail[UNAVAILABLE_HEADER] == "SAR"


def test_with_fresh_rates_the_currency_asked_for_is_used(mug, load_rates):
    load_rates("stale")
    url = reverse("catalog-api:products")
    assert _price(Client().get(url, {"currency": "SAR"}))["currency"] == "AED"

    load_rates("fresh")
    response = Client().get(url, {"currency": "SAR"})
    price = _price(response)
    # AED 25.00 at the pegs (3.6725 AED = 3.75 SAR = 1 USD) is SAR 25.53.
    assert (price["currency"], price["amount_minor"], price["stale_rate"]) == ("SAR", 2553, False)
    assert UNAVAILABLE_HEADER not in response


def test_the_header_names_the_currency_of_the_parameter_not_the_shoppers_own(mug, load_rates):
    load_rates("stale")
    client = Client()
    client.post(reverse("accounts:preferences"), {"currency": "SAR", "next": "/"})
    url = reverse("catalog-api:products")

    # Asked for dirhams: answered in dirhams, nothing unavailable, whatever the shopper chose.
    asked_aed = client.get(url, {"currency": "AED"})
    assert _price(asked_aed)["currency"] == "AED"
    assert UNAVAILABLE_HEADER not in asked_aed
    # Asked for nothing: the shopper's riyals, which cannot be priced.
    asked_nothing = client.get(url)
    assert _price(asked_nothing)["currency"] == "AED"
    assert asked_nothing[UNAVAILABLE_HEADER] == "SAR"


def test_an_unknown_currency_is_still_refused(mug):
    response = Client().get(reverse("catalog-api:products"), {"currency": "EUR"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameters"
    assert UNAVAILABLE_HEADER not in response
