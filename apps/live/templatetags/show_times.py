"""``{% show_time start %}``: when a show starts, in the viewer's own time zone and words.

"Tonight 8:00 PM", "Tomorrow 09:30", "Friday 18:00", then a plain local date: counted in
calendar days of the viewer's time zone (the one the request activated), worded in the
active language, with the weekday, date and hour written the way the locale writes them
(Babel, CLDR: 12- or 24-hour clock, word order, digits as Babel gives them). The exact
moment stays in the markup: ``datetime`` in UTC for machines, the full local date, time
and zone name on hover.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format, get_timezone_name
from django import template
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from apps.live.models import LiveRoom
from regions.languages import babel_locale

register = template.Library()

# From this local hour a show later today is "tonight" rather than "today".
EVENING_STARTS = dt.time(17, 0)
# Shows within this many days are named by their weekday; later ones get their date.
WEEKDAY_HORIZON_DAYS = 6
SPAN_DASH = "\N{EN DASH}"


def show_time_text(start: dt.datetime, *, now: dt.datetime, zone: dt.tzinfo, locale: Locale, live: bool = False) -> str:
    """The start of a show relative to ``now``, as the viewer in ``zone`` speaking ``locale`` says it.

    ``live``: the show is on the air, whenever it was planned to start.
    """
    if live:
        # Translators: instead of the start time of a show that is on the air.
        return gettext("Live now")
    local = start.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    time = format_time(local, format="short", locale=locale)
    if days == 0:
        if local.time() >= EVENING_STARTS:
            # Translators: a show starting this evening, e.g. "Tonight 20:00".
            return gettext("Tonight %(time)s") % {"time": time}
        # Translators: a show starting earlier in the day than the evening, e.g. "Today 14:00".
        return gettext("Today %(time)s") % {"time": time}
    if days == 1:
        # Translators: e.g. "Tomorrow 09:30".
        return gettext("Tomorrow %(time)s") % {"time": time}
    if 2 <= days <= WEEKDAY_HORIZON_DAYS:
        weekday = format_date(local, format="EEEE", locale=locale)
        # Translators: a show within the coming week, e.g. "Friday 18:00" (weekday from CLDR).
        return gettext("%(weekday)s %(time)s") % {"weekday": weekday, "time": time}
    return get_datetime_format("medium", locale=locale).format(time, format_date(local, format="medium", locale=locale))


def _full(local: dt.datetime, time: str, locale: Locale) -> str:
    """``time`` (one moment or a span) on ``local``'s day, in the locale's full date pattern."""
    return get_datetime_format("full", locale=locale).format(time, format_date(local, format="full", locale=locale))


def _zone_name(local: dt.datetime, locale: Locale) -> str:
    return get_timezone_name(local, width="long", locale=locale)


def show_time_title(start: dt.datetime, *, zone: dt.tzinfo, locale: Locale) -> str:
    """The full local date and time with the zone's name: "Friday, November 27, 2026, 8:00 PM Eastern Standard Time"."""
    local = start.astimezone(zone)
    return _full(local, f"{format_time(local, format='short', locale=locale)} {_zone_name(local, locale)}", locale)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def show_time_html(
    start: dt.datetime, *, now: dt.datetime, zone: dt.tzinfo, locale: Locale, live: bool = False
) -> SafeString:
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        _utc(start),
        show_time_title(start, zone=zone, locale=locale),
        show_time_text(start, now=now, zone=zone, locale=locale, live=live),
    )


def show_period_text(start: dt.datetime, end: dt.datetime, *, zone: dt.tzinfo, locale: Locale) -> str:
    """A show's planned span, full local dates, the zone named once: "Friday, …, 8:00 PM \N{EN DASH} 9:00 PM Gulf Standard Time"."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    start_time = format_time(local_start, format="short", locale=locale)
    end_time = f"{format_time(local_end, format='short', locale=locale)} {_zone_name(local_end, locale)}"
    if local_start.date() == local_end.date():
        return _full(local_start, f"{start_time} {SPAN_DASH} {end_time}", locale)
    return f"{_full(local_start, start_time, locale)} {SPAN_DASH} {_full(local_end, end_time, locale)}"


def viewer_locale(context: template.Context) -> Locale:
    """The shopper's locale (language and country, ``ar_AE``), else the active language's."""
    request = context.get("request")
    shopper = getattr(request, "shopper", None)
    if shopper is not None and shopper.language == translation.get_language():
        return babel_locale(shopper.locale)
    return babel_locale(translation.to_locale(translation.get_language() or "en"))


def viewer_zone() -> dt.tzinfo:
    zone = timezone.get_current_timezone()
    # Babel names zones by their IANA key; make sure there is one to name.
    return zone if getattr(zone, "key", None) else ZoneInfo("UTC")


@register.simple_tag(takes_context=True)
def show_time(context: template.Context, room: LiveRoom) -> SafeString:
    """``{% show_time room %}``: when the room's show starts, or "Live now" once it is on."""
    return show_time_html(
        room.scheduled_start,
        now=timezone.now(),
        zone=viewer_zone(),
        locale=viewer_locale(context),
        live=room.status == LiveRoom.Status.LIVE,
    )


@register.simple_tag(takes_context=True)
def show_period(context: template.Context, room: LiveRoom) -> SafeString:
    """``{% show_period room %}``: the planned start and end for the merchant, in their time zone, named."""
    zone, locale = viewer_zone(), viewer_locale(context)
    return format_html(
        '<time datetime="{}/{}">{}</time>',
        _utc(room.scheduled_start),
        _utc(room.scheduled_end),
        show_period_text(room.scheduled_start, room.scheduled_end, zone=zone, locale=locale),
    )
