"""A product page names the variant's options and the shopper's country in the shopper's
language: "الحجم: 500 غرام", not "size: 500 g"; "الإمارات العربية المتحدة", not "AE".

No .po file may be edited here, so the new msgids get a stand-in translation
(``translations``); what Babel writes (units, country names) is the real CLDR text.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import trans_real

from apps.catalog import services
from apps.catalog.selectors import variant_options_text
from apps.compliance.models import ProductAttribute as A

pytestmark = pytest.mark.django_db

ARABIC = {
    ("product option", "Size"): "الحجم",
    ("product option", "Color"): "اللون",
    ("colour", "ivory"): "عاجي",
}
GERMAN = {
    ("product option", "Size"): "Größe",
    ("product option", "Color"): "Farbe",
    ("colour", "ivory"): "Elfenbein",
}


@pytest.fixture
def translations(monkeypatch):
    """``translations("ar", ARABIC)``: that language with the given (context, msgid) translated."""

    def give(language: str, texts: dict[tuple[str, str], str]) -> None:
        catalog = trans_real.translation(language)
        real = catalog.gettext
        keyed = {f"{context}\x04{msgid}": text for (context, msgid), text in texts.items()}
        monkeypatch.setattr(catalog, "gettext", lambda message: keyed.get(message) or real(message))

    return give


@pytest.fixture
def edge_country(settings):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"

    def headers(country: str, language: str) -> dict[str, str]:
        return {"CF-IPCountry": country, "Accept-Language": language}

    return headers


def _product(merchant, slug: str, variants: list[dict[str, str]], *, attributes=(), e_numbers=()):
    region = settings.REGION
    product = services.product_create(
        region=region,
        merchant=merchant,
        slug=slug,
        names={region.default_language: slug.replace("-", " ").title()},
        attributes=attributes,
        ingredients=[services.IngredientInput(e_number=e) for e in e_numbers],
    )
    for position, options in enumerate(variants):
        services.variant_create(
            region=region,
            product=product,
            sku=f"{slug.upper()}-{position}",
            price_minor=3200,
            attributes=options,
            position=position,
        )
    return product


def _cells(html: bytes, testid: str) -> list[str]:
    # Only markup spaces are squeezed: a no-break space Babel writes ("750\xa0ml") stays.
    return [
        re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", cell)).strip(" \t\n")
        for cell in re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</td>', html.decode(), re.S)
    ]


def _reason_paragraph(html: bytes) -> str:
    page = html.decode()
    section = page[page.index('data-testid="not-available"') :]
    return " ".join(re.sub(r"<[^>]+>", " ", re.search(r"<p>(.*?)</p>", section, re.S).group(1)).split())


@pytest.mark.parametrize(
    ("region", "country", "language", "texts", "expected"),
    [
        ("me-south", "AE", "ar", ARABIC, ["اللون: عاجي", "الحجم: 500 غرام", "الحجم: 750 ملتر"]),
        ("eu-west", "DE", "de", GERMAN, ["Farbe: Elfenbein", "Größe: 500 g", "Größe: 750\xa0ml"]),
    ],
)
def test_the_variant_options_are_in_the_shoppers_language(
    client, merchant, use_region, edge_country, translations, region, country, language, texts, expected
):
    use_region(region)
    translations(language, texts)
    product = _product(merchant, "label-gift", [{"colour": "ivory"}, {"size": "500 g"}, {"size": "750 ml"}])
    page = client.get(product.get_absolute_url(), headers=edge_country(country, language))
    assert page.status_code == 200
    assert _cells(page.content, "variant-options") == expected


def test_options_and_words_it_does_not_know_are_shown_as_the_merchant_wrote_them():
    with translation.override("en"):
        text = variant_options_text(
            {"colour": "Sunset ombre", "fit": "slim", "size": "XL", "gift_wrap": "yes"}, locale="en_US"
        )
    assert text == "Color: Sunset ombre, Fit: slim, Size: XL, Gift wrap: yes"
    assert variant_options_text({}, locale="ar_AE") == ""
    assert variant_options_text("not a mapping", locale="ar_AE") == ""  # type: ignore[arg-type]


def test_a_measure_is_written_in_the_digits_of_the_shoppers_country():
    # ar-SA writes numbers in Arabic-Indic digits (as its prices), ar-AE in Latin ones.
    with translation.override("ar"):
        assert variant_options_text({"size": "1.5 l"}, locale="ar_SA").endswith("\u0661\u066b\u0665 لتر")
        assert variant_options_text({"size": "1.5 l"}, locale="ar_AE").endswith("1.5 لتر")


def test_a_blocked_product_names_the_country_in_arabic(
    client, merchant, use_region, edge_country, shipped_country_rules
):
    use_region("me-south")
    # Food without a Halal certificate: not sold anywhere in the Gulf.
    product = _product(merchant, "label-wine", [{"size": "750 ml"}], attributes=(A.IS_FOOD, A.CONTAINS_ALCOHOL))
    page = client.get(product.get_absolute_url(), headers=edge_country("AE", "ar"))
    assert page.status_code == 404
    assert _reason_paragraph(page.content) == "لا يمكن بيع هذا المنتج للمتسوقين في الإمارات العربية المتحدة."


def test_a_blocked_product_names_the_country_in_german(
    client, merchant, use_region, edge_country, shipped_country_rules
):
    use_region("eu-west")
    # Titanium dioxide (E171) is no longer authorised in the EU.
    product = _product(merchant, "label-sweets", [{"size": "500 g"}], attributes=(A.IS_FOOD,), e_numbers=("E171",))
    page = client.get(product.get_absolute_url(), headers=edge_country("DE", "de"))
    assert page.status_code == 404
    assert _reason_paragraph(page.content) == "Dieses Produkt darf nicht an Kunden in Deutschland verkauft werden."
