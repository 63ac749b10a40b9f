"""Missing or stale FX rates: the shopper is shown the region's own currency with a notice, the operator
reads what to run in the log."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.conf import settings
from django.utils import timezone

from apps.money.models import RateSnapshot
from apps.money.selectors import rates_log_reset
from apps.money.services import fx_rates_update
from apps.orders.models import Order
from tests.money.factories import RATES, file_provider, write_ecb_file
from tests.orders.conftest import ADDRESSES, api_place

pytestmark = pytest.mark.django_db

CANADA = {"CF-IPCountry": "CA", "Accept-Language": "en"}


@pytest.fixture(autouse=True)
def _country_from_the_header(settings):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"


@pytest.fixture
def in_the_cart(client, stocked):
    """A cart line added in the region's own currency (no rates needed), then the rates gone."""
    variant = stocked("fx-mug", 5, price_minor=2500)
    response = client.post(
        "/api/v1/cart/lines", {"variant": variant.pk, "quantity": 1}, content_type="application/json"
    )
    assert response.status_code == 201
    RateSnapshot.objects.all().delete()
    return variant


def _operator_told(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.ERROR and "manage.py fx_rates_update" in record.getMessage()
    ]


def test_the_cart_api_without_rates_answers_in_usd_naming_cad_and_logs_what_to_run(client, in_the_cart, caplog):
    rates_log_reset()  # adding the line logged the outage already: once per interval
    # CAD cannot be priced: the cart answers in the region's own currency, and says which was not used.
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/v1/cart", headers=CANADA)
    assert response.status_code == 200
    assert response.json()["currency"] == "USD" and len(response.json()["lines"]) == 1
    assert response["X-Currency-Unavailable"] == "CAD"
    assert _operator_told(caplog)


def test_the_cart_page_without_rates_shows_usd_with_a_notice(client, in_the_cart, caplog):
    rates_log_reset()  # adding the line logged the outage already: once per interval
    with caplog.at_level(logging.ERROR):
        page = client.get("/cart/", headers=CANADA)
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count('data-testid="cart-line"') == 1
    assert "Prices are shown in USD: CAD is not available right now." in body
    assert "fx_rates_update" not in body
    assert _operator_told(caplog)


def test_a_checkout_on_stale_rates_charges_the_regions_own_currency_and_is_logged(client, stocked, caplog, tmp_path):
    long_ago = timezone.now().date() - dt.timedelta(days=settings.FX_STALE_AFTER_DAYS + 5)
    rates = write_ecb_file(tmp_path / "old.xml", {long_ago: {**RATES, "CAD": "1.6232"}})
    fx_rates_update(provider=file_provider(rates), today=long_ago)
    variant = stocked("fx-stale-mug", 5, price_minor=2500)
    with caplog.at_level(logging.ERROR):
        added = client.post(
            "/api/v1/cart/lines",
            {"variant": variant.pk, "quantity": 1},
            content_type="application/json",
            headers=CANADA,
        )
    # Never converted with stale rates: shown, and then charged, in USD.
    assert added.status_code == 201 and added.json()["currency"] == "USD"
    assert added["X-Currency-Unavailable"] == "CAD"

    response = api_place(client, key="fx-stale-0001", headers=CANADA, address=ADDRESSES["CA"])
    assert response.status_code == 201, response.content
    assert response.json()["currency"] == "USD"
    (told,) = _operator_told(caplog)
    assert "days old" in told
    assert Order.objects.get().currency == "USD"
