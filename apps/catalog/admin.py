"""The merchant console for the catalog.

Merchant staff (``is_staff`` with a ``MerchantMembership``, not superusers) see and
edit only their own merchants' products, variants, ingredients, images,
certifications, warehouses and stock. That is enforced in three places, because hiding
links is not a boundary:

* ``get_queryset``: lists, change, delete and history pages of other merchants' rows
  answer as if the row did not exist;
* ``formfield_for_foreignkey``: the choices of every foreign key (merchant, product,
  variant, warehouse) are the user's own, so a crafted POST naming another merchant's
  row fails validation ("Select a valid choice");
* ``save_model``/``save_formset``/``delete_model``: the owner of what is written is
  checked once more before the write (403 otherwise).

Operators (superusers) see everything. The owning merchant of a product, variant and
warehouse is fixed once created.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin, TranslationStackedInline, TranslationTabularInline

from apps.accounts.models import Merchant
from apps.accounts.selectors import merchants_for_user
from apps.admin_languages import RegionLanguagesMixin
from apps.catalog.models import (
    Category,
    Certification,
    Product,
    ProductImage,
    ProductIngredient,
    Stock,
    Variant,
    Warehouse,
    region_today,
)
from apps.catalog.selectors import product_hidden_in


class CatalogAdminForm(forms.ModelForm):
    """Model errors on fields the form does not show become form-wide errors.

    ``Model.clean`` may name a field the admin shows read-only (the merchant after
    creation); Django would raise ``ValueError`` (a 500) for an error on a field the form
    lacks. Here the person sees the message instead.
    """

    def _update_errors(self, errors: ValidationError) -> None:
        if hasattr(errors, "error_dict"):
            remapped: dict[str, list] = {}
            for field, messages in errors.error_dict.items():
                key = field if field == NON_FIELD_ERRORS or field in self.fields else NON_FIELD_ERRORS
                remapped.setdefault(key, []).extend(messages)
            errors = ValidationError(remapped)
        super()._update_errors(errors)


def _allowed_merchant_ids(request: HttpRequest) -> set[int]:
    cached = getattr(request, "_catalog_merchant_ids", None)
    if cached is None:
        cached = set(merchants_for_user(request.user).values_list("pk", flat=True))
        request._catalog_merchant_ids = cached
    return cached


def _scoped_choices(model: type[Model], request: HttpRequest) -> QuerySet | None:
    """The rows of ``model`` a merchant-staff user may pick in a form; ``None`` if not merchant-owned."""
    merchants = _allowed_merchant_ids(request)
    if model is Merchant:
        return Merchant.objects.filter(pk__in=merchants)
    if model is Product:
        return Product.objects.filter(merchant__in=merchants)
    if model is Variant:
        return Variant.objects.filter(merchant__in=merchants).select_related("product")
    if model is Warehouse:
        return Warehouse.objects.filter(merchant__in=merchants)
    return None


class MerchantScoped:
    """Scopes an admin or inline to the user's merchants; ``merchant_path`` leads from the model to its merchant."""

    merchant_path = "merchant"
    form = CatalogAdminForm

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.merchant_path}__in": _allowed_merchant_ids(request)})

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if not request.user.is_superuser:
            choices = _scoped_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
                if db_field.related_model is Merchant and len(_allowed_merchant_ids(request)) == 1:
                    kwargs["initial"] = next(iter(_allowed_merchant_ids(request)))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def owner_id(self, obj: Model) -> int | None:
        """The merchant id of ``obj``, following ``merchant_path`` through loaded or unsaved parents."""
        *parents, last = self.merchant_path.split("__")
        for name in parents:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return getattr(obj, f"{last}_id", None)

    def check_owner(self, request: HttpRequest, obj: Model) -> None:
        if request.user.is_superuser:
            return
        if self.owner_id(obj) not in _allowed_merchant_ids(request):
            raise PermissionDenied("This belongs to another merchant.")


class ScopedModelAdmin(MerchantScoped, admin.ModelAdmin):
    def save_model(self, request, obj, form, change) -> None:
        self.check_owner(request, obj)
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj) -> None:
        self.check_owner(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.check_owner(request, obj)
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change) -> None:
        # Inline rows hang off the parent (the formset sets their foreign key), and their
        # other foreign keys were limited to the user's own rows by the form.
        self.check_owner(request, formset.instance)
        super().save_formset(request, form, formset, change)


class ScopedTranslationAdmin(RegionLanguagesMixin, ScopedModelAdmin, TranslationAdmin):
    pass


# --- Inlines of a product --------------------------------------------------------------


class VariantInlineFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            sku = form.cleaned_data.get("sku")
            if sku and sku in seen:
                form.add_error("sku", _("The SKU %(sku)s appears twice.") % {"sku": sku})
            seen.add(sku)


class VariantInline(MerchantScoped, admin.TabularInline):
    model = Variant
    merchant_path = "merchant"
    formset = VariantInlineFormSet
    fields = ["sku", "attributes", "price_minor", "currency", "position", "is_active"]
    readonly_fields = ["currency"]
    extra = 0
    show_change_link = True


