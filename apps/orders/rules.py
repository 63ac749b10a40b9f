"""The data that prices an order: tax rates, shipping options, address rules, delivery ETA.

Rates and options live in ``apps/orders/data/*.toml``; the tax *model* (VAT included,
sales tax added, GST) comes from the region file. Nothing here names a region.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

import phonenumbers
from django.core.checks import CheckMessage, Error
from django.utils import translation
from django.utils.translation import gettext as _

from apps.money.types import round_minor
from regions import Region, Subdivision, all_regions, home_region

DATA_DIR = Path(__file__).resolve().parent / "data"

logger = logging.getLogger(__name__)


@functools.cache
def _data(name: str) -> dict:
    with (DATA_DIR / name).open("rb") as fh:
        return tomllib.load(fh)


# --- tax ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxPart:
    """One named tax inside a combined rate (Quebec's GST and QST), as the receipt shows it."""

    name: str
    rate: Decimal  # percent
    amount_minor: int

    def as_stored(self) -> dict[str, str | int]:
        """The part as an order keeps it (``Order.tax_parts``) and pages and the API read it."""
        return {"name": self.name, "rate": str(self.rate), "minor": self.amount_minor}


@dataclass(frozen=True)
class Tax:
    model: str
    rate: Decimal  # percent
    included: bool
    amount_minor: int
    # Where the destination names the taxes a combined rate is made of; empty elsewhere.
    parts: tuple[TaxPart, ...] = ()


@functools.cache
def _tax_part_rates() -> dict[str, dict[str, tuple[tuple[str, Decimal], ...]]]:
    """``{country: {state: ((name, rate), ...)}}`` from the ``<country>_state_parts`` tables."""
    data = _data("tax_rates.toml")
    return {
        key.removesuffix("_state_parts").upper(): {
            state: tuple((name, Decimal(rate)) for name, rate in parts) for state, parts in table.items()
        }
        for key, table in data.items()
        if key.endswith("_state_parts")
    }


def tax_part_rates(*, country: str, state: str) -> tuple[tuple[str, Decimal], ...]:
    """The named taxes (and their rates) the destination's combined rate is made of; () where none are named."""
    return _tax_part_rates().get(country.upper(), {}).get(state.upper(), ())


def tax_rate(*, country: str, state: str = "") -> Decimal:
    """The destination's rate in percent: the state's where a state table exists, else the country's."""
    data = _data("tax_rates.toml")
    states = data.get(f"{country.lower()}_states")
    if states and state.upper() in states:
        return Decimal(states[state.upper()])
    return Decimal(data["countries"].get(country, "0"))


@functools.cache
def tax_varies_by_state(country: str) -> bool:
    """Whether some state of ``country`` is taxed at another rate than the country without one
    (a checkout without a state cannot say its tax yet)."""
    states = _data("tax_rates.toml").get(f"{country.lower()}_states") or {}
    base = tax_rate(country=country)
    return any(Decimal(rate) != base for rate in states.values())


def tax_for(*, region: Region, country: str, state: str, taxable_minor: int) -> Tax:
    """Tax on ``taxable_minor``: the part already inside it (inclusive models) or the amount to add.

    The model is the destination country's where the region file gives it one (Mexico's IVA is
    inside the shown price in a region that adds US sales tax), else the region's.
    """
    rate = tax_rate(country=country, state=state)
    fraction = Fraction(rate) / 100
    model = region.tax.for_country(country)
    # What the tax is charged on: the price itself, or the part of it before the tax inside it.
    base = Fraction(taxable_minor) / (1 + fraction) if model.prices_include_tax else Fraction(taxable_minor)
    # Where the destination names the taxes its rate is made of (Quebec: GST and QST), each is
    # computed on the price and rounded on its own, as its receipt states it; the tax is their sum.
    parts = tuple(
        TaxPart(name, part_rate, round_minor(base * Fraction(part_rate) / 100))
        for name, part_rate in (tax_part_rates(country=country, state=state) if rate else ())
    )
    amount = sum(part.amount_minor for part in parts) if parts else round_minor(base * fraction)
    return Tax(model=model.model, rate=rate, included=model.prices_include_tax, amount_minor=amount, parts=parts)


# --- shipping -----------------------------------------------------------------------------


SHIPPING_FILE = DATA_DIR / "shipping.toml"


class ShippingDataError(Exception):
    """shipping.toml cannot be used as it stands: an option not priced in a settlement currency some
    region charges in, without a code or carrier days, or with a key nothing reads."""


@dataclass(frozen=True)
class ShippingOption:
    code: str
    # In transit only: the days to pack are the warehouse's (catalog.Warehouse.handling_days).
    carrier_days: int
    # Per settlement currency, minor units: a region charges its own currency's row.
    price_minor: Mapping[str, int] = field(hash=False)
    free_from_minor: Mapping[str, int] | None = field(default=None, hash=False)

    @property
    def label(self) -> str:
        labels = {"standard": _("Standard delivery"), "express": _("Express delivery")}
        return labels.get(self.code, self.code)

    def price_in(self, currency: str) -> int:
        """The price in ``currency`` (a settlement currency), minor units."""
        if currency not in self.price_minor:
            raise ShippingDataError(f"{_shipping_file_name()}: option {self.code!r} has no price_minor for {currency}")
        return self.price_minor[currency]

    def free_from_in(self, currency: str) -> int | None:
        """The products' worth in ``currency`` from which the option is free; None: never free."""
        if self.free_from_minor is None:
            return None
        if currency not in self.free_from_minor:
            raise ShippingDataError(
                f"{_shipping_file_name()}: option {self.code!r} has no free_from_minor for {currency}"
            )
        return self.free_from_minor[currency]


def _shipping_file_name(path: Path = SHIPPING_FILE) -> str:
    try:
        return str(path.relative_to(DATA_DIR.parents[2]))
    except ValueError:
        return str(path)


def settlement_currencies() -> dict[str, tuple[str, ...]]:
    """Each settlement currency a region file names, with the regions that settle in it."""
    currencies: dict[str, list[str]] = {}
    for region in all_regions():
        currencies.setdefault(region.settlement_currency, []).append(region.code)
    return {currency: tuple(codes) for currency, codes in currencies.items()}


def _price_table(
    option: dict[str, Any], name: str, where: str, currencies: Mapping[str, tuple[str, ...]]
) -> tuple[Mapping[str, int] | None, list[str]]:
    """``option[name]`` as {currency: minor units}, and what is wrong with it."""
    table = option.get(name)
    if table is None:
        return None, []
    if not isinstance(table, dict):
        return None, [
            f"{where}: {name} must be a table with one price per settlement currency "
            f"([options.{name}] with {', '.join(f'{c} = ...' for c in currencies)}), not {table!r}"
        ]
    problems = [
        f"{where}: {name} has no price for {currency} (the settlement currency of {', '.join(regions)})"
        for currency, regions in currencies.items()
        if currency not in table
    ]
    problems += [
        f"{where}: {name}.{currency} must be a whole number of minor units, 0 or more, not {amount!r}"
        for currency, amount in table.items()
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0
    ]
    return MappingProxyType(dict(table)), problems


# Keys an option once had, with where each is set now: a file still carrying one is told where
# it went rather than silently ignored (the operator would believe it still moves the dates).
RETIRED_OPTION_KEYS: Mapping[str, str] = MappingProxyType(
    {"handling_days": "set per warehouse now (each warehouse's handling_days, in the admin or the merchant API)"}
)


def _option_problems(raw: dict[str, Any], where: str) -> list[str]:
    """What is wrong with ``raw``'s keys, its code and its carrier_days (its prices: :func:`_price_table`)."""
    known = [f.name for f in fields(ShippingOption)]
    problems = []
    for key in raw:
        if key not in known:
            said = f"{key} is {RETIRED_OPTION_KEYS[key]}" if key in RETIRED_OPTION_KEYS else f"unknown key {key!r}"
            problems.append(f"{where}: {said}; remove it (an option knows {', '.join(known)})")
    code = raw.get("code")
    if code is None or code == "":
        problems.append(f'{where}: code is missing (the name checkouts ask for, e.g. code = "standard")')
    elif not isinstance(code, str):
        problems.append(f'{where}: code must be text (e.g. code = "standard"), not {code!r}')
    days = raw.get("carrier_days")
    if days is None:
        problems.append(f"{where}: carrier_days is missing (the working days in transit, a whole number, 0 or more)")
    elif not isinstance(days, int) or isinstance(days, bool) or days < 0:
        problems.append(f"{where}: carrier_days must be a whole number of working days, 0 or more, not {days!r}")
    return problems


def load_shipping_options(path: Path = SHIPPING_FILE) -> tuple[ShippingOption, ...]:
    """The options in ``path``, each priced in the settlement currency of every region file.

    A currency without a price, a missing code or carrier_days, or a key nothing reads is
    refused here, every problem named at once, rather than found by the first shopper of that
    region to reach checkout (or never, for a key silently ignored).
    """
    currencies = settlement_currencies()
    name = _shipping_file_name(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ShippingDataError(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        # Said by manage.py check like any other problem, rather than a traceback at start.
        raise ShippingDataError(f"{name}: not valid TOML: {exc}") from exc
    options: list[ShippingOption] = []
    problems: list[str] = [
        # A misspelt [[options]] would leave the shop without delivery, with nothing said.
        f"{name}: unknown key {key!r} at the top of the file; remove it (the file knows options, as [[options]])"
        for key in data
        if key != "options"
    ]
    raw_options = data.get("options", [])
    if not isinstance(raw_options, list):
        problems.append(f"{name}: options must be a list of tables, one [[options]] each, not {raw_options!r}")
        raw_options = []
    seen_codes: set[str] = set()
    for index, raw in enumerate(raw_options):
        if not isinstance(raw, dict):
            problems.append(f"{name}: option #{index + 1} must be a table ([[options]]), not {raw!r}")
            continue
        code = raw.get("code")
        where = f"{name}: option {code if isinstance(code, str) and code else f'#{index + 1}'!r}"
        option_problems = _option_problems(raw, where)
        if isinstance(code, str) and code:
            if code in seen_codes:
                # shipping_option() would only ever find the first.
                option_problems.append(f"{where}: another option above has this code; each code is used once")
            seen_codes.add(code)
        price, price_problems = _price_table(raw, "price_minor", where, currencies)
        free_from, free_problems = _price_table(raw, "free_from_minor", where, currencies)
        if price is None and not price_problems:
            price_problems = [f"{where}: price_minor is missing"]
        option_problems += price_problems + free_problems
        problems += option_problems
        if not option_problems:
            options.append(
                ShippingOption(
                    code=code,
                    carrier_days=raw["carrier_days"],
                    price_minor=price,
                    free_from_minor=free_from,
                )
            )
    if not raw_options and not problems:
        # No way to deliver: every checkout would be refused for want of a shipping option.
        problems.append(f"{name}: no options; each checkout needs at least one [[options]]")
    if problems:
        raise ShippingDataError("\n".join(problems))
    return tuple(options)


@functools.cache
def shipping_options() -> tuple[ShippingOption, ...]:
    return load_shipping_options()


def shipping_option(code: str) -> ShippingOption | None:
    return next((o for o in shipping_options() if o.code == code), None)


def shipping_data_messages(path: Path = SHIPPING_FILE) -> list[CheckMessage]:
    """What ``manage.py check`` says about the shipping prices in ``path``."""
    try:
        load_shipping_options(path)
    except ShippingDataError as gaps:
        return [
            Error(
                f"The shipping options cannot be used as they stand:\n{gaps}",
                hint=f"Fix each line above in {_shipping_file_name(path)}: every option needs a code, its "
                "carrier_days, a price_minor (and a free_from_minor where it has one) for each region's "
                "settlement_currency, and no other key.",
                obj=_shipping_file_name(path),
                id="orders.E001",
            )
        ]
    return []


# Regions whose holiday lists an ETA has already counted past, in this process: the
# operators need to hear it once, not on every quote of every checkout page.
_calendar_end_warned: set[str] = set()


def add_working_days(region: Region, start: dt.date, days: int, *, country: str, subdivision: str = "") -> dt.date:
    """The date ``days`` working days after ``start`` in ``country`` (its weekend and holidays skipped).

    ``subdivision`` is the address's state, for the states that keep another weekend or
    holidays than their country. Past the end of the region's holiday lists the date is still given (a
    checkout must not fail over it), from weekends alone, and a warning is logged once.
    """
    day = start
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if region.is_working_day(day, country=country, subdivision=subdivision):
            counted += 1
    if day > region.holidays_through and region.code not in _calendar_end_warned:
        _calendar_end_warned.add(region.code)
        logger.warning(
            "Delivery dates in region %s count past %s, where the holidays in regions/%s.toml end; "
            "they skip weekends only. Add the next year's holidays and move holidays_through.",
            region.code,
            region.holidays_through.isoformat(),
            region.code,
        )
    return day


def delivery_eta(
    *,
    region: Region,
    option: ShippingOption,
    ordered_on: dt.date,
    country: str,
    subdivision: str = "",
    handling_days: int,
) -> dt.date:
    """The warehouse's ``handling_days`` plus the option's carrier days in the destination's working
    days, from the local order date.

    ``subdivision`` is the delivery address's state (``state``), which decides the weekend and
    holidays where a state keeps its own (Malaysia's Kelantan, Kedah and Terengganu rest
    Friday-Saturday; Kuala Lumpur keeps Federal Territory Day).
    """
    return add_working_days(
        region, ordered_on, handling_days + option.carrier_days, country=country, subdivision=subdivision
    )


def shipping_price(option: ShippingOption, *, region: Region, products_minor_settlement: int) -> int:
    """What ``option`` costs in ``region``'s settlement currency for products worth
    ``products_minor_settlement`` in that currency: its currency's row, or 0 from its free-from row."""
    currency = region.settlement_currency
    free_from = option.free_from_in(currency)
    if free_from is not None and products_minor_settlement >= free_from:
        return 0
    return option.price_in(currency)


# --- addresses ----------------------------------------------------------------------------

ADDRESS_FIELDS = ("name", "line1", "line2", "city", "state", "postal_code", "country", "phone")


def address_rule(country: str) -> dict:
    """The country's postal-code pattern and whether it needs a state (empty: no rules)."""
    return _data("addresses.toml")["countries"].get(country, {})


def postal_code_asked(country: str) -> bool:
    """Whether an address in ``country`` has a postal code at all (the UAE's and Qatar's do not)."""
    return address_rule(country).get("postal_code") is not False


def postal_code_required(country: str) -> bool:
    """Whether an address in ``country`` needs a postal code: it has a pattern and is not optional."""
    rule = address_rule(country)
    return bool(rule.get("postal_code")) and not rule.get("postal_code_optional", False)


def address_errors(address: dict, *, region: Region) -> dict[str, list[str]]:
    """Country-aware checks of a delivery address; an empty dict when it is fine."""
    errors: dict[str, list[str]] = {}
    if not isinstance(address, dict):
        return {"address": [_("Give the delivery address.")]}
    country = str(address.get("country") or "").upper()
    if not region.serves(country):
        errors["country"] = [_("We do not deliver to this country from this site.")]
    for name in ("name", "line1", "city"):
        value = address.get(name)
        if not isinstance(value, str) or not value.strip():
            errors[name] = [_("This field is required.")]
        elif len(value) > 200:
            errors[name] = [_("This is too long.")]
    # Optional, but no longer than the API takes it: the checkout page's form sent 5,000
    # characters and the order kept the first 200 without a word.
    line2 = address.get("line2")
    if isinstance(line2, str) and len(line2) > 200:
        errors["line2"] = [_("This is too long.")]
    rule = address_rule(country)
    postal = str(address.get("postal_code") or "").strip()
    # A country without postal codes has no pattern: what is sent is dropped by clean_address.
    pattern = rule.get("postal_code") or ""
    if pattern and postal and not re.fullmatch(pattern, postal):
        errors["postal_code"] = [_("This is not a valid postal code for the country.")]
    elif not postal and postal_code_required(country):
        errors["postal_code"] = [_("This field is required.")]
    state = str(address.get("state") or "").strip()
    if rule.get("state_required") and not state:
        errors["state"] = [_("This field is required.")]
    # Where the region lists the country's states, the address names one of them: the state decides
    # the delivery calendar (Kelantan's weekend, Selangor's holidays) and the tax rate (New York's),
    # and one it does not list would quietly give the country's.
    elif (
        state
        and region.serves(country)
        and region.country(country).subdivisions
        and subdivision_named(region, country, state) is None
    ):
        errors["state"] = [_("Choose a valid state or province.")]
    phone = address.get("phone")
    if phone not in (None, "") and phone_e164(phone, country) is None:
        errors["phone"] = [_("Enter a phone number we can call (with the country code if it is not from here).")]
    for name in ADDRESS_FIELDS:
        # PostgreSQL stores no NUL character (an order's address is JSON in it): refused here, in
        # words, rather than failing the order's insert with a 500.
        if "\x00" in str(address.get(name) or ""):
            errors[name] = [_("This contains a character that cannot be used.")]
    return errors


def subdivision_choices(region: Region, country: str, language: str | None = None) -> list[tuple[str, str]]:
    """The states a delivery address in ``country`` may name, as (address ``state``, name) pairs.

    Names are in ``language`` (the active one when not given) where the region file has them
    (Thailand's provinces in Thai script), else as the file names them. Empty when the region's
    file lists none for the country.
    """
    if not region.serves(country):
        return []
    language = language or translation.get_language() or region.default_language
    return [(sub.address_code, sub.name_in(language)) for sub in region.country(country).subdivisions]


def _folded(name: str) -> str:
    """``name`` as compared with a state's: any case, Latin accents optional ("Nuevo Leon")."""
    decomposed = unicodedata.normalize("NFKD", " ".join(name.split()).casefold())
    return "".join(ch for ch in decomposed if not "\u0300" <= ch <= "\u036f")


def subdivision_named(region: Region, country: str, state: str) -> Subdivision | None:
    """The listed state of ``country`` that an address's ``state`` names, or None.

    By its code as the checkout's select sends it ("NY", "02"), in full ("US-NY", "MY-02"), or by
    any of its names, whatever the case ("new york", "Ciudad de Mexico"): an API client is not
    refused over the spelling of a state it names.
    """
    if not region.serves(country) or not isinstance(state, str):
        return None
    defaults = region.country(country)
    sub = defaults.subdivision(state)
    if sub is not None:
        return sub
    wanted = _folded(state)
    return next(
        (
            sub
            for sub in defaults.subdivisions
            if wanted in {_folded(sub.name), *(_folded(name) for _lang, name in sub.local_names)}
        ),
        None,
    )


def phone_e164(raw: object, country: str) -> str | None:
    """``raw`` as ``+<country code><number>`` when it is a number a courier can call, else None.

    Without a leading ``+`` it is read as dialled in ``country`` (the destination); Google's
    libphonenumber (``phonenumbers``) knows each country's numbering plan.
    """
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 40:
        return None
    try:
        number = phonenumbers.parse(raw, country.upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def address_state(region: Region | None, country: str, state: str) -> str:
    """``state`` as an order stores it and the tax table and the calendar look it up.

    A listed state sent in full ("MY-02") or by name ("New York") becomes what the checkout's
    select sends ("02", "NY"): one spelling per state. Any other is kept, in capitals.
    """
    sub = subdivision_named(region, country, state) if region is not None else None
    if sub is not None:
        return sub.address_code
    return str(state or "").strip().upper().removeprefix(f"{country.upper()}-")


def clean_address(address: dict, *, region: Region | None = None) -> dict[str, str]:
    """The address as an order stores it; ``region`` is the one serving its country (by default
    the country's home region)."""
    cleaned = {name: str(address.get(name) or "").strip()[:200] for name in ADDRESS_FIELDS}
    cleaned["country"] = cleaned["country"].upper()
    cleaned["state"] = address_state(region or home_region(cleaned["country"]), cleaned["country"], cleaned["state"])
    # A postal code sent for a country that has none (the UAE, Qatar) is dropped rather than
    # refused: it is an autofill, an app's saved profile or the "00000" shoppers learn to type
    # into foreign forms, it tells the courier nothing, and refusing it would stop an order over
    # a field the checkout page never shows.
    if not postal_code_asked(cleaned["country"]):
        cleaned["postal_code"] = ""
    # One form for the courier and the carrier's systems, whatever the shopper typed.
    cleaned["phone"] = phone_e164(cleaned["phone"], cleaned["country"]) or ""
    return cleaned
