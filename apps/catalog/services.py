"""Writes to the catalog: one function per use case, each in its own transaction.

Validation lives in the models (validators, ``clean``, constraints); services run it
and turn Django's ``ValidationError`` into the application's error, with the same
messages the admin shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from modeltranslation.utils import build_localized_fieldname

from apps.accounts.models import Merchant
from apps.catalog.models import (
    Category,
    Certification,
    Product,
    ProductIngredient,
    Stock,
    Variant,
    Warehouse,
)
from apps.compliance.models import ProductAttribute, normalise_e_number
from apps.errors import ApplicationError
from regions import Region


@dataclass(frozen=True)
class IngredientInput:
    """One ingredient line: a name per language and/or an E-number."""

    names: dict[str, str] = field(default_factory=dict)
    e_number: str = ""


def _check_languages(region: Region, *texts: dict[str, str] | None) -> dict[str, list[str]]:
    used = set().union(*(set(t or {}) for t in texts))
    unknown = sorted(used - set(region.languages))
    if unknown:
        return {"language": [f"Not offered here: {', '.join(unknown)}; valid values: {', '.join(region.languages)}"]}
    return {}


def _set_translations(instance: models.Model, field_name: str, texts: dict[str, str] | None) -> None:
    # Never through ``instance.<field>``: modeltranslation would write the active language.
    for language, text in (texts or {}).items():
        setattr(instance, build_localized_fieldname(field_name, language), text)


def _validated_save(instance: models.Model, message: str, *, extra: dict[str, list[str]] | None = None) -> None:
    errors = dict(extra or {})
    try:
        instance.full_clean()
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ApplicationError(message, fields=errors)
    try:
        instance.save()
    except IntegrityError as exc:
        # A concurrent writer got there first (duplicate SKU, slug …) between check and insert.
        raise ApplicationError(message, code="conflict", fields={"__all__": [str(exc).splitlines()[0]]}) from exc


@transaction.atomic
def category_create(
    *, region: Region, slug: str, names: dict[str, str], parent: Category | None = None, position: int = 0
) -> Category:
    category = Category(slug=slug, parent=parent, position=position)
    _set_translations(category, "name", names)
    _validated_save(category, "The category could not be created.", extra=_check_languages(region, names))
    return category


@transaction.atomic
def product_create(
    *,
    region: Region,
    merchant: Merchant,
    slug: str,
    names: dict[str, str],
    descriptions: dict[str, str] | None = None,
    category: Category | None = None,
    attributes: Iterable[str] = (),
    ingredients: Iterable[IngredientInput] = (),
    is_active: bool = True,
) -> Product:
    """Create a product; ``names``/``descriptions`` map language codes to text.

    The region's default language is required because every other language falls
    back to it. ``attributes`` names the true facts rules test (``ProductAttribute``).
    """
    extra = _check_languages(region, names, descriptions)
    attributes = set(attributes)
    unknown = sorted(attributes - set(ProductAttribute.values))
    if unknown:
        extra["attributes"] = [f"Unknown: {', '.join(unknown)}; valid values: {', '.join(ProductAttribute.values)}"]
    product = Product(merchant=merchant, slug=slug, category=category, is_active=is_active)
    for attribute in set(ProductAttribute.values) & attributes:
        setattr(product, attribute, True)
    _set_translations(product, "name", names)
    _set_translations(product, "description", descriptions)
    _validated_save(product, "The product could not be created.", extra=extra)
    product_ingredients_set(region=region, product=product, ingredients=ingredients)
    return product


@transaction.atomic
def product_ingredients_set(
    *, region: Region, product: Product, ingredients: Iterable[IngredientInput]
) -> list[ProductIngredient]:
    """Replace the product's ingredient list, in the given order."""
    product.ingredients.all().delete()
    rows = []
    for position, spec in enumerate(ingredients):
        ingredient = ProductIngredient(product=product, position=position, e_number=normalise_e_number(spec.e_number))
        _set_translations(ingredient, "name", spec.names)
        _validated_save(
            ingredient, f"Ingredient {position + 1} is not valid.", extra=_check_languages(region, spec.names)
        )
        rows.append(ingredient)
    return rows


@transaction.atomic
def variant_create(
    *,
    region: Region,
    product: Product,
    sku: str,
    price_minor: int,
    attributes: dict[str, str] | None = None,
    position: int = 0,
) -> Variant:
    """A buyable variant, priced in minor units of the region's settlement currency."""
    variant = Variant(
        product=product,
        sku=sku,
        price_minor=price_minor,
        currency=region.settlement_currency,
        attributes=attributes or {},
        position=position,
    )
    _validated_save(variant, "The variant could not be created.")
    return variant


@transaction.atomic
def variant_price_set(*, variant: Variant, price_minor: int) -> Variant:
    variant.price_minor = price_minor
    _validated_save(variant, "The price could not be changed.")
    return variant


@transaction.atomic
def certification_add(
    *,
    product: Product,
    type: str,
    issuer: str,
    number: str,
    valid_until: dt.date,
    valid_from: dt.date | None = None,
) -> Certification:
    """Attach a certificate; one that has already expired is refused (it would not count)."""
    certification = Certification(
        product=product, type=type, issuer=issuer, number=number, valid_from=valid_from, valid_until=valid_until
    )
    _validated_save(certification, "The certification could not be added.")
    return certification


@transaction.atomic
def warehouse_create(*, merchant: Merchant, code: str, name: str, country: str) -> Warehouse:
    warehouse = Warehouse(merchant=merchant, code=code, name=name, country=country.upper())
    _validated_save(warehouse, "The warehouse could not be created.")
    return warehouse


@transaction.atomic
def stock_set(*, variant: Variant, warehouse: Warehouse, quantity: int) -> Stock:
    """Set the count of ``variant`` in ``warehouse`` (a stock take), creating the row if needed."""
    stock = Stock.objects.select_for_update().filter(variant=variant, warehouse=warehouse).first()
    if stock is None:
        stock = Stock(variant=variant, warehouse=warehouse)
    stock.quantity = quantity
    _validated_save(stock, "The stock could not be set.")
    return stock


# --- stock movements for orders (owned by apps/orders; keep additions below this line) ------
# Orders hold units with reservations of their own; the catalog's Stock.quantity is what is
# physically in the warehouse. Every lock on stock rows is taken in primary-key order, so
# two checkouts touching the same variants never wait on each other in a cycle (Saleor's
# warehouse/management.py does the same).


def stocks_lock_for_variants(*, variant_ids: Iterable[int]) -> list[Stock]:
    """Lock (``SELECT ... FOR UPDATE``) every stock row of ``variant_ids`` in pk order. Call inside a transaction."""
    return list(
        Stock.objects.select_for_update(of=("self",))
        .select_related("warehouse")
        .filter(variant_id__in=sorted(set(variant_ids)), warehouse__is_active=True)
        .order_by("pk")
    )


def stock_sell(*, sold: dict[int, int]) -> None:
    """Take sold units (``{stock_id: quantity}``) out of their warehouses, locking rows in pk order.

    Run inside the caller's transaction; a count that would go below zero is refused by the
    ``stock_not_negative`` constraint and rolls the caller back.
    """
    for stock_id in sorted(sold):
        Stock.objects.filter(pk=stock_id).update(quantity=models.F("quantity") - sold[stock_id])
