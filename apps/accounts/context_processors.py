from __future__ import annotations

import functools
from typing import Any

from babel import Locale
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language, to_locale


@functools.lru_cache(maxsize=256)
def _country_name(language: str, country: str) -> str:
    # On every rendered page: Babel's locale is parsed once per (language, country), not per request.
    return Locale.parse(to_locale(language)).territories.get(country, country)


def shopper(request: HttpRequest) -> dict[str, Any]:
    region = settings.REGION
    names = dict(settings.LANGUAGES)
    language = get_language() or region.default_language
    shopper = getattr(request, "shopper", None)
    country = getattr(shopper, "country", "") or region.default_country
    return {
        "region": region,
        "region_name": region.name_in(language),
        "country_name": _country_name(language, country),
        "shopper": shopper,
        "region_languages": [(code, names.get(code, code)) for code in region.languages],
    }
