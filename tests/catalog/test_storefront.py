"""Storefront pages: what a shopper in each country sees, in their language and currency."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.catalog import services
from apps.catalog.models import Variant
from apps.catalog.selectors import CATALOG_GENERATION
from apps.catalog.views import PAGE_SIZE
from apps.compliance.models import CertificationType
from apps.compliance.models import ProductAttribute as A
from apps.money.services import fx_rates_update
from tests.catalog.factories import make_product, today
from tests.money.factories import SHIPPED_DATA, todays_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def edge_country(settings):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"

    def headers(country: str, language: str = "en") -> dict[str, str]:
        return {"CF-IPCountry": country, "Accept-Language": language}

    return headers


@pytest.fixture
def gulf_shelf(merchant, use_region):
    use_region("me-south")
    in_a_year = today() + dt.timedelta(days=365)
    return {
        "dates": make_product(
            merchant,
            "dates",
            attributes=(A.IS_FOOD,),
            certifications=((CertificationType.HALAL, in_a_year),),
            names={"ar": "تمر", "en": "Dates"},
            price_minor=2500,
        ),
        "wine": make_product(
            merchant, "wine", attributes=(A.IS_FOOD, A.CONTAINS_ALCOHOL), names={"ar": "نبيذ", "en": "Wine"}
        ),
        "perfume": make_product(
            merchant, "perfume", attributes=(A.CONTAINS_ALCOHOL,), names={"ar": "عطر", "en": "Perfume"}
        ),
    }


def _slugs(response) -> set[str]:
    return set(re.findall(r'data-product="([^"]+)"', response.content.decode()))


def test_listing_shows_only_what_the_country_allows(client, gulf_shelf, edge_country):
    in_ae = client.get(reverse("catalog:products"), headers=edge_country("AE"))
    in_sa = client.get(reverse("catalog:products"), headers=edge_country("SA"))
    assert in_ae.status_code == in_sa.status_code == 200
    # Wine is food without Halal: hidden in the whole GCC; perfume's alcohol is allowed in AE only.
    assert _slugs(in_ae) == {"dates", "perfume"}
    assert _slugs(in_sa) == {"dates"}
    assert "perfume" not in in_sa.content.decode()


def test_product_page_in_arabic_shows_aed_and_the_halal_badge(client, gulf_shelf, edge_country):
    dates = gulf_shelf["dates"]
    response = client.get(dates.get_absolute_url(), headers=edge_country("AE", "ar"))
    page = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="ar" dir="rtl">' in page
    assert "تمر" in page
    assert 'data-testid="required-cert-halal"' in page
    # 25.00 AED in Arabic (UAE) formatting: Arabic-Indic digits are not used by ar-AE in CLDR.
    assert "25.00" in page and "د.إ.‏" in page


def test_a_forbidden_product_answers_404_with_the_reason(client, gulf_shelf, edge_country):
    response = client.get(gulf_shelf["perfume"].get_absolute_url(), headers=edge_country("SA"))
    assert response.status_code == 404
    assert 'data-testid="not-available"' in response.content.decode()
    assert "Saudi Arabia" in response.content.decode()


def test_unknown_product_and_category_are_404(client, gulf_shelf):
    assert client.get(reverse("catalog:product", kwargs={"pk": 999999, "slug": "nope"})).status_code == 404
    assert client.get(reverse("catalog:category", kwargs={"slug": "nope"})).status_code == 404


def test_a_wrong_slug_redirects_to_the_product(client, gulf_shelf, edge_country):
    dates = gulf_shelf["dates"]
    response = client.get(
        reverse("catalog:product", kwargs={"pk": dates.pk, "slug": "old"}), headers=edge_country("AE")
    )
    assert response.status_code == 301
    assert response["Location"] == dates.get_absolute_url()


def test_search_finds_by_name_in_the_shoppers_language_and_never_a_hidden_product(client, gulf_shelf, edge_country):
    found = client.get(reverse("catalog:search"), {"q": "عطر"}, headers=edge_country("AE", "ar"))
    assert _slugs(found) == {"perfume"}
    hidden = client.get(reverse("catalog:search"), {"q": "Perfume"}, headers=edge_country("SA"))
    assert _slugs(hidden) == set()
    assert 'data-testid="no-results"' in hidden.content.decode()


def test_search_matches_words_in_any_order_and_in_the_description(client, merchant, edge_country, use_region):
    region = use_region("us-east")
    scarf = services.product_create(
        region=region,
        merchant=merchant,
        slug="silk-scarf",
        names={"en": "Silk scarf"},
        descriptions={"en": "Hand-rolled hems, dyed with indigo."},
    )
    services.variant_create(region=region, product=scarf, sku="SCARF", price_minor=5000)
    make_product(merchant, "wool-hat")
    us = edge_country("US")
    # Neither query is a substring of the name: only the full-text search can find these.
    assert _slugs(client.get(reverse("catalog:search"), {"q": "scarf silk"}, headers=us)) == {"silk-scarf"}
    assert _slugs(client.get(reverse("catalog:search"), {"q": "indigo"}, headers=us)) == {"silk-scarf"}
    assert _slugs(client.get(reverse("catalog:search"), {"q": "scarf -silk"}, headers=us)) == set()
    assert _slugs(client.get(reverse("catalog:search"), {"q": "linen"}, headers=us)) == set()


def test_sorting_filters_and_pagination(client, merchant, edge_country, use_region):
    use_region("us-east")
    for number in range(50):
        make_product(merchant, f"shirt-{number:02d}", price_minor=1000 + number)
    first = client.get(reverse("catalog:products"), {"sort": "price_desc"}, headers=edge_country("US"))
    assert first.context["page"].paginator.count == 50
    prices = [product.price_minor for product in first.context["products"]]
    assert len(prices) == 48 and prices == sorted(prices, reverse=True)
    second = client.get(reverse("catalog:products"), {"sort": "price_desc", "page": 2}, headers=edge_country("US"))
    assert [p.price_minor for p in second.context["products"]] == [1001, 1000]
    assert 'rel="prev"' in second.content.decode()
    certified = client.get(
        reverse("catalog:products"), {"certification": CertificationType.HALAL}, headers=edge_country("US")
    )
    assert certified.context["page"].paginator.count == 0


@pytest.mark.parametrize(
    "params", [{"sort": "cheapest"}, {"page": "-1"}, {"certification": "made-up"}, {"q": "x" * 500}]
)
def test_bad_listing_parameters_answer_400_with_the_plain_listing(client, gulf_shelf, edge_country, params):
    response = client.get(reverse("catalog:products"), params, headers=edge_country("AE"))
    assert response.status_code == 400
    assert 'data-testid="filter-error"' in response.content.decode()
    assert _slugs(response) == {"dates", "perfume"}


def test_category_listing_includes_subcategories(client, merchant, edge_country, use_region):
    region = use_region("us-east")
    food = services.category_create(region=region, slug="food", names={"en": "Food"})
    snacks = services.category_create(region=region, slug="snacks", names={"en": "Snacks"}, parent=food)
    chips = make_product(merchant, "chips")
    chips.category = snacks
    chips.save()
    make_product(merchant, "socks")
    response = client.get(reverse("catalog:category", kwargs={"slug": "food"}), headers=edge_country("US"))
    assert _slugs(response) == {"chips"}
    assert "Snacks" in response.content.decode()


def test_listing_query_count_is_constant_in_the_page_size(client, merchant, edge_country, use_region):
    _assert_listing_query_count_is_constant(client, merchant, edge_country, use_region)


def test_signed_in_listing_query_count_is_constant_in_the_page_size(
    client, merchant, edge_country, use_region, make_user
):
    client.force_login(make_user(display_name="Ann"))
    _assert_listing_query_count_is_constant(client, merchant, edge_country, use_region, shown_name="Ann")


def _assert_listing_query_count_is_constant(client, merchant, edge_country, use_region, shown_name: str = "") -> None:
    use_region("us-east")

    def rendered_listing() -> tuple[int, int]:
        # A catalog change makes the next request render the listing from the database.
        CATALOG_GENERATION.bump()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("catalog:products"), headers=edge_country("US"))
        assert response.status_code == 200
        assert shown_name in response.content.decode()
        return len(captured), len(_slugs(response))

    make_product(merchant, "one")
    rendered_listing()  # the first request also loads and caches the country's rules
    queries_for_one, shown = rendered_listing()
    assert shown == 1 and queries_for_one > 0
    for number in range(PAGE_SIZE + 5):
        make_product(merchant, f"many-{number}")
    queries_for_a_full_page, shown = rendered_listing()
    assert shown == PAGE_SIZE
    assert queries_for_a_full_page == queries_for_one

    # Until the catalog changes, the same listing comes from the cache, without the database.
    with CaptureQueriesContext(connection) as cached:
        assert client.get(reverse("catalog:products"), headers=edge_country("US")).status_code == 200
    assert not [query for query in cached.captured_queries if "catalog_" in query["sql"]]


@pytest.fixture
def fx_rates(settings, tmp_path):
    settings.FX_PROVIDERS = ["ecb_file", "pegged"]
    settings.FX_RATES_FILE = str(SHIPPED_DATA / "eurofxref-daily.xml")
    settings.FX_PEGS_FILE = str(SHIPPED_DATA / "pegs.toml")
    # Today's: a currency is offered only while its rates are fresh (apps.money.middleware).
    fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))


def test_prices_follow_the_chosen_currency(client, gulf_shelf, edge_country, fx_rates):
    client.post(reverse("accounts:preferences"), {"currency": "SAR", "next": "/"}, headers=edge_country("AE"))
    page = client.get(gulf_shelf["dates"].get_absolute_url(), headers=edge_country("AE")).content.decode()
    # 25.00 AED at the peg (1 USD = 3.6725 AED = 3.75 SAR) is 25.53 SAR.
    assert "25.53" in page and "SAR" in page


def test_listings_are_cached_per_viewpoint_until_the_catalog_changes(
    client, merchant, edge_country, use_region, django_capture_on_commit_callbacks
):
    use_region("us-east")
    with django_capture_on_commit_callbacks(execute=True):
        make_product(merchant, "mug")
    first = client.get(reverse("catalog:products"), headers=edge_country("US"))
    with CaptureQueriesContext(connection) as cached:
        again = client.get(reverse("catalog:products"), headers=edge_country("US"))
    assert _slugs(first) == _slugs(again) == {"mug"}
    assert not [q for q in cached.captured_queries if "catalog_product" in q["sql"]]
    with django_capture_on_commit_callbacks(execute=True):
        make_product(merchant, "teapot")
    assert _slugs(client.get(reverse("catalog:products"), headers=edge_country("US"))) == {"mug", "teapot"}


def _csrf_token(response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode()).group(1)


def test_first_visits_share_one_cached_page_each_with_its_own_csrf_token(merchant, edge_country, use_region, settings):
    from django.test import Client

    from apps.catalog.page_cache import _markers

    use_region("us-east")
    make_product(merchant, "mug")
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    one = first.get(reverse("catalog:products"), headers=edge_country("US"))
    with CaptureQueriesContext(connection) as cached:
        two = second.get(reverse("catalog:products"), headers=edge_country("US"))

    assert one.status_code == two.status_code == 200
    assert _slugs(one) == _slugs(two) == {"mug"}
    assert not [q for q in cached.captured_queries if "catalog_" in q["sql"]]
    tokens = _csrf_token(one), _csrf_token(two)
    assert tokens[0] != tokens[1]
    assert not [marker for marker in _markers(settings.SECRET_KEY).values() if marker in two.content.decode()]
    assert one.content.decode().replace(tokens[0], "") == two.content.decode().replace(tokens[1], "")
    # Each visitor's token works with their own cookie, and only with it.
    form = {"language": "en", "currency": "USD", "next": "/products/"}
    assert second.post(reverse("accounts:preferences"), {**form, "csrfmiddlewaretoken": tokens[0]}).status_code == 403
    assert second.post(reverse("accounts:preferences"), {**form, "csrfmiddlewaretoken": tokens[1]}).status_code == 302
    assert first.post(reverse("accounts:preferences"), {**form, "csrfmiddlewaretoken": tokens[0]}).status_code == 302
    # A returning visitor (a session with a cart and preferences) gets the shared page too.
    variant = Variant.objects.get(product__slug="mug")
    second.post(reverse("orders:cart-add"), {"variant": variant.pk, "quantity": 1, "csrfmiddlewaretoken": tokens[1]})
    assert second.cookies.get("sessionid")
    with CaptureQueriesContext(connection) as returning:
        three = second.get(reverse("catalog:products"), headers=edge_country("US"))
    assert _slugs(three) == {"mug"} and not [q for q in returning.captured_queries if "catalog_" in q["sql"]]
    assert (
        second.post(reverse("accounts:preferences"), {**form, "csrfmiddlewaretoken": _csrf_token(three)}).status_code
        == 302
    )


# Signed-in shoppers and visitors with a message waiting get the same cached page with their
# own parts filled in: tests/catalog/test_listing_page_cache.py.
