"""A cached listing's currency menu offers only what can be priced now: rates that go stale at
midnight take their currency off the menu at once, though no new rates (no new generation) came."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.catalog.selectors import listing_cache_key
from apps.money.services import fx_rates_update
from tests.catalog.factories import make_product
from tests.money.factories import todays_provider

pytestmark = pytest.mark.django_db

LISTING = "/products/"


@pytest.fixture
def gulf(use_region, merchant, tmp_path, django_capture_on_commit_callbacks):
    """me-south, a mug, and today's rates (riyals on the menu)."""
    use_region("me-south")
    make_product(merchant, "mug", price_minor=2500)
    with django_capture_on_commit_callbacks(execute=True):
        fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))


def _menu(client: Client) -> list[str]:
    html = client.get(LISTING).content.decode()
    select = re.search(r'<select name="currency".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([A-Z]{3})"', select)


def _just_after_the_midnight_they_go_stale(monkeypatch) -> None:
    # Today's rates are stale once more than FX_STALE_AFTER_DAYS days old.
    day = timezone.now().date() + dt.timedelta(days=settings.FX_STALE_AFTER_DAYS + 1)
    midnight = dt.datetime.combine(day, dt.time(0, 1), tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: midnight)


def test_the_cached_listing_stops_offering_a_currency_whose_rates_went_stale(gulf, monkeypatch):
    dirhams = Client(headers={"accept-language": "en"})
    assert _menu(dirhams) == ["AED", "SAR"]
    assert _menu(dirhams) == ["AED", "SAR"]  # the same page, from the cache

    _just_after_the_midnight_they_go_stale(monkeypatch)
    assert _menu(dirhams) == ["AED"]


def test_the_key_costs_no_query_and_no_cache_read_more_once_the_days_currencies_are_known(gulf, monkeypatch):
    viewpoint = {"country": "AE", "language": "en", "currency": "AED", "params": {}}
    first = listing_cache_key("html", **viewpoint)
    backend = type(caches["default"])
    reads = []
    for name in ("get", "get_many"):
        original = getattr(backend, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(backend, name, counted)
    with CaptureQueriesContext(connection) as queries:
        assert listing_cache_key("html", **viewpoint) == first
    assert queries.captured_queries == []
    assert reads == ["get_many"]  # the three generations, read together as before
