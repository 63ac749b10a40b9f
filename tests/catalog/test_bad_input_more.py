"""Bad input to the merchant API that used to answer 500 is refused in the API's error form, nothing written.

- A NUL byte in a slug that names a row (a product's ``category``, a product's or a warehouse's
  ``merchant``) or in the product list's ``?merchant=``: PostgreSQL refuses NUL in text, and DRF
  turns only ``TypeError``/``ValueError`` from the lookup into "does not exist".
- A lone surrogate (JSON's ``"\\ud800"``) anywhere in a body: valid JSON, but no UTF-8 holds it,
  so an error quoting it back (an unknown field, language or choice) failed its own encoding.
  Refused by the API's JSON parser (apps/parsers.py), so every DRF endpoint answers alike.

The storefront pages and the catalog API's query parameters (q, sort, page, category,
certification, merchant, country, lang, currency, page_size) already refused every such value
in words, as did the product addresses (ASCII digits only) and the merchant API's other fields.
Real PostgreSQL and Redis, through Django's test client.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.catalog.models import Product, Warehouse
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

PRODUCTS = reverse("catalog-api:merchant-product-list")
WAREHOUSES = reverse("catalog-api:merchant-warehouse-list")


def product_url(pk: int) -> str:
    return reverse("catalog-api:merchant-product-detail", args=[pk])


def send(client: Client, method: str, url: str, body: str):
    return getattr(client, method)(url, body, content_type="application/json")


def refused(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"} and error["message"]
    assert error["code"] == code, error
    return error


@pytest.fixture
def staff(client, staff_a):
    client.force_login(staff_a)
    return client


@pytest.fixture
def lamp(merchant):
    return make_product(merchant, "bad-input-lamp")


@pytest.mark.parametrize("merchant_slug", ["\x00", "shop-a\x00"])
def test_the_product_list_filtered_by_a_merchant_with_a_nul_byte_is_empty(staff, lamp, merchant_slug):
    response = staff.get(PRODUCTS, {"merchant": merchant_slug})

    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


@pytest.mark.parametrize(("field", "value"), [("category", "\x00"), ("category", "pantry\x00"), ("merchant", "\x00")])
def test_a_new_product_naming_a_row_with_a_nul_byte_is_refused_and_writes_nothing(staff, field, value):
    body = {"slug": "bad-input-new", "names": {"en": "New"}, field: value}

    error = refused(send(staff, "post", PRODUCTS, json.dumps(body)), 400, "invalid")

    assert list(error["fields"]) == [field]
    assert not Product.objects.filter(slug="bad-input-new").exists()


def test_a_product_moved_to_a_category_with_a_nul_byte_is_refused_and_unchanged(staff, lamp):
    error = refused(send(staff, "patch", product_url(lamp.pk), json.dumps({"category": "\x00"})), 400, "invalid")

    assert list(error["fields"]) == ["category"]
    lamp.refresh_from_db()
    assert lamp.category is None


def test_a_warehouse_for_a_merchant_with_a_nul_byte_is_refused_and_writes_nothing(staff):
    body = {"code": "bad-input-depot", "name": "Depot", "country": "US", "merchant": "\x00"}

    error = refused(send(staff, "post", WAREHOUSES, json.dumps(body)), 400, "invalid")

    assert list(error["fields"]) == ["merchant"]
    assert not Warehouse.objects.filter(code="bad-input-depot").exists()


# Each quoted back by the error before: an unknown field's name, an unknown language, a choice.
SURROGATES = [
    '{"slug": "bad-input-new", "names": {"en": "New"}, "\\ud800": 1}',
    '{"slug": "bad-input-new", "names": {"\\ud800": "New"}}',
    '{"slug": "bad-input-new", "names": {"en": "New"}, "descriptions": {"\\udfff": "x"}}',
    '{"slug": "bad-input-new", "names": {"en": "New"}, "attributes": ["\\ud800"]}',
    '{"slug": "bad-input-new", "names": {"en": "New"}, "variants": [{"sku": "A-1", "price_minor": 1, "\\ud800": 1}]}',
]


@pytest.mark.parametrize("body", SURROGATES)
def test_a_new_product_with_a_lone_surrogate_is_a_parse_error_and_writes_nothing(staff, body):
    refused(send(staff, "post", PRODUCTS, body), 400, "parse_error")

    assert not Product.objects.filter(slug="bad-input-new").exists()


@pytest.mark.parametrize("body", ['{"\\ud800": 1}', '{"names": {"\\ud800": "x"}}', '{"attributes": ["\\ud800"]}'])
def test_a_product_change_with_a_lone_surrogate_is_a_parse_error_and_changes_nothing(staff, lamp, body):
    refused(send(staff, "patch", product_url(lamp.pk), body), 400, "parse_error")

    lamp.refresh_from_db()
    assert lamp.name == "Bad Input Lamp" and lamp.is_active
