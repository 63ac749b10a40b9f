from __future__ import annotations

from typing import Any

from babel import Locale
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language, to_locale


def shopper(request: HttpRequest) -> dict[str, Any]:
    region = settings.REGION
    names = dict(settings.LANGUAGES)
    language = get_language() or region.default_language
    shopper = getattr(request, "shopper", None)
    country = getattr(shopper, "country", "") or region.default_country
    return {
        "region": region,
        "region_name": region.name_in(language),
        "country_name": Locale.parse(to_locale(language)).territories.get(country, country),
        "shopper": shopper,
        "region_languages": [(code, names.get(code, code)) for code in region.languages],
    }
