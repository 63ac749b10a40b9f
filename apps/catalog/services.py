"""Writes to the catalog: one function per use case, each in its own transaction.

Validation lives in the models (validators, ``clean``, constraints); services run it
and turn Django's ``ValidationError`` into the application's error, with the same
messages the admin shows.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext
from modeltranslation.utils import build_localized_fieldname

from apps.accounts.models import Merchant
from apps.catalog.models import (
    DEFAULT_HANDLING_DAYS,
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
from apps.money.formatting import format_count, language_names, reader_locale
from regions import Region


@dataclass(frozen=True)
class IngredientInput:
    """One ingredient line: a name per language and/or an E-number."""

    names: dict[str, str] = field(default_factory=dict)
    e_number: str = ""


@dataclass(frozen=True)
class VariantInput:
    """One variant created together with its product (see :func:`product_create`)."""

    sku: str
    price_minor: int
    attributes: dict[str, str] = field(default_factory=dict)
    position: int = 0
    is_active: bool = True


class Unchanged(enum.Enum):
    """Marks an update argument that was not given, where ``None`` is a value (no category)."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


def _check_languages(region: Region, *texts: dict[str, str] | None) -> dict[str, list[str]]:
    used = set().union(*(set(t or {}) for t in texts))
    unknown = sorted(used - set(region.languages))
    if unknown:
        reader = reader_locale(region.default_language)
        return {
            "language": [
                # Translators: both lists are language codes with their names: "en (English), ar (Arabic)".
                gettext("Not offered here: %(unknown)s; valid values: %(values)s")
                % {"unknown": language_names(unknown, reader), "values": language_names(region.languages, reader)}
            ]
        }
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
        # The database's own words name a constraint, which tells the person nothing they can act on.
        raise ApplicationError(
            message,
            code="conflict",
            fields={"__all__": [gettext("Someone else saved the same value just now; please try again.")]},
        ) from exc


@transaction.atomic
def category_create(
    *, region: Region, slug: str, names: dict[str, str], parent: Category | None = None, position: int = 0
) -> Category:
    category = Category(slug=slug, parent=parent, position=position)
    _set_translations(category, "name", names)
    _validated_save(category, gettext("The category could not be created."), extra=_check_languages(region, names))
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
    variants: Iterable[VariantInput] = (),
) -> Product:
    """Create a product; ``names``/``descriptions`` map language codes to text.

    The region's default language is required because every other language falls
    back to it. ``attributes`` names the true facts rules test (``ProductAttribute``).
    ``variants`` are created in the same transaction: one bad variant leaves no product
    behind, and its errors are reported as ``variants.<index>.<field>``.
    """
    extra = _check_languages(region, names, descriptions) | _attribute_errors(attributes)
    attributes = set(attributes)
    product = Product(merchant=merchant, slug=slug, category=category, is_active=is_active)
    for attribute in set(ProductAttribute.values) & attributes:
        setattr(product, attribute, True)
    _set_translations(product, "name", names)
    _set_translations(product, "description", descriptions)
    _validated_save(product, gettext("The product could not be created."), extra=extra)
    product_ingredients_set(region=region, product=product, ingredients=ingredients)
    for index, spec in enumerate(variants):
        try:
            variant_create(
                region=region,
                product=product,
                sku=spec.sku,
                price_minor=spec.price_minor,
                attributes=spec.attributes,
                position=spec.position,
                is_active=spec.is_active,
            )
        except ApplicationError as exc:
            raise ApplicationError(
                gettext("Variant %(number)d is not valid; nothing was saved.") % {"number": index + 1},
                code=exc.code,
                fields={f"variants.{index}.{name}": messages for name, messages in exc.fields.items()},
                status=exc.status,
            ) from exc
    return product


def _attribute_errors(attributes: Iterable[str]) -> dict[str, list[str]]:
    unknown = sorted(set(attributes) - set(ProductAttribute.values))
    if unknown:
        return {
            "attributes": [
                # Translators: both lists are attribute codes a caller sends, such as contains_alcohol.
                gettext("Unknown: %(unknown)s; valid values: %(values)s")
                % {"unknown": ", ".join(unknown), "values": ", ".join(ProductAttribute.values)}
            ]
        }
    return {}


def _in_use(message: str) -> ApplicationError:
    # Order lines and reservations keep what was sold, and live-room pins what is shown,
    # with PROTECT: deleting would rewrite history, so the honest answer is "in use".
    return ApplicationError(message, code="in_use", status=409)


