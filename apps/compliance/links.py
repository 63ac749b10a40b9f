"""Web and e-mail addresses in chat: a scammer's "cheaper at sh0p-deals.shop" must not reach a live crowd.

The scanner reads text that :mod:`apps.compliance.moderation` has already normalised (NFKC, lower
case, zero-width characters dropped, white space collapsed to one space), so full-width letters and
dots arrive as plain ones, and one pass of one compiled pattern finds every candidate. What counts
as an address:

- anything after ``http://``, ``https://`` (or ``hxxp://``, ``ftp://``), and ``www.`` before a name;
- a bare domain whose last part is a top-level domain from ``data/chat-tlds.txt`` ("example.com",
  "shop.co.uk", "例子.中国", "xn--p1ai"), its dots written plain, full-width or ideographic
  ("shop｡com"), disguised ("[.]", "(dot)"), spelled out (" dot ", " titik ") or spaced ("shop . com");
- an e-mail-like ``name@host``: it is contact information, leading off the platform just the same;
- any of these written with Cyrillic or Greek letters that look Latin ("paypal.com" with a Cyrillic
  "o", ``data/chat-lookalikes.txt``): a label that is no TLD as written is read with them folded to
  Latin. A message with no Latin letter at all may hold Russian or Greek words that only look like a
  TLD (the Russian for "with" is "co" in Cyrillic letters), so there such a TLD counts as a word.

Ordinary text keeps working: a number is no domain ("3.5 kg", "v2.0", "RM12.50", "19.00"), an
abbreviation ends in no known TLD ("e.g.", "Mr.Smith", "U.S.A."), and a TLD that is also a word
("it", "me", "shop") needs stronger evidence than a missing space after a full stop ("I love it.so
much" passes, "deals.me" alone does not). Each list entry says which kind it is. The shop-front words
of ``data/chat-storefront-tlds.txt`` ("shop", "store", "online") seldom go on a sentence that lost its
space, so after a plain dot and a Latin name of three letters or more they need no more than that
("cheaper at dealsnow.shop now").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import idna

TLDS_FILE = Path(__file__).resolve().parent / "data" / "chat-tlds.txt"
STOREFRONT_TLDS_FILE = Path(__file__).resolve().parent / "data" / "chat-storefront-tlds.txt"
LOOKALIKES_FILE = Path(__file__).resolve().parent / "data" / "chat-lookalikes.txt"

# Marks that belong inside a word but that ``\w`` does not match: Thai vowel and tone marks, Tamil
# vowel signs. Without them "ร้าน.ไทย" would split inside its first word.
_MARKS = "\\u0e31\\u0e34-\\u0e3a\\u0e47-\\u0e4e\\u0b82\\u0bbe-\\u0bcd\\u0bd7"
_LABEL = "[\\w" + _MARKS + "-]++"
_NOT_AFTER_LABEL = "(?<![\\w" + _MARKS + "-])"

# "dot" spelled out between spaces (Arabic نقطة as moderation's folding writes it), and in the
# scripts written without spaces.
_DOT_WORDS = "dot|punto|ponto|point|punkt|titik|\u0646\u0642\u0637\u0647"
_DOT_WORDS_UNSPACED = "\u70b9|\u9ede|\u0e08\u0e38\u0e14"
# Dots that also separate words or names in CJK and Catalan text: they make a link only before a
# Latin TLD, so "约翰·史密斯" and a Chinese sentence's "。" stay text.
_SCRIPT_DOTS = "\u3002\u00b7\u30fb\u2022\u2027\u2219"

_BRACKETED = "(?: ?[\\[({<] ?(?:\\.|" + _DOT_WORDS + "|" + _DOT_WORDS_UNSPACED + ") ?[\\])}>] ?)"
# Plain first among the loose ones: alternatives are tried in order.
_LOOSE = "(?: ?\\.{2,} ?| \\. ?|\\. | (?:" + _DOT_WORDS + ") | ?(?:" + _DOT_WORDS_UNSPACED + ") ?)"
_SEPARATOR = "(?:" + _BRACKETED + "|" + _LOOSE + "|\\.|[" + _SCRIPT_DOTS + "])"
# What a separator can start with: most words are followed by a space and another word, and this
# one look ahead turns them away before the alternatives above are tried one by one.
_MAY_SEPARATE = "(?= ?[.\\[({<dpt\u0646\u70b9\u9ede\u0e08" + _SCRIPT_DOTS + "])"
# Text without any of these holds no address, and most chat is such text: one search in C, then done.
_HINT = re.compile("[.:@\\[({<\u70b9\u9ede" + _SCRIPT_DOTS + "]| (?:" + _DOT_WORDS + ") |\u0e08\u0e38\u0e14")

_SCAN = re.compile(
    "(?P<scheme>\\b(?:h[tx]{2}ps?|ftp) ?: ?/ ?/ ?(?P<host>[\\w.-]*))"
    "|(?P<chain>" + _NOT_AFTER_LABEL + _LABEL + "(?:" + _MAY_SEPARATE + _SEPARATOR + _LABEL + ")+)"
)
_SPLIT = re.compile("(" + _MAY_SEPARATE + _SEPARATOR + ")")
_LABELS = re.compile(_LABEL)
_MAIL = re.compile("(?<![\\w.+-])(?P<name>[\\w.+-]+)@(?P<host>\\w[\\w.-]*)")
# Chinese and Thai "dot" joins Latin names with no space, where \w reads one word.
_JOINED = re.compile("(?<![a-z0-9-])(?P<name>[a-z0-9-]+)(?:" + _DOT_WORDS_UNSPACED + ")(?P<tld>[a-z]+)(?![a-z0-9-])")
_WORD_NEXT = re.compile(" [^\\W\\d_]")
_LATIN_LETTER = re.compile("[a-z]")
# A name a shop-front TLD may follow even before another word: Latin letters only, so neither a
# number ("5.shop") nor a short word ending a sentence ("it.shop", "so.store") is one.
_STOREFRONT_NAME = re.compile("[a-z]{3,}")

# How a separator reads: a plain dot, a clearly disguised one, a script's dot, or one that ordinary
# sentences also hold (". ", " dot ").
PLAIN, DISGUISED, SCRIPT, LOOSE = "plain", "disguised", "script", "loose"


def _kind(separator: str) -> str:
    if separator == ".":
        return PLAIN
    if separator in _SCRIPT_DOTS:
        return SCRIPT
    if any(bracket in separator for bracket in "[({<"):
        return DISGUISED
    return LOOSE


class TldListError(Exception):
    """A data file of the scanner (TLDs, shop-front TLDs, look-alike letters) cannot be read or holds
    something that is no domain label or letter."""


def read_tld_list(path: Path = TLDS_FILE) -> list[tuple[str, bool]]:
    """The list's entries as ``(name, is_a_word)``, each IDN also in its ``xn--`` spelling."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TldListError(f"cannot read the chat TLD list {path}: {exc}") from exc
    entries: list[tuple[str, bool]] = []
    for line in lines:
        for item in line.split("#", 1)[0].split():
            word = item.startswith("~")
            name = item.lstrip("~").lower()
            entries.append((name, word))
            if not name.isascii():
                try:
                    entries.append((idna.encode(name).decode("ascii"), False))
                except idna.IDNAError as exc:
                    raise TldListError(f"{path.name}: {name!r} is not a valid domain label ({exc})") from exc
    return entries


