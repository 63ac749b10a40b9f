"""Adding to the cart from a product page: a refused add keeps the shopper on that page with the
error; a good add goes on to the cart; a ``next`` off this site never leads anywhere but the cart."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.catalog.models import Variant
from apps.orders.models import CartLine
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def product_page(merchant, use_region, settings):
    use_region("us-east")
    settings.LANGUAGE_CODE = "en"
    product = make_product(merchant, "mug")
    return reverse("catalog:product", args=[product.pk, product.slug]), Variant.objects.get(product=product)


def _form_next(response) -> str:
    """The ``next`` the page's add-to-cart form posts."""
    return html.unescape(re.search(r'name="next" value="([^"]*)"', response.content.decode()).group(1))


def test_a_refused_add_returns_to_the_product_page_with_the_error(client: Client, product_page):
    url, variant = product_page
    page = client.get(url, headers={"Accept-Language": "en"})
    assert _form_next(page) == url

    response = client.post(
        reverse("orders:cart-add"),
        {"variant": variant.pk, "quantity": 99, "next": _form_next(page)},
        headers={"Accept-Language": "en"},
    )

    assert response.status_code == 302
    assert response.url == url
    back = client.get(response.url, headers={"Accept-Language": "en"})
    assert "Choose a quantity from 1 to" in back.content.decode()
    assert not CartLine.objects.exists()


def test_a_good_add_still_goes_to_the_cart(client: Client, product_page):
    url, variant = product_page
    page = client.get(url)

    response = client.post(reverse("orders:cart-add"), {"variant": variant.pk, "quantity": 2, "next": _form_next(page)})

    assert response.status_code == 302
    assert response.url == reverse("orders:cart")
    assert CartLine.objects.get().quantity == 2


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_a_next_off_this_site_falls_back_to_the_cart(client: Client, product_page, elsewhere):
    _, variant = product_page

    response = client.post(reverse("orders:cart-add"), {"variant": variant.pk, "quantity": 99, "next": elsewhere})

    assert response.status_code == 302
    assert response.url == reverse("orders:cart")