@transaction.atomic
def product_update(
    *,
    region: Region,
    product: Product,
    slug: str | None = None,
    names: dict[str, str] | None = None,
    descriptions: dict[str, str] | None = None,
    category: Category | Unchanged | None = UNCHANGED,
    attributes: Iterable[str] | None = None,
    is_active: bool | None = None,
) -> Product:
    """Change what is given and leave the rest; returns the product as saved.

    ``names``/``descriptions`` change only the languages they name (an empty text clears
    one, except the default language, which the others fall back to); ``attributes``
    replaces the set of true facts; ``is_active=False`` takes the product off sale
    (archiving) while orders keep pointing at it. The row is locked, so two people
    changing different fields at once do not undo each other.
    """
    extra = _check_languages(region, names, descriptions)
    if attributes is not None:
        extra |= _attribute_errors(attributes)
    product = Product.objects.select_for_update().get(pk=product.pk)
    if slug is not None:
        product.slug = slug
    if not isinstance(category, Unchanged):
        product.category = category
    if attributes is not None:
        chosen = set(attributes)
        for attribute in ProductAttribute.values:
            setattr(product, attribute, attribute in chosen)
    if is_active is not None:
        product.is_active = is_active
    _set_translations(product, "name", names)
    _set_translations(product, "description", descriptions)
    _validated_save(product, gettext("The product could not be changed."), extra=extra)
    return product


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """Delete a product with its variants, stock rows, certificates, ingredients and images.

    A product that was ordered or is pinned in a live room is refused (``in_use``, 409):
    take it off sale with :func:`product_update` (``is_active=False``) instead.
    """
    try:
        product.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise _in_use(
            gettext(
                "This product has been ordered or is pinned in a live room, so it cannot be deleted; "
                "take it off sale instead."
            )
        ) from exc


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
            ingredient,
            gettext("Ingredient %(number)s is not valid.")
            % {"number": format_count(position + 1, reader_locale(region.default_language))},
            extra=_check_languages(region, spec.names),
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
    is_active: bool = True,
) -> Variant:
    """A buyable variant, priced in minor units of the region's settlement currency."""
    variant = Variant(
        product=product,
        sku=sku,
        price_minor=price_minor,
        currency=region.settlement_currency,
        attributes=attributes or {},
        position=position,
        is_active=is_active,
    )
    _validated_save(variant, gettext("The variant could not be created."))
    return variant


@transaction.atomic
def variant_update(
    *,
    variant: Variant,
    sku: str | None = None,
    price_minor: int | None = None,
    attributes: dict[str, str] | None = None,
    position: int | None = None,
    is_active: bool | None = None,
) -> Variant:
    """Change what is given and leave the rest (the row is locked); returns the variant as saved.

    Orders copied the SKU and price they were placed with, so changing them here never
    changes an order.
    """
    variant = Variant.objects.select_for_update().select_related("product").get(pk=variant.pk)
    for name, value in (
        ("sku", sku),
        ("price_minor", price_minor),
        ("attributes", attributes),
        ("position", position),
        ("is_active", is_active),
    ):
        if value is not None:
            setattr(variant, name, value)
    _validated_save(variant, gettext("The variant could not be changed."))
    return variant


@transaction.atomic
def variant_delete(*, variant: Variant) -> None:
    """Delete a variant and its stock rows; one that was ordered or is reserved is refused (409)."""
    try:
        variant.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise _in_use(
            gettext("This variant has been ordered or reserved, so it cannot be deleted; take it off sale instead.")
        ) from exc


@transaction.atomic
def variant_price_set(*, variant: Variant, price_minor: int) -> Variant:
    variant.price_minor = price_minor
    _validated_save(variant, gettext("The price could not be changed."))
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
    _validated_save(certification, gettext("The certification could not be added."))
    return certification


@transaction.atomic
def certification_delete(*, certification: Certification) -> None:
    """Remove a certificate; where a country requires it, the product is hidden there from now on."""
    certification.delete()


@transaction.atomic
def warehouse_create(
    *, merchant: Merchant, code: str, name: str, country: str, handling_days: int = DEFAULT_HANDLING_DAYS
) -> Warehouse:
    """A merchant's warehouse; ``handling_days`` (0 to 30, validated with the model) moves every delivery date."""
    warehouse = Warehouse(merchant=merchant, code=code, name=name, country=country.upper(), handling_days=handling_days)
    _validated_save(warehouse, gettext("The warehouse could not be created."))
    return warehouse


@transaction.atomic
def stock_set(*, variant: Variant, warehouse: Warehouse, quantity: int) -> Stock:
    """Set the count of ``variant`` in ``warehouse`` (a stock take), creating the row if needed."""
    stock = Stock.objects.select_for_update().filter(variant=variant, warehouse=warehouse).first()
    if stock is None:
        stock = Stock(variant=variant, warehouse=warehouse)
    stock.quantity = quantity
    _validated_save(stock, gettext("The stock could not be set."))
    return stock


@transaction.atomic
def stock_delete(*, stock: Stock) -> None:
    """Remove a variant's stock row in a warehouse; one that holds reservations is refused (409)."""
    try:
        stock.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise _in_use(
            gettext("Orders hold units of this stock, so it cannot be removed; set the quantity instead.")
        ) from exc


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
