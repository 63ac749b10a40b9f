"""Region files (``regions/<code>.toml``) validated into one frozen :class:`Region`.

A region is data: adding a fifth region means adding a file here, nothing else.
Validation is strict and explicit because a typo in a region file must stop start-up
with a message that names the file, the field and what would have been accepted,
rather than surface later as a wrong price or a leaked record.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import tomllib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_name

REGIONS_DIR = Path(__file__).resolve().parent

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CONSENT_MODELS = ("opt-in", "opt-out")
TAX_MODELS = ("vat-inclusive", "sales-tax", "gst")
PAYMENT_PROVIDERS = ("stripe", "paypal", "cash_on_delivery")
SUPPORT_CHANNEL_KINDS = ("email", "whatsapp", "line", "messenger", "phone")
MIN_RECORDING_RETENTION_DAYS = 180
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})
# ISO 3166-2: the country's alpha-2 code, a hyphen, then one to three letters or digits (MY-03, US-NY).
SUBDIVISION_CODE = re.compile(r"(?P<country>[A-Z]{2})-(?P<part>[A-Z0-9]{1,3})")


class RegionError(Exception):
    """A region could not be chosen or its file is malformed."""


@dataclass(frozen=True)
class Holiday:
    date: dt.date
    name: str
    # Who keeps the day; the loader fills in every served country when the file names none.
    countries: frozenset[str] = frozenset()
    # States of those countries that do not keep it (Deepavali is not a holiday in Sarawak, MY-13).
    except_subdivisions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PaymentMethods:
    provider: str
    methods: tuple[str, ...]


@dataclass(frozen=True)
class SupportChannel:
    kind: str
    address: str

    @property
    def url(self) -> str:
        """Where a tap on the channel goes: the app's own deep link, or mail/phone."""
        digits = "".join(ch for ch in self.address if ch.isdigit())
        return {
            "email": f"mailto:{self.address}",
            "phone": f"tel:+{digits}",
            "whatsapp": f"https://wa.me/{digits}",
            "line": f"https://line.me/R/ti/p/{self.address}",
            "messenger": f"https://m.me/{self.address}",
        }[self.kind]


@dataclass(frozen=True)
class Subdivision:
    """A state or province of a served country (ISO 3166-2 ``code``), as its addresses name it.

    ``name`` is what a shopper picks at checkout; ``weekend_days`` (the country's unless the
    file says otherwise) and ``holidays`` (the state's own, on top of the country's) decide its
    working days.
    """

    code: str
    weekend_days: tuple[str, ...]
    name: str = ""
    holidays: tuple[Holiday, ...] = ()
    # The name in region languages whose shoppers write it otherwise (Thai script for Thailand's
    # provinces): CLDR, and so Babel, has no names of states.
    local_names: tuple[tuple[str, str], ...] = ()

    def name_in(self, language: str) -> str:
        """The name a shopper reading ``language`` ("th", "en-us") picks: its own, else ``name``."""
        names = dict(self.local_names)
        return names.get(language) or names.get(language.split("-")[0]) or self.name

    @property
    def address_code(self) -> str:
        """The part an address's ``state`` holds: "02" for MY-02, as "NY" for US-NY."""
        return self.code.split("-", 1)[1]


@dataclass(frozen=True)
class CountryDefaults:
    """What a shopper from this country gets before they choose otherwise."""

    code: str
    currency: str
    language: str
    # The country's own weekend; the loader fills in the region's when the file names none.
    weekend_days: tuple[str, ...] = ()
    # Only the states that rest on other days than the country (Kelantan's Friday-Saturday).
    subdivisions: tuple[Subdivision, ...] = ()
    # The IANA zone a shopper from here sees times in until they choose their own; the loader
    # fills in the region's when the file names none.
    time_zone: str = ""

    def subdivision(self, state: str) -> Subdivision | None:
        """The subdivision an address's ``state`` names, as its part ("03") or in full ("MY-03")."""
        code = state.strip().upper() if isinstance(state, str) else ""
        if not code:
            return None
        if "-" not in code:
            code = f"{self.code}-{code}"
        return next((sub for sub in self.subdivisions if sub.code == code), None)

    def weekend_in(self, subdivision: str = "") -> tuple[str, ...]:
        """The weekend of ``subdivision``, given as an address's state ("03") or in full ("MY-03")."""
        sub = self.subdivision(subdivision)
        return sub.weekend_days if sub is not None else self.weekend_days


