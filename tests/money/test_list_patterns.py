"""Lists joined as the shopper's locale writes them, whatever parts of a list pattern its CLDR
data leaves to root: Babel's ``format_list(style="unit")`` raised KeyError('start') for es,
es_US, es_MX (2+ items) and de, th, ms, id (3+), and wrote "A، وB، وB" for ar_AE.
"""

from __future__ import annotations

import pytest

from apps.money.formatting import format_list_of
from tests.money.conftest import shopper_locales

ITEMS = ("Alpha", "Bravo", "Charlie", "Delta")
STYLES = ("standard", "standard-short", "or", "or-short", "unit", "unit-short", "unit-narrow")


@pytest.mark.parametrize("locale", shopper_locales())
def test_every_shopper_locale_lists_each_item_exactly_once(locale):
    for style in STYLES:
        for count in range(1, len(ITEMS) + 1):
            text = format_list_of(ITEMS[:count], style, locale)
            assert [text.count(item) for item in ITEMS[:count]] == [1] * count, (style, text)
            assert not any(item in text for item in ITEMS[count:])


def test_the_shopper_locales_cover_the_ones_babel_failed_on():
    assert {"es_ES", "es_US", "es_MX", "de_DE", "th_TH", "ms_MY", "id_ID", "ar_AE"} <= set(shopper_locales())


@pytest.mark.parametrize(
    ("locale", "two", "three", "four"),
    [
        # es gives only unit's "end"; the rest is standard's, as CLDR's root aliases say.
        ("es_MX", "A y B", "A, B y C", "A, B, C y D"),
        ("es_ES", "A y B", "A, B y C", "A, B, C y D"),
        ("de_DE", "A, B", "A, B und C", "A, B, C und D"),
        ("ms_MY", "A, B", "A, B, C", "A, B, C, D"),
        ("id_ID", "A, B", "A, B, C", "A, B, C, D"),
        ("th_TH", "A และ B", "A B และ C", "A B C และ D"),
        # ar_AE has no unit list at all: unit-short's parts, and standard's pair pattern.
        ("ar_AE", "A \u0648B", "A\u060c \u0648B\u060c \u0648C", "A\u060c \u0648B\u060c \u0648C\u060c \u0648D"),
        ("en_US", "A, B", "A, B, C", "A, B, C, D"),
    ],
)
def test_unit_lists_are_written_as_cldr_resolves_them(locale, two, three, four):
    assert format_list_of(["A"], "unit", locale) == "A"
    assert format_list_of(["A", "B"], "unit", locale) == two
    assert format_list_of(["A", "B", "C"], "unit", locale) == three
    assert format_list_of(["A", "B", "C", "D"], "unit", locale) == four


def test_nothing_to_list_is_empty_text():
    assert format_list_of([], "unit", "es_MX") == ""
