from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject

from apps.accounts import user_cache
from apps.accounts.selectors import shopper_context


class ShopperPreferencesMiddleware:
    """Resolve the shopper's country, language, currency and time zone once per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        shopper = shopper_context(request, settings.REGION)
        request.shopper = shopper
        translation.activate(shopper.language)
        request.LANGUAGE_CODE = shopper.language
        timezone.activate(shopper.time_zone)
        try:
            response = self.get_response(request)
        finally:
            # Nothing after the request (the next request on this thread, a task run inline)
            # may speak this shopper's language or keep their time zone by accident.
            timezone.deactivate()
            translation.deactivate()
        # The page depends on the shopper's country, which may come from the edge's header: a
        # shared cache keyed without it would hand one country's page (alcohol shown) to another.
        vary = (
            ("Accept-Language", "Cookie", settings.TRUSTED_COUNTRY_HEADER)
            if settings.TRUSTED_COUNTRY_HEADER
            else ("Accept-Language", "Cookie")
        )
        patch_vary_headers(response, vary)
        response.headers.setdefault("Content-Language", shopper.language)
        return response


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, with the signed-in user read through :mod:`apps.accounts.user_cache`."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: user_cache.get_user(request))
