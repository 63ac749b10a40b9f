"""ETA in a state's own weekend (Kelantan rests Friday-Saturday), and past the end of the holiday lists."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from apps.orders import rules
from regions import load_region


@pytest.fixture
def fresh_process(monkeypatch):
    """As if the process had not yet warned about any region's calendar."""
    monkeypatch.setattr(rules, "_calendar_end_warned", set())


@pytest.mark.parametrize("state", ["03", "MY-03", "my-03"])
def test_a_kelantan_address_skips_friday_and_saturday(state):
    region = load_region("ap-southeast")
    express = rules.shipping_option("express")  # 2 working days
    wednesday = dt.date(2026, 11, 25)
    # Kelantan: Thu 26, (Fri 27, Sat 28), Sun 29.
    assert rules.delivery_eta(
        region=region, option=express, ordered_on=wednesday, country="MY", subdivision=state, handling_days=1
    ) == dt.date(2026, 11, 29)
    assert not region.is_working_day(dt.date(2026, 11, 27), country="MY", subdivision=state)
    assert region.is_working_day(dt.date(2026, 11, 29), country="MY", subdivision=state)


@pytest.mark.parametrize("state", ["", "01", "14"])  # no state, Johor, Kuala Lumpur
def test_the_rest_of_malaysia_counts_friday_and_skips_saturday_sunday(state):
    region = load_region("ap-southeast")
    express = rules.shipping_option("express")
    # Thu 26, Fri 27.
    assert rules.delivery_eta(
        region=region,
        option=express,
        ordered_on=dt.date(2026, 11, 25),
        country="MY",
        subdivision=state,
        handling_days=1,
    ) == dt.date(2026, 11, 27)


def test_a_kelantan_address_still_skips_the_national_holidays():
    region = load_region("ap-southeast")
    standard = rules.shipping_option("standard")  # 5 working days
    # Wed 23 Dec 2026 to Kelantan: Thu 24, (Fri 25 Christmas and weekend, Sat 26), Sun 27, Mon 28,
    # Tue 29, Wed 30; in Selangor: Thu 24, (Fri 25 Christmas, Sat, Sun), Mon 28, Tue 29, Wed 30, Thu 31.
    ordered = dt.date(2026, 12, 23)
    eta = rules.delivery_eta(
        region=region, option=standard, ordered_on=ordered, country="MY", subdivision="03", handling_days=1
    )
    assert eta == dt.date(2026, 12, 30)
    assert rules.delivery_eta(
        region=region, option=standard, ordered_on=ordered, country="MY", subdivision="10", handling_days=1
    ) == dt.date(2026, 12, 31)


def test_an_eta_past_the_holiday_lists_is_still_given_and_warned_about_once(fresh_process, caplog):
    region = load_region("eu-west")
    standard = rules.shipping_option("standard")
    caplog.set_level(logging.WARNING, logger="apps.orders.rules")
    # Wed 29 Dec 2027: Thu 30, Fri 31, (Sat, Sun), Mon 3 Jan 2028 (New Year's Day is not known), Tue 4, Wed 5.
    first = rules.delivery_eta(
        region=region, option=standard, ordered_on=dt.date(2027, 12, 29), country="DE", handling_days=1
    )
    assert first == dt.date(2028, 1, 5)
    again = rules.delivery_eta(
        region=region, option=standard, ordered_on=dt.date(2028, 2, 1), country="FR", handling_days=1
    )
    assert again == dt.date(2028, 2, 8)
    warnings = [r for r in caplog.records if r.name == "apps.orders.rules"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "regions/eu-west.toml" in warnings[0].getMessage()
    assert "2027-12-31" in warnings[0].getMessage()


def test_each_region_is_warned_about_on_its_own(fresh_process, caplog):
    express = rules.shipping_option("express")
    caplog.set_level(logging.WARNING, logger="apps.orders.rules")
    for code, country in (("eu-west", "DE"), ("me-south", "AE"), ("eu-west", "FR")):
        rules.delivery_eta(
            region=load_region(code), option=express, ordered_on=dt.date(2028, 3, 1), country=country, handling_days=1
        )
    assert ["regions/eu-west.toml" in r.getMessage() for r in caplog.records if r.name == "apps.orders.rules"] == [
        True,
        False,
    ]


def test_no_warning_while_the_holiday_lists_cover_the_eta(fresh_process, caplog):
    caplog.set_level(logging.WARNING, logger="apps.orders.rules")
    region = load_region("eu-west")
    standard = rules.shipping_option("standard")
    # Fri 24 Dec 2027: Mon 27, Tue 28, Wed 29, Thu 30, Fri 31: the last covered day.
    eta = rules.delivery_eta(
        region=region, option=standard, ordered_on=dt.date(2027, 12, 24), country="IE", handling_days=1
    )
    assert eta == region.holidays_through == dt.date(2027, 12, 31)
    assert [r for r in caplog.records if r.name == "apps.orders.rules"] == []
