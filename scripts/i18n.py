"""Interface messages: extract them into the gettext catalogues and check they are translated.

A pure-Python stand-in for ``manage.py makemessages``, which needs GNU gettext that these
machines do not have. Templates go through Django's own ``templatize`` (exactly what
makemessages hands to xgettext), then, like the Python sources, through Babel's Python
extractor. There is one catalogue, ``locale/<dir>/LC_MESSAGES/django.po``, for every
language any region file offers.

    python scripts/i18n.py extract   refresh every catalogue from the sources and list, per
                                     language, the messages that still need translating
    python scripts/i18n.py check     exit 1 if a catalogue is missing, out of date, or has an
                                     untranslated, fuzzy or placeholder-mismatched message

The source language is English: its catalogue may leave msgstr empty (gettext then shows
the msgid). ``make locale`` compiles the catalogues to ``.mo`` with ``pybabel compile``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract, extract_from_file
from babel.messages.pofile import read_po, write_po

BASE_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIR = BASE_DIR / "locale"
DOMAIN = "django"
SOURCE_LANGUAGE = "en"

# What makemessages reads: project templates, app templates and the Python of these packages.
PYTHON_ROOTS = ("apps", "livemall", "regions")
TEMPLATE_SUFFIXES = (".html", ".txt")
SKIP_DIRS = frozenset({"migrations", ".venv", "node_modules", "__pycache__"})

# Django's translation functions, in Babel's keyword notation: (1, "c") is a context argument,
# numbers are the positions of the singular and plural message.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
COMMENT_TAGS = ("Translators",)

# Babel's plural rules, except where the language we write differs from Babel's default:
# our Portuguese is Brazil's (one = 0 and 1), and Arabic lists its six forms in the order
# the gettext manual and Django's own Arabic catalogue use (zero, one, two, few, many, other),
# which is the order translators expect.
PLURAL_FORMS = {
    "pt": (2, "(n > 1)"),
    "ar": (6, "(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5)"),
}

HEADER_COMMENT = (
    "# LiveMall interface messages: {name}.\n"
    "# Written by `python scripts/i18n.py extract`: translate every empty msgstr,\n"
    "# keep placeholders such as %(name)s as they are, then run `make locale`."
)

# printf-style placeholders (as Babel recognises them) and str.format fields with a name or index.
PLACEHOLDER = re.compile(
    r"%(?:\([^)]+\))?[#0 +\-]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[hlL]?[diouxXeEfFgGcrsa%]|\{[A-Za-z_0-9]\w*\}"
)


class ExtractionError(Exception):
    """A source file could not be read for messages."""


MessageKey = tuple[str, str | None]


def message_key(message: Message) -> MessageKey:
    """Identity of a message in a catalogue: its singular text and its context."""
    msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
    return msgid, message.context


def describe(message: Message) -> str:
    msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
    text = f"msgid {msgid!r}"
    if message.pluralizable:
        text += f" (plural {message.id[1]!r})"
    if message.context:
        text = f"msgctxt {message.context!r} " + text
    where = sorted({path for path, _ in message.locations})
    return text + (f"  [{', '.join(where)}]" if where else "")


# --- Languages -----------------------------------------------------------------------------


def region_languages() -> list[str]:
    """Every language any region offers, in Django's spelling (``zh-hans``)."""
    from regions import all_regions

    return sorted({language for region in all_regions() for language in region.languages})


def locale_name(language: str) -> str:
    """The catalogue directory Django looks in: ``zh-hans`` -> ``zh_Hans``."""
    from django.utils.translation import to_locale

    return to_locale(language)


