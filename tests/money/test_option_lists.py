"""Lists in every language the regions serve, resolved from Babel's public data and CLDR root's
style aliases (our own table, not Babel's private one: python-babel/babel#1098), and a product's
options ("Size: M, Color: navy") joined so that each "label: value" pair stands apart: CLDR's zh
unit list joins items with nothing, so Chinese shoppers read one pair run into the next.
"""

from __future__ import annotations

import ast
import inspect
import itertools
from typing import get_args

import pytest
from django.utils import translation

from apps.catalog.selectors import OPTION_LIST_STYLE, variant_options_text
from apps.money import formatting
from apps.money.formatting import ListStyle, format_list_of, list_style_chain
from regions import all_regions
from tests.money.conftest import shopper_locales

SERVED_LANGUAGES = {"ar", "de", "en", "es", "fr", "id", "it", "ms", "pt", "th", "zh-hans"}
ITEMS = ("Alpha", "Bravo", "Charlie", "Delta")


def _languages() -> list[str]:
    return sorted({language for region in all_regions() for language in region.languages})


def test_the_list_formatting_uses_no_private_babel_name():
    tree = ast.parse(inspect.getsource(formatting))
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("babel")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []


@pytest.mark.parametrize(
    ("style", "chain"),
    [
        ("standard", ("standard",)),
        ("standard-short", ("standard-short", "standard")),
        ("standard-narrow", ("standard-narrow", "standard-short", "standard")),
        ("or", ("or",)),
        ("or-short", ("or-short", "or")),
        ("or-narrow", ("or-narrow", "or-short", "or")),
        ("unit", ("unit", "unit-short", "standard")),
        ("unit-short", ("unit-short", "standard")),
        ("unit-narrow", ("unit-narrow", "unit-short", "standard")),
    ],
)
def test_each_list_style_falls_back_as_cldr_root_aliases_it(style, chain):
    assert list_style_chain(style) == chain


def test_every_style_has_a_fallback_chain():
    assert {chain[-1] for chain in map(list_style_chain, get_args(ListStyle))} == {"standard", "or"}


def test_the_eleven_languages_checked_are_the_ones_the_regions_serve():
    assert set(_languages()) == SERVED_LANGUAGES


@pytest.mark.parametrize("language", sorted(SERVED_LANGUAGES))
def test_every_served_language_lists_each_item_once_in_order_in_every_style(language):
    for locale in shopper_locales({language}):
        for style in get_args(ListStyle):
            for count in range(1, len(ITEMS) + 1):
                text = format_list_of(ITEMS[:count], style, locale)
                places = [text.find(item) for item in ITEMS[:count]]
                assert [text.count(item) for item in ITEMS[:count]] == [1] * count, (locale, style, text)
                assert places == sorted(places), (locale, style, text)


@pytest.mark.parametrize("locale", shopper_locales())
def test_an_option_list_keeps_every_pair_apart_in_every_shopper_locale(locale):
    for count in (2, 3, 4):
        text = format_list_of(ITEMS[:count], OPTION_LIST_STYLE, locale)
        for item, following in itertools.pairwise(ITEMS[:count]):
            assert text.index(following) > text.index(item) + len(item), (locale, text)


@pytest.mark.parametrize(
    ("locale", "two", "three"),
    [
        ("en_US", "A, B", "A, B, C"),
        ("es_MX", "A y B", "A, B y C"),
        ("pt_BR", "A, B", "A, B, C"),
        ("fr_FR", "A, B", "A, B, C"),
        ("de_DE", "A und B", "A, B und C"),
        ("it_IT", "A e B", "A, B e C"),
        ("th_TH", "A\u0e41\u0e25\u0e30B", "A B \u0e41\u0e25\u0e30C"),
        ("id_ID", "A, B", "A, B, C"),
        ("ms_MY", "A, B", "A, B, C"),
        ("zh_Hans_SG", "A\u3001B", "A\u3001B\u3001C"),
        ("ar_AE", "A \u0648B", "A \u0648B \u0648C"),
    ],
)
def test_an_option_list_is_written_as_each_language_writes_a_short_list(locale, two, three):
    assert format_list_of(["A", "B"], OPTION_LIST_STYLE, locale) == two
    assert format_list_of(["A", "B", "C"], OPTION_LIST_STYLE, locale) == three


def test_chinese_options_are_separated_by_the_enumeration_comma():
    # Size and material are translated in the shipped zh-hans catalogue; the value is the merchant's.
    with translation.override("zh-hans"):
        text = variant_options_text({"size": "M", "material": "cotton"}, locale="zh_Hans_SG")
    assert text == "\u5c3a\u5bf8\uff1aM\u3001\u6750\u8d28\uff1acotton"


@pytest.mark.parametrize("locale", ["en_US", "en_GB", "en_AE", "en_SG"])
def test_english_names_the_colour_option_color(locale):
    # The source text is US English (us-east is the first region); a British variant would be a
    # translation of its own, not the source.
    with translation.override("en"):
        assert variant_options_text({"size": "M", "colour": "navy"}, locale=locale) == "Size: M, Color: navy"
        assert variant_options_text({"color": "navy"}, locale=locale) == "Color: navy"
