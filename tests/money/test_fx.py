"""Storing daily rates and converting with them: exact results, the half, snapshots, staleness."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from apps.money import services
from apps.money.models import FxRate, RateSnapshot
from apps.money.selectors import convert, rate_snapshot_current, rate_snapshot_get
from apps.money.types import Money, MoneyError
from tests.money.factories import SHIPPED_DATE, file_provider, shipped_provider, write_ecb_file

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 22)  # a Sunday: the newest ECB rates are Friday's


@pytest.fixture
def snapshot():
    services.fx_rates_update(provider=shipped_provider(), today=TODAY)
    return rate_snapshot_current(today=TODAY)


def test_update_stores_one_snapshot_with_ecb_and_peg_rows():
    result = services.fx_rates_update(provider=shipped_provider(), today=TODAY)
    assert result.snapshots_created == 1
    assert result.rates_created == 29 + 5
    assert result.latest_rate_date == SHIPPED_DATE
    assert result.stale is False
    snapshot = RateSnapshot.objects.get()
    assert (snapshot.source, snapshot.rate_date, snapshot.pivot) == ("ecb", SHIPPED_DATE, "EUR")
    usd = FxRate.objects.get(snapshot=snapshot, quote="USD")
    assert (usd.base, usd.rate, usd.source) == ("EUR", Decimal("1.1587"), "ecb")
    aed = FxRate.objects.get(snapshot=snapshot, quote="AED")
    assert (aed.base, aed.rate, aed.source) == ("USD", Decimal("3.6725"), "peg")


def test_update_is_idempotent():
    services.fx_rates_update(provider=shipped_provider(), today=TODAY)
    columns = ("pk", "snapshot_id", "base", "quote", "rate", "fetched_at")
    first = list(FxRate.objects.order_by("pk").values_list(*columns))
    again = services.fx_rates_update(provider=shipped_provider(), today=TODAY)
    assert (again.snapshots_created, again.rates_created, again.rates_unchanged) == (0, 0, 34)
    assert RateSnapshot.objects.count() == 1
    assert list(FxRate.objects.order_by("pk").values_list(*columns)) == first


def test_a_stored_snapshot_is_never_rewritten(tmp_path):
    path = write_ecb_file(tmp_path / "r.xml", {SHIPPED_DATE: {"USD": "1.1587"}})
    services.fx_rates_update(provider=file_provider(path), today=TODAY)
    write_ecb_file(path, {SHIPPED_DATE: {"USD": "1.2000", "THB": "37.582"}})
    result = services.fx_rates_update(provider=file_provider(path), today=TODAY)
    assert result.rates_conflicting == 1
    assert result.rates_created == 1  # THB was new to the snapshot
    assert FxRate.objects.get(quote="USD").rate == Decimal("1.1587")


def test_rates_dated_in_the_future_are_refused(tmp_path):
    path = write_ecb_file(tmp_path / "r.xml", {TODAY + dt.timedelta(days=1): {"USD": "1.1587"}})
    result = services.fx_rates_update(provider=file_provider(path), today=TODAY)
    assert result.rates_future_dated == 1 + 5
    assert not RateSnapshot.objects.exists()
    assert result.stale is True


def test_usd_to_eur_to_thb_exact_minor_units(snapshot):
    # 100.00 USD / 1.1587 = 86.3036... EUR
    to_eur = convert(Money(10000, "USD"), "EUR", snapshot, today=TODAY)
    assert to_eur.money == Money(8630, "EUR")
    # 100.00 USD * 37.582 / 1.1587 = 3,243.4625... THB, crossed through EUR exactly
    to_thb = convert(Money(10000, "USD"), "THB", snapshot, today=TODAY)
    assert to_thb.money == Money(324346, "THB")
    assert to_thb.rate == Decimal("32.4346250108")
    assert (to_thb.snapshot_id, to_thb.rate_date, to_thb.stale) == (snapshot.id, SHIPPED_DATE, False)
    assert convert(Money(10000, "EUR"), "THB", snapshot, today=TODAY).money == Money(375820, "THB")


def test_zero_and_three_decimal_currencies(snapshot):
    # 10.00 USD * 181.52 / 1.1587 = 1,566.58 JPY -> 1,567 (no sen)
    assert convert(Money(1000, "USD"), "JPY", snapshot, today=TODAY).money == Money(1567, "JPY")
    # 10.00 GBP * 1.1587 * 0.376 / 0.88105 = 4.944908... BHD -> 4.945 (fils)
    assert convert(Money(1000, "GBP"), "BHD", snapshot, today=TODAY).money == Money(4945, "BHD")


def test_aed_goes_through_the_usd_peg_exactly(snapshot):
    # USD->AED uses exactly 3.6725, whatever EUR/USD is.
    assert convert(Money(10000, "USD"), "AED", snapshot, today=TODAY).money == Money(36725, "AED")
    assert convert(Money(10000, "USD"), "AED", snapshot, today=TODAY).rate == Decimal("3.6725")
    # 49.00 EUR * 1.1587 * 3.6725 = 208.51096... AED
    assert convert(Money(4900, "EUR"), "AED", snapshot, today=TODAY).money == Money(20851, "AED")
    # 100.00 AED * 3.75 / 3.6725 = 102.11028 SAR, both pegged: EUR/USD cancels out.
    assert convert(Money(10000, "AED"), "SAR", snapshot, today=TODAY).money == Money(10211, "SAR")


def test_the_half_rounds_up(snapshot):
    # 2.00 USD * 3.6725 = 7.345 AED, exactly half a fils: half-up gives 7.35 (half-even would say 7.34).
    assert convert(Money(200, "USD"), "AED", snapshot, today=TODAY).money == Money(735, "AED")
    # And symmetric for refunds: -7.345 -> -7.35.
    assert convert(Money(-200, "USD"), "AED", snapshot, today=TODAY).money == Money(-735, "AED")
    # Just below the half stays down: 1.98 USD * 3.6725 = 7.27155 -> 7.27.
    assert convert(Money(198, "USD"), "AED", snapshot, today=TODAY).money == Money(727, "AED")


def test_converted_rupiah_are_whole_rupiah(snapshot):
    # 49.00 SGD * 19384.50 / 1.5092 = 629,366.88 IDR -> Rp629.367 (sen are not used in prices).
    assert convert(Money(4900, "SGD"), "IDR", snapshot, today=TODAY).money == Money(62936700, "IDR")


def test_same_currency_needs_no_rate(snapshot):
    conversion = convert(Money(4900, "AED"), "aed", snapshot, today=TODAY + dt.timedelta(days=30))
    assert conversion.money == Money(4900, "AED")
    assert conversion.stale is False


def test_a_currency_without_rate_is_a_clear_error(snapshot):
    with pytest.raises(MoneyError) as exc:
        convert(Money(100, "USD"), "KWD", snapshot, today=TODAY)
    assert exc.value.code == "no_rate"
    assert "KWD" in exc.value.message
    with pytest.raises(MoneyError) as exc:
        convert(Money(100, "USD"), "XYZ", snapshot, today=TODAY)
    assert exc.value.code == "unknown_currency"
    with pytest.raises(MoneyError):
        convert(100, "EUR", snapshot, today=TODAY)


def test_a_recorded_snapshot_converts_the_same_after_new_rates_arrive(tmp_path, snapshot):
    shown = convert(Money(10000, "USD"), "THB", snapshot, today=TODAY)
    next_day = SHIPPED_DATE + dt.timedelta(days=3)
    path = write_ecb_file(tmp_path / "r.xml", {next_day: {"USD": "1.1000", "THB": "38.000"}})
    services.fx_rates_update(provider=file_provider(path), today=next_day)

    current = rate_snapshot_current(today=next_day)
    assert current.id != snapshot.id and current.rate_date == next_day
    assert convert(Money(10000, "USD"), "THB", current, today=next_day).money == Money(345455, "THB")

    recorded = rate_snapshot_get(snapshot_id=shown.snapshot_id)
    assert convert(Money(10000, "USD"), "THB", recorded, today=next_day).money == shown.money
    # Asking for "current" as of an earlier day still finds the earlier snapshot.
    assert rate_snapshot_current(today=TODAY).id == snapshot.id


def test_unknown_snapshot_and_no_rates_at_all_are_clear_errors(caplog):
    with pytest.raises(MoneyError) as exc:
        rate_snapshot_current(today=TODAY)
    assert exc.value.code == "no_fx_rates"
    # The shopper reads a plain message; what to run is the operator's, in the log.
    assert "fx_rates_update" not in exc.value.message
    assert [r.levelname for r in caplog.records if "manage.py fx_rates_update" in r.getMessage()] == ["ERROR"]
    with pytest.raises(MoneyError) as exc:
        rate_snapshot_get(snapshot_id=999_999)
    assert exc.value.code == "unknown_snapshot"


@pytest.mark.parametrize(
    ("days_later", "stale"),
    [(0, False), (3, False), (4, True), (30, True)],
)
def test_stale_after_the_configured_days(snapshot, days_later, stale):
    today = SHIPPED_DATE + dt.timedelta(days=days_later)
    assert snapshot.is_stale(today) is stale
    conversion = convert(Money(10000, "USD"), "EUR", snapshot, today=today)
    assert conversion.stale is stale
    assert conversion.money == Money(8630, "EUR")  # flagged, still the same numbers


def test_stale_days_come_from_settings(settings, snapshot):
    settings.FX_STALE_AFTER_DAYS = 0
    assert snapshot.is_stale(SHIPPED_DATE) is False
    assert snapshot.is_stale(SHIPPED_DATE + dt.timedelta(days=1)) is True


def test_checkout_can_refuse_stale_rates(snapshot):
    late = SHIPPED_DATE + dt.timedelta(days=10)
    with pytest.raises(MoneyError) as exc:
        convert(Money(10000, "USD"), "EUR", snapshot, today=late, allow_stale=False)
    assert exc.value.code == "stale_rates"
    assert exc.value.status == 503
    assert convert(Money(10000, "USD"), "EUR", snapshot, today=TODAY, allow_stale=False).money == Money(8630, "EUR")


def test_the_current_snapshot_is_cached_between_requests(snapshot, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rate_snapshot_current(today=TODAY) == snapshot


def test_beat_task_runs_and_stores_rates(settings):
    from apps.money.tasks import fx_rates_update
    from livemall.celery import app

    entry = app.conf.beat_schedule["money-fx-rates-update"]
    assert entry["task"] == "money.fx_rates_update"
    assert entry["task"] in app.tasks
    summary = fx_rates_update.apply().get()
    assert summary["rates_created"] == 34
    assert summary["latest_rate_date"] == SHIPPED_DATE.isoformat()
    assert FxRate.objects.filter(snapshot__rate_date=SHIPPED_DATE).count() == 34
    assert fx_rates_update.apply().get()["rates_created"] == 0


def test_management_command_loads_rates_offline(tmp_path, capsys):
    call_command("fx_rates_update", "--today", TODAY.isoformat())
    assert "34 new rates" in capsys.readouterr().out
    other = write_ecb_file(tmp_path / "r.xml", {dt.date(2026, 11, 18): {"USD": "1.15"}})
    call_command("fx_rates_update", "--file", str(other), "--today", TODAY.isoformat())
    assert RateSnapshot.objects.count() == 2
    assert FxRate.objects.filter(snapshot__rate_date=dt.date(2026, 11, 18)).count() == 1 + 5


def test_management_command_reports_problems(tmp_path, settings):
    with pytest.raises(CommandError, match=r"nope\.xml"):
        call_command("fx_rates_update", "--file", str(tmp_path / "nope.xml"))
    settings.FX_PROVIDERS = ["fixer"]
    with pytest.raises(CommandError, match="FX_PROVIDERS"):
        call_command("fx_rates_update")