def read_storefront_tlds(path: Path = STOREFRONT_TLDS_FILE) -> frozenset[str]:
    """The word TLDs that count even with another word after them ("dealsnow.shop now")."""
    names: set[str] = set()
    for items in _data_lines(path):
        for item in items:
            if not (item.isascii() and item.isalpha()):
                raise TldListError(f"{path.name}: {item!r} is not a Latin TLD")
            names.add(item.lower())
    return frozenset(names)


def read_lookalikes(path: Path = LOOKALIKES_FILE) -> dict[str, str]:
    """Cyrillic and Greek letters that look Latin, each with the Latin letter it imitates."""
    letters: dict[str, str] = {}
    for items in _data_lines(path):
        if len(items) != 2:
            raise TldListError(f"{path.name}: {' '.join(items)!r} is not a code point and a Latin letter")
        code, latin = items
        try:
            letter = chr(int(code, 16))
        except ValueError as exc:
            raise TldListError(f"{path.name}: {code!r} is not a code point") from exc
        # The scanner sees lower-cased NFKC text: a letter that changes there never arrives as itself.
        if not (letter.isalpha() and unicodedata.normalize("NFKC", letter).lower() == letter):
            raise TldListError(f"{path.name}: U+{code.upper()} does not survive chat normalisation")
        if not (len(latin) == 1 and "a" <= latin <= "z"):
            raise TldListError(f"{path.name}: {latin!r} after U+{code.upper()} is not one small Latin letter")
        letters[letter] = latin
    return letters


