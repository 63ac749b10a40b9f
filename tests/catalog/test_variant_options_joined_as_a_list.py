"""A variant with several options ("Tamaño: M y Color: azul marino") is joined as the shopper's
language writes a short list (it was a unit list until zh showed pairs run together): Babel's own ``format_list(style="unit")`` raised KeyError('start') in
Spanish (a 500 on the product page), and repeated the last option in ar_AE.

The words come from the shipped catalogues (locale/es), the joining words from CLDR.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.utils import translation

from apps.catalog import services
from apps.catalog.selectors import variant_options_text

pytestmark = pytest.mark.django_db

SIZE_AND_COLOUR = {"size": "M", "colour": "navy"}


def _product_with_one_variant(merchant, slug: str, options: dict[str, str]):
    region = settings.REGION
    product = services.product_create(
        region=region,
        merchant=merchant,
        slug=slug,
        names={region.default_language: slug.replace("-", " ").title()},
    )
    services.variant_create(
        region=region, product=product, sku=f"{slug.upper()}-0", price_minor=3200, attributes=options
    )
    return product


def _option_cells(html: bytes) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", cell).split())
        for cell in re.findall(r'data-testid="variant-options"[^>]*>(.*?)</td>', html.decode(), re.S)
    ]


@pytest.mark.parametrize(("region", "country"), [("eu-west", "ES"), ("us-east", "US")])
def test_a_product_page_in_spanish_names_a_variant_with_a_size_and_a_colour(
    client, merchant, use_region, settings, region, country
):
    use_region(region)
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    product = _product_with_one_variant(merchant, "polo-shirt", SIZE_AND_COLOUR)

    page = client.get(product.get_absolute_url(), headers={"CF-IPCountry": country, "Accept-Language": "es"})

    assert page.status_code == 200
    assert _option_cells(page.content) == ["Tamaño: M y Color: azul marino"]


@pytest.mark.parametrize(
    ("language", "locale", "expected"),
    [
        ("es", "es_MX", "Tamaño: M y Color: azul marino"),
        ("en", "en_US", "Size: M, Color: navy"),
    ],
)
def test_two_options_are_joined_once_each(language, locale, expected):
    with translation.override(language):
        assert variant_options_text(SIZE_AND_COLOUR, locale=locale) == expected


def test_arabic_in_the_emirates_names_each_option_once():
    with translation.override("ar"):
        text = variant_options_text({"size": "M", "fit": "slim"}, locale="ar_AE")
    assert text.count(": M") == 1
    assert text.count(": slim") == 1
