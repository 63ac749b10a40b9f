"""Made-up addresses cannot flood the products API's cache, and a cached page shows nobody's raw address.

As the HTML listing (tests/catalog/test_listing_cache_keys.py): the API's listing is cached by
its validated parameters in one spelling, so parameters it does not know (still ignored, as
the pages ignore them), defaults said out loud, their order and the spelling of a search add
no entry, and the page links are built from that one spelling. Pages only a made-up address
reaches (a typed search or shop that finds nothing, a page past the last) are not kept.
Keys are counted in the test's Redis database itself.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelf(merchant, use_region):
    use_region("us-east")
    make_product(merchant, "medjool-dates", names={"en": "Medjool Dates"})
    make_product(merchant, "deglet-dates", names={"en": "Deglet Dates"})
    make_product(merchant, "mug")


def _listing_keys() -> set[str]:
    client = cache._cache.get_client()
    return {key.decode() for key in client.scan_iter(match=cache.make_key("catalog:listing:*"))}


def _get(params: dict | str | None = None, *, status: int = 200) -> tuple[bytes, list[str]]:
    """A first visit's answer, and the catalog queries it cost."""
    url = reverse("catalog-api:products")
    with CaptureQueriesContext(connection) as captured:
        if isinstance(params, str):
            response = Client().get(url + params, headers={"Accept-Language": "en"})
        else:
            response = Client().get(url, params or {}, headers={"Accept-Language": "en"})
    assert response.status_code == status, response.content
    return response.content, [query["sql"] for query in captured.captured_queries if "catalog_" in query["sql"]]


def test_fifty_made_up_parameter_sets_add_no_cache_entry_and_change_nothing_in_the_answer(shelf):
    plain, _ = _get({"country": "US", "page_size": "1"})
    keys = _listing_keys()
    assert len(keys) == 1
    assert b'"next":"http://testserver/api/v1/products/?country=US&page=2&page_size=1"' in plain

    for number in range(50):
        junk = {f"utm_{number}": f"campaign-{number}", "x": str(number), "fbclid": f"click{number:04d}"}
        body, queries = _get({"country": "US", "page_size": "1", **junk})
        assert not queries, junk  # served from the one entry, answered as before (ignored, not refused)
        assert body == plain
    assert _listing_keys() == keys


def test_the_first_visitors_stray_parameters_are_not_in_the_links_others_are_served(shelf):
    _get({"page_size": "1", "utm_source": "someones-secret-campaign", "sort": "newest"})
    body, queries = _get({"page_size": "1"})
    assert not queries
    assert b"someones-secret-campaign" not in body and b"sort=" not in body
    assert b'"next":"http://testserver/api/v1/products/?page=2&page_size=1"' in body


def test_two_spellings_of_one_search_share_one_entry_and_link_in_one_spelling(shelf):
    first, queries = _get({"q": "  Dates ", "page_size": "1"})
    assert queries
    assert b'"count":2' in first
    assert b'"next":"http://testserver/api/v1/products/?page=2&page_size=1&q=dates"' in first
    keys = _listing_keys()
    assert len(keys) == 1
    for spelling in ("dates", "DATES", " dates  ", "Dates"):
        body, queries = _get({"q": spelling, "page_size": "1"})
        assert not queries, spelling
        assert body == first
    assert _listing_keys() == keys


def test_defaults_said_out_loud_and_another_order_share_one_entry(shelf):
    first, _ = _get()
    keys = _listing_keys()
    for params in (
        "?sort=newest&page=1",
        "?page=1&sort=newest&certification=&merchant=&q=",
        "?page_size=48",
        "?page_size=not-a-number",  # read as DRF reads it: the default
        "?q=%20%20",
    ):
        body, queries = _get(params)
        assert not queries and body == first, params
    assert _listing_keys() == keys
    # Any page size past the largest is the largest: one entry for all of them.
    _get({"page_size": "96"})
    for size in ("97", "500", "100000"):
        assert not _get({"page_size": size})[1], size
    assert len(_listing_keys()) == len(keys) + 1


@pytest.mark.parametrize(
    "params",
    [{"q": "no-such-thing-anywhere-0"}, {"q": "zzzzzz qqqqqq"}, {"merchant": "a-shop-nobody-opened"}],
)
def test_a_typed_search_or_shop_that_finds_nothing_is_answered_but_not_kept(shelf, params):
    for _ in range(2):
        body, queries = _get(params)
        assert queries and b'"count":0' in body
    assert _listing_keys() == set()


def test_a_listing_that_finds_nothing_without_typed_text_is_kept(shelf):
    # Certified products are one of a few choices, not something made up: the crowd shares it.
    _get({"certification": "halal"})
    body, queries = _get({"certification": "halal"})
    assert not queries and b'"count":0' in body
    assert len(_listing_keys()) == 1


def test_a_page_past_the_last_answers_404_and_is_not_kept(shelf):
    for page in ("4", "77", "10000"):
        body, _ = _get({"page_size": "1", "page": page}, status=404)
        assert b'"code":"not_found"' in body
    assert _listing_keys() == set()


@pytest.mark.parametrize("page", ["0", "-1", "two", "last", "1.5"])
def test_a_page_that_is_not_a_page_number_is_refused_and_not_kept(shelf, page):
    body, _ = _get({"page": page}, status=400)
    assert b'"code":"invalid_parameters"' in body and b'"page"' in body
    assert _listing_keys() == set()


def test_a_search_longer_than_allowed_is_refused_and_not_kept(shelf):
    body, _ = _get({"q": "dates " * 20}, status=400)
    assert b'"q"' in body
    assert _listing_keys() == set()


def test_the_second_page_links_back_to_the_first_without_a_page_number(shelf):
    body, _ = _get({"page_size": "1", "page": "02", "merchant": "shop-a", "utm": "x"})
    assert b'"previous":"http://testserver/api/v1/products/?merchant=shop-a&page_size=1"' in body
    assert b'"next":"http://testserver/api/v1/products/?merchant=shop-a&page=3&page_size=1"' in body
