"""The product API refuses a product the shopper's country forbids in the product page's and the
cart's words: the country by its name in the shopper's language, then each rule's own message."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.catalog.selectors import country_refusal
from apps.compliance.models import ProductAttribute as A
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def candy(merchant, use_region, shipped_country_rules):
    """Sweets with titanium dioxide (E171), no longer authorised in the EU, in eu-west."""
    use_region("eu-west")
    return make_product(merchant, "white-candy", attributes=(A.IS_FOOD,), e_numbers=("E330", "E171"))


def _refusal(product, params: dict, accept_language: str = "en") -> dict:
    url = reverse("catalog-api:product", kwargs={"pk": product.pk})
    response = Client().get(url, params, headers={"Accept-Language": accept_language})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_available_in_country"
    return error


def test_a_german_shopper_reads_the_refusal_in_german_with_germany_named(candy):
    # The request's own language is English: the shopper's chosen one decides.
    error = _refusal(candy, {"country": "DE", "lang": "de"}, accept_language="en")
    assert error["message"] == "Dieses Produkt darf nicht an Kunden in Deutschland verkauft werden."
    assert error["fields"] == {"country": ["Enthält einen in der EU nicht zugelassenen Lebensmittelzusatzstoff."]}


def test_the_country_is_named_in_the_shoppers_language_never_by_its_code(candy):
    error = _refusal(candy, {"country": "at", "lang": "de"})
    assert error["message"] == "Dieses Produkt darf nicht an Kunden in Österreich verkauft werden."
    error = _refusal(candy, {"country": "IE", "lang": "en"})
    assert error["message"] == "This product cannot be sold to shoppers in Ireland."
    assert error["fields"] == {"country": ["Contains a food additive that is not authorised in the EU."]}
    assert "IE" not in error["message"]


def test_the_api_says_what_the_cart_says(candy):
    error = _refusal(candy, {"country": "FR", "lang": "fr"})
    refusal = country_refusal(candy, "FR", language="fr")
    assert refusal is not None
    assert " ".join([error["message"], *error["fields"]["country"]]) == str(refusal)
    assert "France" in error["message"]


def test_a_product_the_country_allows_is_shown(candy):
    assert country_refusal(candy, "US", language="en") is None
    plain = make_product(candy.merchant, "plain-mints", attributes=(A.IS_FOOD,), e_numbers=("E330",))
    url = reverse("catalog-api:product", kwargs={"pk": plain.pk})
    assert Client().get(url, {"country": "DE", "lang": "de"}).status_code == 200
