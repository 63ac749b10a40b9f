"""A currency without a rate: the shopper reads a plain, translated message; the operator reads
the details in the log, once per outage rather than once per request."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from apps.catalog import services as catalog
from apps.money import selectors
from apps.money.selectors import convert, rate_snapshot_current, utc_today
from apps.money.services import fx_rates_update
from apps.money.types import Money, MoneyError
from apps.orders.models import Order
from tests.catalog.factories import make_product
from tests.money.factories import RATES, file_provider, write_ecb_file
from tests.orders.conftest import ADDRESSES, api_place

pytestmark = pytest.mark.django_db

SHOPPER_NO_RATE = "Prices in %(currency)s cannot be shown right now; please choose another currency."
FIELD_NO_RATE = "%(currency)s is not available right now."
CANADA = {"CF-IPCountry": "CA", "Accept-Language": "en"}


@pytest.fixture(autouse=True)
def _shopper_settings(settings):
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    settings.PAYMENT_TEST_PROVIDER = True
    settings.STRIPE_SECRET_KEY = None
    settings.PAYPAL_CLIENT_ID = None
    settings.PAYPAL_CLIENT_SECRET = None


@pytest.fixture
def without_cad(tmp_path):
    """Today's rates (fresh) with no Canadian dollar among them."""
    assert "CAD" not in RATES
    path = write_ecb_file(tmp_path / "no-cad.xml", {utc_today(): RATES})
    fx_rates_update(provider=file_provider(path))
    return rate_snapshot_current()


def _errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "apps.money.selectors" and r.levelno == logging.ERROR]


def _says_nothing_for_the_operator(text: str, snapshot) -> None:
    assert snapshot.source not in text
    assert snapshot.rate_date.isoformat() not in text
    assert str(snapshot.rate_date.year) not in text
    # No list of the currencies that do have rates.
    for code in ("USD", "JPY", "GBP", "EUR", "AED"):
        assert code not in text
    assert "fx_rates_update" not in text and "FX_" not in text


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_missing_rate_reads_plainly_and_the_details_go_to_the_log(without_cad, caplog, language):
    with translation.override(language), caplog.at_level(logging.ERROR), pytest.raises(MoneyError) as exc:
        convert(Money(2500, "USD"), "CAD", without_cad)
    error = exc.value
    assert (error.code, error.status) == ("no_rate", 400)
    # The message is our msgid in the shopper's language (the msgid itself until it is translated),
    # never the operator's text.
    with translation.override(language):
        assert error.message == gettext(SHOPPER_NO_RATE) % {"currency": "CAD"}
        assert error.fields == {"currency": [gettext(FIELD_NO_RATE) % {"currency": "CAD"}]}
    _says_nothing_for_the_operator(error.message, without_cad)
    _says_nothing_for_the_operator(" ".join(error.fields["currency"]), without_cad)

    (logged,) = _errors(caplog)
    told = logged.getMessage()
    assert "No exchange rate for CAD" in told
    assert without_cad.source in told and without_cad.rate_date.isoformat() in told
    assert "USD" in told and "JPY" in told  # what exists


def test_a_german_shopper_reads_the_german_text(without_cad, mark_in_german):
    """With our msgids given a marked German translation, the message and the field come out
    marked: both went through gettext."""
    mark_in_german(SHOPPER_NO_RATE, FIELD_NO_RATE)
    with translation.override("de"), pytest.raises(MoneyError) as exc:
        convert(Money(2500, "USD"), "CAD", without_cad)
    assert exc.value.message == "[de] " + SHOPPER_NO_RATE % {"currency": "CAD"}
    assert exc.value.fields == {"currency": ["[de] " + FIELD_NO_RATE % {"currency": "CAD"}]}


def test_a_missing_source_currency_still_names_the_shoppers_currency(without_cad, caplog):
    with caplog.at_level(logging.ERROR), pytest.raises(MoneyError) as exc:
        without_cad.ratio("CAD", "USD")
    assert exc.value.message == SHOPPER_NO_RATE % {"currency": "USD"}
    assert "No exchange rate for CAD" in _errors(caplog)[0].getMessage()


def test_fifty_requests_without_a_rate_log_once_and_another_currency_logs_again(without_cad, caplog):
    with caplog.at_level(logging.ERROR):
        for _ in range(50):
            with pytest.raises(MoneyError):
                convert(Money(2500, "USD"), "CAD", without_cad)
        assert len(_errors(caplog)) == 1
        with pytest.raises(MoneyError):
            convert(Money(2500, "USD"), "MXN", without_cad)
    assert [r.getMessage().split(" in the ")[0] for r in _errors(caplog)] == [
        "No exchange rate for CAD",
        "No exchange rate for MXN",
    ]


