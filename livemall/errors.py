"""What a shopper or an API client sees when a page does not exist or the server fails.

Pages answer in the shopper's language and direction, inside the site's layout; anything
under ``/api/`` answers in the API's error shape, ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _

from apps.errors import ApplicationError

API_PREFIX = "/api/"


def _wants_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_api(request):
        error = ApplicationError(_("There is nothing at this address."), code="not_found", status=404)
        return JsonResponse(error.as_dict(), status=404)
    body = loader.render_to_string("404.html", {}, request=request)
    return HttpResponse(body, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors and no database here: whatever broke may be one of them.
    if _wants_api(request):
        error = ApplicationError(_("Something went wrong on our side. Please try again."), code="server_error")
        return JsonResponse(error.as_dict(), status=500)
    return HttpResponse(loader.get_template("500.html").render(), status=500)
