"""A signed-in page reads its user from the cache, yet every change to the user counts at once.

The listing page is the hot case: from the shared cache, with nothing of the signed-in shopper's
own to read from the database, it makes no query at all; deactivation, a password change and
signing out still take effect on the very next request.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User

pytestmark = pytest.mark.django_db

LISTING = "/products/"


def _account_name(html: str) -> str | None:
    found = re.search(r'<span data-testid="account-name">([^<]*)</span>', html)
    return found.group(1) if found else None


@pytest.fixture
def shopper(make_user):
    return make_user(email="ann@example.test", display_name="Ann Shopper")


@pytest.fixture
def signed_in(shopper):
    client = Client()
    client.force_login(shopper)
    client.get(LISTING)  # the page and the user are cached
    return client


def _get(client: Client) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(LISTING)
    assert response.status_code == 200
    return response.content.decode(), [query["sql"] for query in captured.captured_queries]


def test_a_signed_in_listing_request_makes_no_query_and_writes_no_session(signed_in):
    html, queries = _get(signed_in)
    assert _account_name(html) == "Ann Shopper"
    assert queries == []  # no user query, no session row written


def test_deactivation_signs_the_shopper_out_on_the_next_request(signed_in, shopper):
    shopper.is_active = False
    shopper.save(update_fields=["is_active"])
    html, _ = _get(signed_in)
    assert _account_name(html) is None


def test_deactivation_through_a_queryset_update_counts_too(signed_in, shopper):
    User.objects.filter(pk=shopper.pk).update(is_active=False)
    html, _ = _get(signed_in)
    assert _account_name(html) is None


def test_a_password_changed_elsewhere_ends_this_session_on_the_next_request(signed_in, shopper):
    shopper.set_password("another-long-test-password")
    shopper.save()
    html, _ = _get(signed_in)
    assert _account_name(html) is None


def test_a_new_display_name_shows_on_the_next_request(signed_in, shopper):
    User.objects.bulk_update([User(pk=shopper.pk, display_name="Ann Again")], ["display_name"])
    html, _ = _get(signed_in)
    assert _account_name(html) == "Ann Again"


def test_signing_out_takes_effect_on_the_next_request(signed_in):
    signed_in.post("/accounts/logout/")
    html, _ = _get(signed_in)
    assert _account_name(html) is None


def test_a_deleted_user_is_signed_out(signed_in, shopper):
    shopper.delete()
    html, _ = _get(signed_in)
    assert _account_name(html) is None


def test_without_a_shared_cache_the_user_is_read_from_the_database(settings, signed_in):
    settings.AUTH_USER_CACHE_SECONDS = 0
    html, queries = _get(signed_in)
    assert _account_name(html) == "Ann Shopper"
    assert any("accounts_user" in sql for sql in queries)


def test_a_cached_row_read_before_a_concurrent_write_is_not_used(signed_in, shopper, monkeypatch):
    """A reader that read the old row just before a write stores it under the old generation."""
    from django.core.cache import cache

    from apps.accounts import user_cache

    cache.clear()
    real_get_user = user_cache.auth.get_user

    def read_then_someone_deactivates(request):
        user = real_get_user(request)  # the row as it was
        User.objects.filter(pk=shopper.pk).update(is_active=False)
        return user

    monkeypatch.setattr(user_cache.auth, "get_user", read_then_someone_deactivates)
    _get(signed_in)  # stores the old row, under the generation read before the query
    monkeypatch.setattr(user_cache.auth, "get_user", real_get_user)
    html, _ = _get(signed_in)
    assert _account_name(html) is None
