"""Which products a shopper in each country may see, with the shipped default rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.selectors import (
    featured_products,
    product_hidden_in,
    product_is_visible_in,
    product_visibility,
    products_visible_in,
    required_certifications,
    with_listing_data,
)
from apps.compliance.models import CertificationType as Cert
from apps.compliance.models import ProductAttribute as A
from apps.compliance.selectors import rules_for_country
from tests.catalog.factories import make_product, today

pytestmark = pytest.mark.django_db

GCC = ["AE", "SA", "QA", "KW", "BH", "OM"]
COUNTRIES = ["US", "DE", "FR", "SG", "TH", *GCC]


@pytest.fixture
def shelf(merchant):
    """One product per rule, and some that break none."""
    in_a_year = today() + dt.timedelta(days=365)
    return {
        "mug": make_product(merchant, "mug"),
        "wine": make_product(merchant, "wine", attributes=(A.IS_FOOD, A.CONTAINS_ALCOHOL)),
        "perfume": make_product(merchant, "perfume", attributes=(A.CONTAINS_ALCOHOL,)),
        "sausages": make_product(
            merchant, "sausages", attributes=(A.IS_FOOD, A.CONTAINS_PORK), certifications=((Cert.HALAL, in_a_year),)
        ),
        "white-candy": make_product(merchant, "white-candy", attributes=(A.IS_FOOD,), e_numbers=("E330", "E171")),
        "red-candy": make_product(merchant, "red-candy", attributes=(A.IS_FOOD,), e_numbers=("E123",)),
        "organic-tea": make_product(merchant, "organic-tea", attributes=(A.IS_FOOD, A.CLAIMS_ORGANIC)),
        "certified-tea": make_product(
            merchant,
            "certified-tea",
            attributes=(A.IS_FOOD, A.CLAIMS_ORGANIC),
            certifications=((Cert.EU_ORGANIC, in_a_year),),
        ),
        "dates": make_product(
            merchant, "dates", attributes=(A.IS_FOOD,), certifications=((Cert.HALAL, today() + dt.timedelta(days=30)),)
        ),
        "vape": make_product(merchant, "vape", attributes=(A.IS_VAPING_PRODUCT,)),
        "switched-off": make_product(merchant, "switched-off", is_active=False),
    }


EVERYWHERE = {"mug"}
EXPECTED = {
    "US": EVERYWHERE | {"wine", "perfume", "sausages", "white-candy", "organic-tea", "certified-tea", "dates", "vape"},
    "DE": EVERYWHERE | {"wine", "perfume", "sausages", "red-candy", "certified-tea", "dates", "vape"},
    "FR": EVERYWHERE | {"wine", "perfume", "sausages", "red-candy", "certified-tea", "dates", "vape"},
    "SG": EVERYWHERE
    | {"wine", "perfume", "sausages", "white-candy", "red-candy", "organic-tea", "certified-tea", "dates"},
    "TH": EVERYWHERE
    | {"wine", "perfume", "sausages", "white-candy", "red-candy", "organic-tea", "certified-tea", "dates"},
    # Alcohol is allowed in AE, BH and OM by the data (no rule there); food needs Halal everywhere in the GCC.
    "AE": EVERYWHERE | {"perfume", "dates", "vape"},
    "BH": EVERYWHERE | {"perfume", "dates", "vape"},
    "OM": EVERYWHERE | {"perfume", "dates", "vape"},
    "SA": EVERYWHERE | {"dates", "vape"},
    "KW": EVERYWHERE | {"dates", "vape"},
    "QA": EVERYWHERE | {"dates", "vape"},
}


def _visible(country: str, **kwargs) -> set[str]:
    return set(products_visible_in(country=country, **kwargs).values_list("slug", flat=True))


@pytest.mark.parametrize("country", COUNTRIES)
def test_each_country_sees_what_its_rules_allow(shelf, country):
    assert _visible(country) == EXPECTED[country]


def test_every_country_group_has_a_visible_and_a_hidden_product(shelf):
    for group in (["US"], ["DE", "FR"], ["SG", "TH"], ["AE", "SA"]):
        for country in group:
            visible = _visible(country)
            assert visible and set(shelf) - visible, country


def test_the_list_filter_and_the_explanation_agree(shelf):
    """The SQL filter (lists) and the Python evaluation (pages, admin) read the same rules."""
    for country in COUNTRIES:
        listed = _visible(country)
        for slug, product in shelf.items():
            if not product.is_active:
                continue
            assert product_is_visible_in(product, country) == (slug in listed), (slug, country)
            assert bool(product_visibility(product, country)) == (slug not in listed), (slug, country)


def test_lower_case_country_codes_are_understood(shelf):
    assert _visible("sa") == EXPECTED["SA"]


def test_alcohol_is_hidden_in_sa_but_shown_in_ae(shelf):
    perfume = shelf["perfume"]
    assert product_visibility(perfume, "AE") == []
    [violation] = product_visibility(perfume, "SA")
    assert violation.rule_name == "No alcohol in SA"
    assert "Saudi Arabia" in violation.message


def test_wine_in_ae_is_hidden_by_the_halal_rule_not_the_alcohol_rule(shelf):
    reasons = {v.rule_name for v in product_visibility(shelf["wine"], "AE")}
    assert reasons == {"Halal certificate for food in the GCC"}
    reasons = {v.rule_name for v in product_visibility(shelf["wine"], "SA")}
    assert reasons == {"No alcohol in SA", "Halal certificate for food in the GCC"}


@pytest.mark.parametrize("country", GCC)
def test_pork_in_food_is_hidden_in_every_gcc_country_even_with_halal_certificate(shelf, country):
    assert [v.rule_name for v in product_visibility(shelf["sausages"], country)] == ["No pork in food in the GCC"]


def test_banned_additive_is_named_in_the_explanation(shelf):
    [violation] = product_visibility(shelf["white-candy"], "DE")
    assert violation.details == ("E171 Titanium dioxide",)
    assert "not authorised in the EU" in str(violation)


def test_organic_claim_needs_a_valid_eu_organic_certificate_in_the_eu(shelf):
    [violation] = product_visibility(shelf["organic-tea"], "FR")
    assert violation.details == ("EU Organic",)
    assert product_visibility(shelf["certified-tea"], "FR") == []


def test_expired_halal_certificate_hides_food_in_the_gcc(shelf):
    dates = shelf["dates"]
    after_expiry = today() + dt.timedelta(days=31)
    assert "dates" in _visible("AE") and "dates" in _visible("SA")
    assert "dates" not in _visible("AE", today=after_expiry)
    assert "dates" not in _visible("SA", today=after_expiry)
    assert [v.rule_name for v in product_visibility(dates, "AE", today=after_expiry)] == [
        "Halal certificate for food in the GCC"
    ]
    # The last day of validity still counts.
    assert "dates" in _visible("AE", today=today() + dt.timedelta(days=30))
    # Outside the GCC nobody asks for it.
    assert "dates" in _visible("US", today=after_expiry)


def test_a_certificate_that_has_not_started_does_not_count(merchant):
    dates = make_product(merchant, "dates", attributes=(A.IS_FOOD,))
    dates.certifications.create(
        type=Cert.HALAL,
        issuer="Test issuer",
        number="H-1",
        valid_from=today() + dt.timedelta(days=10),
        valid_until=today() + dt.timedelta(days=100),
    )
    assert "dates" not in _visible("AE")
    assert "dates" in _visible("AE", today=today() + dt.timedelta(days=10))


def test_required_certifications_for_the_product_page(shelf):
    [halal] = required_certifications(shelf["dates"], "AE")
    assert (halal.type, halal.label) == (Cert.HALAL, "Halal")
    assert halal.certification is not None and halal.certification.number == "HALAL-DATES"
    assert required_certifications(shelf["dates"], "US") == []
    [organic] = required_certifications(shelf["certified-tea"], "DE")
    assert organic.type == Cert.EU_ORGANIC and organic.certification is not None
    # A hidden product has no certificate to show; the page says why instead.
    [missing] = required_certifications(shelf["wine"], "AE")
    assert missing.certification is None
    assert required_certifications(shelf["mug"], "AE") == []


def test_hidden_in_lists_the_countries_of_the_region_and_why(shelf, use_region):
    use_region("me-south")
    hidden = product_hidden_in(shelf["perfume"])
    assert sorted(hidden) == ["KW", "QA", "SA"]
    assert product_hidden_in(shelf["mug"]) == {}


def test_rule_edits_apply_to_the_next_query(shelf):
    from apps.compliance.models import ProductRule

    assert "perfume" in _visible("AE")
    ProductRule.objects.create(
        name="No alcohol in AE", country="AE", kind="hide", attribute=A.CONTAINS_ALCOHOL, message_en="No alcohol."
    )
    assert "perfume" not in _visible("AE")
    ProductRule.objects.filter(name="No alcohol in AE").update(is_active=False)  # bypasses signals…
    ProductRule.objects.get(name="No alcohol in AE").save()  # …a save through the model announces it
    assert "perfume" in _visible("AE")


def _count_listing_queries(country: str) -> int:
    rules_for_country(country)  # the rules are cached; the page's own queries are what matters
    with CaptureQueriesContext(connection) as captured:
        products = list(with_listing_data(products_visible_in(country=country)))
        for product in products:
            _ = (product.merchant.name, product.active_variants, product.images.all(), product.valid_certifications)
    return len(captured.captured_queries), len(products)


def _fill(merchant, count: int, start: int = 0) -> None:
    kinds = [(), (A.IS_FOOD,), (A.CONTAINS_ALCOHOL,), (A.IS_FOOD, A.CLAIMS_ORGANIC)]
    for i in range(start, start + count):
        make_product(
            merchant,
            f"item-{i}",
            attributes=kinds[i % len(kinds)],
            e_numbers=("E330",) if i % 3 == 0 else (),
            certifications=((Cert.HALAL, today() + dt.timedelta(days=60)),) if i % 2 else (),
        )


@pytest.mark.parametrize("country", ["US", "DE", "AE", "SA"])
def test_query_count_does_not_grow_with_the_number_of_products(merchant, country):
    _fill(merchant, 5)
    queries_for_5, shown_5 = _count_listing_queries(country)
    _fill(merchant, 45, start=5)
    queries_for_50, shown_50 = _count_listing_queries(country)
    assert shown_50 > shown_5 > 0
    assert queries_for_50 == queries_for_5 == 4  # products, variants, images, certificates


def test_the_bare_selector_is_one_query_once_rules_are_cached(merchant):
    _fill(merchant, 8)
    rules_for_country("SA")
    with CaptureQueriesContext(connection) as captured:
        list(products_visible_in(country="SA"))
    assert len(captured.captured_queries) == 1


def test_featured_products_carry_their_cheapest_price_and_respect_the_country(merchant):
    from django.conf import settings

    from apps.catalog import services

    mug = make_product(merchant, "mug", price_minor=1850)
    services.variant_create(region=settings.REGION, product=mug, sku="MUG-BIG", price_minor=1500)
    make_product(merchant, "perfume", attributes=(A.CONTAINS_ALCOHOL,))
    featured = {p.slug: p for p in featured_products(country="SA")}
    assert set(featured) == {"mug"}
    assert (featured["mug"].price_minor, featured["mug"].currency) == (1500, settings.REGION.settlement_currency)
    assert {p.slug for p in featured_products(country="AE")} == {"mug", "perfume"}
