"""``{% variant_options variant.attributes %}``: which variant it is ("Size: 500 g"), in the shopper's words."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import translation

from apps.catalog.selectors import variant_options_text

register = template.Library()


def _locale(context: template.Context) -> str:
    """The shopper's locale (``ar_AE``: their country decides the digits), else the active language's."""
    shopper = getattr(context.get("request"), "shopper", None)
    if shopper is not None and shopper.language == translation.get_language():
        return shopper.locale
    return translation.to_locale(translation.get_language() or "en")


@register.simple_tag(takes_context=True)
def variant_options(context: template.Context, attributes: Any) -> str:
    """The options of a variant (its ``attributes``) as one line of text; empty when it has none."""
    return variant_options_text(attributes, locale=_locale(context))
