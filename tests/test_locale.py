"""Gettext catalogues: one per region language, complete, current with the sources, compiled.

Whoever adds a translatable string must run ``python scripts/i18n.py extract``, translate
what it lists and ``make locale``; these tests fail until they do.
"""

from __future__ import annotations

import gettext
import importlib.util
import re
import sys
import textwrap
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po
from django.conf import settings
from django.utils.translation import to_locale

from regions import all_regions

BASE_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIR = BASE_DIR / "locale"
LANGUAGES = sorted({language for region in all_regions() for language in region.languages})


def _load_script():
    spec = importlib.util.spec_from_file_location("livemall_i18n_script", BASE_DIR / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


i18n = _load_script()


def _catalogue(language: str, locale_dir: Path = LOCALE_DIR):
    path = locale_dir / to_locale(language) / "LC_MESSAGES" / "django.po"
    with path.open("rb") as handle:
        return read_po(handle)


def _translated(language: str, msgid: str) -> str:
    message = _catalogue(language).get(msgid)
    assert message is not None, f"{msgid!r} is not in the {language} catalogue"
    assert message.string and message.string != msgid, f"{msgid!r} has no {language} translation"
    return message.string


# --- The project's catalogues -------------------------------------------------------------


def test_the_regions_offer_the_languages_we_translate():
    assert set(LANGUAGES) >= {"ar", "de", "en", "es", "fr", "id", "it", "ms", "pt", "th", "zh-hans"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_region_language_has_a_catalogue_with_its_plural_rule(language):
    catalog = _catalogue(language)
    assert str(catalog.locale) == to_locale(language)
    assert catalog.num_plurals == get_plural(to_locale(language)).num_plurals
    plural = gettext.c2py(catalog.plural_expr)
    expected = {
        # Arabic: zero, one, two, few (3-10), many (11-99), other (100, 101, 102 ...).
        "ar": {0: 0, 1: 1, 2: 2, 3: 3, 10: 3, 11: 4, 99: 4, 100: 5, 102: 5, 103: 3},
        # Brazilian Portuguese counts zero as singular ("0 produto").
        "pt": {0: 0, 1: 0, 2: 1},
        "fr": {0: 0, 1: 0, 2: 1},
        "de": {0: 1, 1: 0, 2: 1},
        "th": {0: 0, 1: 0, 5: 0},
        "zh-hans": {0: 0, 1: 0, 5: 0},
    }.get(language, {})
    assert {n: plural(n) for n in expected} == expected


def test_check_finds_nothing_missing():
    problems = i18n.catalogue_problems()
    assert problems == {}, "run `python scripts/i18n.py check` to see what is missing"


def test_catalogues_hold_exactly_the_messages_of_the_sources():
    extracted = {i18n.message_key(m) for m in i18n.extract_messages() if m.id}
    assert ("Featured products", None) in extracted
    for language in LANGUAGES:
        present = {i18n.message_key(m) for m in _catalogue(language) if m.id}
        assert present - extracted == set(), f"stale messages in {language}: run scripts/i18n.py extract"
        assert extracted - present == set(), f"messages missing from {language}: run scripts/i18n.py extract"


PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders_of_their_source(language):
    for message in _catalogue(language):
        if not message.id:
            continue
        if message.pluralizable:
            allowed = set(PLACEHOLDER.findall(message.id[0] + message.id[1]))
            for form in message.string:
                assert set(PLACEHOLDER.findall(form)) <= allowed, (language, message.id, form)
            continue
        if message.string:
            assert sorted(PLACEHOLDER.findall(message.string)) == sorted(PLACEHOLDER.findall(message.id)), (
                language,
                message.id,
                message.string,
            )


def _hashable(value):
    """Plural messages come back from a .mo file as lists and from a .po file as tuples."""
    return tuple(value) if isinstance(value, list | tuple) else value


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_its_source(language):
    po_path = LOCALE_DIR / to_locale(language) / "LC_MESSAGES" / "django.po"
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path.relative_to(BASE_DIR)} is missing: run `make locale`"
    with mo_path.open("rb") as handle:
        # Babel compiles an untranslated plural message as its own msgid and msgid_plural.
        compiled = {
            _hashable(m.id): _hashable(m.string)
            for m in read_mo(handle)
            if m.id and _hashable(m.string) != _hashable(m.id)
        }
    translated = {
        _hashable(m.id): _hashable(m.string)
        for m in _catalogue(language)
        if m.id and m.string and any(m.string) and not m.fuzzy and _hashable(m.string) != _hashable(m.id)
    }
    assert compiled == translated, f"{mo_path.relative_to(BASE_DIR)} is stale: run `make locale`"


@pytest.mark.django_db
def test_home_page_in_arabic_is_translated_and_right_to_left(client, use_region):
    use_region("me-south")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    html = client.get("/").content.decode()
    assert 'dir="rtl"' in html
    assert _translated("ar", "Featured products") in html
    assert "Featured products" not in html


@pytest.mark.django_db
def test_home_page_in_german_is_translated(client, use_region):
    use_region("eu-west")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    html = client.get("/").content.decode()
    assert '<html lang="de" dir="ltr">' in html
    assert _translated("de", "Featured products") in html
    assert "Featured products" not in html


# --- The script on a small tree of its own ----------------------------------------------------


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def tree(tmp_path):
    _write(
        tmp_path,
        "templates/shop.html",
        """\
        {% load i18n %}
        <div>
            <h1>{% translate "Sale" context "badge" %}</h1>
              {# Translators: shown above the basket #}
              {% translate "Your basket" %}
        {% blocktranslate count counter=items|length %}{{ counter }} item{% plural %}{{ counter }} items{% endblocktranslate %}
        </div>
        """,
    )
    _write(
        tmp_path,
        "apps/shop/templates/shop/hello.txt",
        "{% load i18n %}{% blocktranslate %}Hello {{ name }}{% endblocktranslate %}\n",
    )
    _write(
        tmp_path,
        "apps/shop/models.py",
        """\
        from django.utils.translation import gettext_lazy as _, npgettext, pgettext_lazy

        TITLE = _("Shop")
        ORDER = pgettext_lazy("verb", "Order")
        LEFT = npgettext("stock", "%(n)s left", "%(n)s left", 2)
        """,
    )
    _write(
        tmp_path,
        "apps/shop/migrations/0001_initial.py",
        'from django.utils.translation import gettext as _\n_("In a migration")\n',
    )
    _write(tmp_path, "livemall/views.py", 'from django.utils.translation import gettext as _\nWELCOME = _("Welcome")\n')
    return tmp_path


def test_extraction_reads_templates_and_python_with_contexts_plurals_and_comments(tree):
    messages = {i18n.message_key(m): m for m in i18n.extract_messages(tree) if m.id}
    assert set(messages) == {
        ("Sale", "badge"),
        ("Your basket", None),
        ("%(counter)s item", None),
        ("Hello %(name)s", None),
        ("Shop", None),
        ("Order", "verb"),
        ("%(n)s left", "stock"),
        ("Welcome", None),
    }
    assert messages[("%(counter)s item", None)].id == ("%(counter)s item", "%(counter)s items")
    assert messages[("Your basket", None)].auto_comments == ["Translators: shown above the basket"]
    assert messages[("Sale", "badge")].locations == [("templates/shop.html", 3)]
    assert messages[("Hello %(name)s", None)].locations == [("apps/shop/templates/shop/hello.txt", 1)]


def test_update_keeps_translations_drops_obsolete_messages_and_sets_plural_forms(tree):
    locale_dir = tree / "locale"
    first = i18n.update_catalogue(i18n.extract_messages(tree), "ar", locale_dir)
    assert first.written and len(first.added) == 8 and len(first.to_translate) == 8
    catalog = _catalogue("ar", locale_dir)
    assert catalog.num_plurals == 6
    assert catalog.get("%(counter)s item").string == ("",) * 6
    catalog.get("Welcome").string = "أهلاً وسهلاً"
    with first.path.open("wb") as handle:
        write_po(handle, catalog)

    (tree / "apps/shop/models.py").write_text('from django.utils.translation import gettext as _\n_("Shop")\n')
    second = i18n.update_catalogue(i18n.extract_messages(tree), "ar", locale_dir)
    assert sorted(i18n.message_key(m) for m in second.dropped) == [("%(n)s left", "stock"), ("Order", "verb")]
    catalog = _catalogue("ar", locale_dir)
    assert catalog.get("Welcome").string == "أهلاً وسهلاً"
    assert catalog.get("Order", context="verb") is None
    assert "Order" not in first.path.read_text(encoding="utf-8")  # not even as an obsolete #~ entry

    unchanged = first.path.read_bytes()
    third = i18n.update_catalogue(i18n.extract_messages(tree), "ar", locale_dir)
    assert not third.written and first.path.read_bytes() == unchanged


def test_catalogue_directories_follow_django_locale_names(tree):
    report = i18n.update_catalogue(i18n.extract_messages(tree), "zh-hans", tree / "locale")
    assert report.path == tree / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    catalog = _catalogue("zh-hans", tree / "locale")
    assert catalog.num_plurals == 1
    assert catalog.get("%(counter)s item").string == ("",)


def test_check_names_untranslated_fuzzy_mismatched_and_missing_messages(tree):
    locale_dir = tree / "locale"
    for language in ("ar", "en"):
        i18n.update_catalogue(i18n.extract_messages(tree), language, locale_dir)
    path = locale_dir / "ar" / "LC_MESSAGES" / "django.po"
    catalog = _catalogue("ar", locale_dir)
    for message in catalog:
        if message.id:
            message.string = (message.id[1],) * 6 if message.pluralizable else "ترجمة"
    catalog.get("Hello %(name)s").string = "مرحبًا"  # the name went missing
    catalog.get("Shop").flags.add("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog)
    _write(tree, "templates/new.html", '{% load i18n %}{% translate "Checkout" %}')

    problems = i18n.catalogue_problems(tree, locale_dir, ["ar", "en"])
    assert set(problems) == {"ar", "en"}
    ar = "\n".join(problems["ar"])
    assert "not in the catalogue (run extract): msgid 'Checkout'" in ar
    assert "fuzzy, needs review: msgid 'Shop'" in ar
    assert "placeholders %(name)s expected in 'مرحبًا'" in ar
    assert len(problems["ar"]) == 3, ar
    # English is the source language: empty msgstr is fine, only the new message is missing.
    assert problems["en"] == ["not in the catalogue (run extract): msgid 'Checkout'  [templates/new.html]"]