@dataclass(frozen=True)
class TaxModel:
    model: str
    prices_include_tax: bool
    # Served countries whose law asks for another model than the region's, by country code
    # (Mexico's consumer law wants the shown price to hold the IVA); each override has none of its own.
    countries: tuple[tuple[str, TaxModel], ...] = ()

    def for_country(self, country: str) -> TaxModel:
        """The model a delivery to ``country`` is priced with: its override, else the region's."""
        return dict(self.countries).get(country.upper() if isinstance(country, str) else "", self)


@dataclass(frozen=True)
class Region:
    """Everything that differs between regions. Read it; never branch on ``code``."""

    code: str
    name: str
    # The name shoppers read, per region language (``name`` is the operators' English one).
    local_names: tuple[tuple[str, str], ...]
    default_language: str
    languages: tuple[str, ...]
    settlement_currency: str
    currencies: tuple[str, ...]
    time_zone: str
    weekend_days: tuple[str, ...]
    default_country: str
    consent_model: str
    honour_global_privacy_control: bool
    sensitive_word_lists: tuple[str, ...]
    recording_retention_days: int
    warehouse_sync_allowed: bool
    tax: TaxModel
    payment_methods: tuple[PaymentMethods, ...]
    support_channels: tuple[SupportChannel, ...]
    holidays: tuple[Holiday, ...]
    # The last day the holiday lists cover: after it, working days are known from weekends only.
    holidays_through: dt.date
    countries: tuple[CountryDefaults, ...]

    @property
    def country_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.countries)

    def serves(self, country: str) -> bool:
        return country.upper() in self.country_codes

    def country(self, code: str) -> CountryDefaults:
        code = code.upper()
        for country in self.countries:
            if country.code == code:
                return country
        raise KeyError(code)

    def name_in(self, language: str) -> str:
        return dict(self.local_names).get(language, self.name)

    def is_rtl(self, language: str) -> bool:
        return language.split("-")[0] in RTL_LANGUAGES

    def is_working_day(self, day: dt.date, *, country: str, subdivision: str = "") -> bool:
        """Whether ``day`` counts in the destination ``country``'s working days.

        Weekends and holidays differ between the countries of one region (the UAE rests
        Saturday-Sunday, Saudi Arabia Friday-Saturday), so the country is required; some
        differ within a country too (Kelantan's Friday-Saturday, Selangor's Sultan's Birthday,
        Sarawak's lack of Deepavali), hence the address's ``subdivision`` (its state): the
        state's weekend, the country's holidays it keeps and its own. A country the region does
        not serve gets the region's weekend and only the region-wide holidays.
        """
        code = country.upper()
        if not self.serves(code):
            if WEEKDAYS[day.weekday()] in self.weekend_days:
                return False
            return all(h.date != day or h.countries != self.country_codes for h in self.holidays)
        defaults = self.country(code)
        # An unknown state counts as none: the country's calendar, not an error at quote time
        # (the address check refuses it before an order is placed).
        sub = defaults.subdivision(subdivision)
        if WEEKDAYS[day.weekday()] in (sub.weekend_days if sub is not None else defaults.weekend_days):
            return False
        sub_code = sub.code if sub is not None else ""
        if any(h.date == day and code in h.countries and sub_code not in h.except_subdivisions for h in self.holidays):
            return False
        return sub is None or all(h.date != day for h in sub.holidays)

    @property
    def payment_providers(self) -> tuple[str, ...]:
        return tuple(p.provider for p in self.payment_methods)


