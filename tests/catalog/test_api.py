"""The catalog API: country rules, languages, currencies, errors, pagination, ETags, schema."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from drf_spectacular.validation import validate_schema

from apps.catalog.selectors import CATALOG_GENERATION
from apps.compliance.models import CertificationType
from apps.compliance.models import ProductAttribute as A
from tests.catalog.factories import make_product, today

pytestmark = pytest.mark.django_db


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
        "perfume": make_product(
            merchant, "perfume", attributes=(A.CONTAINS_ALCOHOL,), names={"ar": "عطر", "en": "Perfume"}
        ),
    }


def _slugs(response) -> set[str]:
    return {item["slug"] for item in response.json()["results"]}


def test_products_follow_the_country_parameter(client, gulf_shelf):
    url = reverse("catalog-api:products")
    assert _slugs(client.get(url, {"country": "AE"})) == {"dates", "perfume"}
    assert _slugs(client.get(url, {"country": "sa"})) == {"dates"}


def test_language_and_currency_parameters(client, gulf_shelf):
    response = client.get(reverse("catalog-api:products"), {"country": "AE", "lang": "ar", "currency": "AED"})
    body = response.json()
    assert response["Content-Language"] == "ar"
    dates = next(item for item in body["results"] if item["slug"] == "dates")
    assert dates["name"] == "تمر"
    assert dates["price_from"]["amount_minor"] == 2500 and dates["price_from"]["currency"] == "AED"
    assert "25.00" in dates["price_from"]["formatted"]
    assert dates["certifications"] == [CertificationType.HALAL]


@pytest.mark.parametrize(
    ("params", "field", "valid"),
    [
        ({"country": "US"}, "country", "AE, BH, KW, OM, QA, SA"),
        ({"country": "ZZZ"}, "country", None),
        ({"lang": "fr"}, "lang", "ar (Arabic), en (English)"),
        ({"currency": "EUR"}, "currency", "AED, SAR"),
        ({"sort": "cheapest"}, "sort", None),
        ({"certification": "nope"}, "certification", None),
    ],
)
def test_unknown_parameters_answer_400_with_the_valid_values(client, gulf_shelf, params, field, valid):
    response = client.get(reverse("catalog-api:products"), params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_parameters"
    assert field in error["fields"]
    if valid:
        assert valid in error["fields"][field][0]


def test_detail_hides_forbidden_products_with_the_reason(client, gulf_shelf):
    url = reverse("catalog-api:product", kwargs={"pk": gulf_shelf["perfume"].pk})
    assert client.get(url, {"country": "AE"}).status_code == 200
    refused = client.get(url, {"country": "SA"})
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "not_available_in_country"
    assert client.get(reverse("catalog-api:product", kwargs={"pk": 999999})).json()["error"]["code"] == "not_found"


def test_detail_lists_variants_and_required_certifications(client, gulf_shelf):
    url = reverse("catalog-api:product", kwargs={"pk": gulf_shelf["dates"].pk})
    body = client.get(url, {"country": "AE", "lang": "en"}).json()
    assert body["name"] == "Dates"
    assert [v["sku"] for v in body["variants"]] == ["DATES"]
    assert body["required_certifications"][0]["type"] == CertificationType.HALAL
    assert body["required_certifications"][0]["certified"] is True


def test_pagination(client, merchant, use_region):
    use_region("us-east")
    for number in range(5):
        make_product(merchant, f"cup-{number}")
    body = client.get(reverse("catalog-api:products"), {"page_size": 2, "page": 3}).json()
    assert body["count"] == 5 and len(body["results"]) == 1 and body["next"] is None
    assert client.get(reverse("catalog-api:products"), {"page": 99}).status_code == 404


def test_etag_answers_304_until_something_changes(client, gulf_shelf, django_capture_on_commit_callbacks):
    url = reverse("catalog-api:products")
    first = client.get(url, {"country": "AE"})
    etag = first["ETag"]
    assert client.get(url, {"country": "AE"}, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, {"country": "AE", "lang": "en"}, headers={"If-None-Match": etag}).status_code == 200
    variant = gulf_shelf["dates"].variants.get()
    variant.price_minor = 2600
    with django_capture_on_commit_callbacks(execute=True):
        variant.save()
    assert client.get(url, {"country": "AE"}, headers={"If-None-Match": etag}).status_code == 200


def test_a_cached_listing_is_the_same_json_and_the_browsable_api_still_renders(client, gulf_shelf):
    url = reverse("catalog-api:products")
    first = client.get(url, {"country": "AE"})
    again = client.get(url, {"country": "AE"})  # from the cache
    assert first["Content-Type"] == again["Content-Type"] == "application/json"
    assert first.content == again.content and first.json()["count"] >= 1
    assert again["Content-Language"] == first["Content-Language"]
    page = client.get(url, {"country": "AE"}, HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert str(first.json()["count"]) in page.content.decode()


def test_categories(client, gulf_shelf, use_region):
    from apps.catalog import services

    region = use_region("me-south")
    services.category_create(region=region, slug="sweets", names={"ar": "حلويات", "en": "Sweets"})
    body = client.get(reverse("catalog-api:categories"), {"lang": "ar"}).json()
    assert {"slug": "sweets", "name": "حلويات", "children": []} in body["results"]


def test_unknown_category_filter_is_404(client, gulf_shelf):
    response = client.get(reverse("catalog-api:products"), {"category": "nope"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert response.json()["error"]["fields"] == {"category": ["No such category."]}


def test_openapi_schema_is_valid_and_documents_the_catalog(client):
    response = client.get(reverse("api-schema"))
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    assert "/api/v1/products/" in schema["paths"]
    names = {p["name"] for p in schema["paths"]["/api/v1/products/"]["get"]["parameters"]}
    assert {"country", "lang", "currency", "page"} <= names


def test_api_listing_query_count_is_constant_in_the_page_size(client, merchant, use_region):
    use_region("us-east")
    url = reverse("catalog-api:products")

    def listed(page_size: int) -> tuple[int, int]:
        # A catalog change makes the next request read the listing from the database.
        CATALOG_GENERATION.bump()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, {"country": "US", "page_size": page_size})
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    make_product(merchant, "one")
    listed(48)  # the first request also loads and caches the country's rules
    queries_for_one, shown = listed(48)
    assert shown == 1 and queries_for_one > 0
    for number in range(53):
        make_product(merchant, f"many-{number}")
    queries_for_a_full_page, shown = listed(48)
    assert shown == 48
    assert queries_for_a_full_page == queries_for_one
    assert listed(2) == (queries_for_one, 2)


def test_an_expired_certificate_is_not_shown_as_if_it_counted(client, merchant, use_region):
    from apps.catalog.models import Certification

    use_region("us-east")
    kettle = make_product(merchant, "kettle", certifications=((CertificationType.CE, today() + dt.timedelta(days=30)),))
    detail = reverse("catalog-api:product", kwargs={"pk": kettle.pk})
    page = kettle.get_absolute_url()
    assert [c["type"] for c in client.get(detail, {"country": "US"}).json()["certifications"]] == ["ce"]
    assert "CE-KETTLE" in client.get(page).content.decode()

    # Time passes and the certificate runs out (new expired certificates are refused, so the
    # row is moved back in time): it proves nothing any more and is not shown.
    Certification.objects.filter(product=kettle).update(valid_until=today() - dt.timedelta(days=1))
    response = client.get(detail, {"country": "US"})
    assert response.status_code == 200 and response.json()["certifications"] == []
    assert "CE-KETTLE" not in client.get(page).content.decode()


def test_api_docs_page_renders(client):
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    assert reverse("api-schema") in response.content.decode()


def test_prices_in_another_currency_are_never_converted_with_stale_rates(client, merchant, use_region, settings):
    from apps.money.services import fx_rates_update
    from tests.money.factories import SHIPPED_DATE, shipped_provider

    use_region("eu-west")
    make_product(merchant, "scarf", price_minor=1000)
    fx_rates_update(provider=shipped_provider(), today=SHIPPED_DATE)
    url = reverse("catalog-api:products")

    settings.FX_STALE_AFTER_DAYS = 100_000
    CATALOG_GENERATION.bump()
    fresh = client.get(url, {"country": "IE", "currency": "GBP"}).json()["results"][0]["price_from"]
    assert fresh["currency"] == "GBP" and fresh["fx_snapshot"] and fresh["stale_rate"] is False

    settings.FX_STALE_AFTER_DAYS = 0  # the shipped rates are older than today
    CATALOG_GENERATION.bump()
    response = client.get(url, {"country": "IE", "currency": "GBP"})
    stale = response.json()["results"][0]["price_from"]
    # As on the pages: in euros, the settlement currency, saying which one could not be used.
    assert (stale["currency"], stale["amount_minor"], stale["stale_rate"]) == ("EUR", 1000, False)
    assert response["X-Currency-Unavailable"] == "GBP"
