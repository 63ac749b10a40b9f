"""The API's request parsers (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``): DRF's, with any JSON
body they cannot read, or whose text is not Unicode, answered as a ``parse_error`` (apps.errors
renders it), never a 500."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers


def holds_lone_surrogate(data: Any) -> bool:
    """Whether a string of parsed JSON, a key or a value at any depth, holds a lone surrogate.

    JSON's ``"\\ud800"`` escapes parse to them: no UTF-8 encodes one, so neither PostgreSQL, Redis
    nor the answer quoting the value back (DRF's "… is not a valid choice.") could. Walked with a
    list, not recursion: the parser has just gone as deep as the stack allows.
    """
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
            texts: Any = item.keys()
        elif isinstance(item, list):
            pending.extend(item)
            continue
        elif isinstance(item, str):
            texts = (item,)
        else:
            continue
        for text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


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
