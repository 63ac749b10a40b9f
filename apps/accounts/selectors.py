"""Reads about users and the shopper's current context."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import unicodedata
import zoneinfo
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone_gmt, get_timezone_location, get_timezone_name
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import to_locale

from apps.accounts.models import Merchant, Role, User
from regions import Region
from regions.languages import babel_locale


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
# The country a shopper chose to shop from: the session's key and the cookie's name (the cookie
# outlives the session, as the language's and the currency's do).
COUNTRY_COOKIE_NAME = "livemall_country"


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


def sort_key(text: str) -> str:
    """A key that sorts names as a reader expects, near enough without ICU ("Österreich" with "O")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@functools.lru_cache(maxsize=64)
def _country_choices(codes: tuple[str, ...], language: str) -> tuple[tuple[str, str], ...]:
    names = babel_locale(to_locale(language)).territories
    return tuple(sorted(((code, names.get(code, code)) for code in codes), key=lambda choice: sort_key(choice[1])))


def country_choices(region: Region, language: str) -> tuple[tuple[str, str], ...]:
    """The countries ``region`` serves as (code, name in ``language``), sorted by that name."""
    return _country_choices(tuple(country.code for country in region.countries), language)


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
def _offered_time_zones() -> tuple[str, ...]:
    # Babel's (CLDR's) aliases are the backward-compatible names ("Africa/Asmera", "US/Pacific",
    # "Asia/Calcutta"): listing them shows the same place twice. They stay valid (is_time_zone).
    aliases = get_global("zone_aliases")
    return tuple(sorted(zone for zone in _known_time_zones() if zone not in aliases))


@functools.cache
def _zone_database_countries() -> dict[str, str]:
    """Each zone's country as the zone database itself files it (``zone.tab``: one country per zone).

    Babel's data lags the zone database: a zone added since (America/Coyhaique, 2025) has no
    country there, and Babel would call it "Unknown Region (Coyhaique) Time"."""
    sources = [Path(directory) / "zone.tab" for directory in zoneinfo.TZPATH]
    # Where the system has no zone database, zoneinfo reads the tzdata package's.
    with contextlib.suppress(ModuleNotFoundError):
        sources.append(Path(str(resources.files("tzdata").joinpath("zoneinfo", "zone.tab"))))
    for source in sources:
        try:
            text = source.read_text(encoding="utf-8")
        except OSError:
            continue
        rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
        return {row[2]: row[0] for row in rows if len(row) >= 3}
    return {}


@functools.cache
def _cldr_zone_keys() -> dict[str, tuple[str, ...]]:
    """The older names CLDR still files a renamed zone's city under (Asia/Ho_Chi_Minh: Asia/Saigon).

    Babel looks a city up under the zone's current name only, so Thai or Chinese shoppers
    would read "Ho Chi Minh" and "Kolkata" in Latin letters."""
    former: dict[str, list[str]] = {}
    for alias, zone in get_global("zone_aliases").items():
        former.setdefault(zone, []).append(alias)
    return {zone: tuple(sorted(aliases)) for zone, aliases in former.items()}


def _exemplar_city(zone: str, locale: Locale) -> str:
    for key in (zone, *_cldr_zone_keys().get(zone, ())):
        city = locale.time_zones.get(key, {}).get("city")
        if city:
            return city
    city = get_timezone_location(zone, locale=locale, return_city=True)
    # Without data Babel takes all of the id after the first slash ("Argentina/Buenos Aires");
    # CLDR's own rule is the id's last part.
    return city.rsplit("/", 1)[-1]


def _time_zone_label(zone: str, locale: Locale) -> str:
    # A kept alias (Asia/Calcutta) is labelled as the zone it stands for.
    zone = get_global("zone_aliases").get(zone, zone)
    territory = get_global("zone_territories").get(zone)
    try:
        if territory in ("001", "ZZ"):
            # Etc/UTC, Etc/GMT+5 (which is five hours *behind*): their offset says what they are.
            return (
                "UTC"
                if zone == "Etc/UTC"
                else get_timezone_gmt(dt.datetime(2000, 1, 1, tzinfo=zoneinfo.ZoneInfo(zone)), locale=locale)
            )
        city = _exemplar_city(zone, locale)
        if not territory:
            # Newer in the zone database than in Babel's data: the country the database gives,
            # and no name of its own (Babel has none), as for Chile · Punta Arenas.
            territory = _zone_database_countries().get(zone)
            return f"{locale.territories[territory]} · {city}" if territory in locale.territories else city
        if territory not in locale.territories:
            return city
        name = get_timezone_name(zone, locale=locale)
        # A zone without a name of its own gets the location form ("United Arab Emirates Time").
        fallback = get_timezone_location(zone, locale=locale)
    except (LookupError, ValueError):
        return zone.replace("_", " ")
    country = locale.territories[territory]
    # "Qatar · Qatar" says nothing more than "Qatar".
    label = country if city == country else f"{country} · {city}"
    return label if name == fallback else f"{label} ({name})"


@functools.lru_cache(maxsize=64)
def _time_zone_groups(
    region_zones: tuple[str, ...], language: str
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    locale = babel_locale(to_locale(language))

    def labelled(zones: object) -> tuple[tuple[str, str], ...]:
        pairs = ((zone, _time_zone_label(zone, locale)) for zone in zones)
        return tuple(sorted(pairs, key=lambda pair: (sort_key(pair[1]), pair[0])))

    own = set(region_zones)
    return labelled(own), labelled(zone for zone in _offered_time_zones() if zone not in own)


def time_zone_choices(region: Region, language: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """The zones a shopper may pick as (zone, label in ``language``): the region's countries' first,
    then every other; each list sorted by its label. Backward-compatible aliases are left out."""
    by_country = get_global("territory_zones")
    known = _known_time_zones()
    zones: dict[str, None] = {}
    for country in region.countries:
        # The country's own default first: it is offered even if Babel files it under an alias.
        for zone in (country.time_zone or region.time_zone, *by_country.get(country.code, ())):
            if zone in known:
                zones[zone] = None
    return _time_zone_groups(tuple(sorted(zones)), language)


def time_zone_label(zone: str, language: str) -> str:
    """How the preferences page names ``zone`` in ``language`` (an alias as the zone it stands for)."""
    return _time_zone_label(zone, babel_locale(to_locale(language)))


def is_time_zone(value: object) -> bool:
    """Whether ``value`` names a zone a shopper may choose (a stored profile or session may be stale)."""
    return isinstance(value, str) and value in _known_time_zones()


# Cached: every page and the flash-sale door's answer to each sold-out buyer read it, and a
# crowd's browsers send a handful of distinct headers.
@functools.lru_cache(maxsize=512)
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
    (its time zone: the region's when its file names none). Language, currency and time
    zone the shopper did not choose therefore follow the country, chosen or not.
    A value the region does not offer is ignored rather than trusted.
    """
    user = getattr(request, "user", None)
    profile = user if user is not None and user.is_authenticated else None

    country = next(
        (
            value.upper()
            for value in (
                profile.country if profile else "",
                request.session.get(COUNTRY_COOKIE_NAME, ""),
                request.COOKIES.get(COUNTRY_COOKIE_NAME, ""),
                _edge_country(request) or "",
            )
            if isinstance(value, str) and value and region.serves(value)
        ),
        region.default_country,
    )
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
