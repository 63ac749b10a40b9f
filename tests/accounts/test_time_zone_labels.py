"""Every time zone the preferences page offers is named in the shopper's language, never by its IANA id."""

from __future__ import annotations

import re
import zoneinfo

import pytest

from apps.accounts import selectors
from apps.accounts.selectors import TIME_ZONE_SESSION_KEY
from regions import load_region

REGIONS = ("us-east", "eu-west", "ap-southeast", "me-south")
PREFERENCES = "/accounts/preferences/"


def _offered(code: str) -> list[tuple[str, str, str]]:
    region = load_region(code)
    return [
        (language, zone, label)
        for language in region.languages
        for group in selectors.time_zone_choices(region, language)
        for zone, label in group
    ]


@pytest.mark.parametrize("code", REGIONS)
def test_no_offered_zone_is_labelled_with_its_raw_iana_id_in_any_language_the_region_serves(code):
    offered = _offered(code)
    assert offered
    raw = [(language, zone, label) for language, zone, label in offered if _shows_the_id(zone, label)]
    assert raw == []


def _shows_the_id(zone: str, label: str) -> bool:
    """The whole id, or a piece of it with its slash ("Argentina/Buenos Aires"), as Babel's fallback gives it."""
    parts = zone.replace("_", " ").split("/")
    pieces = ["/".join(parts[i : i + 2]) for i in range(len(parts) - 1)]
    return label in (zone, zone.replace("_", " ")) or any(piece in label for piece in pieces)


@pytest.mark.skipif(
    "America/Coyhaique" not in zoneinfo.available_timezones(), reason="the zone database predates America/Coyhaique"
)
@pytest.mark.parametrize(("language", "expected"), [("en", "Chile · Coyhaique"), ("th", "ชิลี · Coyhaique")])
def test_a_zone_newer_than_babels_data_is_named_by_its_country_from_the_zone_database(language, expected):
    # Added to the zone database in 2025 (Aysén left Chile's daylight saving time); Babel has no
    # country for it and would say "Unknown Region (Coyhaique) Time".
    # A later Babel that knows the zone may add its name in brackets; the place stays first.
    assert selectors.time_zone_label("America/Coyhaique", language).startswith(expected)


@pytest.mark.parametrize(
    ("language", "zone", "expected"),
    [("th", "Asia/Ho_Chi_Minh", "เวียดนาม · นครโฮจิมินห์"), ("zh-hans", "Asia/Ho_Chi_Minh", "越南 · 胡志明市")],
)
def test_a_renamed_zones_city_is_in_the_shoppers_script(language, zone, expected):
    # CLDR files the city under the zone's former name (Asia/Saigon); Vietnam is one of
    # ap-southeast's own countries, so this label is near the top of the Thai and Chinese lists.
    own, _others = selectors.time_zone_choices(load_region("ap-southeast"), language)
    assert dict(own)[zone] == expected


@pytest.mark.django_db
def test_an_alias_kept_from_before_is_labelled_as_the_zone_it_stands_for(client, use_region):
    use_region("eu-west")
    session = client.session
    session[TIME_ZONE_SESSION_KEY] = "Asia/Calcutta"
    session.save()
    html = client.get(PREFERENCES, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    option = re.search(r'<option value="Asia/Calcutta" selected>([^<]*)</option>', html)
    assert option is not None
    assert option.group(1) == "Indien · Kalkutta"
