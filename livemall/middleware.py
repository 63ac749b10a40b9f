"""Site-wide request guards that belong to no app."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import reverse


class AdminQueryWithoutNul:
    """The admin refuses a query string holding a NUL byte (``?status=%00``) with a 400.

    The changelists' filters hand their values to PostgreSQL, which refuses NUL in text: every
    list with a filter answered such a request with a 500. The shop's own pages and API read
    their query parameters themselves and answer them in words; the admin's are Django's.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.admin_prefix = ""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.admin_prefix:
            # Not at start-up: the URLconf is read once the first request comes.
            self.admin_prefix = reverse("admin:index")
        if "%00" in request.META.get("QUERY_STRING", "") and request.path.startswith(self.admin_prefix):
            raise SuspiciousOperation("A NUL byte in the admin's query string")
        return self.get_response(request)
