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
0: IDR, HUF, TWD ...) is shown without ``,00`` (Rp 1.299.000). A fractional one still
shows its fraction, so what is shown is always exactly what is charged.

Two CLDR rules Babel 2.18 leaves out are applied here: currency spacing (a no-break space
between a symbol written in letters and the digits: ``SGD 49.00``, not ``SGD49.00``) and
list patterns that a locale only gives in part (:func:`format_list_of`).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Literal

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import NumberPattern, get_currency_symbol
from babel.units import format_unit
from django.conf import settings
from django.utils import translation

from apps.money.types import Money, currency_code, currency_digits, price_step
from regions.languages import babel_locale, language_name

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


def _spaced_from_digits(symbol_edge: str) -> bool:
    # CLDR's currencySpacing (root; no locale we serve overrides it, and Babel does not ship it):
    # currencyMatch [[:^S:]&[:^Z:]] -- the symbol's character next to the number is neither a
    # symbol nor a space -- and surroundingMatch [:digit:] get insertBetween, a no-break space.
    return unicodedata.category(symbol_edge)[0] not in "SZ"


@functools.lru_cache(maxsize=2048)
def _money_pattern(locale: str, currency: str, whole: bool) -> NumberPattern:
    """The locale's currency pattern for ``currency``, with CLDR's currency spacing applied, and
    without decimals for ``whole`` amounts. Built once per (locale, currency): it is on every price."""
    loc = babel_locale(locale)
    pattern = copy.copy(loc.currency_formats["standard"])
    if whole:
        pattern.frac_prec = (0, 0)
    symbol = get_currency_symbol(currency, loc)
    # Only a symbol right next to the number can touch a digit (the sign is in the prefix: "-¤").
    if symbol and _spaced_from_digits(symbol[-1]):
        pattern.prefix = tuple(part + "\xa0" if part.endswith("¤") else part for part in pattern.prefix)
    if symbol and _spaced_from_digits(symbol[0]):
        pattern.suffix = tuple("\xa0" + part if part.startswith("¤") else part for part in pattern.suffix)
    return pattern