def catalogue_path(language: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / locale_name(language) / "LC_MESSAGES" / f"{DOMAIN}.po"


def plural_forms(language: str) -> tuple[int, str]:
    """(nplurals, plural expression) for a language's catalogue."""
    if language in PLURAL_FORMS:
        return PLURAL_FORMS[language]
    catalog = Catalog(locale=locale_name(language))
    return catalog.num_plurals, catalog.plural_expr


# --- Extraction ----------------------------------------------------------------------------


def _walk(root: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    if not root.is_dir():
        return
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(suffixes):
                yield Path(directory) / name


def source_files(base_dir: Path = BASE_DIR) -> Iterator[tuple[Path, str]]:
    """(path, "template" | "python") for every file makemessages would read."""
    template_roots = [base_dir / "templates"]
    apps = base_dir / "apps"
    if apps.is_dir():
        template_roots += sorted(p for p in apps.rglob("templates") if p.is_dir() and not SKIP_DIRS & set(p.parts))
    for root in template_roots:
        for path in _walk(root, TEMPLATE_SUFFIXES):
            yield path, "template"
    for name in PYTHON_ROOTS:
        for path in _walk(base_dir / name, (".py",)):
            yield path, "python"


def _template_messages(path: Path, relative: str) -> Iterable[tuple]:
    from django.template import TemplateSyntaxError
    from django.utils.translation.template import templatize

    try:
        python_like = templatize(path.read_text(encoding="utf-8"), origin=relative)
    except (TemplateSyntaxError, UnicodeDecodeError) as exc:
        raise ExtractionError(f"{relative}: {exc}") from exc
    # templatize keeps the template's indentation; Python's tokenizer would reject the
    # uneven dedents, and every message sits on one line, so the indentation can go.
    flat = "\n".join(line.lstrip() for line in python_like.splitlines())
    return extract(
        "python",
        io.BytesIO(flat.encode("utf-8")),
        keywords=KEYWORDS,
        comment_tags=COMMENT_TAGS,
        options={"encoding": "utf-8"},
    )


def extract_messages(base_dir: Path = BASE_DIR) -> Catalog:
    """All translatable messages of the sources, as a template catalogue (no translations)."""
    template = Catalog(domain=DOMAIN, fuzzy=False)
    for path, kind in source_files(base_dir):
        relative = path.relative_to(base_dir).as_posix()
        if kind == "template":
            found = _template_messages(path, relative)
        else:
            try:
                found = extract_from_file(
                    "python", path, keywords=KEYWORDS, comment_tags=COMMENT_TAGS, options={"encoding": "utf-8"}
                )
            except SyntaxError as exc:
                raise ExtractionError(f"{relative}: {exc}") from exc
        for lineno, msgid, comments, context in found:
            template.add(msgid, None, locations=[(relative, lineno)], auto_comments=comments, context=context)
    return template


# --- Catalogues ----------------------------------------------------------------------------


@dataclass
class CatalogueUpdate:
    language: str
    path: Path
    total: int = 0
    added: list[Message] = field(default_factory=list)
    dropped: list[Message] = field(default_factory=list)
    to_translate: list[Message] = field(default_factory=list)
    written: bool = False


def read_catalogue(path: Path) -> Catalog | None:
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle, domain=DOMAIN)


def _carry_over(message: Message, old: Message | None, nplurals: int) -> tuple[str | tuple[str, ...], bool]:
    """The translation an updated message keeps, and whether it needs review (fuzzy)."""
    if old is None:
        return (("",) * nplurals if message.pluralizable else ""), False
    fuzzy = old.fuzzy
    old_forms = list(old.string) if isinstance(old.string, (list, tuple)) else [old.string or ""]
    if message.pluralizable:
        if not old.pluralizable or len(old_forms) != nplurals:
            # The message grew a plural (or the language's plural rule changed): the old text
            # is a starting point for every form, not a finished translation.
            fuzzy = fuzzy or any(old_forms)
            old_forms = (old_forms + [old_forms[-1]] * nplurals)[:nplurals]
        return tuple(old_forms), fuzzy
    if old.pluralizable:
        fuzzy = fuzzy or any(old_forms)
    return old_forms[0], fuzzy


def _render(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_output=True, ignore_obsolete=True, include_lineno=False)
    return buffer.getvalue()


def update_catalogue(template: Catalog, language: str, locale_dir: Path = LOCALE_DIR) -> CatalogueUpdate:
    """Rewrite one language's catalogue to hold exactly the template's messages.

    Translations of messages still in the sources are kept (with their translator comments
    and fuzzy marks); messages no longer in the sources are dropped. The file is only
    rewritten when something changed, so that unchanged catalogues do not churn in git.
    """
    path = catalogue_path(language, locale_dir)
    existing = read_catalogue(path)
    previous = {message_key(m): m for m in existing or () if m.id}
    nplurals, plural_expr = plural_forms(language)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    catalog = Catalog(
        locale=Locale.parse(locale_name(language)),
        domain=DOMAIN,
        header_comment=HEADER_COMMENT.format(name=f"{Locale.parse(locale_name(language)).english_name} ({language})"),
        project="LiveMall",
        version="1.0",
        creation_date=existing.creation_date if existing else now,
        revision_date=existing.revision_date if existing else now,
        last_translator=existing.last_translator if existing else "LiveMall team",
        language_team=f"LiveMall {language}",
        charset="utf-8",
        fuzzy=False,
    )
    catalog.mime_headers = [("Plural-Forms", f"nplurals={nplurals}; plural={plural_expr};")]

    report = CatalogueUpdate(language=language, path=path)
    for message in template:
        if not message.id:
            continue
        old = previous.pop(message_key(message), None)
        string, fuzzy = _carry_over(message, old, nplurals)
        flags = {"fuzzy"} if fuzzy else set()
        catalog.add(
            message.id,
            string,
            locations=message.locations,
            flags=flags,
            auto_comments=message.auto_comments,
            user_comments=old.user_comments if old else (),
            context=message.context,
        )
        if old is None:
            report.added.append(message)
    report.dropped = sorted(previous.values(), key=message_key)
    report.total = sum(1 for m in catalog if m.id)
    if language != SOURCE_LANGUAGE:
        report.to_translate = [m for m in catalog if m.id and needs_translation(m)]

    content = _render(catalog)
    if not path.exists() or path.read_bytes() != content:
        catalog.revision_date = now
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_render(catalog))
        report.written = True
    return report


