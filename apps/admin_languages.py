"""Admin forms show a translated field only in the languages this region offers.

Every region's database has a column per language (one set of migrations for all regions),
but a merchant in eu-west writes English, Spanish and Portuguese, not Thai: the services
refuse a language the region does not offer, so the admin does not offer it either.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import Model
from django.http import HttpRequest
from modeltranslation import settings as mt_settings
from modeltranslation.translator import NotRegistered, translator
from modeltranslation.utils import build_localized_fieldname


@cache
def _unoffered_fields(model: type[Model], offered: tuple[str, ...]) -> frozenset[str]:
    try:
        translated = translator.get_options_for_model(model).all_fields
    except NotRegistered:
        return frozenset()
    return frozenset(
        build_localized_fieldname(field, language)
        for field in translated
        for language in mt_settings.AVAILABLE_LANGUAGES
        if language not in offered
    )


class RegionLanguagesMixin:
    """For a ``TranslationAdmin`` or translation inline: leaves out the languages the region does not offer."""

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[tuple[Any, dict[str, Any]]]:
        unoffered = _unoffered_fields(self.model, tuple(settings.REGION.languages))
        return [
            (name, {**options, "fields": _without(options.get("fields", ()), unoffered)})
            for name, options in super().get_fieldsets(request, obj)
        ]


def _without(fields: Any, unoffered: frozenset[str]) -> list[Any]:
    kept = []
    for field in fields:
        if isinstance(field, (list, tuple)):  # fields shown side by side on one line
            row = [name for name in field if name not in unoffered]
            if row:
                kept.append(tuple(row))
        elif field not in unoffered:
            kept.append(field)
    return kept
