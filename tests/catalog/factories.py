"""Builders for catalog rows, through the services (so every row passed validation)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from apps.accounts.models import Merchant
from apps.catalog import services
from apps.catalog.models import Product, region_today


def today() -> dt.date:
    return region_today()


def make_product(
    merchant: Merchant,
    slug: str,
    *,
    attributes: tuple[str, ...] = (),
    e_numbers: tuple[str, ...] = (),
    certifications: tuple[tuple[str, dt.date], ...] = (),
    names: dict[str, str] | None = None,
    is_active: bool = True,
    price_minor: int = 1000,
) -> Product:
    """A product with one variant (SKU from the slug) and the given facts and certificates."""
    region = settings.REGION
    product = services.product_create(
        region=region,
        merchant=merchant,
        slug=slug,
        names=names or {region.default_language: slug.replace("-", " ").title()},
        attributes=attributes,
        ingredients=[services.IngredientInput(e_number=e) for e in e_numbers],
        is_active=is_active,
    )
    services.variant_create(region=region, product=product, sku=slug.upper(), price_minor=price_minor)
    for type_, valid_until in certifications:
        services.certification_add(
            product=product, type=type_, issuer="Test issuer", number=f"{type_}-{slug}".upper(), valid_until=valid_until
        )
    return product
