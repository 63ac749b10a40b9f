"""Languages and locales every floor shares (regions.languages)."""

from __future__ import annotations

from babel import Locale

from regions.languages import babel_locale, language_name


def test_a_locale_cldr_lacks_falls_back_to_its_language_then_english():
    assert babel_locale("th_SG") == Locale.parse("th")
    assert babel_locale("en-VN") == Locale.parse("en")
    assert babel_locale("zz_ZZ") == Locale.parse("en")
    assert babel_locale("zh_Hans_SG") == Locale.parse("zh_Hans_SG")
    assert babel_locale("") == Locale.parse("en")


def test_a_language_is_named_in_the_readers_language():
    assert language_name("ar", "fr") == "arabe"
    assert language_name("de", "ar_AE") == "الألمانية"
    assert language_name("en", "zh_Hans_SG") == "英语"


def test_an_unknown_language_is_named_by_what_cldr_falls_back_to_never_an_error():
    assert language_name("zz", "fr") == "anglais"
