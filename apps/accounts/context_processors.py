from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def shopper(request: HttpRequest) -> dict[str, Any]:
    region = settings.REGION
    names = dict(settings.LANGUAGES)
    return {
        "region": region,
        "shopper": getattr(request, "shopper", None),
        "region_languages": [(code, names.get(code, code)) for code in region.languages],
    }
