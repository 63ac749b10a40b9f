"""Golden strings: what Babel/CLDR writes for each design locale, checked character by character.

Escapes keep invisible characters visible: \\xa0 no-break space, \\u202f narrow no-break
space, \\u200f right-to-left mark; Arabic letters and digits are spelt out as \\u06xx.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from babel import Locale, localedata

from apps.money.formatting import NATIVE_ZERO, format_day, format_money, minor_to_decimal
from apps.money.types import Money, MoneyError

AED_SYMBOL = "\u062f.\u0625."  # د.إ.
SAR_SYMBOL = "\u0631.\u0633."  # ر.س.
BHD_SYMBOL = "\u062f.\u0628."  # د.ب.
RLM = "\u200f"


@pytest.mark.parametrize(
    ("amount_minor", "currency", "locale", "golden"),
    [
        (129950, "USD", "en_US", "$1,299.50"),
        (129950, "EUR", "de_DE", "1.299,50\xa0€"),
        (129950, "EUR", "fr_FR", "1\u202f299,50\xa0€"),
        # CLDR's default numbering system for ar_AE is Latin digits ...
        (129950, "AED", "ar_AE", f"{RLM}1,299.50\xa0{AED_SYMBOL}{RLM}"),
        # ... and Arabic-Indic digits with Arabic separators for Saudi Arabia (and QA, KW, BH, OM)
        (129950, "SAR", "ar_SA", f"{RLM}\u0661\u066c\u0662\u0669\u0669\u066b\u0665\u0660\xa0{SAR_SYMBOL}{RLM}"),
        (129950, "THB", "th_TH", "\u0e3f1,299.50"),
        (129900000, "IDR", "id_ID", "Rp\xa01.299.000"),
        (1299, "JPY", "en_US", "\xa51,299"),
        (1299, "JPY", "de_DE", "1.299\xa0\xa5"),
        (1299500, "BHD", "ar_BH", f"{RLM}\u0661\u066c\u0662\u0669\u0669\u066b\u0665\u0660\u0660\xa0{BHD_SYMBOL}{RLM}"),
        (4900, "SGD", "en_SG", "$49.00"),
        (0, "USD", "en_US", "$0.00"),
        (-129950, "USD", "en_US", "-$1,299.50"),
    ],
)
def test_golden_strings(amount_minor, currency, locale, golden):
    assert format_money(amount_minor, currency, locale) == golden


def test_rupiah_with_sen_shows_them_so_the_shown_amount_is_the_charged_one():
    assert format_money(129900050, "IDR", "id_ID") == "Rp\xa01.299.000,50"


def test_money_format_is_format_money():
    assert Money(129950, "AED").format("ar_AE") == format_money(129950, "AED", "ar_AE")


def test_minor_to_decimal_is_exact():
    assert str(minor_to_decimal(1299, "JPY")) == "1299"
    assert str(minor_to_decimal(1299, "USD")) == "12.99"
    assert str(minor_to_decimal(1299, "KWD")) == "1.299"


def test_locales_cldr_lacks_fall_back_to_the_language():
    # Vietnam is served in English and CLDR has no en_VN; Thai has no Singapore variant.
    assert format_money(4900, "SGD", "en_VN") == format_money(4900, "SGD", "en")
    assert format_money(4900, "SGD", "th_SG") == format_money(4900, "SGD", "th")


def test_bad_amounts_and_currencies_are_clear_errors():
    with pytest.raises(MoneyError):
        format_money(12.5, "USD", "en_US")
    with pytest.raises(MoneyError):
        format_money(1250, "XYZ", "en_US")


def test_every_default_numbering_system_in_cldr_has_its_digits():
    used = set()
    for identifier in localedata.locale_identifiers():
        used.add(Locale.parse(identifier).default_numbering_system)
    assert used <= set(NATIVE_ZERO), f"add digits for {sorted(used - set(NATIVE_ZERO))}"
    for system, zero in NATIVE_ZERO.items():
        digits = [chr(ord(zero) + i) for i in range(10)]
        assert [unicodedata.digit(d) for d in digits] == list(range(10)), system


def test_dates_in_the_stale_note_use_the_same_digits():
    assert format_day(dt.date(2026, 11, 20), "en_US") == "Nov 20, 2026"
    assert "\u0662\u0660" in format_day(dt.date(2026, 11, 20), "ar_SA")  # ٢٠