class _Fields:
    """Reads typed fields from one table of one file, raising errors that name both."""

    def __init__(self, path: Path, data: dict[str, Any], prefix: str = "") -> None:
        self.path = path
        self.data = data
        self.prefix = prefix

    def error(self, field: str, problem: str, valid: Any = None) -> RegionError:
        where = f"{self.path.name}: field '{self.prefix}{field}'"
        hint = f"; valid values: {', '.join(map(str, valid))}" if valid else ""
        return RegionError(f"{where} {problem}{hint}")

    def raw(self, field: str) -> Any:
        if field not in self.data:
            raise self.error(field, "is missing")
        return self.data[field]

    def str(self, field: str, choices: tuple[str, ...] | None = None) -> str:
        value = self.raw(field)
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, f"must be a non-empty string, got {value!r}", choices)
        if choices is not None and value not in choices:
            raise self.error(field, f"has unknown value {value!r}", choices)
        return value

    def bool(self, field: str) -> bool:
        value = self.raw(field)
        if not isinstance(value, bool):
            raise self.error(field, f"must be true or false, got {value!r}")
        return value

    def int(self, field: str, minimum: int) -> int:
        value = self.raw(field)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(field, f"must be a whole number, got {value!r}")
        if value < minimum:
            raise self.error(field, f"must be at least {minimum}, got {value}")
        return value

    def str_list(self, field: str, choices: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.raw(field)
        if not isinstance(value, list) or not value:
            raise self.error(field, "must be a non-empty list", choices)
        for item in value:
            if not isinstance(item, str):
                raise self.error(field, f"must hold strings, got {item!r}", choices)
            if choices is not None and item not in choices:
                raise self.error(field, f"has unknown value {item!r}", choices)
        if len(set(value)) != len(value):
            raise self.error(field, "lists a value twice")
        return tuple(value)

    def tables(self, field: str) -> list[_Fields]:
        value = self.raw(field)
        if not isinstance(value, list) or not value:
            raise self.error(field, "must be a non-empty list of tables ([[...]])")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{field}[{i}]", "must be a table")
            out.append(_Fields(self.path, item, f"{self.prefix}{field}[{i}]."))
        return out

    def table(self, field: str) -> _Fields:
        value = self.raw(field)
        if not isinstance(value, dict):
            raise self.error(field, "must be a table")
        return _Fields(self.path, value, f"{self.prefix}{field}.")


def _known_language(code: str) -> bool:
    try:
        Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return False
    return True


def _known_currency(code: str) -> bool:
    return len(code) == 3 and code.isupper() and get_currency_name(code, locale="en") != code


def _known_country(code: str) -> bool:
    return len(code) == 2 and code.isupper() and code in Locale("en").territories


def _weekend(f: _Fields) -> tuple[str, ...]:
    days = f.str_list("weekend_days", WEEKDAYS)
    # A week with no working day would make every delivery date search run forever.
    if len(days) == len(WEEKDAYS):
        raise f.error("weekend_days", "leaves no working day in the week")
    return days


def _time_zone(f: _Fields) -> str:
    time_zone = f.str("time_zone")
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise f.error("time_zone", f"is not an IANA time zone such as Europe/Paris: {time_zone!r}") from exc
    return time_zone


def _date(h: _Fields) -> dt.date:
    day = h.raw("date")
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise h.error("date", f"must be a TOML date such as 2026-12-25, got {day!r}")
    return day


def _subdivisions(
    row: _Fields, country: str, weekend_days: tuple[str, ...], languages: tuple[str, ...]
) -> tuple[Subdivision, ...]:
    """``countries.XX.subdivisions.XX-YY`` tables, by ISO 3166-2 code: a state's name (and in
    ``local_names`` its name in some of the region's ``languages``), and its own weekend
    (``weekend_days``, the country's when absent) and holidays on top of the country's."""
    if "subdivisions" not in row.data:
        return ()
    table = row.table("subdivisions")
    out = []
    for code in table.data:
        match = SUBDIVISION_CODE.fullmatch(code)
        if match is None or match["country"] != country:
            raise table.error(
                code,
                f"is not an ISO 3166-2 code of {country}: write the country code, a hyphen and the "
                f"state's code, such as {country}-01",
            )
        sub = table.table(code)
        weekend = _weekend(sub) if "weekend_days" in sub.data else weekend_days
        holidays = []
        for h in sub.tables("holidays") if "holidays" in sub.data else []:
            for field in ("countries", "except_subdivisions"):
                if field in h.data:
                    raise h.error(field, f"does not belong to a holiday that only {code} keeps")
            holidays.append(Holiday(date=_date(h), name=h.str("name"), countries=frozenset({country})))
        local_names = ()
        if "local_names" in sub.data:
            names = sub.table("local_names")
            for lang in names.data:
                if lang not in languages:
                    raise sub.error(
                        "local_names", f"names language {lang!r}, which the region does not offer", languages
                    )
            local_names = tuple((lang, names.str(lang)) for lang in names.data)
        out.append(
            Subdivision(
                code=code,
                weekend_days=weekend,
                name=sub.str("name"),
                holidays=tuple(holidays),
                local_names=local_names,
            )
        )
    return tuple(out)


def _except_subdivisions(h: _Fields, keepers: tuple[str, ...], countries: list[CountryDefaults]) -> frozenset[str]:
    """A country-wide holiday's states that do not keep it: each one a listed state of a keeper."""
    if "except_subdivisions" not in h.data:
        return frozenset()
    known = tuple(sub.code for c in countries if c.code in keepers for sub in c.subdivisions)
    return frozenset(h.str_list("except_subdivisions", known))


def _holidays_through(f: _Fields, holidays: list[Holiday]) -> dt.date:
    """The last day the holiday lists cover, so that their running out can be seen coming."""
    if "holidays_through" not in f.data:
        raise f.error(
            "holidays_through",
            "is missing: give the last date the holiday lists cover, such as holidays_through = 2027-12-31",
        )
    through = f.data["holidays_through"]
    if not isinstance(through, dt.date) or isinstance(through, dt.datetime):
        raise f.error("holidays_through", f"must be a TOML date such as 2027-12-31, got {through!r}")
    last = max(holidays, key=lambda h: h.date)
    if through < last.date:
        raise f.error(
            "holidays_through",
            f"is {through.isoformat()}, before the last listed holiday ({last.date.isoformat()}, {last.name})",
        )
    return through


def _tax(tax: _Fields, served: tuple[str, ...]) -> TaxModel:
    """``[tax]``: the region's model, and in ``[tax.countries.XX]`` a served country's own."""
    overrides = []
    if "countries" in tax.data:
        table = tax.table("countries")
        for cc in table.data:
            if cc not in served:
                raise table.error(cc, "is not a country the region serves", served)
            row = table.table(cc)
            overrides.append(
                (cc, TaxModel(model=row.str("model", TAX_MODELS), prices_include_tax=row.bool("prices_include_tax")))
            )
    return TaxModel(
        model=tax.str("model", TAX_MODELS),
        prices_include_tax=tax.bool("prices_include_tax"),
        countries=tuple(overrides),
    )


def parse_region_file(path: Path) -> Region:
    """Validate one region file into a :class:`Region`; raise :class:`RegionError`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RegionError(f"{path.name}: not valid TOML: {exc}") from exc
    f = _Fields(path, data)

    code = f.str("code")
    if code != path.stem:
        raise f.error("code", f"is {code!r} but the file is named {path.name}", [path.stem])

    languages = f.str_list("languages")
    for lang in languages:
        if not _known_language(lang):
            raise f.error("languages", f"has unknown language code {lang!r}")
    default_language = f.str("default_language", languages)

    names_table = f.table("local_names")
    for lang in names_table.data:
        if lang not in languages:
            raise f.error("local_names", f"names language {lang!r}, which the region does not offer", languages)
    local_names = {lang: names_table.str(lang) for lang in languages}

    currencies = f.str_list("currencies")
    for cur in currencies:
        if not _known_currency(cur):
            raise f.error("currencies", f"has unknown ISO 4217 code {cur!r}")
    settlement_currency = f.str("settlement_currency", currencies)

    time_zone = _time_zone(f)

    weekend_days = _weekend(f)
    countries = []
    country_table = f.table("countries")
    if not country_table.data:
        raise f.error("countries", "must list at least one served country")
    for cc in country_table.data:
        if not _known_country(cc):
            raise f.error("countries", f"has unknown ISO 3166 country code {cc!r}")
        row = country_table.table(cc)
        country_weekend = _weekend(row) if "weekend_days" in row.data else weekend_days
        countries.append(
            CountryDefaults(
                code=cc,
                currency=row.str("currency", currencies),
                language=row.str("language", languages),
                weekend_days=country_weekend,
                subdivisions=_subdivisions(row, cc, country_weekend, languages),
                time_zone=_time_zone(row) if "time_zone" in row.data else time_zone,
            )
        )
    served = tuple(country_table.data)
    default_country = f.str("default_country", served)

    tax = f.table("tax")
    holidays = []
    for h in f.tables("holidays"):
        day = _date(h)
        keepers = h.str_list("countries") if "countries" in h.data else served
        for cc in keepers:
            if cc not in served:
                raise h.error("countries", f"names country {cc!r}, which the region does not serve", served)
        holidays.append(
            Holiday(
                date=day,
                name=h.str("name"),
                countries=frozenset(keepers),
                except_subdivisions=_except_subdivisions(h, keepers, countries),
            )
        )

    return Region(
        code=code,
        name=f.str("name"),
        local_names=tuple(local_names.items()),
        default_language=default_language,
        languages=languages,
        settlement_currency=settlement_currency,
        currencies=currencies,
        time_zone=time_zone,
        weekend_days=weekend_days,
        default_country=default_country,
        consent_model=f.str("consent_model", CONSENT_MODELS),
        honour_global_privacy_control=f.bool("honour_global_privacy_control"),
        sensitive_word_lists=f.str_list("sensitive_word_lists"),
        recording_retention_days=f.int("recording_retention_days", MIN_RECORDING_RETENTION_DAYS),
        warehouse_sync_allowed=f.bool("warehouse_sync_allowed"),
        tax=_tax(tax, served),
        payment_methods=tuple(
            PaymentMethods(provider=p.str("provider", PAYMENT_PROVIDERS), methods=p.str_list("methods"))
            for p in f.tables("payment_methods")
        ),
        support_channels=tuple(
            SupportChannel(kind=s.str("kind", SUPPORT_CHANNEL_KINDS), address=s.str("address"))
            for s in f.tables("support_channels")
        ),
        holidays=tuple(holidays),
        # A state's own holidays must be covered too, or the warning would come after they ran out.
        holidays_through=_holidays_through(
            f, [*holidays, *(h for c in countries for s in c.subdivisions for h in s.holidays)]
        ),
        countries=tuple(countries),
    )


def available_region_codes(directory: Path = REGIONS_DIR) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in directory.glob("*.toml")))


@functools.cache
def load_region(code: str, directory: Path = REGIONS_DIR) -> Region:
    valid = available_region_codes(directory)
    if code not in valid:
        raise RegionError(f"REGION={code!r} is not a known region; valid values: {', '.join(valid)}")
    return parse_region_file(directory / f"{code}.toml")


@functools.cache
def all_regions(directory: Path = REGIONS_DIR) -> tuple[Region, ...]:
    regions = tuple(load_region(code, directory) for code in available_region_codes(directory))
    seen: dict[str, str] = {}
    for region in regions:
        for cc in region.country_codes:
            if cc in seen:
                raise RegionError(f"{region.code}.toml: field 'countries' claims {cc}, already served by {seen[cc]}")
            seen[cc] = region.code
    return regions


def home_region(country: str) -> Region | None:
    """The region whose site serves shoppers from ``country`` (ISO 3166 alpha-2), if any."""
    country = country.upper()
    for region in all_regions():
        if region.serves(country):
            return region
    return None


def current_region() -> Region:
    """The region this process serves, chosen by ``REGION`` (default ``us-east``)."""
    return load_region(os.environ.get("REGION", "us-east"))
