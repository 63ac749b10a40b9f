"""Sensitive-word moderation for chat: word lists as data, one Aho-Corasick automaton per set of lists.

A region names its lists (``Region.sensitive_word_lists``); each list is a text file in
``apps/compliance/wordlists/<name>.txt``: one word or phrase per line, ``#`` starts a
comment, and a leading ``!`` marks an entry that rejects the whole message instead of
masking the match. All entries of all lists are matched in one pass over the text
(pyahocorasick), so the cost does not grow with the number of entries.

Text and entries go through the same normalisation, one character at a time so that a
match can be mapped back onto the original text for masking: NFKC (full-width letters,
ligatures), lower case, Arabic diacritics and tatweel dropped, alef/ya/ta-marbuta forms
unified, zero-width characters dropped, runs of white space collapsed. Scripts written
with spaces between words (Latin, Arabic, Cyrillic, Greek) match whole words only, so
"class" never trips on "ass"; scripts without them (Thai, Chinese) match anywhere.

Web and e-mail addresses are refused too (:mod:`apps.compliance.links`), found in the same
normalised text, unless the poster may post links (the room's merchant staff and operators)
or the address is the shop's own site (``SITE_URL``).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import ahocorasick
from django.conf import settings

from apps.compliance.links import LinkScanner, read_tld_list

WORDLISTS_DIR = Path(__file__).resolve().parent / "wordlists"

CLEAN = "clean"
MASKED = "masked"
REJECTED = "rejected"

MASK_CHAR = "*"

# Why a REJECTED message was refused, when it is not a listed word: it holds a web or e-mail address.
LINK = "link"

# The one normalisation of Arabic spellings (and invisible characters) for matching what
# people type: chat moderation here, catalog search (apps.catalog.selectors) in SQL too.
IGNORED_CHARACTERS = frozenset(
    [chr(c) for c in range(0x064B, 0x0653)]  # Arabic harakat (fatha, damma, kasra, shadda, sukun…)
    + ["\u0670", "\u0640"]  # superscript alef, tatweel
    + ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]  # zero-width and soft hyphen
)
# Alef with hamza/madda/wasla -> bare alef; alef maksura -> ya; ta marbuta -> ha.
FOLDED_LETTERS = {
    "\u0623": "\u0627",
    "\u0625": "\u0627",
    "\u0622": "\u0627",
    "\u0671": "\u0627",
    "\u0649": "\u064a",
    "\u0629": "\u0647",
}
_SPACED_SCRIPTS = ("LATIN", "ARABIC", "CYRILLIC", "GREEK")


class WordListError(Exception):
    """A region names a word list that does not exist or cannot be read."""


@dataclass(frozen=True)
class ModerationResult:
    verdict: str  # CLEAN, MASKED or REJECTED
    text: str  # what may be shown: the original, or the original with matches masked
    matches: tuple[str, ...] = ()  # the list entries (and addresses) found, for the moderation log
    reason: str = ""  # LINK when an address refused it; "" for a listed word

    @property
    def rejected(self) -> bool:
        return self.verdict == REJECTED


def _normalise(text: str) -> tuple[str, list[int]]:
    """Normalised text plus, for each of its characters, the index of the original character."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char in IGNORED_CHARACTERS:
            continue
        if char.isspace():
            if out and out[-1] != " ":
                out.append(" ")
                origin.append(index)
            continue
        for folded in unicodedata.normalize("NFKC", char).lower():
            if folded in IGNORED_CHARACTERS:
                continue
            out.append(FOLDED_LETTERS.get(folded, folded))
            origin.append(index)
    return "".join(out), origin


def fold_for_matching(text: str) -> str:
    """``text`` in the spelling matching compares: NFKC, lower case, and the Arabic forms and
    invisible characters above folded or dropped ("أسوَد" and "اسود" alike). White space is kept.

    Unlike the chat check, the whole text is NFKC-normalised at once, so that a letter written
    as a base and a combining mark (a Mac's "e" + "\u0301", alef + combining madda) composes
    first, as the precomposed letter it folds like.
    """
    lowered = unicodedata.normalize("NFKC", text).lower()
    return "".join(FOLDED_LETTERS.get(char, char) for char in lowered if char not in IGNORED_CHARACTERS)


def written_with_spaces(char: str) -> bool:
    """Whether ``char`` belongs to a script that puts spaces between words (Latin, Arabic…), so
    that a word of it is matched whole; Thai or Chinese words are found anywhere in the text."""
    return unicodedata.name(char, "").startswith(_SPACED_SCRIPTS)