class IngredientInline(RegionLanguagesMixin, MerchantScoped, TranslationTabularInline):
    model = ProductIngredient
    merchant_path = "product__merchant"
    fields = ["position", "name", "e_number"]
    extra = 0


class ImageInline(RegionLanguagesMixin, MerchantScoped, TranslationTabularInline):
    model = ProductImage
    merchant_path = "product__merchant"
    fields = ["image", "alt_text", "position"]
    extra = 0


class CertificationInline(MerchantScoped, admin.TabularInline):
    model = Certification
    merchant_path = "product__merchant"
    fields = ["type", "issuer", "number", "valid_from", "valid_until"]
    extra = 0


def _violations_html(hidden: dict) -> str:
    if not hidden:
        return format_html("<strong>{}</strong>", _("Visible in every country this region serves."))
    rows = format_html_join(
        "",
        "<tr><th scope='row'>{}</th><td>{}</td></tr>",
        ((country, "; ".join(str(v) for v in violations)) for country, violations in hidden.items()),
    )
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        _("Hidden in"),
        _("Why"),
        rows,
    )


@admin.register(Product)
class ProductAdmin(ScopedTranslationAdmin):
    merchant_path = "merchant"
    list_display = ["name", "merchant", "category", "is_active", "hidden_in"]
    list_filter = ["is_active", ("merchant", admin.RelatedOnlyFieldListFilter), "category", "is_food"]
    search_fields = ["name", "slug", "variants__sku"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [VariantInline, IngredientInline, CertificationInline, ImageInline]
    readonly_fields = ["visibility"]
    fieldsets = (
        (None, {"fields": ("merchant", "category", "slug", "name", "description", "is_active")}),
        (
            _("What country rules test"),
            {"fields": ("is_food", "contains_alcohol", "contains_pork", "claims_organic", "is_vaping_product")},
        ),
        (_("Where it is shown"), {"fields": ("visibility",)}),
    )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "merchant"] if obj is not None else fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("merchant", "category")
            .prefetch_related("ingredients", "certifications")
        )

    @admin.display(description=_("hidden in"))
    def hidden_in(self, obj: Product) -> str:
        return ", ".join(product_hidden_in(obj, today=region_today())) or "—"

    @admin.display(description=_("country rules"))
    def visibility(self, obj: Product | None) -> str:
        if obj is None or obj.pk is None:
            return _("Shown after the product is saved.")
        return _violations_html(product_hidden_in(obj, today=region_today()))


# --- Variants and stock -----------------------------------------------------------------


class StockInline(MerchantScoped, admin.TabularInline):
    model = Stock
    merchant_path = "variant__merchant"
    fields = ["warehouse", "quantity"]
    extra = 0


@admin.register(Variant)
class VariantAdmin(ScopedModelAdmin):
    merchant_path = "merchant"
    list_display = ["sku", "product", "price_minor", "currency", "is_active"]
    list_filter = ["is_active", ("merchant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["sku"]
    fields = ["product", "sku", "attributes", "price_minor", "currency", "position", "is_active"]
    readonly_fields = ["currency"]
    inlines = [StockInline]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "product"] if obj is not None else fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


@admin.register(Warehouse)
class WarehouseAdmin(ScopedModelAdmin):
    merchant_path = "merchant"
    list_display = ["name", "code", "merchant", "country", "handling_days", "is_active"]
    list_filter = ["is_active", ("merchant", admin.RelatedOnlyFieldListFilter), "country"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "merchant"] if obj is not None else fields


@admin.register(Stock)
class StockAdmin(ScopedModelAdmin):
    merchant_path = "variant__merchant"
    list_display = ["variant", "warehouse", "quantity"]
    list_editable = ["quantity"]
    list_filter = [("warehouse", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["variant__sku"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "variant", "warehouse"] if obj is not None else fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("variant", "warehouse")


@admin.register(Certification)
class CertificationAdmin(ScopedModelAdmin):
    merchant_path = "product__merchant"
    list_display = ["product", "type", "issuer", "number", "valid_until", "counts_today"]
    list_filter = ["type"]
    search_fields = ["number", "issuer"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "product"] if obj is not None else fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    @admin.display(description=_("counts today"), boolean=True)
    def counts_today(self, obj: Certification) -> bool:
        return obj.is_valid_on(region_today())


# --- Categories (shared; operators edit them, merchant staff may only look) ------------


class CategoryChildInline(RegionLanguagesMixin, TranslationStackedInline):
    model = Category
    fk_name = "parent"
    fields = ["slug", "name", "position", "is_active"]
    extra = 0
    form = CatalogAdminForm


@admin.register(Category)
class CategoryAdmin(RegionLanguagesMixin, TranslationAdmin):
    form = CatalogAdminForm
    list_display = ["name", "slug", "parent", "position", "is_active"]
    list_filter = ["is_active", "parent"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [CategoryChildInline]