def _data_lines(path: Path) -> list[list[str]]:
    """The space-separated items of each line of a data file that holds any, "#" comments left out."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TldListError(f"cannot read {path}: {exc}") from exc
    return [items for line in lines if (items := line.split("#", 1)[0].split())]


def host_allowed(host: str, allowed_hosts: frozenset[str]) -> bool:
    """Whether ``host`` is one of ``allowed_hosts`` or a name under one."""
    host = host.strip(".")
    return any(host == allowed or host.endswith("." + allowed) for allowed in allowed_hosts)


class LinkScanner:
    """Finds web and e-mail addresses in normalised chat text."""

    def __init__(
        self,
        tlds: Iterable[tuple[str, bool]],
        *,
        storefront: Iterable[str] | None = None,
        lookalikes: Mapping[str, str] | None = None,
    ) -> None:
        """``storefront`` and ``lookalikes`` default to the data files (see the module's docstring)."""
        self.tlds: dict[str, bool] = {}
        for name, word in tlds:
            # A name listed twice is a word if either entry says so: the cautious reading.
            self.tlds[name] = word or self.tlds.get(name, False)
        self.storefront = frozenset(read_storefront_tlds() if storefront is None else storefront)
        self._to_latin = str.maketrans(dict(read_lookalikes() if lookalikes is None else lookalikes))

    def find(self, text: str, *, allowed_hosts: frozenset[str] = frozenset()) -> tuple[str, ...]:
        """The addresses in ``text`` (normalised), apart from those under ``allowed_hosts``."""
        if _HINT.search(text) is None:
            return ()
        found: list[str] = []
        mail_end = -1
        if "@" in text:
            for match in _MAIL.finditer(text):
                name, host = match["name"], match["host"]
                # "2@RM10" is a price, "@anna" a mention; "deals@gmail" is a way to reach someone.
                if _has_letter(name) and _has_letter(host) and not host_allowed(host, allowed_hosts):
                    found.append(match.group())
                    mail_end = match.end()
        for match in _SCAN.finditer(text):
            if match.start() < mail_end:
                continue  # the host of an address already found
            if match["scheme"] is not None:
                if not match["host"] or not host_allowed(match["host"], allowed_hosts):
                    found.append(match["scheme"])
                continue
            host = self._domain_in(match["chain"], text, match.end())
            if host and not host_allowed(host, allowed_hosts):
                found.append(host)
        if "\u70b9" in text or "\u9ede" in text or "\u0e08\u0e38\u0e14" in text:
            for match in _JOINED.finditer(text):
                host = f"{match['name']}.{match['tld']}"
                if self.tlds.get(match["tld"]) is False and not host_allowed(host, allowed_hosts):
                    found.append(host)
        return tuple(dict.fromkeys(found))

    def _domain_in(self, chain: str, text: str, end: int) -> str:
        """The first domain in a run of labels and dots, written with plain dots; "" if none."""
        names = _LABELS.findall(chain)
        if (
            names[0] != "www"
            and not any(name in self.tlds for name in names[1:])
            and (chain.isascii() or not any(self._tld_of(name) for name in names[1:]))
        ):
            return ""  # "3.5", "e.g", "mr.smith": the common case, settled without splitting
        parts = _SPLIT.split(chain)
        labels, separators = parts[0::2], parts[1::2]
        kinds = [_kind(separator) for separator in separators]
        start = 0  # the first label of the current name: a loose separator starts a new one
        for i in range(1, len(labels)):
            kind = kinds[i - 1]
            if kind == LOOSE:
                start = i - 1
            if labels[start] == "www":
                return self._name(labels, kinds, start, i, lambda _label: True)
            tld = self._tld_of(labels[i])
            if not tld:
                continue
            word = self.tlds[tld]
            # A TLD in look-alike letters is a spoof in a Latin message; with no Latin letter around,
            # it may be Russian or Greek (Cyrillic "co" is "with") and "·" a name's dot: words, as
            # "it" and "me" are.
            foreign_words = tld != labels[i] and _LATIN_LETTER.search(text) is None
            if kind == SCRIPT and (not tld.isascii() or foreign_words):
                continue
            word = word or foreign_words
            host = self._name(labels, kinds, start, i, lambda label: self._tld_of(label) != "")
            if not word or kind == DISGUISED:
                return host
            if kind == LOOSE or i != len(labels) - 1:
                continue
            after = text[end : end + 2]
            if after[:1] == "/" or (after[:1] == ":" and after[1:].isdigit()):
                return host
            name = labels[i - 1]
            # Sentences hold no "sh0p-deals": digits or hyphens in a name are a domain's.
            if _has_letter(name) and (not _WORD_NEXT.match(text, end) or _has_digit_or_hyphen(name)):
                return host
            if (
                tld in self.storefront
                and kind == PLAIN
                and not foreign_words
                and _STOREFRONT_NAME.fullmatch(name.translate(self._to_latin))
            ):
                return host  # "dealsnow.shop now": a sentence seldom goes on with "shop" after a lost space
        return ""

    def _tld_of(self, label: str) -> str:
        """``label`` as listed, read as written or with its look-alike letters as Latin; "" if no TLD."""
        if label in self.tlds:
            return label
        if label.isascii():
            return ""
        latin = label.translate(self._to_latin)
        return latin if latin in self.tlds else ""

    @staticmethod
    def _name(labels: list[str], kinds: list[str], start: int, last: int, more: Callable[[str], bool]) -> str:
        """Labels ``start`` to ``last`` joined by plain dots, and the next ones that ``more`` admits ("co.uk")."""
        while last + 1 < len(labels) and kinds[last] != LOOSE and more(labels[last + 1]):
            last += 1
        return ".".join(labels[start : last + 1])


def _has_letter(text: str) -> bool:
    return any(char.isalpha() for char in text)


def _has_digit_or_hyphen(text: str) -> bool:
    return any(char.isdigit() or char == "-" for char in text)
