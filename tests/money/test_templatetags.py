"""The template tags: {% money %} as is, {% money_local %} in the shopper's currency and locale."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from apps.accounts.selectors import ShopperContext
from apps.money import services
from apps.money.formatting import format_day
from apps.money.providers.ecb import EcbFileProvider
from apps.money.selectors import utc_today
from tests.money.factories import SHIPPED_DATA, file_provider, write_ecb_file

SHIPPED_RATES = {r.quote: str(r.rate) for r in EcbFileProvider(SHIPPED_DATA / "eurofxref-daily.xml").fetch()}

pytestmark = pytest.mark.django_db

RLM = "\u200f"
AED_SYMBOL = "\u062f.\u0625."


@pytest.fixture
def render(use_region):
    def render(source: str, *, region: str, country: str, language: str, currency: str, **context) -> str:
        request = RequestFactory().get("/")
        request.shopper = ShopperContext(
            region=use_region(region), country=country, language=language, currency=currency, time_zone="UTC"
        )
        return Template("{% load money %}" + source).render(Context({"request": request, **context}))

    return render


@pytest.fixture
def rates_days_ago(tmp_path):
    """Store the shipped figures dated ``days`` before the real today (the tag converts "today")."""

    def store(days: int) -> dt.date:
        day = utc_today() - dt.timedelta(days=days)
        path = write_ecb_file(tmp_path / f"rates-{days}.xml", {day: SHIPPED_RATES})
        services.fx_rates_update(provider=file_provider(path))
        return day

    return store


@pytest.fixture
def rates(rates_days_ago):
    return rates_days_ago(0)


def test_money_tag_formats_in_the_shoppers_locale(render):
    html = render("{% money 129950 'AED' %}", region="me-south", country="AE", language="ar", currency="AED")
    assert html == f"{RLM}1,299.50\xa0{AED_SYMBOL}{RLM}"


def test_money_local_converts_into_the_shoppers_currency(render, rates):
    html = render("{% money_local 4900 'EUR' %}", region="me-south", country="AE", language="ar", currency="AED")
    # 49.00 EUR * 1.1587 * 3.6725 = 208.51 AED
    assert html == f"{RLM}208.51\xa0{AED_SYMBOL}{RLM}"


def test_money_local_in_thai_and_rupiah(render, rates):
    thai = render("{% money_local 4900 'SGD' %}", region="ap-southeast", country="TH", language="th", currency="THB")
    assert thai == "\u0e3f1,220.19"  # 49.00 SGD * 37.582 / 1.5092 = 1,220.1948
    rupiah = render("{% money_local 4900 'SGD' %}", region="ap-southeast", country="ID", language="id", currency="IDR")
    assert rupiah == "Rp\xa0629.367"


def test_money_local_is_not_flagged_within_the_allowed_days(render, rates_days_ago):
    rates_days_ago(3)
    html = render("{% money_local 10000 'USD' %}", region="eu-west", country="DE", language="de", currency="EUR")
    assert html == "86,30\xa0€"


def test_money_local_flags_stale_rates_visibly(render, rates_days_ago):
    day = rates_days_ago(4)
    html = render("{% money_local 10000 'USD' %}", region="eu-west", country="DE", language="de", currency="EUR")
    assert html.startswith('86,30\xa0€ <small class="fx-stale"')
    assert 'data-testid="fx-stale"' in html
    assert format_day(day, "de_DE") in html


def test_money_local_same_currency_needs_no_rates(render):
    html = render("{% money_local 4900 'USD' %}", region="us-east", country="US", language="en", currency="USD")
    assert html == "$49.00"


def test_money_local_without_any_rates_shows_the_original_amount(render):
    html = render("{% money_local 4900 'USD' %}", region="us-east", country="MX", language="es", currency="MXN")
    assert html == "USD\xa049.00"  # es_MX writes foreign currencies by code


def test_money_local_without_a_rate_for_the_pair_shows_the_original_amount(render, rates):
    html = render("{% money_local 4900 'KWD' %}", region="us-east", country="US", language="en", currency="USD")
    assert html == "KWD\xa04.900"


def test_a_page_of_prices_reads_the_rates_once(render, rates, django_assert_max_num_queries):
    source = "{% for p in prices %}{% money_local p 'USD' %}|{% endfor %}"
    from django.core.cache import cache

    cache.clear()
    with django_assert_max_num_queries(2):
        html = render(
            source,
            region="ap-southeast",
            country="TH",
            language="th",
            currency="THB",
            prices=list(range(100, 5000, 50)),
        )
    assert html.count("\u0e3f") == len(range(100, 5000, 50))
