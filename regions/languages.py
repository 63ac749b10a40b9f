"""Languages and locales as CLDR knows them (Babel), for every floor that names or formats for one.

The money floor formats amounts and dates for a shopper's locale, accounts names countries
and time zones in the shopper's language, compliance tells an operator which language a
rule's message must be written in: each needs the same Babel locale, falling back the same
way, so it lives here, below them all.
"""

from __future__ import annotations

import functools

from babel import Locale, UnknownLocaleError

FALLBACK_LOCALE = "en"


@functools.lru_cache(maxsize=256)
def babel_locale(locale: str) -> Locale:
    """The Babel locale for ``ar_AE``-style identifiers, falling back rather than failing.

    A shopper's locale is built from their language and country, and CLDR has no data for
    some pairs (``en_VN``, ``th_SG``); those get the language alone, then English.
    """
    identifier = (locale or "").replace("-", "_")
    parts = identifier.split("_")
    candidates = [identifier, "_".join(parts[:-1]) if len(parts) > 1 else "", parts[0], FALLBACK_LOCALE]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse(FALLBACK_LOCALE)


def language_name(code: str, locale: str) -> str:
    """A language as a reader in ``locale`` calls it ("anglais" to a French reader), not its code."""
    return babel_locale(code).get_display_name(babel_locale(locale)) or code
