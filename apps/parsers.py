"""The API's request parsers (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``): DRF's, with any JSON
body they cannot read, or whose text is not Unicode, answered as a ``parse_error`` (apps.errors
renders it), never a 500."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from rest_framework import exceptions, parsers


def json_texts(data: Any) -> Iterator[str]:
    """Every string of parsed JSON, keys and values at any depth (a webhook's payload, an API body).

    Walked with a list, not recursion: the parser may just have gone as deep as the stack allows.
    """
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def is_text(value: str) -> bool:
    """False for a string holding a lone surrogate: JSON's ``"\\ud800"`` escapes parse to them, and no
    UTF-8 encodes one, so neither PostgreSQL, Redis nor an answer quoting the value back could."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def holds_lone_surrogate(data: Any) -> bool:
    """Whether a string of parsed JSON, a key or a value at any depth, holds a lone surrogate
    (DRF's "… is not a valid choice." quoting it back failed the answer's encoding)."""
    return not all(is_text(text) for text in json_texts(data))


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, which also refuses JSON nested deeper than Python's parser goes (a few
    thousand ``[``): DRF turns only a ``ValueError`` into a parse error, and the
    ``RecursionError`` would be a 500. A body holding a lone surrogate (valid JSON, not text) is
    refused too: quoted back in an error it failed the answer's encoding, a 500 on every API."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError() from exc
        if holds_lone_surrogate(data):
            raise exceptions.ParseError()
        return data
