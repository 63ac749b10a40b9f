"""Every region file loads; each kind of mistake stops start-up with a message naming file, field and valid values."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from regions import (
    REGIONS_DIR,
    Region,
    RegionError,
    all_regions,
    available_region_codes,
    home_region,
    load_region,
    parse_region_file,
)

ROOT = Path(__file__).resolve().parents[2]
DESIGN_COUNTRIES = {
    "us-east": ["US", "CA", "MX", "BR"],
    "eu-west": ["DE", "FR", "IE", "ES", "IT", "NL", "GB", "CH", "NO", "PL"],
    "ap-southeast": ["SG", "MY", "TH", "ID", "PH", "VN"],
    "me-south": ["AE", "SA", "QA", "KW", "BH", "OM"],
}


def test_the_four_regions_load_into_frozen_objects():
    assert available_region_codes() == ("ap-southeast", "eu-west", "me-south", "us-east")
    for region in all_regions():
        assert isinstance(region, Region)
        assert region.default_language in region.languages
        assert region.settlement_currency in region.currencies
        assert region.recording_retention_days >= 180
        assert region.default_country in region.country_codes
        with pytest.raises(AttributeError):
            region.code = "x"  # frozen


def test_region_facts_from_the_design():
    eu, me, us = load_region("eu-west"), load_region("me-south"), load_region("us-east")
    assert eu.warehouse_sync_allowed is False
    assert us.warehouse_sync_allowed is True
    assert eu.consent_model == "opt-in" and us.consent_model == "opt-out"
    assert me.weekend_days == ("fri", "sat")
    assert "cash_on_delivery" in me.payment_providers
    assert "cash_on_delivery" not in us.payment_providers
    assert me.is_rtl("ar") and not me.is_rtl("en")
    assert not me.is_working_day(dt.date(2026, 11, 27), country="SA")  # a Friday
    assert me.is_working_day(dt.date(2026, 11, 29), country="SA")  # a Sunday
    assert not me.is_working_day(dt.date(2026, 12, 2), country="AE")  # UAE National Day
    assert not us.is_working_day(dt.date(2026, 11, 26), country="US")  # Thanksgiving


def test_each_country_keeps_its_own_weekend_and_holidays():
    me, eu = load_region("me-south"), load_region("eu-west")
    # The UAE moved to a Saturday-Sunday weekend on 1 January 2022; the rest of the Gulf did not.
    assert me.country("AE").weekend_days == ("sat", "sun")
    assert {me.country(cc).weekend_days for cc in ("SA", "KW", "QA", "BH", "OM")} == {("fri", "sat")}
    friday, sunday = dt.date(2026, 11, 27), dt.date(2026, 11, 29)
    assert me.is_working_day(friday, country="AE") and not me.is_working_day(sunday, country="AE")
    assert not me.is_working_day(friday, country="SA") and me.is_working_day(sunday, country="SA")
    # UAE National Day is not a Saudi holiday; Saudi National Day (23 Sep) is not an Emirati one.
    assert me.is_working_day(dt.date(2026, 12, 2), country="SA")
    assert not me.is_working_day(dt.date(2026, 9, 23), country="SA")
    assert me.is_working_day(dt.date(2026, 9, 23), country="AE")
    # Eid al-Fitr is kept across the Gulf.
    assert not any(me.is_working_day(dt.date(2026, 3, 22), country=cc) for cc in me.country_codes)
    # eu-west: German Unity Day is German only, St Patrick's Day Irish only, Christmas everyone's.
    assert not eu.is_working_day(dt.date(2027, 3, 17), country="IE")
    assert eu.is_working_day(dt.date(2027, 3, 17), country="DE")
    assert eu.is_working_day(dt.date(2026, 7, 14), country="DE") and not eu.is_working_day(
        dt.date(2026, 7, 14), country="FR"
    )
    assert all(not eu.is_working_day(dt.date(2026, 12, 25), country=cc) for cc in eu.country_codes)


def test_a_country_the_region_does_not_serve_gets_the_region_wide_calendar():
    me = load_region("me-south")
    assert not me.is_working_day(dt.date(2026, 11, 27), country="JP")  # region weekend: Friday
    assert me.is_working_day(dt.date(2026, 12, 2), country="JP")  # UAE-only holiday
    assert not me.is_working_day(dt.date(2026, 3, 22), country="JP")  # Eid, kept by every country


@pytest.mark.parametrize("region", all_regions(), ids=lambda r: r.code)
def test_every_country_has_holidays_in_2026_and_2027(region):
    """The lists end somewhere; a country without any in a year would silently get none."""
    for year in (2026, 2027):
        kept = {cc for h in region.holidays if h.date.year == year for cc in h.countries}
        assert sorted(region.country_codes - kept) == [], year


@pytest.mark.parametrize(("code", "countries"), DESIGN_COUNTRIES.items())
def test_home_region_for_countries_of_each_region(code, countries):
    for country in countries:
        assert home_region(country).code == code
        assert home_region(country.lower()).code == code


def test_home_region_of_a_country_nobody_serves():
    assert home_region("JP") is None
    assert home_region("ZZ") is None


@pytest.fixture
def region_dir(tmp_path):
    """A copy of the real region files to break one at a time."""
    for path in Path(REGIONS_DIR).glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def _break(region_dir: Path, old: str, new: str, code: str = "me-south") -> Path:
    path = region_dir / f"{code}.toml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'default_language = "ar"',
            'default_language = "fr"',
            "field 'default_language' has unknown value 'fr'; valid values: ar, en",
        ),
        ('default_language = "ar"\n', "", "field 'default_language' is missing"),
        (
            'settlement_currency = "AED"',
            'settlement_currency = "XXX"',
            "field 'settlement_currency' has unknown value 'XXX'; valid values: AED, SAR",
        ),
        (
            'currencies = ["AED", "SAR"]',
            'currencies = ["AED", "DOLLARS"]',
            "field 'currencies' has unknown ISO 4217 code 'DOLLARS'",
        ),
        ('time_zone = "Asia/Dubai"', 'time_zone = "Mars/Olympus"', "field 'time_zone' is not an IANA time zone"),
        (
            'weekend_days = ["fri", "sat"]',
            'weekend_days = ["friday"]',
            "field 'weekend_days' has unknown value 'friday'; valid values: mon, tue, wed, thu, fri, sat, sun",
        ),
        (
            'consent_model = "opt-in"',
            'consent_model = "maybe"',
            "field 'consent_model' has unknown value 'maybe'; valid values: opt-in, opt-out",
        ),
        (
            "recording_retention_days = 180",
            "recording_retention_days = 30",
            "field 'recording_retention_days' must be at least 180, got 30",
        ),
        (
            "recording_retention_days = 180",
            'recording_retention_days = "long"',
            "field 'recording_retention_days' must be a whole number",
        ),
        (
            "warehouse_sync_allowed = true",
            'warehouse_sync_allowed = "yes"',
            "field 'warehouse_sync_allowed' must be true or false",
        ),
        (
            'model = "vat-inclusive"',
            'model = "flat"',
            "field 'tax.model' has unknown value 'flat'; valid values: vat-inclusive, sales-tax, gst",
        ),
        (
            'provider = "paypal"',
            'provider = "bitcoin"',
            "field 'payment_methods[1].provider' has unknown value 'bitcoin'; valid values: stripe, paypal, cash_on_delivery",
        ),
        ('kind = "whatsapp"', 'kind = "pigeon"', "field 'support_channels[1].kind' has unknown value 'pigeon'"),
        ("{ date = 2026-01-01,", '{ date = "soon",', "field 'holidays[0].date' must be a TOML date"),
        (
            'name = "National Sports Day", countries = ["QA"]',
            'name = "National Sports Day", countries = ["QA", "JP"]',
            "field 'holidays[4].countries' names country 'JP', which the region does not serve; "
            "valid values: AE, SA, QA, KW, BH, OM",
        ),
        (
            'name = "National Sports Day", countries = ["QA"]',
            'name = "National Sports Day", countries = "QA"',
            "field 'holidays[4].countries' must be a non-empty list",
        ),
        (
            'weekend_days = ["sat", "sun"] }',
            'weekend_days = ["saturday", "sun"] }',
            "field 'countries.AE.weekend_days' has unknown value 'saturday'; "
            "valid values: mon, tue, wed, thu, fri, sat, sun",
        ),
        (
            'weekend_days = ["fri", "sat"]',
            'weekend_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]',
            "field 'weekend_days' leaves no working day in the week",
        ),
        (
            'AE = { currency = "AED", language = "ar",',
            'XX = { currency = "AED", language = "ar",',
            "field 'countries' has unknown ISO 3166 country code 'XX'",
        ),
        (
            'SA = { currency = "SAR",',
            'SA = { currency = "USD",',
            "field 'countries.SA.currency' has unknown value 'USD'; valid values: AED, SAR",
        ),
        ('code = "me-south"', 'code = "me-north"', "field 'code' is 'me-north' but the file is named me-south.toml"),
        ('name = "Middle East"', "name = [", "me-south.toml: not valid TOML"),
        (
            '"ar" = "الشرق الأوسط", ',
            "",
            "field 'local_names.ar' is missing",
        ),
        (
            '"en" = "Middle East" }',
            '"en" = "Middle East", "de" = "Nahost" }',
            "field 'local_names' names language 'de', which the region does not offer; valid values: ar, en",
        ),
    ],
)
def test_each_kind_of_mistake_names_file_field_and_valid_values(region_dir, old, new, message):
    path = _break(region_dir, old, new)
    with pytest.raises(RegionError) as excinfo:
        parse_region_file(path)
    assert str(excinfo.value).startswith("me-south.toml")
    assert message in str(excinfo.value)


def test_a_country_claimed_by_two_regions_is_refused(region_dir):
    _break(region_dir, "[countries]\n", '[countries]\nDE = { currency = "AED", language = "ar" }\n')
    load_region.cache_clear()
    all_regions.cache_clear()
    try:
        with pytest.raises(RegionError, match="claims DE, already served by eu-west"):
            all_regions(region_dir)
    finally:
        load_region.cache_clear()
        all_regions.cache_clear()


def test_a_countrys_unknown_time_zone_names_file_and_country(region_dir):
    path = _break(region_dir, 'time_zone = "America/Mexico_City"', 'time_zone = "America/Ciudad_Gotica"', "us-east")
    with pytest.raises(RegionError) as excinfo:
        parse_region_file(path)
    assert str(excinfo.value) == (
        "us-east.toml: field 'countries.MX.time_zone' is not an IANA time zone such as Europe/Paris: "
        "'America/Ciudad_Gotica'"
    )


def test_a_country_without_a_time_zone_gets_the_regions(region_dir):
    path = _break(region_dir, 'MX.time_zone = "America/Mexico_City"\n', "", "us-east")
    region = parse_region_file(path)
    assert region.country("MX").time_zone == region.time_zone == "America/New_York"
    assert region.country("BR").time_zone == "America/Sao_Paulo"


@pytest.mark.parametrize("region", all_regions(), ids=lambda r: r.code)
def test_every_country_names_its_own_time_zone(region):
    # One missing would quietly show that country's shoppers the region's clock.
    countries = tomllib.loads((Path(REGIONS_DIR) / f"{region.code}.toml").read_text())["countries"]
    assert [code for code, row in countries.items() if "time_zone" not in row] == []


def test_unknown_region_names_the_valid_ones():
    with pytest.raises(
        RegionError, match="REGION='mars' is not a known region; valid values: ap-southeast, eu-west, me-south, us-east"
    ):
        load_region("mars")


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_start_up_stops_on_an_unknown_region():
    result = _manage("check", REGION="atlantis")
    assert result.returncode != 0
    assert (
        "REGION='atlantis' is not a known region; valid values: ap-southeast, eu-west, me-south, us-east"
        in result.stderr
    )


@pytest.mark.parametrize("code", ["us-east", "eu-west", "ap-southeast", "me-south"])
def test_every_region_starts(code):
    result = _manage("check", REGION=code)
    assert result.returncode == 0, result.stderr


def test_support_channels_link_to_their_apps():
    channels = {c.kind: c.url for c in load_region("ap-southeast").support_channels}
    assert channels == {
        "email": "mailto:help-sea@livemall.example",
        "line": "https://line.me/R/ti/p/@livemall-sea",
        "whatsapp": "https://wa.me/6555500100",
    }


def test_shoppers_read_the_regions_name_in_their_language():
    region = load_region("me-south")
    assert (region.name_in("ar"), region.name_in("en"), region.name) == ("الشرق الأوسط", "Middle East", "Middle East")
    for code in ("us-east", "eu-west", "ap-southeast", "me-south"):
        region = load_region(code)
        assert {language for language, _ in region.local_names} == set(region.languages)
