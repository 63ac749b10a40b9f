"""Amounts of money as integer minor units with an ISO 4217 currency, and the one rounding rule.

Floats never enter: an amount is an ``int`` of minor units (cents, fils, yen) and every
computation that can produce a fraction of a minor unit goes through :func:`round_minor`.
How many minor units a currency has comes from CLDR via Babel's
``get_currency_precision`` (JPY 0, USD 2, BHD/KWD 3), the same table payment providers
follow, so an amount stored here is the amount sent to them.

Rounding rule: half-up (away from zero at exactly one half), applied once, at the end,
to an exact result (fractions, never a rounded intermediate). We chose it over banker's rounding (half-even) because a
price is rounded once and shown to a person who can check it by hand, and because the
EU's currency-conversion rules (Regulation 1103/97, art. 5) round conversions half-up;
half-even only pays off when many already-rounded amounts are summed, which we never do
with converted amounts (an order records the rounded lines and adds integers).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from babel.core import get_global
from babel.numbers import get_currency_precision, is_currency
from django.utils.translation import gettext, ngettext

from apps.errors import ApplicationError


class MoneyError(ApplicationError):
    """Bad money input: an unknown currency, a malformed or negative amount, mixed currencies."""


def currency_code(value: Any) -> str:
    """Return the upper-case ISO 4217 code, or raise ``MoneyError(code="unknown_currency")``."""
    code = value.strip().upper() if isinstance(value, str) else ""
    if len(code) != 3 or not code.isalpha() or not code.isascii() or not is_currency(code):
        raise MoneyError(
            gettext("“%(value)s” is not an ISO 4217 currency code such as USD, EUR or AED.") % {"value": value},
            code="unknown_currency",
            fields={"currency": [gettext("Unknown currency “%(value)s”.") % {"value": value}]},
        )
    return code


@functools.lru_cache(maxsize=512)
def currency_digits(currency: str) -> int:
    """Decimal places of the minor unit: JPY 0, USD 2, BHD 3 (CLDR via Babel)."""
    return get_currency_precision(currency_code(currency))


@functools.lru_cache(maxsize=512)
def price_step(currency: str) -> int:
    """The smallest amount, in minor units, that a converted price is rounded to.

    Usually one minor unit. Where CLDR says everyday prices use fewer digits than the
    ISO minor unit (``cashDigits``: IDR, HUF, TWD, SEK, COP ... have sub-units nobody
    prices in), a converted price is rounded to whole units so that it reads like a
    price there (Rp1.299.000, not Rp1.298.996,37). CHF's 0.05 cash rounding is *not*
    applied: it is for coins, and card payments settle to the centime.
    """
    code = currency_code(currency)
    digits = currency_digits(code)
    fractions = get_global("currency_fractions")
    cash_digits = fractions.get(code, fractions["DEFAULT"])[2]
    return 10 ** (digits - cash_digits) if cash_digits < digits else 1


def round_minor(value_minor: Decimal | Fraction | int, *, step: int = 1) -> int:
    """Round an exact amount of minor units with the one rule (half-up) to a multiple of ``step``.

    Works on exact fractions, so no intermediate precision can move a result across the half.
    """
    if step < 1:
        raise ValueError("step must be a positive number of minor units")
    exact = Fraction(value_minor)
    units = math.floor(abs(exact) / step + Fraction(1, 2))
    return (units if exact >= 0 else -units) * step


@dataclass(frozen=True, slots=True)
class Money:
    """An immutable amount: ``Money(129900, "AED")`` is AED 1,299.00.

    Arithmetic only between equal currencies; multiplying by a whole quantity is exact;
    anything that can yield fractions (tax rates, FX) goes through :meth:`scale` or the
    FX selectors, which round with the one rule.
    """

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise MoneyError(
                gettext("An amount is a whole number of minor units, not “%(value)s”.") % {"value": self.amount_minor},
                code="invalid_amount",
                fields={"amount": [gettext("Must be a whole number of minor units.")]},
            )
        object.__setattr__(self, "currency", currency_code(self.currency))

    # --- construction -------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal | str | int, currency: str, *, allow_negative: bool = False) -> Money:
        """Parse a major-unit amount (``"12.34"`` USD → 1234 cents) exactly.

        Refuses floats (they cannot hold 0.10 exactly), more decimals than the currency
        has (``"1.5"`` JPY, ``"1.2345"`` BHD), non-finite values and, unless allowed,
        negative amounts: a price or a stock valuation is never below zero; refunds and
        discounts pass ``allow_negative=True``.
        """
        code = currency_code(currency)
        if isinstance(amount, bool) or not isinstance(amount, Decimal | str | int):
            raise MoneyError(
                gettext("The amount is not a decimal string."),
                code="invalid_amount",
                fields={"amount": [gettext("Give the amount as a decimal string such as 12.34.")]},
            )
        try:
            value = Decimal(amount.strip() if isinstance(amount, str) else amount)
        except InvalidOperation:
            raise MoneyError(
                gettext("“%(amount)s” is not an amount.") % {"amount": amount},
                code="invalid_amount",
                fields={"amount": [gettext("Not a number.")]},
            ) from None
        if not value.is_finite():
            raise MoneyError(
                gettext("“%(amount)s” is not an amount.") % {"amount": amount},
                code="invalid_amount",
                fields={"amount": [gettext("Not a finite number.")]},
            )
        digits = currency_digits(code)
        minor = value.scaleb(digits)
        if minor != minor.to_integral_value():
            from apps.money.formatting import format_count, reader_locale

            count = format_count(digits, reader_locale())
            raise MoneyError(
                ngettext(
                    "%(currency)s amounts have %(count)s decimal place; “%(amount)s” has more.",
                    "%(currency)s amounts have %(count)s decimal places; “%(amount)s” has more.",
                    digits,
                )
                % {"currency": code, "count": count, "amount": amount},
                code="too_many_decimals",
                fields={
                    "amount": [
                        ngettext(
                            "At most %(count)s decimal place for %(currency)s.",
                            "At most %(count)s decimal places for %(currency)s.",
                            digits,
                        )
                        % {"count": count, "currency": code}
                    ]
                },
            )
        if minor < 0 and not allow_negative:
            raise MoneyError(
                gettext("“%(amount)s” is negative; this amount cannot be below zero.") % {"amount": amount},
                code="negative_amount",
                fields={"amount": [gettext("Must not be negative.")]},
            )
        return cls(int(minor), code)

    # --- reading ------------------------------------------------------------------------
    @property
    def amount(self) -> Decimal:
        """The exact major-unit amount: ``Money(1234, "USD").amount == Decimal("12.34")``."""
        return Decimal(self.amount_minor).scaleb(-currency_digits(self.currency))

    @property
    def digits(self) -> int:
        return currency_digits(self.currency)

    def is_zero(self) -> bool:
        return self.amount_minor == 0

    def is_negative(self) -> bool:
        return self.amount_minor < 0

    def require_non_negative(self, field: str = "amount") -> Money:
        """Return self, or raise a field error if the amount is below zero (prices, stock values)."""
        if self.amount_minor < 0:
            from apps.money.formatting import reader_locale

            raise MoneyError(
                gettext("%(amount)s is negative; this amount cannot be below zero.")
                % {"amount": self.format(reader_locale())},
                code="negative_amount",
                fields={field: [gettext("Must not be negative.")]},
            )
        return self

    def format(self, locale: str) -> str:
        from apps.money.formatting import format_money

        return format_money(self.amount_minor, self.currency, locale)

    def __str__(self) -> str:
        # A plain, locale-free form for logs and admin; pages use format().
        return f"{self.currency} {self.amount:f}"

    # --- arithmetic ---------------------------------------------------------------------
    def _same_currency(self, other: object, operation: str) -> Money:
        if not isinstance(other, Money):
            raise MoneyError(
                f"Cannot {operation} {self} and {other!r}: both sides must be Money.", code="invalid_amount"
            )
        if other.currency != self.currency:
            raise MoneyError(
                f"Cannot {operation} {self.currency} and {other.currency}; convert one of them first.",
                code="currency_mismatch",
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount_minor + self._same_currency(other, "add").amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount_minor - self._same_currency(other, "subtract").amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __mul__(self, quantity: int) -> Money:
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise MoneyError(
                f"Money is multiplied by a whole quantity only, not {quantity!r}; use scale() for rates.",
                code="invalid_amount",
            )
        return Money(self.amount_minor * quantity, self.currency)

    __rmul__ = __mul__

    def scale(self, factor: Decimal) -> Money:
        """Multiply by an exact Decimal factor (a tax rate, a discount) and round with the one rule."""
        if not isinstance(factor, Decimal) or not factor.is_finite():
            raise MoneyError(f"A scale factor is a finite Decimal, not {factor!r}.", code="invalid_amount")
        return Money(round_minor(Fraction(self.amount_minor) * Fraction(factor)), self.currency)

    def _compare(self, other: object) -> int:
        other = self._same_currency(other, "compare")
        return (self.amount_minor > other.amount_minor) - (self.amount_minor < other.amount_minor)

    def __lt__(self, other: Money) -> bool:
        return self._compare(other) < 0

    def __le__(self, other: Money) -> bool:
        return self._compare(other) <= 0

    def __gt__(self, other: Money) -> bool:
        return self._compare(other) > 0

    def __ge__(self, other: Money) -> bool:
        return self._compare(other) >= 0
