"""The API's request parsers (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``): DRF's, with any JSON
body they cannot read answered as a ``parse_error`` (apps.errors renders it), never a 500."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, which also refuses JSON nested deeper than Python's parser goes (a few
    thousand ``[``): DRF turns only a ``ValueError`` into a parse error, and the
    ``RecursionError`` would be a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError() from exc
