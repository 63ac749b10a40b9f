"""What merchants sell: categories, products, variants (SKUs), ingredients, images,
certifications, warehouses and stock.

Invariants live here as field validators, ``clean`` and database constraints, so the
admin, the services and the API all refuse the same bad input with the same message.
Names and descriptions are translated with django-modeltranslation (see
``translation.py``); the region's default language is required at run time because
every other language falls back to it.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modeltranslation.utils import build_localized_fieldname

from apps.accounts.models import Merchant
from apps.compliance.models import (
    CertificationType,
    country_code_validator,
    e_number_validator,
    normalise_e_number,
)

# Upper-case letters and digits in dash-separated groups, 3 to 40 characters:
# "TSHIRT-RED-XL", "MUG350". No spaces, no lower case, no leading/trailing/double dashes,
# so codes survive barcodes, spreadsheets and URLs unchanged.
SKU_PATTERN = r"^[A-Z0-9]+(-[A-Z0-9]+)*$"
sku_validators = [
    RegexValidator(
        SKU_PATTERN,
        _("Use capital letters A-Z, digits and single dashes between groups, e.g. TSHIRT-RED-XL."),
        code="invalid_sku",
    ),
    MinLengthValidator(3),
    MaxLengthValidator(40),
]

VARIANT_ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
MAX_VARIANT_ATTRIBUTES = 10


def region_today() -> dt.date:
    """Today in the region's own time zone: the one calendar every certificate and rule date
    is judged by, whichever time zone the person looking at it is in."""
    return timezone.localdate(timezone=ZoneInfo(settings.REGION.time_zone))


def settlement_currency() -> str:
    """The currency the current region settles in; variant prices are stored in it."""
    return settings.REGION.settlement_currency


def duplicate_errors(
    instance: models.Model, fields: tuple[str, ...], report_on: str, message: str
) -> dict[str, list[str]]:
    """Check a uniqueness rule in ``clean``.

    Django skips a unique constraint when one of its fields is not on the form (the
    admin shows ``merchant`` read-only after creation, a variant's merchant is never on
    a form), and the database would then answer with an IntegrityError instead of a
    message; this check gives the message.
    """
    values = {name: getattr(instance, f"{instance._meta.get_field(name).attname}") for name in fields}
    if any(value in (None, "") for value in values.values()):
        return {}
    duplicates = type(instance)._default_manager.filter(**values).exclude(pk=instance.pk)
    return {report_on: [message]} if duplicates.exists() else {}


def missing_default_translations(instance: models.Model, field_names: tuple[str, ...]) -> dict[str, list[str]]:
    """Errors for translated fields left empty in the region's default language."""
    language = settings.REGION.default_language
    errors: dict[str, list[str]] = {}
    for name in field_names:
        localized = build_localized_fieldname(name, language)
        if not (getattr(instance, localized, None) or "").strip():
            errors[localized] = [
                _("Required in %(language)s, the region's default language: other languages fall back to it.")
                % {"language": language}
            ]
    return errors


class Category(models.Model):
    """A node of the category tree shared by all merchants; operators maintain it."""

    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("shown"), default=True)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.CheckConstraint(condition=~models.Q(parent=models.F("pk")), name="category_not_its_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name or self.slug

    def ancestors(self) -> list[Category]:
        """Root first, this category excluded; one query per level (trees are shallow)."""
        chain: list[Category] = []
        node = self.parent
        while node is not None and len(chain) < 20:
            chain.append(node)
            node = node.parent
        return list(reversed(chain))

    def clean(self) -> None:
        errors = missing_default_translations(self, ("name",))
        node = self.parent
        depth = 0
        while node is not None:
            if self.pk is not None and node.pk == self.pk:
                errors["parent"] = [_("A category cannot sit below itself.")]
                break
            depth += 1
            node = node.parent
        if depth >= 5 and "parent" not in errors:
            errors["parent"] = [_("Categories nest at most five levels deep.")]
        if errors:
            raise ValidationError(errors)


class Product(models.Model):
    """Something a merchant sells; what is bought is one of its variants.

    The yes/no attributes are the facts country rules test (see
    ``apps.compliance.models.ProductAttribute``); ingredients carry E-numbers.
    """

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="products"
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
    )
    slug = models.SlugField(_("slug"), max_length=120)
    name = models.CharField(_("name"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    is_food = models.BooleanField(_("food or drink"), default=False)
    contains_alcohol = models.BooleanField(_("contains alcohol"), default=False)
    contains_pork = models.BooleanField(_("contains pork"), default=False)
    claims_organic = models.BooleanField(_("claims to be organic"), default=False)
    is_vaping_product = models.BooleanField(_("e-cigarette or vaping product"), default=False)
    is_active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "slug"], name="product_slug_unique_per_merchant"),
        ]
        indexes = [models.Index(fields=["is_active", "category"], name="product_active_category")]

    def __str__(self) -> str:
        return self.name or self.slug

    def get_absolute_url(self) -> str:
        return reverse("catalog:product", kwargs={"pk": self.pk, "slug": self.slug})

    def clean(self) -> None:
        errors = missing_default_translations(self, ("name",))
        errors |= duplicate_errors(
            self, ("merchant", "slug"), "slug", _("This merchant already has a product with this slug.")
        )
        if errors:
            raise ValidationError(errors)


