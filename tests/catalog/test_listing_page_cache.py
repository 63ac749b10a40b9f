"""The listing page is one cached page for everybody, with each visitor's own parts filled in.

Signed-in shoppers, first visits and visitors with a message waiting all get the same page
from the cache; what is theirs (account menu, sign-out form, CSRF tokens, messages) is
rendered per request and never reaches anybody else.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.compliance.selectors import RULES_GENERATION
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

LISTING = "/products/"
EDGE = {"CF-IPCountry": "US", "Accept-Language": "en"}


@pytest.fixture
def shelf(settings, merchant, use_region):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    use_region("us-east")
    return make_product(merchant, "mug")


def _slugs(html: str) -> set[str]:
    return set(re.findall(r'data-product="([^"]+)"', html))


def _tokens(html: str) -> list[str]:
    return re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)


def _account_name(html: str) -> str | None:
    found = re.search(r'<span data-testid="account-name">([^<]*)</span>', html)
    return found.group(1) if found else None


def _catalog_queries(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if "catalog_" in query["sql"]]


def _visitor(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def _preferences_post(client: Client, token: str) -> int:
    form = {"language": "en", "currency": "USD", "next": LISTING, "csrfmiddlewaretoken": token}
    return client.post(reverse("accounts:preferences"), form).status_code


def test_two_shoppers_and_a_visitor_take_turns_on_the_cached_page_each_seeing_only_their_own(shelf, make_user):
    ann = make_user(email="ann@example.test", display_name="Ann Shopper")
    bob = make_user(email="bob@example.test", display_name="Bob Buyer")
    bob.is_staff = True
    bob.save(update_fields=["is_staff"])
    visitors = {"ann": _visitor(ann), "bob": _visitor(bob), "anonymous": _visitor()}
    names = {"ann": "Ann Shopper", "bob": "Bob Buyer", "anonymous": None}
    visitors["anonymous"].get(LISTING, headers=EDGE)  # the shared page is cached

    seen: dict[str, set[str]] = {who: set() for who in visitors}
    for who in ["ann", "anonymous", "bob", "ann", "bob", "anonymous", "ann"]:
        with CaptureQueriesContext(connection) as captured:
            response = visitors[who].get(LISTING, headers=EDGE)
        html = response.content.decode()
        assert response.status_code == 200 and _slugs(html) == {"mug"}
        # Everybody got the page from the cache: the catalog was not asked again.
        assert not _catalog_queries(captured), who
        assert _account_name(html) == names[who]
        for other, name in names.items():
            if other != who and name:
                assert name not in html, (who, other)
        assert ("Sign out" in html) == (who != "anonymous")
        assert ("Sign in" in html) == (who == "anonymous")
        # The console link is the staff member's alone.
        assert (reverse("admin:index") in html) == (who == "bob")
        tokens = _tokens(html)
        # Preferences for everybody, and the sign-out form for the signed-in: one token each,
        # and this visitor's own (a masked token differs on every page, its secret does not).
        assert len(tokens) == (1 if who == "anonymous" else 2)
        seen[who].update(tokens)

    # Each visitor's tokens work with their own cookie and with nobody else's.
    for who, client in visitors.items():
        for token in seen[who]:
            assert _preferences_post(client, token) == 302, who
        for other in visitors:
            if other != who:
                assert _preferences_post(client, next(iter(seen[other]))) == 403, (who, other)


def test_the_sign_out_form_on_the_cached_page_signs_out_its_own_shopper_only(shelf, make_user):
    ann, bob = _visitor(make_user(display_name="Ann")), _visitor(make_user(display_name="Bob"))
    ann_tokens = _tokens(ann.get(LISTING, headers=EDGE).content.decode())
    bob_tokens = _tokens(bob.get(LISTING, headers=EDGE).content.decode())
    assert bob.post(reverse("accounts:logout"), {"csrfmiddlewaretoken": ann_tokens[-1]}).status_code == 403
    assert bob.post(reverse("accounts:logout"), {"csrfmiddlewaretoken": bob_tokens[-1]}).status_code == 302
    assert "Sign in" in bob.get(LISTING, headers=EDGE).content.decode()
    assert _account_name(ann.get(LISTING, headers=EDGE).content.decode()) == "Ann"


def test_a_message_shows_once_and_only_to_its_own_visitor(shelf, make_user):
    ann, bob, anonymous = _visitor(make_user(display_name="Ann")), _visitor(make_user()), _visitor()
    for client in (ann, bob, anonymous):
        client.get(LISTING, headers=EDGE)
    refused = "That choice is not available in this region."

    for who in (ann, anonymous):
        token = _tokens(who.get(LISTING, headers=EDGE).content.decode())[0]
        bad = {"language": "xx", "next": LISTING, "csrfmiddlewaretoken": token}
        assert who.post(reverse("accounts:preferences"), bad).status_code == 302
        # The others, served in between, do not see it and do not use it up.
        assert refused not in bob.get(LISTING, headers=EDGE).content.decode()
        with CaptureQueriesContext(connection) as captured:
            shown = who.get(LISTING, headers=EDGE).content.decode()
        assert not _catalog_queries(captured)
        assert shown.count(refused) == 1 and 'class="messages"' in shown and _slugs(shown) == {"mug"}
        assert refused not in who.get(LISTING, headers=EDGE).content.decode()


def test_a_display_name_is_escaped_and_stays_with_its_shopper(shelf, make_user):
    mallory = _visitor(make_user(display_name="<script>alert('x')</script>"))
    html = mallory.get(LISTING, headers=EDGE).content.decode()
    assert "<script>alert" not in html
    assert _account_name(html) == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    for other in (_visitor(make_user(display_name="Ann")), _visitor()):
        assert "alert(" not in other.get(LISTING, headers=EDGE).content.decode()


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_catalog_change_reaches_every_visitor_on_the_next_request(
    shelf, merchant, make_user, django_capture_on_commit_callbacks, signed_in
):
    client = _visitor(make_user(display_name="Ann") if signed_in else None)
    assert _slugs(client.get(LISTING, headers=EDGE).content.decode()) == {"mug"}
    with django_capture_on_commit_callbacks(execute=True):
        make_product(merchant, "teapot")
    html = client.get(LISTING, headers=EDGE).content.decode()
    assert _slugs(html) == {"mug", "teapot"}
    assert _account_name(html) == ("Ann" if signed_in else None)
    # A change to the country rules renders the page anew as well.
    RULES_GENERATION.bump()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(LISTING, headers=EDGE).status_code == 200
    assert _catalog_queries(captured)


def test_the_shoppers_own_language_gets_its_own_cached_page(shelf, make_user):
    spanish = _visitor(make_user(display_name="Ana", language="es"))
    english = _visitor(make_user(display_name="Ann"))
    assert '<html lang="es"' in spanish.get(LISTING, headers=EDGE).content.decode()
    html = english.get(LISTING, headers=EDGE).content.decode()
    assert '<html lang="en"' in html and _account_name(html) == "Ann"


def test_a_bad_parameter_page_is_the_visitors_own_too(shelf, make_user):
    response = _visitor(make_user(display_name="Ann")).get(LISTING, {"sort": "cheapest"}, headers=EDGE)
    html = response.content.decode()
    assert response.status_code == 400 and 'data-testid="filter-error"' in html
    assert _account_name(html) == "Ann" and len(_tokens(html)) == 2


def test_no_hole_is_ever_left_unfilled(shelf, make_user, settings):
    from apps.catalog.page_cache import _markers

    markers = _markers(settings.SECRET_KEY).values()
    for client in (_visitor(), _visitor(make_user(display_name="Ann"))):
        for params in ({}, {"sort": "name"}, {"sort": "cheapest"}):
            html = client.get(LISTING, params, headers=EDGE).content.decode()
            assert not [marker for marker in markers if marker in html]
    html = _visitor().get(reverse("catalog:search"), {"q": "mug"}, headers=EDGE).content.decode()
    assert _slugs(html) == {"mug"} and not [marker for marker in markers if marker in html]


def test_stray_query_parameters_do_not_reach_other_visitors_pages(shelf, merchant):
    for number in range(50):
        make_product(merchant, f"cup-{number:02d}")
    first = _visitor().get(LISTING, {"sort": "name", "utm_source": "someones-campaign"}, headers=EDGE)
    assert 'rel="next" href="?sort=name&amp;page=2"' in first.content.decode()
    html = _visitor().get(LISTING, {"sort": "name"}, headers=EDGE).content.decode()
    assert "someones-campaign" not in html and 'rel="next" href="?sort=name&amp;page=2"' in html