def test_no_rates_at_all_are_logged_once_per_interval(caplog, monkeypatch):
    with caplog.at_level(logging.ERROR):
        for _ in range(50):
            with pytest.raises(MoneyError) as exc:
                rate_snapshot_current()
            assert exc.value.code == "no_fx_rates"
        (logged,) = _errors(caplog)
        assert logged.levelno == logging.ERROR and "manage.py fx_rates_update" in logged.getMessage()

        # Once the interval has passed it is logged again, with how many lines were left out.
        monkeypatch.setattr(selectors, "RATES_LOG_INTERVAL", 0.0)
        with pytest.raises(MoneyError):
            rate_snapshot_current()
    again = _errors(caplog)[1].getMessage()
    assert "manage.py fx_rates_update" in again and "Not logged 49 more times" in again


def test_stale_rates_are_logged_once_and_a_missing_rate_is_a_different_condition(tmp_path, caplog):
    long_ago = utc_today() - dt.timedelta(days=settings.FX_STALE_AFTER_DAYS + 5)
    path = write_ecb_file(tmp_path / "old.xml", {long_ago: RATES})
    fx_rates_update(provider=file_provider(path), today=long_ago)
    snapshot = rate_snapshot_current()
    with caplog.at_level(logging.ERROR):
        for _ in range(50):
            with pytest.raises(MoneyError) as exc:
                convert(Money(2500, "USD"), "GBP", snapshot, allow_stale=False)
            assert exc.value.code == "stale_rates"
        (stale,) = _errors(caplog)
        assert "days old" in stale.getMessage() and long_ago.isoformat() in stale.getMessage()
        # Shown (not charged) prices on the same stale snapshot, in a currency it lacks.
        for _ in range(50):
            with pytest.raises(MoneyError):
                convert(Money(2500, "USD"), "CAD", snapshot)
    assert len(_errors(caplog)) == 2
    assert "No exchange rate for CAD" in _errors(caplog)[1].getMessage()


def test_another_rate_date_is_logged_again(without_cad, tmp_path, caplog):
    other_day = utc_today() - dt.timedelta(days=1)
    path = write_ecb_file(tmp_path / "yesterday.xml", {other_day: RATES})
    fx_rates_update(provider=file_provider(path), today=other_day)
    yesterday = rate_snapshot_current(today=other_day)
    assert yesterday.rate_date != without_cad.rate_date
    with caplog.at_level(logging.ERROR):
        for snapshot in (without_cad, yesterday, without_cad, yesterday):
            with pytest.raises(MoneyError):
                convert(Money(2500, "USD"), "CAD", snapshot)
    assert len(_errors(caplog)) == 2


# --- what a Canadian shopper sees when the rates have no CAD -------------------------------------------


@pytest.fixture
def in_the_cart(client, merchant, without_cad):
    product = make_product(merchant, "rate-mug", price_minor=2500)
    variant = product.variants.get()
    warehouse = catalog.warehouse_create(merchant=merchant, code="main", name="Main", country="US")
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
    added = client.post("/api/v1/cart/lines", {"variant": variant.pk, "quantity": 1}, content_type="application/json")
    assert added.status_code == 201
    return variant


def test_the_cart_and_checkout_api_answer_in_usd_naming_cad(client, in_the_cart, without_cad):
    # CAD is not offered while the rates lack it (apps.money.middleware): the region's own currency instead.
    cart = client.get("/api/v1/cart", headers=CANADA)
    assert cart.status_code == 200
    assert cart.json()["currency"] == "USD" and cart["X-Currency-Unavailable"] == "CAD"

    checkout = api_place(client, key="rate-no-cad-0001", headers=CANADA, address=ADDRESSES["CA"])
    assert checkout.status_code == 201, checkout.content
    assert checkout.json()["currency"] == "USD" and Order.objects.get().currency == "USD"


def test_the_cart_page_shows_no_operator_text_and_the_operator_is_told(client, in_the_cart, without_cad, caplog):
    selectors.rates_log_reset()  # adding the line logged the missing rate already: once per interval
    with caplog.at_level(logging.ERROR):
        page = client.get("/cart/", headers={**CANADA, "Accept-Language": "de"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Prices are shown in USD: CAD is not available right now." in body
    assert "No exchange rate" not in body and "rates exist" not in body
    assert without_cad.rate_date.isoformat() not in body
    (told,) = _errors(caplog)
    assert "No exchange rate for CAD" in told.getMessage()