class ProductIngredient(models.Model):
    """One line of the ingredient list; additives carry their E-number."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="ingredients")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=120, blank=True)
    e_number = models.CharField(
        _("E-number"), max_length=12, blank=True, validators=[e_number_validator], help_text=_("e.g. E330")
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("ingredient")
        verbose_name_plural = _("ingredients")
        constraints = [
            models.UniqueConstraint(
                fields=["product", "e_number"], condition=~models.Q(e_number=""), name="additive_once_per_product"
            ),
        ]
        indexes = [models.Index(fields=["e_number"], name="ingredient_e_number")]

    def __str__(self) -> str:
        return " ".join(part for part in (self.e_number, self.name or "") if part)

    def clean(self) -> None:
        self.e_number = normalise_e_number(self.e_number)
        if (
            not self.e_number
            and not (getattr(self, build_localized_fieldname("name", settings.REGION.default_language)) or "").strip()
        ):
            raise ValidationError(
                {
                    build_localized_fieldname("name", settings.REGION.default_language): [
                        _("Give a name or an E-number.")
                    ]
                }
            )


class Variant(models.Model):
    """A buyable version of a product (size, colour …) with its own SKU and price.

    ``merchant`` copies the product's merchant so that the database can keep SKU codes
    unique per merchant; ``save`` keeps the copy in step.
    """

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="variants")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="variants", editable=False)
    sku = models.CharField(_("SKU"), max_length=40, validators=sku_validators)
    attributes = models.JSONField(
        _("attributes"), default=dict, blank=True, help_text=_('e.g. {"size": "XL", "colour": "red"}')
    )
    # Minor units (cents) of the region's settlement currency: never floats.
    price_minor = models.BigIntegerField(_("price (minor units)"), validators=[MinValueValidator(0)])
    currency = models.CharField(_("currency"), max_length=3, default=settlement_currency, editable=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="sku_unique_per_merchant"),
            models.CheckConstraint(condition=models.Q(price_minor__gte=0), name="variant_price_not_negative"),
            models.CheckConstraint(condition=models.Q(sku__regex=SKU_PATTERN), name="variant_sku_format"),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="variant_currency_iso"),
        ]

    def __str__(self) -> str:
        return self.sku

    def save(self, *args, **kwargs) -> None:
        if self.product_id is not None:
            self.merchant_id = self.product.merchant_id
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        try:
            # In the admin the product may still be unsaved (added together with its variants).
            merchant_id = self.product.merchant_id
        except Product.DoesNotExist:
            merchant_id = None
        if merchant_id is not None and self.sku:
            duplicate = Variant.objects.filter(merchant_id=merchant_id, sku=self.sku).exclude(pk=self.pk)
            if duplicate.exists():
                errors["sku"] = [_("This merchant already uses the SKU %(sku)s.") % {"sku": self.sku}]
        attributes = self.attributes
        if not isinstance(attributes, dict):
            errors["attributes"] = [_('Write attributes as an object, e.g. {"size": "XL"}.')]
        elif len(attributes) > MAX_VARIANT_ATTRIBUTES:
            errors["attributes"] = [_("At most %(n)d attributes.") % {"n": MAX_VARIANT_ATTRIBUTES}]
        else:
            for key, value in attributes.items():
                if not VARIANT_ATTRIBUTE_KEY.match(key):
                    errors["attributes"] = [
                        _("Attribute names are lower-case words such as size or colour; %(key)r is not.") % {"key": key}
                    ]
                    break
                if not isinstance(value, str) or not value.strip() or len(value) > 60:
                    errors["attributes"] = [
                        _("The value of %(key)s must be text of 1 to 60 characters.") % {"key": key}
                    ]
                    break
        if errors:
            raise ValidationError(errors)


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(_("image"), upload_to="products/%Y/%m/")
    alt_text = models.CharField(_("description for screen readers"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("image")
        verbose_name_plural = _("images")

    def __str__(self) -> str:
        return self.alt_text or self.image.name


class Certification(models.Model):
    """A certificate a product carries. It counts only from ``valid_from`` to ``valid_until`` inclusive."""

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="certifications"
    )
    type = models.CharField(_("type"), max_length=30, choices=CertificationType.choices)
    issuer = models.CharField(_("issued by"), max_length=120)
    number = models.CharField(_("certificate number"), max_length=60)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"))

    class Meta:
        ordering = ["type", "-valid_until", "id"]
        verbose_name = _("certification")
        verbose_name_plural = _("certifications")
        constraints = [
            models.UniqueConstraint(fields=["product", "type", "number"], name="certificate_once_per_product"),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True) | models.Q(valid_until__gte=models.F("valid_from")),
                name="certificate_ends_after_it_starts",
            ),
        ]
        indexes = [models.Index(fields=["product", "type", "valid_until"], name="certificate_lookup")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.number}"

    def is_valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and self.valid_until >= day

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.valid_until is not None:
            today = region_today()
            changed = (
                self._state.adding
                or not Certification.objects.filter(pk=self.pk, valid_until=self.valid_until).exists()
            )
            if changed and self.valid_until < today:
                errors["valid_until"] = [
                    _("This certificate expired on %(date)s; an expired certificate does not count.")
                    % {"date": self.valid_until.isoformat()}
                ]
            if self.valid_from is not None and self.valid_until < self.valid_from:
                errors["valid_until"] = [_("A certificate cannot end before it starts.")]
        errors |= duplicate_errors(
            self, ("product", "type", "number"), "number", _("This product already has this certificate.")
        )
        if errors:
            raise ValidationError(errors)


# What a warehouse needs unless its merchant says otherwise, and what a promise falls back to
# when no warehouse's stock tells which one will pack.
DEFAULT_HANDLING_DAYS = 1


class Warehouse(models.Model):
    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.PROTECT, related_name="warehouses"
    )
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    country = models.CharField(_("country"), max_length=2, validators=[country_code_validator])
    is_active = models.BooleanField(_("in use"), default=True)
    # Counted in the destination's working days, like the carrier's: the promised date moves by it.
    handling_days = models.PositiveSmallIntegerField(
        _("handling days"),
        default=DEFAULT_HANDLING_DAYS,
        validators=[
            MinValueValidator(0, _("Handling takes 0 to 30 working days.")),
            MaxValueValidator(30, _("Handling takes 0 to 30 working days.")),
        ],
        help_text=_("Working days this warehouse needs to pack an order (0: it ships the same day)."),
    )

    class Meta:
        ordering = ["merchant", "code"]
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="warehouse_code_unique_per_merchant"),
            models.CheckConstraint(condition=models.Q(country__regex=r"^[A-Z]{2}$"), name="warehouse_iso_country"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.country})"

    def clean(self) -> None:
        errors = duplicate_errors(
            self, ("merchant", "code"), "code", _("This merchant already has a warehouse with this code.")
        )
        if errors:
            raise ValidationError(errors)


class Stock(models.Model):
    """How many units of one variant lie in one warehouse (reservations come on top, in orders)."""

    variant = models.ForeignKey(Variant, verbose_name=_("variant"), on_delete=models.CASCADE, related_name="stocks")
    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.PROTECT, related_name="stocks"
    )
    quantity = models.IntegerField(_("quantity"), default=0, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["variant", "warehouse"]
        verbose_name = _("stock")
        verbose_name_plural = _("stock")
        constraints = [
            models.UniqueConstraint(fields=["variant", "warehouse"], name="one_stock_row_per_variant_and_warehouse"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="stock_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.variant} @ {self.warehouse}: {self.quantity}"

    def clean(self) -> None:
        if (
            self.variant_id is not None
            and self.warehouse_id is not None
            and self.warehouse.merchant_id != self.variant.merchant_id
        ):
            raise ValidationError({"warehouse": [_("This warehouse belongs to another merchant.")]})
        errors = duplicate_errors(
            self, ("variant", "warehouse"), "quantity", _("This variant already has a stock row in this warehouse.")
        )
        if errors:
            raise ValidationError(errors)
