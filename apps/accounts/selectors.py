"""Reads about users and the shopper's current context."""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from apps.accounts.models import Merchant, Role, User
from regions import Region


@dataclass(frozen=True)
class ShopperContext:
    """Who is looking and how they want to see things, resolved once per request."""

    region: Region
    country: str
    language: str
    currency: str
    time_zone: str

    @property
    def is_rtl(self) -> bool:
        return self.region.is_rtl(self.language)

    @property
    def locale(self) -> str:
        """Babel locale such as ``ar_AE`` or ``de_DE``: language plus the shopper's country."""
        language = self.language.replace("-", "_")
        if language == "zh_hans":
            return "zh_Hans_" + self.country
        return f"{language}_{self.country}"


# Where an anonymous shopper's (or one without a profile choice) time zone is kept.
TIME_ZONE_SESSION_KEY = "livemall_time_zone"


def user_role(user: User) -> Role:
    if user.is_authenticated and user.is_superuser:
        return Role.OPERATOR
    if user.is_authenticated and user.memberships.exists():
        return Role.MERCHANT_STAFF
    return Role.SHOPPER


def merchants_for_user(user: User):
    """Merchants a user may act for; operators act for all."""
    if user.is_superuser:
        return Merchant.objects.all()
    return Merchant.objects.filter(memberships__user=user)


def _edge_country(request: HttpRequest) -> str | None:
    header = settings.TRUSTED_COUNTRY_HEADER
    if not header:
        return None
    value = request.headers.get(header, "").strip().upper()
    return value if len(value) == 2 and value.isalpha() else None


@functools.cache
def _known_time_zones() -> frozenset[str]:
    # Read from the disk's zone database once per process: it is scanned, file by file.
    # "localtime" (the server's own clock) and "Factory" are files there but no place.
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "Factory"}


@functools.cache
def time_zones() -> tuple[str, ...]:
    """Every IANA zone a shopper may choose, sorted."""
    return tuple(sorted(_known_time_zones()))


def is_time_zone(value: object) -> bool:
    """Whether ``value`` names a zone a shopper may choose (a stored profile or session may be stale)."""
    return isinstance(value, str) and value in _known_time_zones()


def accept_language(header: str, offered: tuple[str, ...]) -> str | None:
    """The first language of an ``Accept-Language`` header that is offered (``de-AT`` finds ``de``)."""
    for part in header.split(","):
        tag = part.split(";")[0].strip().lower()
        if not tag:
            continue
        if tag in offered:
            return tag
        base = tag.split("-")[0]
        if base in offered:
            return base
        if base == "zh" and "zh-hans" in offered:
            return "zh-hans"
    return None


def shopper_context(request: HttpRequest, region: Region) -> ShopperContext:
    """Resolve country, language, currency and time zone for this request.

    Order: the signed-in user's profile, then the choice stored in the session or
    cookie, then the trusted edge header / browser, then the country's defaults
    (its time zone: the region's when its file names none).
    A value the region does not offer is ignored rather than trusted.
    """
    user = getattr(request, "user", None)
    profile = user if user is not None and user.is_authenticated else None

    country = (profile.country if profile else "") or _edge_country(request) or ""
    if not region.serves(country):
        country = region.default_country
    country_defaults = region.country(country)

    def chosen(profile_value: str, key: str, offered: tuple[str, ...]) -> str | None:
        for value in (profile_value, request.session.get(key, ""), request.COOKIES.get(key, "")):
            if value in offered:
                return value
        return None

    language = (
        chosen(profile.language if profile else "", settings.LANGUAGE_COOKIE_NAME, region.languages)
        or accept_language(request.headers.get("Accept-Language", ""), region.languages)
        or country_defaults.language
    )
    currency = (
        chosen(profile.currency if profile else "", settings.CURRENCY_COOKIE_NAME, region.currencies)
        or country_defaults.currency
    )
    time_zone = next(
        (
            value
            for value in (profile.time_zone if profile else "", request.session.get(TIME_ZONE_SESSION_KEY, ""))
            if is_time_zone(value)
        ),
        country_defaults.time_zone or region.time_zone,
    )
    return ShopperContext(region=region, country=country, language=language, currency=currency, time_zone=time_zone)
