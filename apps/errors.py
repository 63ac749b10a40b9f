"""The one error type of the application, and its rendering for the API.

Services raise :class:`ApplicationError`; the API renders every error (ours, DRF's
and Django's validation errors) as ``{"error": {"code", "message", "fields"}}`` and
pages show ``message`` to the person. Nothing from outside turns into a 500.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """A request we understood but refuse, with a stable machine-readable code."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        fields: dict[str, list[str]] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.fields = fields or {}
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class ErrorBody(serializers.Serializer):
    code = serializers.CharField(help_text="Stable and machine-readable, e.g. sold_out, total_changed.")
    message = serializers.CharField(help_text="For the person, in their language.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="What is wrong with each named input; empty when no one field is at fault.",
    )


# What api_exception_handler answers, for the OpenAPI schema: every app documents its error
# responses with this one component, so a client reads all errors the same way.
class ErrorResponse(serializers.Serializer):
    """The body of every error the API answers."""

    error = ErrorBody()


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{k}: {m}" for k, v in detail.items() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def _fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    return {}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        message = "; ".join(exc.messages) or _("Invalid input.")
        err = ApplicationError(message, code="invalid", fields=fields)
        return Response(err.as_dict(), status=400)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, drf.ValidationError):
        code, message, fields = "invalid", _("Some fields are not valid."), _fields(detail)
        if not fields:
            message = "; ".join(_flatten(detail))
    else:
        codes = exc.get_codes() if isinstance(exc, drf.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        message = str(detail.get("detail", "")) if isinstance(detail, dict) else "; ".join(_flatten(detail))
        fields = {}
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    return response