def needs_translation(message: Message) -> bool:
    forms = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return message.fuzzy or not all(form and form.strip() for form in forms)


def placeholders(text: str) -> Counter[str]:
    return Counter(p for p in PLACEHOLDER.findall(text or "") if p != "%%")


def placeholder_problem(message: Message) -> str | None:
    """Why a translation's placeholders do not fit its source text, or None if they do.

    A plural form may leave out a placeholder (Arabic says "one product" without the
    number) but may never bring one the source does not have: formatting would fail.
    """
    if message.pluralizable:
        expected = placeholders(message.id[0]) | placeholders(message.id[1])
        forms = [f for f in message.string if f]
        for form in forms:
            extra = set(placeholders(form)) - set(expected)
            if extra:
                return f"unknown placeholder {', '.join(sorted(extra))} in {form!r}"
        if forms and set(placeholders(forms[-1])) != set(placeholders(message.id[1])):
            return f"last plural form {forms[-1]!r} must use the placeholders of {message.id[1]!r}"
        return None
    if message.string and placeholders(message.string) != placeholders(message.id):
        want = ", ".join(sorted(placeholders(message.id))) or "none"
        return f"placeholders {want} expected in {message.string!r}"
    return None


def update_all(
    base_dir: Path = BASE_DIR, locale_dir: Path = LOCALE_DIR, languages: Iterable[str] | None = None
) -> list[CatalogueUpdate]:
    template = extract_messages(base_dir)
    return [update_catalogue(template, language, locale_dir) for language in languages or region_languages()]


