"""Holiday lists say how far they reach, states can keep their own weekend, and `check` warns before the end."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest
from django.core import checks

from regions import REGIONS_DIR, RegionError, load_region, parse_region_file
from regions.checks import holiday_calendar_messages


@pytest.fixture
def region_dir(tmp_path):
    for path in Path(REGIONS_DIR).glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def _break(region_dir: Path, code: str, old: str, new: str) -> Path:
    path = region_dir / f"{code}.toml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("code", "old", "new", "message"),
    [
        (
            "me-south",
            "holidays_through = 2027-12-31\n",
            "",
            "field 'holidays_through' is missing: give the last date the holiday lists cover, "
            "such as holidays_through = 2027-12-31",
        ),
        (
            "me-south",
            "holidays_through = 2027-12-31",
            'holidays_through = "end of 2027"',
            "field 'holidays_through' must be a TOML date such as 2027-12-31, got 'end of 2027'",
        ),
        (
            "me-south",
            "holidays_through = 2027-12-31",
            "holidays_through = 2027-12-24",
            "field 'holidays_through' is 2027-12-24, before the last listed holiday (2027-12-25, ",
        ),
        (
            "ap-southeast",
            'MY.subdivisions.MY-03.weekend_days = ["fri", "sat"]',
            'MY.subdivisions.MY-03.weekend_days = ["jum", "sat"]',
            "field 'countries.MY.subdivisions.MY-03.weekend_days' has unknown value 'jum'; "
            "valid values: mon, tue, wed, thu, fri, sat, sun",
        ),
        (
            "ap-southeast",
            'MY.subdivisions.MY-02.weekend_days = ["fri", "sat"]',
            'MY.subdivisions.KDH.weekend_days = ["fri", "sat"]',
            "field 'countries.MY.subdivisions.KDH' is not an ISO 3166-2 code of MY: write the country code, "
            "a hyphen and the state's code, such as MY-01",
        ),
        (
            "ap-southeast",
            'MY.subdivisions.MY-02.weekend_days = ["fri", "sat"]',
            'MY.subdivisions.SG-02.weekend_days = ["fri", "sat"]',
            "field 'countries.MY.subdivisions.SG-02' is not an ISO 3166-2 code of MY",
        ),
        (
            "ap-southeast",
            'MY.subdivisions.MY-02.name = "Kedah"',
            'MY.subdivisions.MY-02.title = "Kedah"',
            "field 'countries.MY.subdivisions.MY-02.name' is missing",
        ),
    ],
)
def test_calendar_mistakes_name_file_field_and_what_to_write(region_dir, code, old, new, message):
    path = _break(region_dir, code, old, new)
    with pytest.raises(RegionError) as excinfo:
        parse_region_file(path)
    assert str(excinfo.value).startswith(f"{code}.toml: ")
    assert message in str(excinfo.value)


def test_every_region_file_says_how_far_its_holidays_reach():
    for code in ("us-east", "eu-west", "ap-southeast", "me-south"):
        region = load_region(code)
        assert region.holidays_through == dt.date(2027, 12, 31)
        assert max(h.date for h in region.holidays) <= region.holidays_through


def test_kedah_kelantan_and_terengganu_rest_friday_saturday_and_johor_saturday_sunday():
    my = load_region("ap-southeast").country("MY")
    assert {s.code: s.weekend_days for s in my.subdivisions if s.weekend_days != my.weekend_days} == {
        "MY-02": ("fri", "sat"),
        "MY-03": ("fri", "sat"),
        "MY-11": ("fri", "sat"),
    }
    # An address's state is the part after the hyphen, as "NY" is for US-NY; the whole code works too.
    assert my.weekend_in("03") == my.weekend_in("my-03") == ("fri", "sat")
    assert my.weekend_in("01") == my.weekend_in("") == my.weekend_in("Selangor") == ("sat", "sun")


def _region_through(day: dt.date):
    return dataclasses.replace(load_region("ap-southeast"), holidays_through=day)


def test_the_check_is_silent_with_more_than_90_days_left():
    region = load_region("ap-southeast")
    assert holiday_calendar_messages(region, dt.date(2026, 11, 23)) == []
    assert holiday_calendar_messages(region, dt.date(2027, 10, 1)) == []  # 91 days left


@pytest.mark.parametrize(("today", "days_left"), [(dt.date(2027, 10, 2), 90), (dt.date(2027, 12, 31), 0)])
def test_the_check_warns_in_the_last_90_days(today, days_left):
    (message,) = holiday_calendar_messages(load_region("ap-southeast"), today)
    assert message.id == "regions.W001"
    assert message.level == checks.WARNING
    assert message.obj == "regions/ap-southeast.toml"
    assert f"end on 2027-12-31, in {days_left} days" in message.msg
    assert "Add the next year's public holidays to regions/ap-southeast.toml" in message.hint


def test_the_check_warns_louder_once_the_holidays_have_ended():
    """A warning, not an error: the shop still starts, and CI's --fail-level WARNING stops a release."""
    (message,) = holiday_calendar_messages(load_region("me-south"), dt.date(2028, 1, 1))
    assert message.id == "regions.W002"
    assert message.level == checks.WARNING
    assert "ended on 2027-12-31" in message.msg
    assert message.obj == "regions/me-south.toml"
    assert "skip weekends only" in message.msg
    assert "move its holidays_through" in message.hint


def test_the_check_runs_with_django_checks_for_the_served_region(settings):
    settings.REGION = _region_through(dt.date.today() - dt.timedelta(days=1))
    ids = [m.id for m in checks.run_checks() if m.id and m.id.startswith("regions.")]
    assert ids == ["regions.W002"]
    settings.REGION = _region_through(dt.date.today() + dt.timedelta(days=30))
    ids = [m.id for m in checks.run_checks() if m.id and m.id.startswith("regions.")]
    assert ids == ["regions.W001"]
