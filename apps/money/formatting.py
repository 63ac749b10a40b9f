"""Display of amounts with Babel in the shopper's locale.

Numbering system, deliberately: we use the locale's CLDR *default* numbering system, not
Babel's ``latn`` default. In CLDR that gives ``ar_AE`` Latin digits (what the UAE uses
on prices) and ``ar_SA``, ``ar_QA``, ``ar_KW``, ``ar_BH``, ``ar_OM`` Arabic-Indic digits
(1,299.50 written with U+0660..U+0669 and the Arabic separators U+066C, U+066B). Babel
switches the separators for such a system but leaves the digits in ASCII, so we
substitute the system's digits ourselves from :data:`NATIVE_ZERO`.
Right-to-left layout is the page's job (``dir="rtl"``); the RLM marks CLDR puts in Arabic
patterns keep the sign and symbol in place inside left-to-right text as well.

Decimals: the currency's ISO minor unit (JPY none, USD two, BHD three), except that a
whole amount in a currency whose everyday prices have no sub-unit (CLDR ``cashDigits``
0: IDR, HUF, TWD ...) is shown without ``,00`` (Rp1.299.000). A fractional one still
shows its fraction, so what is shown is always exactly what is charged.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from babel.units import format_unit

from apps.money.types import Money, currency_code, currency_digits, price_step

# First digit of each decimal numbering system some CLDR locale uses by default; the
# other nine follow it in Unicode. A system missing here falls back to Latin digits.
NATIVE_ZERO = {
    "latn": "0",
    "arab": "\u0660",
    "arabext": "\u06f0",
    "adlm": "\U0001e950",
    "beng": "\u09e6",
    "cakm": "\U00011136",
    "deva": "\u0966",
    "hmnp": "\U0001e140",
    "mtei": "\uabf0",
    "mymr": "\u1040",
    "nkoo": "\u07c0",
    "olck": "\u1c50",
    "thai": "\u0e50",
    "tibt": "\u0f20",
}
FALLBACK_LOCALE = "en"


@functools.lru_cache(maxsize=256)
def babel_locale(locale: str) -> Locale:
    """The Babel locale for ``ar_AE``-style identifiers, falling back rather than failing.

    A shopper's locale is built from their language and country, and CLDR has no data for
    some pairs (``en_VN``, ``th_SG``); those get the language alone, then English.
    """
    identifier = (locale or "").replace("-", "_")
    parts = identifier.split("_")
    candidates = [identifier, "_".join(parts[:-1]) if len(parts) > 1 else "", parts[0], FALLBACK_LOCALE]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse(FALLBACK_LOCALE)


def numbering_system(locale: Locale) -> str:
    system = locale.default_numbering_system
    return system if system in NATIVE_ZERO and system in locale.number_symbols else "latn"


def _native_digits(text: str, system: str) -> str:
    zero = NATIVE_ZERO[system]
    if zero == "0":
        return text
    return text.translate({ord("0") + i: chr(ord(zero) + i) for i in range(10)})


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Integer minor units to an exact decimal (cents to dollars, fils to dirhams)."""
    return Decimal(amount_minor).scaleb(-currency_digits(currency))


def format_money(amount_minor: int, currency: str, locale: str) -> str:
    """``format_money(129900, "AED", "ar_AE")`` → the amount as people there write it."""
    money = Money(amount_minor, currency)
    loc = babel_locale(locale)
    system = numbering_system(loc)
    pattern = loc.currency_formats["standard"]
    use_currency_digits = True
    step = price_step(money.currency)
    if step > 1 and money.amount_minor % step == 0:
        pattern = copy.copy(pattern)
        pattern.frac_prec = (0, 0)
        use_currency_digits = False
    text = pattern.apply(
        money.amount,
        loc,
        currency=money.currency,
        currency_digits=use_currency_digits,
        numbering_system=system,
    )
    return _native_digits(text, system)


def format_day(day: dt.date, locale: str) -> str:
    """A date as the shopper writes it (``20 Nov 2026``), in the same digits as their prices."""
    loc = babel_locale(locale)
    return _native_digits(format_date(day, format="medium", locale=loc), numbering_system(loc))


def format_moment(moment: dt.datetime, locale: str, zone: dt.tzinfo | None = None) -> str:
    """A date and time as the shopper writes them, in ``zone`` (else the moment's own): the date as
    :func:`format_day` writes it, the short time, joined as the locale joins them (``24.11.2026, 03:26``)."""
    loc = babel_locale(locale)
    local = moment.astimezone(zone) if zone is not None else moment
    time = _native_digits(format_time(local, format="short", locale=loc), numbering_system(loc))
    return get_datetime_format("medium", locale=loc).format(time, format_day(local.date(), locale))


def format_measure(value: Decimal, unit: str, locale: str) -> str:
    """A quantity of a CLDR unit (``mass-gram``, ``volume-milliliter``) as the shopper writes it
    (``500 غرام``), in the same digits as their prices."""
    loc = babel_locale(locale)
    system = numbering_system(loc)
    return _native_digits(format_unit(value, unit, length="short", locale=loc, numbering_system=system), system)


__all__ = [
    "babel_locale",
    "currency_code",
    "format_day",
    "format_measure",
    "format_moment",
    "format_money",
    "minor_to_decimal",
]