def format_money(amount_minor: int, currency: str, locale: str) -> str:
    """``format_money(129900, "AED", "ar_AE")`` → the amount as people there write it."""
    money = Money(amount_minor, currency)
    loc = babel_locale(locale)
    system = numbering_system(loc)
    step = price_step(money.currency)
    whole = step > 1 and money.amount_minor % step == 0
    text = _money_pattern(locale, money.currency, whole).apply(
        money.amount,
        loc,
        currency=money.currency,
        currency_digits=not whole,
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


ListStyle = Literal[
    "standard", "standard-short", "standard-narrow", "or", "or-short", "or-narrow", "unit", "unit-short", "unit-narrow"
]
LIST_PARTS = ("start", "middle", "end", "2")
# CLDR root's <alias> for each list style it does not spell out (root.xml, listPatterns; TR35
# "List Patterns"): where a locale lacks a part of the key's style, the part is looked up in the
# value's style, in the same locale. Root spells out only "standard" and "or", so every chain ends
# in one of them. Kept as our own table: Babel has one only under a private name
# (``babel.lists._style_fallbacks``, from its fix for python-babel/babel#1098) that any upgrade
# may rename, and it puts "unit" in unit-narrow's chain where root goes to unit-short alone.
LIST_STYLE_ALIASES: Mapping[str, str] = {
    "standard-short": "standard",
    "standard-narrow": "standard-short",
    "or-short": "or",
    "or-narrow": "or-short",
    "unit": "unit-short",
    "unit-short": "standard",
    "unit-narrow": "unit-short",
}


def list_style_chain(style: ListStyle) -> tuple[str, ...]:
    """``style`` and the styles CLDR falls back to for it, in order (unit, unit-short, standard)."""
    chain = [style]
    while chain[-1] in LIST_STYLE_ALIASES:
        chain.append(LIST_STYLE_ALIASES[chain[-1]])
    return tuple(chain)


@functools.lru_cache(maxsize=256)
def _list_patterns(locale: str, style: ListStyle) -> Mapping[str, str]:
    """Every part of ``style``'s list pattern in ``locale``, resolved as CLDR resolves them.

    Babel's data for a locale already holds its parents' (es_MX → es_419 → es → root), but CLDR
    stores each locale's list patterns *minimised*: es gives only the ``end`` of ``unit``, ar_AE
    no ``unit`` at all. The rest comes through root's aliases (unit → unit-short → standard),
    looked up again in the same locale, *part by part*; Babel's ``format_list`` only falls back
    for a whole missing style, so it raises KeyError('start') in Spanish and repeats the last
    item in ar_AE (python-babel/babel#1098, whose fix #1099 is that whole-style fallback).
    """
    data = babel_locale(locale).list_patterns
    styles = list_style_chain(style)
    patterns = {}
    for part in LIST_PARTS:
        for name in styles:
            if name in data and part in data[name]:
                patterns[part] = data[name][part]
                break
    # Root's standard pattern has every part, so this only guards data without it: a pair is
    # then joined as the last two of a longer list are.
    patterns.setdefault("2", patterns["end"])
    return patterns


def format_list_of(items: Sequence[str], style: ListStyle, locale: str) -> str:
    """``items`` joined as ``locale`` writes a list of that style (``"Talla: M y Color: azul"``),
    each item once, whatever parts of the pattern the locale's CLDR data leaves to its parents."""
    if len(items) <= 1:
        return items[0] if items else ""
    patterns = _list_patterns(locale, style)
    if len(items) == 2:
        return patterns["2"].format(*items)
    text = patterns["start"].format(items[0], items[1])
    for item in items[2:-1]:
        text = patterns["middle"].format(text, item)
    return patterns["end"].format(text, items[-1])


__all__ = [
    "currency_code",
    "format_day",
    "format_list_of",
    "format_measure",
    "format_moment",
    "format_money",
    "minor_to_decimal",
]


def format_count(count: int, locale: str) -> str:
    """A whole number of things (``2`` of a product, ``1,200`` viewers) as the shopper writes it, in the
    same digits and separators as their prices (``٢`` in ar_SA, ``1 200`` in French)."""
    loc = babel_locale(locale)
    system = numbering_system(loc)
    return _native_digits(loc.decimal_formats[None].apply(count, loc, numbering_system=system), system)


@functools.lru_cache(maxsize=256)
def _percent_pattern(locale: str, system: str) -> NumberPattern:
    """The locale's percent pattern with its ``%`` placeholder replaced by the numbering system's
    percent sign, which Babel 2.18 leaves out: CLDR gives Arabic ``٪`` with an Arabic letter mark in
    Arabic-Indic digits and a ``%`` kept left-to-right by LRMs in Latin ones. The scale (times 100) stays
    the one parsed from the placeholder."""
    loc = babel_locale(locale)
    pattern = copy.copy(loc.percent_formats[None])
    sign = loc.number_symbols.get(system, {}).get("percentSign") or "%"
    pattern.prefix = tuple(part.replace("%", sign) for part in pattern.prefix)
    pattern.suffix = tuple(part.replace("%", sign) for part in pattern.suffix)
    return pattern


def format_rate(rate: Decimal | str | int, locale: str) -> str:
    """A rate given in percent (``"20"``, ``"8.875"``: what tax rates store) as the shopper writes a
    percentage: ``20 %`` in French, ``٢٠٪`` in ar_SA. Every digit of the rate is kept (8.875 is never
    shown as 9 %): a tax rate is stated, not rounded."""
    loc = babel_locale(locale)
    system = numbering_system(loc)
    fraction = (Decimal(str(rate)) / 100).normalize()
    text = _percent_pattern(locale, system).apply(fraction, loc, decimal_quantization=False, numbering_system=system)
    return _native_digits(text, system)


__all__ += ["format_count", "format_rate"]


def language_names(codes: Iterable[str], locale: str) -> str:
    """Language codes a caller may send, each with its name in ``locale`` ("en (English), ar (Arabic)"
    to an English reader, "en (anglais), …" to a French one): the code is what to send, the name
    says which it is."""
    return ", ".join(f"{code} ({language_name(code, locale)})" for code in codes)


__all__ += ["language_names"]


def reader_locale(default_language: str | None = None) -> str:
    """The locale of whoever reads a message a service writes without a request at hand: the
    active language (the request's, activated by the middleware), else ``default_language``,
    else the region's default."""
    return translation.to_locale(translation.get_language() or default_language or settings.REGION.default_language)


__all__ += ["reader_locale"]
