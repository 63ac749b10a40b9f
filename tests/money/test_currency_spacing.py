"""CLDR's currency spacing, which Babel's ``NumberPattern.apply`` leaves out: a symbol that
ends (or starts) with a letter next to the digits gets a no-break space, "SGD\xa049.00" and not
"SGD49.00"; a symbol that is a sign ("$", "€", "US$") stays against the number.
"""

from __future__ import annotations

import re

import pytest

from apps.money.formatting import format_money
from regions import all_regions
from tests.money.conftest import shopper_locales

RLM = "\u200f"
AED_SYMBOL = "\u062f.\u0625."  # د.إ.
SAR_SYMBOL = "\u0631.\u0633."  # ر.س.
# A letter (any script) right next to a digit (any script), either way round.
LETTER_ON_DIGIT = re.compile(r"[^\W\d_]\d|\d[^\W\d_]")


@pytest.mark.parametrize(
    ("amount_minor", "currency", "locale", "spaced"),
    [
        (4900, "SGD", "ms_MY", "SGD\xa049.00"),
        (-4900, "SGD", "ms_MY", "-SGD\xa049.00"),
        (4900, "MYR", "ms_MY", "RM\xa049.00"),
        (4900, "USD", "es_MX", "USD\xa049.00"),
        (6892, "CAD", "es_US", "CAD\xa068.92"),
        (4900, "CHF", "en_GB", "CHF\xa049.00"),
        (4900, "AED", "en_AE", "AED\xa049.00"),
        (129900000, "IDR", "id_ID", "Rp\xa01.299.000"),
    ],
)
def test_a_symbol_written_in_letters_is_spaced_from_the_digits(amount_minor, currency, locale, spaced):
    assert format_money(amount_minor, currency, locale) == spaced


@pytest.mark.parametrize(
    ("amount_minor", "currency", "locale", "unchanged"),
    [
        (4900, "USD", "en_US", "$49.00"),
        (-4900, "USD", "en_US", "-$49.00"),
        (4900, "USD", "en_CA", "US$49.00"),
        (6892, "CAD", "en_CA", "$68.92"),
        (4900, "SGD", "en_SG", "$49.00"),
        (1200, "EUR", "de_DE", "12,00\xa0€"),
        (1200, "EUR", "nl_NL", "€\xa012,00"),
        (4900, "THB", "th_TH", "\u0e3f49.00"),
        (6892, "BRL", "pt_BR", "R$\xa068,92"),
        # The pattern already spaces these, or the sign stands between symbol and digits.
        (6892, "CHF", "de_CH", "CHF\xa068.92"),
        (-6892, "CHF", "de_CH", "CHF-68.92"),
        (6892, "CHF", "fr_FR", "68,92\xa0CHF"),
        (129950, "AED", "ar_AE", f"{RLM}1,299.50\xa0{AED_SYMBOL}{RLM}"),
        (129950, "SAR", "ar_SA", f"{RLM}\u0661\u066c\u0662\u0669\u0669\u066b\u0665\u0660\xa0{SAR_SYMBOL}{RLM}"),
        (6892, "USD", "ar_AE", f"{RLM}68.92\xa0US$"),
    ],
)
def test_signs_and_already_spaced_forms_are_unchanged(amount_minor, currency, locale, unchanged):
    assert format_money(amount_minor, currency, locale) == unchanged


def test_no_shopper_sees_a_currency_glued_to_the_number():
    locales = shopper_locales()
    currencies = {currency for region in all_regions() for currency in region.currencies}
    glued = [
        (locale, text)
        for locale in locales
        for currency in sorted(currencies)
        for amount in (4900, -4900, 129900000)
        if LETTER_ON_DIGIT.search(text := format_money(amount, currency, locale))
    ]
    assert glued == []
