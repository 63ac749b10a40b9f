"""The Money value: minor units per currency, exact parsing, arithmetic, the rounding rule."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from apps.money.types import Money, MoneyError, currency_code, currency_digits, price_step, round_minor


@pytest.mark.parametrize(
    ("text", "currency", "minor", "digits"),
    [
        ("1299", "JPY", 1299, 0),
        ("12.34", "USD", 1234, 2),
        ("0.05", "USD", 5, 2),
        ("1.234", "BHD", 1234, 3),
        ("0.001", "KWD", 1, 3),
        ("1299000", "IDR", 129900000, 2),
    ],
)
def test_minor_units_follow_the_currency(text, currency, minor, digits):
    money = Money.from_decimal(text, currency)
    assert money == Money(minor, currency)
    assert currency_digits(currency) == digits
    assert money.amount == Decimal(text)
    assert Money(minor, currency).amount == Decimal(text)


@pytest.mark.parametrize(
    ("text", "currency"),
    [("1.5", "JPY"), ("12.345", "USD"), ("1.2345", "BHD"), ("0.0001", "KWD")],
)
def test_more_decimals_than_the_currency_has_is_refused(text, currency):
    with pytest.raises(MoneyError) as exc:
        Money.from_decimal(text, currency)
    assert exc.value.code == "too_many_decimals"
    assert "amount" in exc.value.fields


def test_trailing_zeros_beyond_the_minor_unit_are_exact_and_accepted():
    assert Money.from_decimal("1299.00", "JPY") == Money(1299, "JPY")


@pytest.mark.parametrize("bad", ["XYZ", "usdx", "", "US", None, 840, "€", "ÄBC"])
def test_unknown_currency_is_a_clear_error(bad):
    with pytest.raises(MoneyError) as exc:
        Money(100, bad)
    assert exc.value.code == "unknown_currency"
    assert "currency" in exc.value.fields
    with pytest.raises(MoneyError):
        currency_code(bad)


def test_currency_code_is_normalised():
    assert Money(100, " usd ").currency == "USD"


@pytest.mark.parametrize("bad", [12.34, 1.0, Decimal("12"), "1234", True, None])
def test_amount_must_be_an_integer_of_minor_units(bad):
    with pytest.raises(MoneyError) as exc:
        Money(bad, "USD")
    assert exc.value.code == "invalid_amount"


@pytest.mark.parametrize("bad", [12.34, "abc", "NaN", "Infinity", "", None, True])
def test_from_decimal_refuses_floats_and_non_numbers(bad):
    with pytest.raises(MoneyError) as exc:
        Money.from_decimal(bad, "USD")
    assert exc.value.code == "invalid_amount"


def test_negative_amounts_only_where_allowed():
    with pytest.raises(MoneyError) as exc:
        Money.from_decimal("-1.00", "USD")
    assert exc.value.code == "negative_amount"
    assert Money.from_decimal("-1.00", "USD", allow_negative=True) == Money(-100, "USD")
    with pytest.raises(MoneyError) as exc:
        Money(-1, "USD").require_non_negative("price")
    assert exc.value.fields == {"price": ["Must not be negative."]}
    assert Money(0, "USD").require_non_negative() == Money.zero("USD")


def test_arithmetic_within_one_currency():
    a, b = Money(1050, "USD"), Money(299, "USD")
    assert a + b == Money(1349, "USD")
    assert a - b == Money(751, "USD")
    assert -a == Money(-1050, "USD")
    assert a * 3 == 3 * a == Money(3150, "USD")
    assert b < a and a > b and a >= a and b <= a
    assert sorted([a, b]) == [b, a]


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a >= b,
    ],
)
def test_mixing_currencies_is_refused(operation):
    with pytest.raises(MoneyError) as exc:
        operation(Money(100, "USD"), Money(100, "EUR"))
    assert exc.value.code == "currency_mismatch"
    assert "USD" in exc.value.message and "EUR" in exc.value.message


def test_money_is_not_added_to_plain_numbers_or_multiplied_by_fractions():
    with pytest.raises(MoneyError):
        Money(100, "USD") + 1
    with pytest.raises(MoneyError):
        Money(100, "USD") * 1.5
    with pytest.raises(MoneyError):
        Money(100, "USD") * Decimal("1.5")


def test_money_is_immutable():
    money = Money(100, "USD")
    with pytest.raises(AttributeError):
        money.amount_minor = 5


def test_equal_amounts_in_different_currencies_are_different():
    assert Money(100, "USD") != Money(100, "EUR")
    assert Money(0, "USD") != Money(0, "JPY")


@pytest.mark.parametrize(
    ("exact", "step", "rounded"),
    [
        (Fraction(1, 2), 1, 1),  # half-up; half-even would give 0
        (Fraction(5, 2), 1, 3),  # half-even would give 2
        (Fraction(-5, 2), 1, -3),  # symmetric: away from zero
        (Fraction(249999, 100000), 1, 2),
        (Decimal("734.5"), 1, 735),
        (Fraction(150), 100, 200),
        (Fraction(14999, 100), 100, 100),
        (Fraction(-150), 100, -200),
        (7, 1, 7),
    ],
)
def test_the_rounding_rule_is_half_up(exact, step, rounded):
    assert round_minor(exact, step=step) == rounded


def test_scale_rounds_once_with_the_rule():
    # 19.99 USD at 5% is 99.95 cents: half-up gives 100.
    assert Money(1999, "USD").scale(Decimal("0.05")) == Money(100, "USD")
    assert Money(10, "USD").scale(Decimal("0.25")) == Money(3, "USD")  # 2.5 -> 3
    with pytest.raises(MoneyError):
        Money(10, "USD").scale(0.25)


def test_price_step_is_whole_units_where_prices_have_no_sub_unit():
    assert price_step("IDR") == 100
    assert price_step("USD") == 1
    assert price_step("JPY") == 1
    assert price_step("BHD") == 1
    assert price_step("CHF") == 1  # 0.05 cash rounding is for coins, not prices


def test_str_is_plain_and_locale_free():
    assert str(Money(129950, "AED")) == "AED 1299.50"
    assert str(Money(1299, "JPY")) == "JPY 1299"
