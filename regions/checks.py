"""System checks on region data that goes stale with time rather than by a typo.

A region file lists public holidays for the years someone has typed in. When those years run
out, delivery dates silently stop skipping holidays; this check says so ahead of time at every
``manage.py check`` (and so at every deploy), and louder once the lists have ended. Both are
warnings, not errors: an error would stop the site from starting, and a delivery date that
misses a holiday is better than no shop; CI's ``check --deploy --fail-level WARNING`` is
where a stale file stops a release.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register
from django.utils import timezone

from regions.loader import Region

# A quarter's notice: enough to gather next year's holidays (the moon-sighting ones included)
# before the first ETA counts past the end.
CALENDAR_WARNING_DAYS = 90


def holiday_calendar_messages(region: Region, today: dt.date) -> list[CheckMessage]:
    """What ``manage.py check`` says about ``region``'s holiday lists on ``today``."""
    through = region.holidays_through
    path = f"regions/{region.code}.toml"
    hint = f"Add the next year's public holidays to {path} and move its holidays_through past them."
    if today > through:
        return [
            Warning(
                f"The public holidays ended on {through.isoformat()}; delivery dates now skip "
                "weekends only and promise deliveries on holidays.",
                hint=hint,
                obj=path,
                id="regions.W002",
            )
        ]
    if (through - today).days <= CALENDAR_WARNING_DAYS:
        return [
            Warning(
                f"The public holidays end on {through.isoformat()}, in {(through - today).days} days; "
                "delivery dates counted past it will skip weekends only.",
                hint=hint,
                obj=path,
                id="regions.W001",
            )
        ]
    return []


@register()
def holiday_calendar_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The served region's holiday lists, against today in the region's time zone.

    Only the served region: another region's stale file must not stop this one's deploy.
    """
    region: Region = settings.REGION
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(region.time_zone)).date()
    return holiday_calendar_messages(region, today)
