"""Made-up addresses cannot flood the listing cache, and a cached page shows nobody's raw address.

The listing is cached by its validated parameters in one spelling: parameters the form does
not know, defaults said out loud, their order and the spelling of a search add no entry.
Pages only a made-up address reaches (past the last page, nothing found) are not kept.
Keys are counted in the test's Redis database itself.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.catalog.views import PAGE_SIZE
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

LISTING = "/products/"
SEARCH = "/search/"
EDGE = {"CF-IPCountry": "US", "Accept-Language": "en"}


@pytest.fixture
def shelf(settings, merchant, use_region):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    use_region("us-east")
    make_product(merchant, "medjool-dates", names={"en": "Medjool Dates"})
    make_product(merchant, "mug")


def _listing_keys() -> set[str]:
    client = cache._cache.get_client()
    return {key.decode() for key in client.scan_iter(match=cache.make_key("catalog:listing:*"))}


def _catalog_queries(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if "catalog_" in query["sql"]]


def _slugs(html: str) -> set[str]:
    return set(re.findall(r'data-product="([^"]+)"', html))


def _without_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def _get(path: str, params: dict | None = None) -> tuple[str, list[str]]:
    """A first visit's page, and the catalog queries it cost."""
    with CaptureQueriesContext(connection) as captured:
        response = Client().get(path, params or {}, headers=EDGE)
    assert response.status_code == 200
    return response.content.decode(), _catalog_queries(captured)


def test_fifty_made_up_parameters_add_no_cache_entry_and_change_nothing_on_the_page(shelf):
    plain, _ = _get(LISTING)
    keys = _listing_keys()
    assert len(keys) == 2  # the listing body and the whole page

    for number in range(50):
        junk = {f"utm_{number}": f"campaign-{number}", "x": str(number), "fbclid": f"click{number:04d}"}
        html, queries = _get(LISTING, junk)
        assert not queries, junk  # served from the one entry
        assert _without_tokens(html) == _without_tokens(plain)
        assert f"campaign-{number}" not in html and f"click{number:04d}" not in html
    assert _listing_keys() == keys


def test_defaults_said_out_loud_and_another_order_share_one_entry(shelf):
    first, _ = _get(LISTING, {"sort": "name", "certification": ""})
    keys = _listing_keys()
    for params in ("?certification=&sort=name&page=1", "?page=1&sort=name&merchant="):
        html, queries = _get(LISTING + params)
        assert not queries and _without_tokens(html) == _without_tokens(first), params
    _get(LISTING, {"sort": "newest", "page": "1"})
    _get(LISTING)  # the newest-first default, said or not, is one more listing, not two
    assert len(_listing_keys()) == len(keys) + 2


def test_two_spellings_of_one_search_share_one_entry_shown_in_one_spelling(shelf):
    first, queries = _get(SEARCH, {"q": "  Dates "})
    assert queries and _slugs(first) == {"medjool-dates"}
    keys = _listing_keys()
    assert len(keys) == 2
    for spelling in ("dates", "DATES", " dates  ", "Dates"):
        html, queries = _get(SEARCH, {"q": spelling})
        assert not queries, spelling
        assert _without_tokens(html) == _without_tokens(first)
    assert _listing_keys() == keys
    # Both search boxes (the header's and the listing's) show the one spelling the key holds.
    assert first.count('value="dates"') == 2 and "Dates " not in first


def test_words_apart_by_more_than_one_space_are_the_same_search(shelf):
    _get(SEARCH, {"q": "medjool dates"})
    html, queries = _get(SEARCH, {"q": "Medjool \t  dates"})
    assert not queries and _slugs(html) == {"medjool-dates"}
    assert len(_listing_keys()) == 2


def test_a_cached_page_shows_only_the_address_its_key_holds(shelf):
    # The first visitor's raw address, with what the form does not know, renders the page...
    _get(SEARCH, {"q": "  DATES ", "utm_source": "someones-secret-campaign", "ref": "a-friend"})
    # ...that the next visitor gets from the cache, with nothing of the first one's address.
    html, queries = _get(SEARCH, {"q": "dates"})
    assert not queries
    assert "someones-secret-campaign" not in html and "a-friend" not in html and "DATES" not in html
    # The ways back from the preferences page lead to the validated address.
    assert 'name="next" value="/search/?q=dates"' in html
    assert html.count("?next=/search/%3Fq%3Ddates") == 2


def test_a_page_past_the_last_shows_the_last_page_and_is_not_kept(shelf, merchant):
    for number in range(PAGE_SIZE):
        make_product(merchant, f"cup-{number:02d}")
    last, _ = _get(LISTING, {"page": "2"})
    keys = _listing_keys()
    assert len(keys) == 2

    for page in ("3", "77", "10000"):
        html, queries = _get(LISTING, {"page": page})
        assert queries, page  # rendered, as it is not kept
        assert _slugs(html) == _slugs(last) and "Page 2 of 2" in html
    assert _listing_keys() == keys


@pytest.mark.parametrize(
    "params",
    [{"q": "no-such-thing-anywhere-0"}, {"q": "zzzzzz qqqqqq"}, {"merchant": "a-shop-nobody-opened"}],
)
def test_a_listing_that_finds_nothing_is_shown_but_not_kept(shelf, params):
    path = SEARCH if "q" in params else LISTING
    for _ in range(2):
        html, queries = _get(path, params)
        assert queries and 'data-testid="no-results"' in html
    assert _listing_keys() == set()


def test_a_search_longer_than_the_form_allows_is_refused_and_not_kept(shelf):
    response = Client().get(SEARCH, {"q": "dates " * 20}, headers=EDGE)
    assert response.status_code == 400 and 'data-testid="filter-error"' in response.content.decode()
    assert _listing_keys() == set()


def test_a_listing_that_finds_nothing_without_typed_text_is_kept(shelf):
    # Certified products are one of a few choices, not something made up: the crowd shares it.
    _get(LISTING, {"certification": "halal"})
    html, queries = _get(LISTING, {"certification": "halal"})
    assert not queries and 'data-testid="no-results"' in html
    assert len(_listing_keys()) == 2