def catalogue_problems(
    base_dir: Path = BASE_DIR, locale_dir: Path = LOCALE_DIR, languages: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """Per language, everything that keeps its catalogue from being complete and current."""
    template = extract_messages(base_dir)
    wanted = {message_key(m): m for m in template if m.id}
    problems: dict[str, list[str]] = {}
    for language in languages or region_languages():
        path = catalogue_path(language, locale_dir)
        catalog = read_catalogue(path)
        found: list[str] = []
        if catalog is None:
            problems[language] = [f"{path.relative_to(locale_dir.parent)} is missing: run extract"]
            continue
        present = {message_key(m): m for m in catalog if m.id}
        found += [f"not in the catalogue (run extract): {describe(m)}" for k, m in wanted.items() if k not in present]
        found += [
            f"no longer in the sources (run extract): {describe(m)}" for k, m in present.items() if k not in wanted
        ]
        if (catalog.num_plurals, catalog.plural_expr) != plural_forms(language):
            nplurals, plural_expr = plural_forms(language)
            found.append(f"Plural-Forms should be nplurals={nplurals}; plural={plural_expr}: run extract")
        for message in present.values():
            if language != SOURCE_LANGUAGE and needs_translation(message):
                state = "fuzzy, needs review" if message.fuzzy else "untranslated"
                found.append(f"{state}: {describe(message)}")
            problem = placeholder_problem(message)
            if problem:
                found.append(f"{problem}: {describe(message)}")
        if found:
            problems[language] = found
    return problems


# --- Command line --------------------------------------------------------------------------


def _setup_django() -> None:
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livemall.settings")
    import django

    django.setup()


def _relative(path: Path) -> str:
    try:
        return path.relative_to(BASE_DIR).as_posix()
    except ValueError:
        return str(path)


def _by_message(lines_by_language: dict[str, list[str]]) -> dict[str, list[str]]:
    """Turn {language: [line]} into {line: [language]}: most lines concern every language."""
    grouped: dict[str, list[str]] = {}
    for language, lines in lines_by_language.items():
        for line in lines:
            grouped.setdefault(line, []).append(language)
    return grouped


def _print_grouped(lines_by_language: dict[str, list[str]]) -> None:
    for line, languages in _by_message(lines_by_language).items():
        print(f"  {line}")
        print(f"      in: {' '.join(languages)}")


def command_extract() -> int:
    reports = update_all()
    for report in reports:
        state = "updated" if report.written else "unchanged"
        print(
            f"{report.language:8} {_relative(report.path)}: {report.total} messages, {len(report.added)} new, "
            f"{len(report.dropped)} dropped, {len(report.to_translate)} to translate ({state})"
        )
    dropped = {r.language: [describe(m) for m in r.dropped] for r in reports}
    if any(dropped.values()):
        print("\nDropped, no longer in the sources:")
        _print_grouped(dropped)
    pending = {r.language: [describe(m) for m in r.to_translate] for r in reports}
    if any(pending.values()):
        print(
            "\nTo translate: fill the msgstr of each message below in the catalogue of each language "
            "listed (and remove '#, fuzzy' once checked), then run `make locale`:"
        )
        _print_grouped(pending)
    else:
        print("\nEvery catalogue is translated. Run `make locale` to compile.")
    return 0


def command_check() -> int:
    problems = catalogue_problems()
    if not problems:
        print(f"All {len(region_languages())} catalogues are complete and up to date.")
        return 0
    for language, found in problems.items():
        print(
            f"{language:8} {_relative(catalogue_path(language))}: {len(found)} problem{'' if len(found) == 1 else 's'}"
        )
    print()
    _print_grouped(problems)
    print("\nRun `python scripts/i18n.py extract`, translate what it lists, run `make locale`, then check again.")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("extract", "check"))
    args = parser.parse_args(argv)
    _setup_django()
    try:
        return command_extract() if args.command == "extract" else command_check()
    except ExtractionError as exc:
        print(f"cannot extract messages: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
