"""When a show starts, as each viewer reads it: their time zone's calendar, their language's words.

One fixed "now" (Monday 23 November 2026, 15:00 UTC) and the same instants seen from New
York (10:00 there), Dubai (19:00) and Bangkok (22:00): a show one viewer has "tonight" is
"tomorrow" for another.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from django.template import Context, Template
from django.utils import timezone, translation
from django.utils.translation import gettext

from apps.live.models import LiveRoom
from apps.live.templatetags.show_times import show_period_text, show_time_html, show_time_text, show_time_title

NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
NY, DUBAI, BANGKOK = ZoneInfo("America/New_York"), ZoneInfo("Asia/Dubai"), ZoneInfo("Asia/Bangkok")
EN, AR = Locale.parse("en_US"), Locale.parse("ar_AE")
NNBSP = "\u202f"  # CLDR's narrow no-break space between an English time and its AM/PM


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def en(text: str) -> str:
    return text.replace(" AM", f"{NNBSP}AM").replace(" PM", f"{NNBSP}PM")


# (the show's start in UTC, as said in New York, Dubai, Bangkok), in English.
ENGLISH_CASES = [
    # 07:00 / 16:00 / 19:00 local, earlier the same Monday: the evening begins at 17:00.
    (utc(2026, 11, 23, 12, 0), ["Today 7:00 AM", "Today 4:00 PM", "Tonight 7:00 PM"]),
    # Past Bangkok's midnight: Tuesday there, still Monday in New York and Dubai.
    (utc(2026, 11, 23, 17, 30), ["Today 12:30 PM", "Tonight 9:30 PM", "Tomorrow 12:30 AM"]),
    (utc(2026, 11, 23, 22, 0), ["Tonight 5:00 PM", "Tomorrow 2:00 AM", "Tomorrow 5:00 AM"]),
    (utc(2026, 11, 24, 14, 30), ["Tomorrow 9:30 AM", "Tomorrow 6:30 PM", "Tomorrow 9:30 PM"]),
    # Within the week: the weekday, which is not the same day everywhere.
    (utc(2026, 11, 27, 23, 0), ["Friday 6:00 PM", "Saturday 3:00 AM", "Saturday 6:00 AM"]),
    # Six days ahead in New York, seven (a date) in Dubai and Bangkok.
    (utc(2026, 11, 30, 3, 0), ["Sunday 10:00 PM", "Nov 30, 2026, 7:00 AM", "Nov 30, 2026, 10:00 AM"]),
    (utc(2027, 1, 15, 1, 0), ["Jan 14, 2027, 8:00 PM", "Jan 15, 2027, 5:00 AM", "Jan 15, 2027, 8:00 AM"]),
]


@pytest.mark.parametrize(("start", "expected"), ENGLISH_CASES)
def test_english_viewers_in_three_time_zones(start, expected):
    with translation.override("en"):
        said = [show_time_text(start, now=NOW, zone=zone, locale=EN) for zone in (NY, DUBAI, BANGKOK)]
    assert said == [en(text) for text in expected]


def test_the_evening_starts_at_five_local_time():
    with translation.override("en"):
        before = show_time_text(utc(2026, 11, 23, 21, 59), now=NOW, zone=NY, locale=EN)
        at = show_time_text(utc(2026, 11, 23, 22, 0), now=NOW, zone=NY, locale=EN)
    assert (before, at) == (en("Today 4:59 PM"), en("Tonight 5:00 PM"))


def test_arabic_viewers_get_arabic_weekdays_dates_and_hours():
    with translation.override("ar"):
        # ص / م: the Arabic morning and evening marks of the locale's 12-hour clock.
        assert show_time_text(utc(2026, 11, 23, 17, 30), now=NOW, zone=DUBAI, locale=AR) == gettext(
            "Tonight %(time)s"
        ) % {"time": "9:30 م"}
        assert show_time_text(utc(2026, 11, 23, 22, 0), now=NOW, zone=DUBAI, locale=AR) == gettext(
            "Tomorrow %(time)s"
        ) % {"time": "2:00 ص"}
        assert show_time_text(utc(2026, 11, 23, 12, 0), now=NOW, zone=NY, locale=AR) == gettext("Today %(time)s") % {
            "time": "7:00 ص"
        }
        assert show_time_text(utc(2026, 11, 27, 23, 0), now=NOW, zone=BANGKOK, locale=AR) == gettext(
            "%(weekday)s %(time)s"
        ) % {"weekday": "السبت", "time": "6:00 ص"}
        far = show_time_text(utc(2026, 11, 30, 3, 0), now=NOW, zone=DUBAI, locale=AR)
        assert far == "30\u200f/11\u200f/2026، 7:00 ص"
        assert show_time_text(utc(2026, 11, 23, 22, 0), now=NOW, zone=DUBAI, locale=AR, live=True) == gettext(
            "Live now"
        )


def test_a_show_on_the_air_is_live_now_whenever_it_was_planned():
    with translation.override("en"):
        assert show_time_text(utc(2026, 11, 23, 14, 0), now=NOW, zone=NY, locale=EN, live=True) == "Live now"
        assert show_time_text(utc(2026, 11, 23, 15, 10), now=NOW, zone=NY, locale=EN, live=True) == "Live now"


@pytest.mark.parametrize(
    ("zone", "title"),
    [
        (NY, "Monday, November 23, 2026, 5:00 PM Eastern Standard Time"),
        (DUBAI, "Tuesday, November 24, 2026, 2:00 AM Gulf Standard Time"),
        (BANGKOK, "Tuesday, November 24, 2026, 5:00 AM Indochina Time"),
    ],
)
def test_the_full_local_date_time_and_zone_are_on_hover(zone, title):
    start = utc(2026, 11, 23, 22, 0)
    assert show_time_title(start, zone=zone, locale=EN) == en(title)
    with translation.override("en"):
        html = show_time_html(start, now=NOW, zone=zone, locale=EN)
    assert html.startswith(f'<time datetime="2026-11-23T22:00:00Z" title="{en(title)}">')
    assert html.endswith("</time>")


def test_summer_time_is_named_as_such():
    assert show_time_title(utc(2026, 7, 3, 0, 0), zone=NY, locale=EN) == en(
        "Thursday, July 2, 2026, 8:00 PM Eastern Daylight Time"
    )


def test_the_merchant_s_period_names_the_zone_once_or_both_days():
    start = utc(2026, 11, 23, 22, 0)
    assert show_period_text(start, start + dt.timedelta(hours=1), zone=NY, locale=EN) == en(
        "Monday, November 23, 2026, 5:00 PM \N{EN DASH} 6:00 PM Eastern Standard Time"
    )
    assert show_period_text(start, start + dt.timedelta(hours=8), zone=NY, locale=EN) == en(
        "Monday, November 23, 2026, 5:00 PM \N{EN DASH} Tuesday, November 24, 2026, 1:00 AM Eastern Standard Time"
    )


def test_the_tag_speaks_the_active_language_in_the_active_time_zone():
    start = timezone.now() + dt.timedelta(days=40)
    room = LiveRoom(title="Far show", scheduled_start=start, scheduled_end=start + dt.timedelta(hours=1))
    template = Template("{% load show_times %}{% show_time room %}")
    for zone, language, locale in ((DUBAI, "ar", AR), (BANGKOK, "en", Locale.parse("en"))):
        with timezone.override(zone), translation.override(language):
            html = template.render(Context({"room": room}))
        local = start.astimezone(zone)
        assert show_time_title(start, zone=zone, locale=locale) in html
        assert show_time_text(start, now=timezone.now(), zone=zone, locale=locale) in html
        assert str(local.year) in html
    room.status = LiveRoom.Status.LIVE
    with translation.override("en"):
        assert ">Live now</time>" in template.render(Context({"room": room}))