@dataclass(frozen=True)
class _Entry:
    phrase: str  # normalised
    rejects: bool
    bounded_start: bool
    bounded_end: bool


def read_word_list(name: str, directory: Path = WORDLISTS_DIR) -> list[tuple[str, bool]]:
    """The entries of one list as ``(phrase, rejects)``; raise :class:`WordListError` if it is missing."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise WordListError(f"{name!r} is not a word-list name")
    path = directory / f"{name}.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        known = ", ".join(sorted(p.stem for p in directory.glob("*.txt")))
        raise WordListError(f"word list {name!r} not found in {directory}; known lists: {known}") from exc
    entries = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        rejects = line.startswith("!")
        phrase = line[1:].strip() if rejects else line
        if phrase:
            entries.append((phrase, rejects))
    return entries


class Moderator:
    """Masks or rejects chat text against a fixed set of entries."""

    def __init__(self, entries: Iterable[tuple[str, bool]]) -> None:
        self._automaton = ahocorasick.Automaton()
        count = 0
        for phrase, rejects in entries:
            normalised, _ = _normalise(phrase)
            normalised = normalised.strip()
            if not normalised:
                continue
            existing = self._automaton.get(normalised, None)
            entry = _Entry(
                phrase=normalised,
                rejects=rejects or bool(existing and existing.rejects),
                bounded_start=written_with_spaces(normalised[0]),
                bounded_end=written_with_spaces(normalised[-1]),
            )
            self._automaton.add_word(normalised, entry)
            count += 1
        self.size = count
        if count:
            self._automaton.make_automaton()

    def check(
        self, text: str, *, links: LinkScanner | None = None, allowed_hosts: frozenset[str] = frozenset()
    ) -> ModerationResult:
        """Mask or reject listed words; with ``links``, also reject addresses not under ``allowed_hosts``."""
        if not self.size and links is None:
            return ModerationResult(CLEAN, text)
        normalised, origin = _normalise(text)
        spans: list[tuple[int, int]] = []
        found: list[str] = []
        rejects = False
        for end, entry in self._automaton.iter(normalised) if self.size else ():
            start = end - len(entry.phrase) + 1
            if entry.bounded_start and start > 0 and normalised[start - 1].isalnum():
                continue
            if entry.bounded_end and end + 1 < len(normalised) and normalised[end + 1].isalnum():
                continue
            found.append(entry.phrase)
            rejects = rejects or entry.rejects
            # Marks dropped by normalisation right after the match (a shadda, say) belong to it.
            last = origin[end + 1] - 1 if end + 1 < len(origin) else len(text) - 1
            spans.append((origin[start], last))
        addresses = links.find(normalised, allowed_hosts=allowed_hosts) if links is not None else ()
        if addresses:
            return ModerationResult(REJECTED, text, tuple(dict.fromkeys([*found, *addresses])), reason=LINK)
        if not found:
            return ModerationResult(CLEAN, text)
        if rejects:
            return ModerationResult(REJECTED, text, tuple(dict.fromkeys(found)))
        chars = list(text)
        for first, last in spans:
            for i in range(first, last + 1):
                if not chars[i].isspace():
                    chars[i] = MASK_CHAR
        return ModerationResult(MASKED, "".join(chars), tuple(dict.fromkeys(found)))


@functools.lru_cache(maxsize=32)
def moderator_for(list_names: tuple[str, ...]) -> Moderator:
    """One automaton for a region's lists, built once per process."""
    entries: list[tuple[str, bool]] = []
    for name in list_names:
        entries.extend(read_word_list(name))
    return Moderator(entries)


@functools.cache
def link_scanner() -> LinkScanner:
    """The scanner for ``data/chat-tlds.txt``, its names normalised as chat text is, built once per process."""
    return LinkScanner((_normalise(name)[0], word) for name, word in read_tld_list())


@functools.lru_cache(maxsize=4)
def _site_hosts(site_url: str) -> frozenset[str]:
    host = (urlsplit(site_url).hostname or "").lower()
    # https://www.shop.example/ writes its links as shop.example/... just as often.
    return frozenset({host, host.removeprefix("www.")} - {""})


def moderate_chat(*, list_names: tuple[str, ...], text: str, links_allowed: bool = False) -> ModerationResult:
    """Check one chat message against the named lists (the region's ``sensitive_word_lists``).

    Unless ``links_allowed`` (the poster works the room), a web or e-mail address rejects it,
    apart from one to the shop's own site.
    """
    moderator = moderator_for(tuple(list_names))
    if links_allowed:
        return moderator.check(text)
    return moderator.check(text, links=link_scanner(), allowed_hosts=_site_hosts(settings.SITE_URL))
